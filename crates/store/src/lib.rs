//! Durable state for the control plane: SQLite in WAL mode, schema migrations, and typed rows.
//!
//! The store knows tables, not Lambda: configurations are opaque JSON documents owned by the
//! registry, next to the few columns the store must query (code references for garbage
//! collection, reserved concurrency for account sums). Every change runs in one transaction
//! through [`Store::transact`], so a crash mid-request leaves either the old or the new state.
//!
//! Why SQLite and not a key-value engine: one file, crash-safe by design, and the same relational
//! schema moves to PostgreSQL when one host is not enough.

mod migrations;
mod rows;
mod tx;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

pub use rows::{AliasRow, FunctionRow, VersionRow};
pub use tx::Tx;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a row with this key exists already")]
    Conflict,
    #[error(
        "the database was written by a newer bulkhead (schema {found}, this build knows {known})"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("cannot restrict the database file's permissions")]
    Permissions(#[source] std::io::Error),
    #[error("the store lock was poisoned by a panic")]
    Poisoned,
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (or creates) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        // Function configurations include environment variables: owner-only.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(StoreError::Permissions)?;
        Self::init(conn)
    }

    /// An in-memory database, for tests of code built on the store.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        // FULL makes a commit durable before the API acknowledges it: "accepted" must mean kept.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::apply(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` in one transaction, committed only when `f` returns `Ok`.
    ///
    /// One connection behind a mutex serialises writers: control-plane writes are rare and short,
    /// and it makes "two creates of one name" a plain primary-key conflict.
    pub fn transact<T, E>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = conn.transaction().map_err(StoreError::from)?;
        let out = f(&Tx::new(&tx))?;
        tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
