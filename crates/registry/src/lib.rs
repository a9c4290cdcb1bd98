//! The function registry: functions, versions, aliases, code packages and concurrency settings,
//! validated as AWS Lambda validates them.
//!
//! This is the control plane's logic with no HTTP and no SQL in it: the API crate turns requests
//! into the input types here and [`RegistryError`]s into AWS errors; the store crate persists rows.
//! Every mutation is one store transaction, and code packages are written before the row that
//! points at them, so a crash can leave at most an unreferenced package, which [`Registry::open`]
//! collects.

mod aliases;
mod concurrency;
mod error;
mod functions;
mod types;
mod validate;
mod versions;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use bulkhead_code::CodeStore;
use bulkhead_model::{FunctionName, FunctionRef, Qualifier};
use bulkhead_store::{FunctionRow, Store, Tx};

pub use error::RegistryError;
pub use functions::ResolvedFunction;
pub use types::*;

/// Account-wide settings that appear in ARNs and limits.
#[derive(Debug, Clone)]
pub struct Settings {
    pub region: String,
    pub account_id: String,
    /// Account concurrency limit (Lambda's default is 1,000).
    pub account_concurrency: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            account_concurrency: 1000,
        }
    }
}

pub struct Registry {
    store: Store,
    code: CodeStore,
    settings: Settings,
    /// Writers of code packages hold it shared; garbage collection holds it exclusively, so a
    /// package written but not yet referenced by a committed row is never collected.
    code_gc: RwLock<()>,
    /// Resolutions for Invoke, so the warm path does not query SQLite. Every committed write
    /// bumps the generation and empties the map under the same lock; see [`Registry::write`].
    resolved: RwLock<ResolveCache>,
}

#[derive(Default)]
struct ResolveCache {
    generation: u64,
    entries: HashMap<(String, Option<String>), Arc<ResolvedFunction>>,
}

/// Cached resolutions beyond this many are dropped wholesale.
const RESOLVE_CACHE: usize = 16_384;

type Result<T> = std::result::Result<T, RegistryError>;

impl Registry {
    /// Opens the registry over a store and a code directory, and removes code packages that no
    /// row references (left by a crash between writing a package and committing its row).
    pub fn open(store: Store, code_root: impl Into<PathBuf>, settings: Settings) -> Result<Self> {
        let code = CodeStore::open(code_root.into())?;
        let registry = Self {
            store,
            code,
            settings,
            code_gc: RwLock::new(()),
            resolved: RwLock::default(),
        };
        let removed = registry.collect_code()?;
        if removed > 0 {
            tracing::info!(removed, "removed unreferenced code packages");
        }
        Ok(registry)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The extracted, read-only code tree of a package, as the sandbox binds it.
    pub fn code_tree(&self, sha256_hex: &str) -> PathBuf {
        self.code.tree_path(sha256_hex)
    }

    /// The stored zip of a package.
    pub fn code_zip(&self, sha256_hex: &str) -> PathBuf {
        self.code.zip_path(sha256_hex)
    }

    /// Runs a mutation in one transaction and, once it committed, forgets cached resolutions.
    fn write<T>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        let out = self.store.transact(f)?;
        if let Ok(mut cache) = self.resolved.write() {
            cache.generation += 1;
            cache.entries.clear();
        }
        Ok(out)
    }

    /// A resolution already cached, without touching the database (never blocks on I/O).
    pub fn cached(&self, fref: &FunctionRef) -> Option<Arc<ResolvedFunction>> {
        let cache = self.resolved.read().ok()?;
        // Looking up by borrowed parts would need a custom key type; two short strings are cheap.
        let key = (
            fref.name.to_string(),
            fref.qualifier.as_ref().map(ToString::to_string),
        );
        cache.entries.get(&key).cloned()
    }

    /// [`Registry::resolve`] through a cache that every write empties: the function as it would
    /// run, without touching the database when it was resolved before.
    pub fn resolve_cached(&self, fref: &FunctionRef) -> Result<Arc<ResolvedFunction>> {
        let key = (
            fref.name.to_string(),
            fref.qualifier.as_ref().map(ToString::to_string),
        );
        let generation = match self.resolved.read() {
            Ok(cache) => {
                if let Some(hit) = cache.entries.get(&key) {
                    return Ok(hit.clone());
                }
                cache.generation
            }
            Err(_) => return Err(RegistryError::Poisoned),
        };
        let resolved = Arc::new(self.resolve(fref)?);
        if let Ok(mut cache) = self.resolved.write()
            && cache.generation == generation
        {
            // A write that committed meanwhile bumped the generation: then this result may be
            // stale and is not kept.
            if cache.entries.len() >= RESOLVE_CACHE {
                cache.entries.clear();
            }
            cache.entries.insert(key, resolved.clone());
        }
        Ok(resolved)
    }

    fn collect_code(&self) -> Result<usize> {
        let _guard = self.code_gc.write().map_err(|_| RegistryError::Poisoned)?;
        let keep = self.store.transact(|tx| tx.referenced_code())?;
        Ok(self.code.retain(&keep)?)
    }

    /// `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`.
    pub fn function_arn(&self, name: &str, qualifier: Option<&str>) -> String {
        let base = format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.settings.region, self.settings.account_id, name
        );
        match qualifier {
            Some(q) => format!("{base}:{q}"),
            None => base,
        }
    }

    fn not_found(&self, name: &str, qualifier: Option<&str>) -> RegistryError {
        RegistryError::NotFound(format!(
            "Function not found: {}",
            self.function_arn(name, qualifier)
        ))
    }

    /// Parses a function reference from a URI and checks that an ARN names this region and
    /// account. `qualifier` is the `?Qualifier=` parameter, which must agree with one in the name.
    pub fn function_ref(&self, raw: &str, qualifier: Option<&str>) -> Result<FunctionRef> {
        let mut fref = FunctionRef::parse(raw)?;
        let foreign = fref
            .region
            .as_deref()
            .is_some_and(|r| r != self.settings.region)
            || fref
                .account
                .as_deref()
                .is_some_and(|a| a != self.settings.account_id);
        if foreign {
            return Err(self.not_found(fref.name.as_str(), None));
        }
        if let Some(q) = qualifier {
            let q = Qualifier::parse(q)?;
            match &fref.qualifier {
                Some(existing) if *existing != q => {
                    return Err(RegistryError::InvalidParameter(
                        "The derived qualifier from the function name does not match the specified qualifier."
                            .into(),
                    ));
                }
                _ => fref.qualifier = Some(q),
            }
        }
        Ok(fref)
    }

    fn function_row(&self, tx: &Tx<'_>, name: &FunctionName) -> Result<FunctionRow> {
        tx.function(name.as_str())?
            .ok_or_else(|| self.not_found(name.as_str(), None))
    }
}

#[cfg(test)]
mod tests;
