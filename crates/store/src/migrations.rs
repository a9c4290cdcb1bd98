use rusqlite::Connection;

use crate::StoreError;

/// Schema steps in order; `PRAGMA user_version` records how many have run. Append only: a
/// released step is never edited.
const STEPS: &[&str] = &[r#"
CREATE TABLE functions (
    name                 TEXT PRIMARY KEY,
    tenancy              TEXT,
    config               TEXT NOT NULL,
    code_sha256          TEXT NOT NULL,
    next_version         INTEGER NOT NULL DEFAULT 1,
    reserved_concurrency INTEGER,
    tags                 TEXT NOT NULL DEFAULT '{}',
    created_at           TEXT NOT NULL
);
CREATE TABLE versions (
    function     TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    config       TEXT NOT NULL,
    code_sha256  TEXT NOT NULL,
    PRIMARY KEY (function, version)
);
CREATE TABLE aliases (
    function  TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    version   TEXT NOT NULL,
    config    TEXT NOT NULL,
    PRIMARY KEY (function, name)
);
"#];

pub(crate) fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    let known = STEPS.len() as i64;
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (i, step) in STEPS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
        tracing::info!(step = i + 1, "applied schema migration");
    }
    Ok(())
}
