use std::collections::HashSet;

use rusqlite::{OptionalExtension, Row, Transaction, params};

use crate::{AliasRow, FunctionRow, StoreError, VersionRow};

/// Typed queries inside one transaction. Only `Store::transact` makes one.
pub struct Tx<'a> {
    tx: &'a Transaction<'a>,
}

type Result<T> = std::result::Result<T, StoreError>;

fn conflict_or(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict
        }
        e => StoreError::Sqlite(e),
    }
}

const FUNCTION_COLS: &str =
    "name, tenancy, config, code_sha256, next_version, reserved_concurrency, tags, created_at";

fn function_row(r: &Row<'_>) -> rusqlite::Result<FunctionRow> {
    Ok(FunctionRow {
        name: r.get(0)?,
        tenancy: r.get(1)?,
        config: r.get(2)?,
        code_sha256: r.get(3)?,
        next_version: r.get(4)?,
        reserved_concurrency: r.get(5)?,
        tags: r.get(6)?,
        created_at: r.get(7)?,
    })
}

fn version_row(r: &Row<'_>) -> rusqlite::Result<VersionRow> {
    Ok(VersionRow {
        function: r.get(0)?,
        version: r.get(1)?,
        config: r.get(2)?,
        code_sha256: r.get(3)?,
    })
}

fn alias_row(r: &Row<'_>) -> rusqlite::Result<AliasRow> {
    Ok(AliasRow {
        function: r.get(0)?,
        name: r.get(1)?,
        version: r.get(2)?,
        config: r.get(3)?,
    })
}

impl<'a> Tx<'a> {
    pub(crate) fn new(tx: &'a Transaction<'a>) -> Self {
        Self { tx }
    }

    pub fn function(&self, name: &str) -> Result<Option<FunctionRow>> {
        let sql = format!("SELECT {FUNCTION_COLS} FROM functions WHERE name = ?1");
        Ok(self.tx.query_row(&sql, [name], function_row).optional()?)
    }

    /// Functions ordered by name, starting after `after`.
    pub fn functions(&self, after: Option<&str>, limit: usize) -> Result<Vec<FunctionRow>> {
        let sql =
            format!("SELECT {FUNCTION_COLS} FROM functions WHERE name > ?1 ORDER BY name LIMIT ?2");
        let mut stmt = self.tx.prepare(&sql)?;
        let rows = stmt.query_map(params![after.unwrap_or(""), limit as i64], function_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn function_count(&self) -> Result<u64> {
        Ok(self
            .tx
            .query_row("SELECT COUNT(*) FROM functions", [], |r| r.get(0))?)
    }

    /// Fails with [`StoreError::Conflict`] when the name is taken.
    pub fn insert_function(&self, row: &FunctionRow) -> Result<()> {
        self.tx
            .execute(
                &format!("INSERT INTO functions ({FUNCTION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![
                    row.name,
                    row.tenancy,
                    row.config,
                    row.code_sha256,
                    row.next_version,
                    row.reserved_concurrency,
                    row.tags,
                    row.created_at
                ],
            )
            .map_err(conflict_or)?;
        Ok(())
    }

    /// Writes every mutable column. Tenancy and creation time are not among them.
    pub fn update_function(&self, row: &FunctionRow) -> Result<()> {
        self.tx.execute(
            "UPDATE functions SET config = ?2, code_sha256 = ?3, next_version = ?4,
                 reserved_concurrency = ?5, tags = ?6 WHERE name = ?1",
            params![
                row.name,
                row.config,
                row.code_sha256,
                row.next_version,
                row.reserved_concurrency,
                row.tags
            ],
        )?;
        Ok(())
    }

    /// Deletes the function with its versions and aliases; false if there was none.
    pub fn delete_function(&self, name: &str) -> Result<bool> {
        Ok(self
            .tx
            .execute("DELETE FROM functions WHERE name = ?1", [name])?
            > 0)
    }

    /// Sum of reserved concurrency over all functions but `except`.
    pub fn reserved_concurrency_sum(&self, except: Option<&str>) -> Result<u64> {
        Ok(self.tx.query_row(
            "SELECT COALESCE(SUM(reserved_concurrency), 0) FROM functions WHERE name != ?1",
            [except.unwrap_or("")],
            |r| r.get(0),
        )?)
    }

    pub fn version(&self, function: &str, version: u64) -> Result<Option<VersionRow>> {
        Ok(self
            .tx
            .query_row(
                "SELECT function, version, config, code_sha256 FROM versions
                 WHERE function = ?1 AND version = ?2",
                params![function, version],
                version_row,
            )
            .optional()?)
    }

    /// Published versions of one function, in ascending order, starting after `after`.
    pub fn versions(&self, function: &str, after: u64, limit: usize) -> Result<Vec<VersionRow>> {
        let mut stmt = self.tx.prepare(
            "SELECT function, version, config, code_sha256 FROM versions
             WHERE function = ?1 AND version > ?2 ORDER BY version LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![function, after, limit as i64], version_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn latest_version(&self, function: &str) -> Result<Option<VersionRow>> {
        Ok(self
            .tx
            .query_row(
                "SELECT function, version, config, code_sha256 FROM versions
                 WHERE function = ?1 ORDER BY version DESC LIMIT 1",
                [function],
                version_row,
            )
            .optional()?)
    }

    pub fn insert_version(&self, row: &VersionRow) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO versions (function, version, config, code_sha256) VALUES (?1, ?2, ?3, ?4)",
                params![row.function, row.version, row.config, row.code_sha256],
            )
            .map_err(conflict_or)?;
        Ok(())
    }

    pub fn delete_version(&self, function: &str, version: u64) -> Result<bool> {
        Ok(self.tx.execute(
            "DELETE FROM versions WHERE function = ?1 AND version = ?2",
            params![function, version],
        )? > 0)
    }

    pub fn alias(&self, function: &str, name: &str) -> Result<Option<AliasRow>> {
        Ok(self
            .tx
            .query_row(
                "SELECT function, name, version, config FROM aliases WHERE function = ?1 AND name = ?2",
                params![function, name],
                alias_row,
            )
            .optional()?)
    }

    /// Aliases of one function ordered by name, starting after `after`.
    pub fn aliases(
        &self,
        function: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AliasRow>> {
        let mut stmt = self.tx.prepare(
            "SELECT function, name, version, config FROM aliases
             WHERE function = ?1 AND name > ?2 ORDER BY name LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![function, after.unwrap_or(""), limit as i64],
            alias_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn insert_alias(&self, row: &AliasRow) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO aliases (function, name, version, config) VALUES (?1, ?2, ?3, ?4)",
                params![row.function, row.name, row.version, row.config],
            )
            .map_err(conflict_or)?;
        Ok(())
    }

    pub fn update_alias(&self, row: &AliasRow) -> Result<()> {
        self.tx.execute(
            "UPDATE aliases SET version = ?3, config = ?4 WHERE function = ?1 AND name = ?2",
            params![row.function, row.name, row.version, row.config],
        )?;
        Ok(())
    }

    pub fn delete_alias(&self, function: &str, name: &str) -> Result<bool> {
        Ok(self.tx.execute(
            "DELETE FROM aliases WHERE function = ?1 AND name = ?2",
            params![function, name],
        )? > 0)
    }

    /// Every code package any function or version still points at.
    pub fn referenced_code(&self) -> Result<HashSet<String>> {
        let mut stmt = self
            .tx
            .prepare("SELECT code_sha256 FROM functions UNION SELECT code_sha256 FROM versions")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
