use base64::Engine;
use bulkhead_code::CodePackage;
use bulkhead_model::{FunctionName, FunctionRef, Qualifier, Runtime, TenancyMode, ValidationError};
use bulkhead_store::{FunctionRow, Tx};

use crate::validate::{self, required, unsupported};
use crate::{
    AliasConfig, CreateFunctionInput, Environment, EnvironmentInput, EphemeralStorage,
    FunctionConfig, FunctionDetails, LoggingConfig, Page, Registry, RegistryError, Result,
    SnapStart, SnapStartInput, TenancyConfig, TracingConfig, UpdateCodeInput, UpdateConfigInput,
};

const DEFAULT_TIMEOUT_S: u32 = 3;
const DEFAULT_MEMORY_MB: u32 = 128;
const DEFAULT_EPHEMERAL_MB: u32 = 512;
/// AWS returns at most 50 functions a page whatever MaxItems says.
const PAGE_CAP: usize = 50;

/// A function resolved for running: the configuration of the version a qualifier names.
#[derive(Debug, Clone)]
pub struct ResolvedFunction {
    pub config: FunctionConfig,
    pub code_sha256_hex: String,
    pub tenancy: Option<TenancyMode>,
    /// `$LATEST` or the version number, for `X-Amz-Executed-Version`.
    pub executed_version: String,
    pub reserved_concurrency: Option<u32>,
}

pub(crate) fn now() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

pub(crate) fn revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn parse_doc<T: serde::de::DeserializeOwned>(doc: &str, what: &str) -> Result<T> {
    serde_json::from_str(doc).map_err(|source| RegistryError::Corrupt {
        what: what.to_owned(),
        source,
    })
}

pub(crate) fn to_doc<T: serde::Serialize>(value: &T) -> String {
    // Serialising these plain structs cannot fail: no maps with non-string keys, no custom impls.
    serde_json::to_string(value).unwrap_or_default()
}

pub(crate) fn check_revision(given: Option<&str>, current: &str) -> Result<()> {
    match given {
        Some(r) if r != current => Err(RegistryError::PreconditionFailed(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
                .into(),
        )),
        _ => Ok(()),
    }
}

fn decode_zip(b64: &str) -> Result<Vec<u8>> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode(b64.trim()).map_err(|_| {
        // UNCONFIRMED wording: AWS fails such a body while parsing it, with this prefix.
        RegistryError::BadContent(
            "Could not parse request body into json: Could not parse payload into json: Code.ZipFile is not valid base64"
                .into(),
        )
    })
}

fn environment(input: Option<EnvironmentInput>) -> Result<Option<Environment>> {
    let Some(vars) = input.and_then(|e| e.variables) else {
        return Ok(None);
    };
    validate::environment(&vars)?;
    Ok((!vars.is_empty()).then_some(Environment { variables: vars }))
}

fn snap_start(input: Option<SnapStartInput>, tenancy: Option<TenancyMode>) -> Result<()> {
    match input.and_then(|s| s.apply_on).as_deref() {
        None | Some("None") => Ok(()),
        Some("PublishedVersions") if tenancy.is_some() => Err(RegistryError::InvalidParameter(
            // UNCONFIRMED wording; AWS documents that the two cannot be combined.
            "SnapStart is not supported for functions with tenant isolation mode (TenancyConfig PER_TENANT)."
                .into(),
        )),
        Some("PublishedVersions") => Err(unsupported("SnapStart", "environments start from the package each time")),
        Some(other) => Err(ValidationError::new(
            "snapStart.applyOn",
            other,
            "Member must satisfy enum value set: [PublishedVersions, None]",
        )
        .into()),
    }
}

fn layers(input: Option<&Vec<String>>) -> Result<()> {
    match input {
        Some(l) if !l.is_empty() => Err(unsupported(
            "Layers",
            "include dependencies in the code package",
        )),
        _ => Ok(()),
    }
}

impl Registry {
    pub fn create_function(&self, input: CreateFunctionInput) -> Result<FunctionConfig> {
        let name = FunctionName::parse(&required(input.function_name, "functionName")?)?;
        let role = validate::role(&required(input.role, "role")?)?;
        let runtime = validate::runtime(&required(input.runtime, "runtime")?)?;
        let handler = input
            .handler
            .as_deref()
            .map(validate::handler)
            .transpose()?;
        validate::handler_for(runtime, handler.as_ref())?;
        let code = required(input.code, "code")?;
        let description = input
            .description
            .as_deref()
            .map(validate::description)
            .transpose()?;
        let timeout = input
            .timeout
            .map(validate::timeout)
            .transpose()?
            .unwrap_or(DEFAULT_TIMEOUT_S);
        let memory = input
            .memory_size
            .map(validate::memory)
            .transpose()?
            .unwrap_or(DEFAULT_MEMORY_MB);
        let ephemeral = match input.ephemeral_storage {
            Some(e) => validate::ephemeral(required(e.size, "ephemeralStorage.size")?)?,
            None => DEFAULT_EPHEMERAL_MB,
        };
        let tenancy = match input.tenancy_config {
            Some(t) => {
                match required(t.tenant_isolation_mode, "tenancyConfig.tenantIsolationMode")?
                    .as_str()
                {
                    "PER_TENANT" => Some(TenancyMode::PerTenant),
                    other => {
                        return Err(ValidationError::new(
                            "tenancyConfig.tenantIsolationMode",
                            other,
                            "Member must satisfy enum value set: [PER_TENANT]",
                        )
                        .into());
                    }
                }
            }
            None => None,
        };
        let environment = environment(input.environment)?;
        let architectures =
            validate::architectures(input.architectures.as_deref().unwrap_or_default())?;
        snap_start(input.snap_start, tenancy)?;
        layers(input.layers.as_ref())?;
        if input.package_type.as_deref().is_some_and(|p| p != "Zip") || code.image_uri.is_some() {
            return Err(unsupported("PackageType Image", "upload a .zip package"));
        }
        if code.s3_bucket.is_some() || code.s3_key.is_some() {
            return Err(unsupported(
                "Code.S3Bucket",
                "upload the package inline as Code.ZipFile",
            ));
        }
        let zip = decode_zip(&required(code.zip_file, "code.zipFile")?)?;
        let tags = input.tags.unwrap_or_default();

        let _code_guard = self.code_gc.read().map_err(|_| RegistryError::Poisoned)?;
        if self
            .store
            .transact(|tx| tx.function(name.as_str()))?
            .is_some()
        {
            return Err(self.already_exists(&name));
        }
        let package = self.code.put_zip(&zip)?;
        let config = FunctionConfig {
            function_name: name.to_string(),
            function_arn: self.function_arn(name.as_str(), None),
            runtime: runtime.to_string(),
            role,
            handler,
            code_size: package.size,
            description: description.unwrap_or_default(),
            timeout,
            memory_size: memory,
            last_modified: now(),
            code_sha256: package.sha256_base64.clone(),
            version: Qualifier::LATEST.into(),
            environment,
            tracing_config: TracingConfig {
                mode: "PassThrough".into(),
            },
            revision_id: revision(),
            state: "Active".into(),
            last_update_status: "Successful".into(),
            package_type: "Zip".into(),
            architectures,
            ephemeral_storage: EphemeralStorage { size: ephemeral },
            logging_config: LoggingConfig {
                log_format: "Text".into(),
                log_group: format!("/aws/lambda/{name}"),
            },
            snap_start: SnapStart {
                apply_on: "None".into(),
                optimization_status: "Off".into(),
            },
            tenancy_config: tenancy.map(|t| TenancyConfig {
                tenant_isolation_mode: t.as_str().into(),
            }),
        };
        let mut row = FunctionRow {
            name: name.to_string(),
            tenancy: tenancy.map(|t| t.as_str().to_owned()),
            config: to_doc(&config),
            code_sha256: package.sha256_hex.clone(),
            next_version: 1,
            reserved_concurrency: None,
            tags: to_doc(&tags),
            created_at: config.last_modified.clone(),
        };
        self.write(|tx| {
            tx.insert_function(&row).map_err(|e| match e {
                bulkhead_store::StoreError::Conflict => self.already_exists(&name),
                e => e.into(),
            })?;
            if input.publish == Some(true) {
                return self.publish(tx, &mut row, config.clone(), None);
            }
            Ok(config.clone())
        })
    }

    fn already_exists(&self, name: &FunctionName) -> RegistryError {
        RegistryError::Conflict(format!("Function already exist: {name}"))
    }

    /// Resolves a reference (name, ARN, qualifier) to the configuration that would run.
    pub fn resolve(&self, fref: &FunctionRef) -> Result<ResolvedFunction> {
        self.store.transact(|tx| self.resolve_in(tx, fref))
    }

    pub(crate) fn resolve_in(&self, tx: &Tx<'_>, fref: &FunctionRef) -> Result<ResolvedFunction> {
        let name = fref.name.as_str();
        let row = self.function_row(tx, &fref.name)?;
        let tenancy = row.tenancy.as_deref().map(|_| TenancyMode::PerTenant);
        let latest = || -> Result<ResolvedFunction> {
            Ok(ResolvedFunction {
                config: parse_doc(&row.config, name)?,
                code_sha256_hex: row.code_sha256.clone(),
                tenancy,
                executed_version: Qualifier::LATEST.into(),
                reserved_concurrency: row.reserved_concurrency,
            })
        };
        let version = |n: u64, shown: &str| -> Result<ResolvedFunction> {
            let v = tx
                .version(name, n)?
                .ok_or_else(|| self.not_found(name, Some(shown)))?;
            Ok(ResolvedFunction {
                config: parse_doc(&v.config, name)?,
                code_sha256_hex: v.code_sha256,
                tenancy,
                executed_version: n.to_string(),
                reserved_concurrency: row.reserved_concurrency,
            })
        };
        match &fref.qualifier {
            None | Some(Qualifier::Latest) => latest(),
            Some(Qualifier::Version(n)) => version(*n, &n.to_string()),
            Some(Qualifier::Alias(a)) => {
                let alias = tx
                    .alias(name, a)?
                    .ok_or_else(|| self.not_found(name, Some(a)))?;
                let alias: AliasConfig = parse_doc(&alias.config, a)?;
                let mut resolved = match Qualifier::parse(&alias.function_version)? {
                    Qualifier::Version(n) => version(n, a)?,
                    _ => latest()?,
                };
                resolved.config.function_arn = self.function_arn(name, Some(a));
                Ok(resolved)
            }
        }
    }

    pub fn get_function(&self, fref: &FunctionRef) -> Result<FunctionDetails> {
        self.store.transact(|tx| {
            let resolved = self.resolve_in(tx, fref)?;
            let row = self.function_row(tx, &fref.name)?;
            Ok(FunctionDetails {
                configuration: resolved.config,
                code_sha256_hex: resolved.code_sha256_hex,
                tags: parse_doc(&row.tags, "tags")?,
                concurrency: row.reserved_concurrency.map(|n| crate::Concurrency {
                    reserved_concurrent_executions: Some(n),
                }),
            })
        })
    }

    pub fn get_config(&self, fref: &FunctionRef) -> Result<FunctionConfig> {
        Ok(self.resolve(fref)?.config)
    }

    /// ListFunctions: `$LATEST` of each function, or with `all_versions` every version too.
    pub fn list_functions(
        &self,
        marker: Option<&str>,
        max_items: Option<i64>,
        all_versions: bool,
    ) -> Result<Page<FunctionConfig>> {
        let limit = page_size(max_items, 10_000)?;
        let (after_name, after_version) = match marker {
            Some(m) => decode_marker(m)?,
            None => (String::new(), None),
        };
        self.store.transact(|tx| {
            let mut items = Vec::new();
            let mut last = None;
            // Resume inside the marker's function when it was cut mid-versions.
            let start = after_version.map(|_| after_name.as_str());
            let mut rows = Vec::new();
            if let Some(name) = start {
                rows.extend(tx.function(name)?);
            }
            rows.extend(tx.functions(Some(&after_name), limit + 1)?);
            'rows: for row in rows {
                let mut entries: Vec<(u64, String)> = vec![(0, row.config.clone())];
                if all_versions {
                    entries.extend(
                        tx.versions(&row.name, 0, usize::MAX >> 1)?
                            .into_iter()
                            .map(|v| (v.version, v.config)),
                    );
                }
                for (v, doc) in entries {
                    if row.name == after_name && after_version.is_some_and(|a| v <= a) {
                        continue;
                    }
                    if items.len() == limit {
                        break 'rows;
                    }
                    let mut config = parse_doc::<FunctionConfig>(&doc, &row.name)?;
                    if all_versions && v == 0 {
                        config.function_arn = self.function_arn(&row.name, Some(Qualifier::LATEST));
                    }
                    items.push(config);
                    last = Some((row.name.clone(), v));
                }
            }
            let more = match &last {
                Some((name, v)) => self.has_more(tx, name, *v, all_versions)?,
                None => false,
            };
            let next_marker = last
                .filter(|_| more)
                .map(|(n, v)| encode_marker(&n, all_versions.then_some(v)));
            Ok(Page { items, next_marker })
        })
    }

    fn has_more(&self, tx: &Tx<'_>, name: &str, version: u64, all_versions: bool) -> Result<bool> {
        if all_versions && !tx.versions(name, version, 1)?.is_empty() {
            return Ok(true);
        }
        Ok(!tx.functions(Some(name), 1)?.is_empty())
    }

    pub fn update_code(
        &self,
        fref: &FunctionRef,
        input: UpdateCodeInput,
    ) -> Result<FunctionConfig> {
        unqualified(fref)?;
        if input.s3_bucket.is_some() || input.s3_key.is_some() {
            return Err(unsupported(
                "S3Bucket",
                "upload the package inline as ZipFile",
            ));
        }
        if input.image_uri.is_some() {
            return Err(unsupported("ImageUri", "upload a .zip package"));
        }
        let zip = decode_zip(&required(input.zip_file, "zipFile")?)?;
        let architectures = input
            .architectures
            .as_deref()
            .map(validate::architectures)
            .transpose()?;
        let _code_guard = self.code_gc.read().map_err(|_| RegistryError::Poisoned)?;
        // Fail fast on a missing function before unpacking a large package.
        self.store
            .transact(|tx| self.function_row(tx, &fref.name).map(drop))?;
        let package: CodePackage = self.code.put_zip(&zip)?;
        self.write(|tx| {
            let mut row = self.function_row(tx, &fref.name)?;
            let mut config: FunctionConfig = parse_doc(&row.config, &row.name)?;
            check_revision(input.revision_id.as_deref(), &config.revision_id)?;
            config.code_sha256 = package.sha256_base64.clone();
            config.code_size = package.size;
            if let Some(a) = architectures {
                config.architectures = a;
            }
            if input.dry_run == Some(true) {
                return Ok(config);
            }
            config.last_modified = now();
            config.revision_id = revision();
            row.config = to_doc(&config);
            row.code_sha256 = package.sha256_hex.clone();
            tx.update_function(&row)?;
            if input.publish == Some(true) {
                return self.publish(tx, &mut row, config, None);
            }
            Ok(config)
        })
    }

    pub fn update_config(
        &self,
        fref: &FunctionRef,
        input: UpdateConfigInput,
    ) -> Result<FunctionConfig> {
        unqualified(fref)?;
        if input.tenancy_config.is_some() {
            // UNCONFIRMED wording: boto3 refuses the member client-side; AWS's raw answer is not
            // documented. The rule is: tenancy is chosen at creation and never changes.
            return Err(RegistryError::InvalidParameter(
                "TenancyConfig cannot be updated: the tenant isolation mode is set when a function is created and cannot be changed. Create a new function instead."
                    .into(),
            ));
        }
        layers(input.layers.as_ref())?;
        let role = input.role.as_deref().map(validate::role).transpose()?;
        let handler = input
            .handler
            .as_deref()
            .map(validate::handler)
            .transpose()?;
        let description = input
            .description
            .as_deref()
            .map(validate::description)
            .transpose()?;
        let timeout = input.timeout.map(validate::timeout).transpose()?;
        let memory = input.memory_size.map(validate::memory).transpose()?;
        let runtime: Option<Runtime> = input
            .runtime
            .as_deref()
            .map(validate::runtime)
            .transpose()?;
        let ephemeral = match input.ephemeral_storage {
            Some(e) => Some(validate::ephemeral(required(
                e.size,
                "ephemeralStorage.size",
            )?)?),
            None => None,
        };
        let env_given = input.environment.is_some();
        let environment = environment(input.environment)?;
        self.write(|tx| {
            let mut row = self.function_row(tx, &fref.name)?;
            let mut config: FunctionConfig = parse_doc(&row.config, &row.name)?;
            check_revision(input.revision_id.as_deref(), &config.revision_id)?;
            let tenancy = row.tenancy.as_deref().map(|_| TenancyMode::PerTenant);
            snap_start(input.snap_start.clone(), tenancy)?;
            if let Some(r) = role {
                config.role = r;
            }
            if let Some(h) = handler {
                config.handler = Some(h);
            }
            if let Some(d) = description {
                config.description = d;
            }
            if let Some(t) = timeout {
                config.timeout = t;
            }
            if let Some(m) = memory {
                config.memory_size = m;
            }
            if let Some(r) = runtime {
                config.runtime = r.to_string();
            }
            if let Some(e) = ephemeral {
                config.ephemeral_storage.size = e;
            }
            if env_given {
                config.environment = environment;
            }
            let runtime: Runtime = validate::runtime(&config.runtime)?;
            validate::handler_for(runtime, config.handler.as_ref())?;
            config.last_modified = now();
            config.revision_id = revision();
            row.config = to_doc(&config);
            tx.update_function(&row)?;
            Ok(config)
        })
    }

    /// DeleteFunction: the whole function, or one version with a version qualifier.
    pub fn delete_function(&self, fref: &FunctionRef) -> Result<()> {
        let name = fref.name.as_str();
        self.write(|tx| {
            self.function_row(tx, &fref.name)?;
            match &fref.qualifier {
                None => {
                    tx.delete_function(name)?;
                }
                Some(Qualifier::Latest) => {
                    return Err(RegistryError::InvalidParameter(
                        "$LATEST version cannot be deleted without deleting the function.".into(),
                    ));
                }
                Some(Qualifier::Version(n)) => {
                    if tx.version(name, *n)?.is_none() {
                        return Err(self.not_found(name, Some(&n.to_string())));
                    }
                    let users: Vec<String> = tx
                        .aliases(name, None, usize::MAX >> 1)?
                        .into_iter()
                        .filter(|a| {
                            a.version == n.to_string()
                                || parse_doc::<AliasConfig>(&a.config, &a.name).is_ok_and(|c| {
                                    c.routing_config.is_some_and(|r| r.additional_version_weights.contains_key(&n.to_string()))
                                })
                        })
                        .map(|a| a.name)
                        .collect();
                    if !users.is_empty() {
                        return Err(RegistryError::Conflict(format!(
                            "Unable to delete version because the following aliases reference it: [{}]",
                            users.join(", ")
                        )));
                    }
                    tx.delete_version(name, *n)?;
                }
                Some(Qualifier::Alias(a)) => {
                    // UNCONFIRMED wording.
                    return Err(RegistryError::InvalidParameter(format!(
                        "Qualifier {a} is an alias: delete it with DeleteAlias."
                    )));
                }
            }
            Ok(())
        })?;
        self.collect_code()?;
        Ok(())
    }
}

fn unqualified(fref: &FunctionRef) -> Result<()> {
    match &fref.qualifier {
        None | Some(Qualifier::Latest) => Ok(()),
        // UNCONFIRMED wording: only $LATEST can change; versions are immutable.
        Some(q) => Err(RegistryError::InvalidParameter(format!(
            "Only $LATEST can be updated; {q} is immutable. Name the function without a qualifier."
        ))),
    }
}

/// Validates MaxItems and applies AWS's page cap.
pub(crate) fn page_size(max_items: Option<i64>, max: i64) -> Result<usize> {
    match max_items {
        None => Ok(PAGE_CAP),
        Some(n) => {
            Ok((ValidationError::check_range("maxItems", n, 1, max)? as usize).min(PAGE_CAP))
        }
    }
}

pub(crate) fn encode_marker(name: &str, version: Option<u64>) -> String {
    let raw = match version {
        Some(v) => format!("{name}:{v}"),
        None => name.to_owned(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

pub(crate) fn decode_marker(marker: &str) -> Result<(String, Option<u64>)> {
    // UNCONFIRMED wording for a marker this server did not issue.
    let bad = || RegistryError::InvalidParameter(format!("Invalid Marker: {marker}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(marker)
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    match raw.split_once(':') {
        Some((name, v)) => Ok((name.to_owned(), Some(v.parse().map_err(|_| bad())?))),
        None => Ok((raw, None)),
    }
}
