use bulkhead_model::{FunctionRef, Qualifier, ValidationError};
use bulkhead_store::{AliasRow, Tx};

use crate::functions::{
    check_revision, decode_marker, encode_marker, page_size, parse_doc, revision, to_doc,
};
use crate::validate::required;
use crate::{AliasConfig, AliasInput, Page, Registry, RegistryError, Result, RoutingConfig};

fn alias_name(raw: &str) -> Result<String> {
    const PATTERN: &str = "(?!^[0-9]+$)([a-zA-Z0-9-_]+)";
    if raw.is_empty() || raw.len() > 128 {
        return Err(ValidationError::max_len("name", raw, 128).into());
    }
    let ok = raw
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !raw.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(ValidationError::pattern("name", raw, PATTERN).into());
    }
    Ok(raw.to_owned())
}

impl Registry {
    fn alias_arn(&self, function: &str, alias: &str) -> String {
        self.function_arn(function, Some(alias))
    }

    fn alias_not_found(&self, function: &str, alias: &str) -> RegistryError {
        RegistryError::NotFound(format!(
            "Alias not found: {}",
            self.alias_arn(function, alias)
        ))
    }

    /// Checks that an alias's target version and routing weights name published versions.
    fn check_target(
        &self,
        tx: &Tx<'_>,
        function: &str,
        version: &str,
        routing: Option<&RoutingConfig>,
    ) -> Result<()> {
        let exists = |v: &str| -> Result<bool> {
            Ok(match Qualifier::parse(v) {
                Ok(Qualifier::Latest) => true,
                Ok(Qualifier::Version(n)) => tx.version(function, n)?.is_some(),
                _ => {
                    return Err(ValidationError::pattern(
                        "functionVersion",
                        v,
                        "(\\$LATEST|[0-9]+)",
                    )
                    .into());
                }
            })
        };
        if !exists(version)? {
            return Err(self.not_found(function, Some(version)));
        }
        let Some(routing) = routing else {
            return Ok(());
        };
        if routing.additional_version_weights.len() > 1 {
            return Err(RegistryError::InvalidParameter(
                "An alias can route to at most one additional version.".into(),
            ));
        }
        for (v, weight) in &routing.additional_version_weights {
            if !(0.0..=1.0).contains(weight) {
                return Err(ValidationError::new(
                    "routingConfig.additionalVersionWeights",
                    weight,
                    "Member must have value between 0.0 and 1.0",
                )
                .into());
            }
            if version == Qualifier::LATEST || v == Qualifier::LATEST {
                return Err(RegistryError::InvalidParameter(
                    "$LATEST is not supported for an alias pointing to more than 1 version".into(),
                ));
            }
            if v == version {
                return Err(RegistryError::InvalidParameter(format!(
                    "Invalid function version {v}. Function version {v} is already included in routing configuration."
                )));
            }
            if !exists(v)? {
                return Err(self.not_found(function, Some(v)));
            }
        }
        Ok(())
    }

    pub fn create_alias(&self, fref: &FunctionRef, input: AliasInput) -> Result<AliasConfig> {
        let name = alias_name(&required(input.name, "name")?)?;
        let version = required(input.function_version, "functionVersion")?;
        let description = input
            .description
            .as_deref()
            .map(crate::validate::description)
            .transpose()?;
        let function = fref.name.as_str();
        self.write(|tx| {
            self.function_row(tx, &fref.name)?;
            self.check_target(tx, function, &version, input.routing_config.as_ref())?;
            let config = AliasConfig {
                alias_arn: self.alias_arn(function, &name),
                name: name.clone(),
                function_version: version.clone(),
                description: description.unwrap_or_default(),
                routing_config: input.routing_config.clone(),
                revision_id: revision(),
            };
            let row = AliasRow {
                function: function.into(),
                name: name.clone(),
                version: version.clone(),
                config: to_doc(&config),
            };
            tx.insert_alias(&row).map_err(|e| match e {
                bulkhead_store::StoreError::Conflict => {
                    RegistryError::Conflict(format!("Alias already exists: {}", config.alias_arn))
                }
                e => e.into(),
            })?;
            Ok(config)
        })
    }

    pub fn get_alias(&self, fref: &FunctionRef, alias: &str) -> Result<AliasConfig> {
        let function = fref.name.as_str();
        self.store.transact(|tx| {
            self.function_row(tx, &fref.name)?;
            let row = tx
                .alias(function, alias)?
                .ok_or_else(|| self.alias_not_found(function, alias))?;
            parse_doc(&row.config, alias)
        })
    }

    pub fn list_aliases(
        &self,
        fref: &FunctionRef,
        function_version: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<AliasConfig>> {
        let limit = page_size(max_items, 10_000)?;
        let after = marker.map(decode_marker).transpose()?.map(|(n, _)| n);
        let function = fref.name.as_str();
        self.store.transact(|tx| {
            self.function_row(tx, &fref.name)?;
            let mut items = Vec::new();
            let mut cursor = after.clone();
            let mut next_marker = None;
            'scan: loop {
                let rows = tx.aliases(function, cursor.as_deref(), 100)?;
                if rows.is_empty() {
                    break;
                }
                for row in rows {
                    cursor = Some(row.name.clone());
                    if function_version.is_some_and(|v| v != row.version) {
                        continue;
                    }
                    if items.len() == limit {
                        next_marker = items
                            .last()
                            .map(|a: &AliasConfig| encode_marker(&a.name, None));
                        break 'scan;
                    }
                    items.push(parse_doc(&row.config, &row.name)?);
                }
            }
            Ok(Page { items, next_marker })
        })
    }

    pub fn update_alias(
        &self,
        fref: &FunctionRef,
        alias: &str,
        input: AliasInput,
    ) -> Result<AliasConfig> {
        let function = fref.name.as_str();
        let description = input
            .description
            .as_deref()
            .map(crate::validate::description)
            .transpose()?;
        self.write(|tx| {
            self.function_row(tx, &fref.name)?;
            let mut row = tx
                .alias(function, alias)?
                .ok_or_else(|| self.alias_not_found(function, alias))?;
            let mut config: AliasConfig = parse_doc(&row.config, alias)?;
            check_revision(input.revision_id.as_deref(), &config.revision_id)?;
            if let Some(v) = &input.function_version {
                config.function_version = v.clone();
            }
            if let Some(d) = description {
                config.description = d;
            }
            if let Some(r) = &input.routing_config {
                config.routing_config =
                    (!r.additional_version_weights.is_empty()).then(|| r.clone());
            }
            self.check_target(
                tx,
                function,
                &config.function_version,
                config.routing_config.as_ref(),
            )?;
            config.revision_id = revision();
            row.version = config.function_version.clone();
            row.config = to_doc(&config);
            tx.update_alias(&row)?;
            Ok(config)
        })
    }

    pub fn delete_alias(&self, fref: &FunctionRef, alias: &str) -> Result<()> {
        let function = fref.name.as_str();
        self.write(|tx| {
            self.function_row(tx, &fref.name)?;
            if !tx.delete_alias(function, alias)? {
                return Err(self.alias_not_found(function, alias));
            }
            Ok(())
        })
    }
}
