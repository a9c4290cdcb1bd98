use bulkhead_model::FunctionRef;
use bulkhead_store::{FunctionRow, Tx, VersionRow};

use crate::functions::{
    check_revision, decode_marker, encode_marker, now, page_size, parse_doc, revision, to_doc,
};
use crate::{FunctionConfig, Page, PublishVersionInput, Registry, RegistryError, Result};

impl Registry {
    /// `$LATEST` as version listings show it: with its qualifier in the ARN.
    pub(crate) fn latest_listed(&self, row: &FunctionRow) -> Result<FunctionConfig> {
        let mut config: FunctionConfig = parse_doc(&row.config, &row.name)?;
        config.function_arn = self.function_arn(&row.name, Some(bulkhead_model::Qualifier::LATEST));
        Ok(config)
    }

    pub fn publish_version(
        &self,
        fref: &FunctionRef,
        input: PublishVersionInput,
    ) -> Result<FunctionConfig> {
        self.write(|tx| {
            let mut row = self.function_row(tx, &fref.name)?;
            let latest: FunctionConfig = parse_doc(&row.config, &row.name)?;
            check_revision(input.revision_id.as_deref(), &latest.revision_id)?;
            if let Some(sha) = input.code_sha256.as_deref()
                && sha != latest.code_sha256
            {
                return Err(RegistryError::InvalidParameter(format!(
                    "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the current CodeSHA256.",
                    latest.code_sha256
                )));
            }
            self.publish(tx, &mut row, latest, input.description)
        })
    }

    /// Publishes `$LATEST` as the next version, or returns the newest version when nothing changed
    /// since it was published (as Lambda does).
    pub(crate) fn publish(
        &self,
        tx: &Tx<'_>,
        row: &mut FunctionRow,
        mut latest: FunctionConfig,
        description: Option<String>,
    ) -> Result<FunctionConfig> {
        if let Some(newest) = tx.latest_version(&row.name)? {
            let newest_config: FunctionConfig = parse_doc(&newest.config, &row.name)?;
            if newest.code_sha256 == row.code_sha256 && newest_config.same_deployment(&latest) {
                return Ok(newest_config);
            }
        }
        let number = row.next_version;
        let mut version = latest.clone();
        version.version = number.to_string();
        version.function_arn = self.function_arn(&row.name, Some(&version.version));
        version.revision_id = revision();
        version.last_modified = now();
        if let Some(d) = description {
            version.description = crate::validate::description(&d)?;
        }
        tx.insert_version(&VersionRow {
            function: row.name.clone(),
            version: number,
            config: to_doc(&version),
            code_sha256: row.code_sha256.clone(),
        })?;
        // Publishing changes $LATEST's revision, so a stale RevisionId cannot race a publish.
        latest.revision_id = revision();
        row.config = to_doc(&latest);
        row.next_version = number + 1;
        tx.update_function(row)?;
        Ok(version)
    }

    /// ListVersionsByFunction: `$LATEST` first, then published versions in order.
    pub fn list_versions(
        &self,
        fref: &FunctionRef,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<FunctionConfig>> {
        let limit = page_size(max_items, 10_000)?;
        let after = match marker {
            Some(m) => decode_marker(m)?
                .1
                .ok_or_else(|| RegistryError::InvalidParameter(format!("Invalid Marker: {m}")))?,
            None => 0,
        };
        self.store.transact(|tx| {
            let row = self.function_row(tx, &fref.name)?;
            let mut items = Vec::new();
            if marker.is_none() {
                items.push(self.latest_listed(&row)?);
            }
            let versions = tx.versions(&row.name, after, limit + 1)?;
            let mut last = None;
            for v in versions {
                if items.len() == limit {
                    break;
                }
                last = Some(v.version);
                items.push(parse_doc(&v.config, &row.name)?);
            }
            let more = match last {
                Some(v) => !tx.versions(&row.name, v, 1)?.is_empty(),
                None => {
                    marker.is_none()
                        && !tx.versions(&row.name, 0, 1)?.is_empty()
                        && items.len() == limit
                }
            };
            let next_marker = more.then(|| encode_marker(&row.name, Some(last.unwrap_or(0))));
            Ok(Page { items, next_marker })
        })
    }
}
