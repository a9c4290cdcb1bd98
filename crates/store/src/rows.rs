/// A function and its `$LATEST` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRow {
    pub name: String,
    /// Set once at creation; no update statement touches it.
    pub tenancy: Option<String>,
    /// The registry's JSON document for `$LATEST`.
    pub config: String,
    pub code_sha256: String,
    pub next_version: u64,
    pub reserved_concurrency: Option<u32>,
    /// Tags as a JSON object; not part of any configuration, so kept beside it.
    pub tags: String,
    pub created_at: String,
}

/// A published, immutable version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRow {
    pub function: String,
    pub version: u64,
    pub config: String,
    pub code_sha256: String,
}

/// An alias: a name for a version, with its own JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasRow {
    pub function: String,
    pub name: String,
    /// `$LATEST` or a version number; kept as a column so version deletes can find users.
    pub version: String,
    pub config: String,
}
