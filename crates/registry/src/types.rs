//! Wire-shaped documents: what the API returns (`FunctionConfiguration`, `AliasConfiguration`, ...)
//! and what it accepts, in AWS's member names. Inputs keep every member optional so that a missing
//! required member gets AWS's validation message instead of a generic parse error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Lambda's `FunctionConfiguration`, stored as is for `$LATEST` and for each version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionConfig {
    pub function_name: String,
    pub function_arn: String,
    pub runtime: String,
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    pub code_size: u64,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    pub last_modified: String,
    pub code_sha256: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    pub tracing_config: TracingConfig,
    pub revision_id: String,
    pub state: String,
    pub last_update_status: String,
    pub package_type: String,
    pub architectures: Vec<String>,
    pub ephemeral_storage: EphemeralStorage,
    pub logging_config: LoggingConfig,
    pub snap_start: SnapStart,
    /// Present only on isolated functions, as AWS returns it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenancy_config: Option<TenancyConfig>,
}

impl FunctionConfig {
    /// Whether two configurations would run the same code the same way; publishing an unchanged
    /// `$LATEST` returns the existing version instead of a new one, as Lambda does.
    pub fn same_deployment(&self, other: &FunctionConfig) -> bool {
        let strip = |c: &FunctionConfig| {
            let mut c = c.clone();
            c.function_arn.clear();
            c.version.clear();
            c.revision_id.clear();
            c.last_modified.clear();
            c.description.clear();
            c
        };
        strip(self) == strip(other)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Environment {
    pub variables: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TracingConfig {
    pub mode: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EphemeralStorage {
    pub size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfig {
    pub log_format: String,
    pub log_group: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnapStart {
    pub apply_on: String,
    pub optimization_status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TenancyConfig {
    pub tenant_isolation_mode: String,
}

/// GetFunction's answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionDetails {
    pub configuration: FunctionConfig,
    /// The package's SHA-256 in hex, for the API to build a download location.
    #[serde(skip)]
    pub code_sha256_hex: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Concurrency {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_concurrent_executions: Option<u32>,
}

/// A page of a list and the marker of the next one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_marker: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasConfig {
    pub alias_arn: String,
    pub name: String,
    pub function_version: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_config: Option<RoutingConfig>,
    pub revision_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RoutingConfig {
    #[serde(default)]
    pub additional_version_weights: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountSettings {
    pub account_limit: AccountLimit,
    pub account_usage: AccountUsage,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountLimit {
    pub total_code_size: u64,
    pub code_size_unzipped: u64,
    pub code_size_zipped: u64,
    pub concurrent_executions: u32,
    pub unreserved_concurrent_executions: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountUsage {
    pub total_code_size: u64,
    pub function_count: u64,
}

// ---- inputs ----

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodeInput {
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    pub image_uri: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnvironmentInput {
    pub variables: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EphemeralStorageInput {
    pub size: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TenancyConfigInput {
    pub tenant_isolation_mode: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnapStartInput {
    pub apply_on: Option<String>,
}

/// CreateFunction's body. Members Bulkhead does not implement (VPC, file systems, KMS, ...) are
/// ignored as unknown fields, except those that would change what runs, which are refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFunctionInput {
    pub function_name: Option<String>,
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub code: Option<CodeInput>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub publish: Option<bool>,
    pub environment: Option<EnvironmentInput>,
    pub package_type: Option<String>,
    pub architectures: Option<Vec<String>>,
    pub ephemeral_storage: Option<EphemeralStorageInput>,
    pub tenancy_config: Option<TenancyConfigInput>,
    pub snap_start: Option<SnapStartInput>,
    pub layers: Option<Vec<String>>,
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateCodeInput {
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    pub image_uri: Option<String>,
    pub architectures: Option<Vec<String>>,
    pub publish: Option<bool>,
    pub dry_run: Option<bool>,
    pub revision_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateConfigInput {
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub environment: Option<EnvironmentInput>,
    pub runtime: Option<String>,
    pub ephemeral_storage: Option<EphemeralStorageInput>,
    pub snap_start: Option<SnapStartInput>,
    pub layers: Option<Vec<String>>,
    pub revision_id: Option<String>,
    /// Not a member of UpdateFunctionConfiguration; caught so a raw request that sends it is
    /// refused rather than silently ignored.
    pub tenancy_config: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishVersionInput {
    pub code_sha256: Option<String>,
    pub description: Option<String>,
    pub revision_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasInput {
    pub name: Option<String>,
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub routing_config: Option<RoutingConfig>,
    pub revision_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConcurrencyInput {
    pub reserved_concurrent_executions: Option<i64>,
}
