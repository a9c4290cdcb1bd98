use bulkhead_model::{FunctionRef, ValidationError};

use crate::validate::required;
use crate::{
    AccountLimit, AccountSettings, AccountUsage, Concurrency, ConcurrencyInput, Registry,
    RegistryError, Result,
};

/// Lambda keeps this much of the account's concurrency unreserved for functions without a reservation.
const MIN_UNRESERVED: u32 = 100;

impl Registry {
    pub fn put_concurrency(
        &self,
        fref: &FunctionRef,
        input: ConcurrencyInput,
    ) -> Result<Concurrency> {
        let wanted = required(
            input.reserved_concurrent_executions,
            "reservedConcurrentExecutions",
        )?;
        let wanted = ValidationError::check_range(
            "reservedConcurrentExecutions",
            wanted,
            0,
            i64::from(u32::MAX),
        )? as u32;
        let limit = self.settings.account_concurrency;
        self.write(|tx| {
            let mut row = self.function_row(tx, &fref.name)?;
            let others = tx.reserved_concurrency_sum(Some(&row.name))?;
            if others + u64::from(wanted) > u64::from(limit.saturating_sub(MIN_UNRESERVED)) {
                return Err(RegistryError::InvalidParameter(format!(
                    "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
                )));
            }
            row.reserved_concurrency = Some(wanted);
            tx.update_function(&row)?;
            Ok(Concurrency { reserved_concurrent_executions: Some(wanted) })
        })
    }

    pub fn get_concurrency(&self, fref: &FunctionRef) -> Result<Concurrency> {
        self.store.transact(|tx| {
            let row = self.function_row(tx, &fref.name)?;
            Ok(Concurrency {
                reserved_concurrent_executions: row.reserved_concurrency,
            })
        })
    }

    pub fn delete_concurrency(&self, fref: &FunctionRef) -> Result<()> {
        self.write(|tx| {
            let mut row = self.function_row(tx, &fref.name)?;
            row.reserved_concurrency = None;
            tx.update_function(&row)?;
            Ok(())
        })
    }

    pub fn account_settings(&self) -> Result<AccountSettings> {
        let limits = bulkhead_code::Limits::default();
        let (reserved, count, code_size) = self.store.transact(|tx| {
            Ok::<_, RegistryError>((
                tx.reserved_concurrency_sum(None)?,
                tx.function_count()?,
                self.total_code_size(tx)?,
            ))
        })?;
        let limit = self.settings.account_concurrency;
        Ok(AccountSettings {
            account_limit: AccountLimit {
                total_code_size: 80_530_636_800,
                code_size_unzipped: limits.max_unzipped,
                code_size_zipped: limits.max_zipped,
                concurrent_executions: limit,
                unreserved_concurrent_executions: limit
                    .saturating_sub(reserved.min(u64::from(limit)) as u32),
            },
            account_usage: AccountUsage {
                total_code_size: code_size,
                function_count: count,
            },
        })
    }
}

impl Registry {
    /// Sum of CodeSize over `$LATEST` and every version, as AWS counts TotalCodeSize.
    fn total_code_size(&self, tx: &bulkhead_store::Tx<'_>) -> Result<u64> {
        let mut total = 0;
        let mut after: Option<String> = None;
        loop {
            let rows = tx.functions(after.as_deref(), 500)?;
            let Some(last) = rows.last() else {
                return Ok(total);
            };
            after = Some(last.name.clone());
            for row in rows {
                total +=
                    crate::functions::parse_doc::<crate::FunctionConfig>(&row.config, &row.name)?
                        .code_size;
                for v in tx.versions(&row.name, 0, usize::MAX >> 1)? {
                    total +=
                        crate::functions::parse_doc::<crate::FunctionConfig>(&v.config, &row.name)?
                            .code_size;
                }
            }
        }
    }
}
