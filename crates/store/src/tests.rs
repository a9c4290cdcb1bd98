use super::*;

fn row(name: &str) -> FunctionRow {
    FunctionRow {
        name: name.into(),
        tenancy: Some("PER_TENANT".into()),
        config: "{}".into(),
        code_sha256: format!("{name}-code"),
        next_version: 1,
        reserved_concurrency: None,
        tags: "{}".into(),
        created_at: "t".into(),
    }
}

fn insert(store: &Store, r: &FunctionRow) -> Result<(), StoreError> {
    store.transact(|tx| tx.insert_function(r))
}

#[test]
fn a_second_insert_of_one_name_conflicts_and_keeps_the_first() {
    let store = Store::open_in_memory().expect("open");
    insert(&store, &row("f")).expect("first");
    let mut other = row("f");
    other.config = "{\"x\":1}".into();
    assert!(matches!(insert(&store, &other), Err(StoreError::Conflict)));
    let got = store
        .transact(|tx| tx.function("f"))
        .expect("read")
        .expect("row");
    assert_eq!(got.config, "{}");
}

#[test]
fn a_failed_transaction_leaves_nothing() {
    let store = Store::open_in_memory().expect("open");
    let out: Result<(), StoreError> = store.transact(|tx| {
        tx.insert_function(&row("g"))?;
        Err(StoreError::Conflict)
    });
    assert!(out.is_err());
    assert!(
        store
            .transact(|tx| tx.function("g"))
            .expect("read")
            .is_none()
    );
}

#[test]
fn update_never_touches_tenancy() {
    let store = Store::open_in_memory().expect("open");
    insert(&store, &row("f")).expect("insert");
    let mut changed = row("f");
    changed.tenancy = None;
    changed.config = "{\"m\":256}".into();
    store
        .transact(|tx| tx.update_function(&changed))
        .expect("update");
    let got = store
        .transact(|tx| tx.function("f"))
        .expect("read")
        .expect("row");
    assert_eq!(got.tenancy.as_deref(), Some("PER_TENANT"));
    assert_eq!(got.config, "{\"m\":256}");
}

#[test]
fn deleting_a_function_cascades_to_versions_and_aliases() {
    let store = Store::open_in_memory().expect("open");
    store
        .transact(|tx| {
            tx.insert_function(&row("f"))?;
            tx.insert_version(&VersionRow {
                function: "f".into(),
                version: 1,
                config: "{}".into(),
                code_sha256: "v1".into(),
            })?;
            tx.insert_alias(&AliasRow {
                function: "f".into(),
                name: "live".into(),
                version: "1".into(),
                config: "{}".into(),
            })
        })
        .expect("setup");
    assert!(
        store
            .transact(|tx| tx.delete_function("f"))
            .expect("delete")
    );
    store
        .transact(|tx| {
            assert!(tx.version("f", 1)?.is_none());
            assert!(tx.alias("f", "live")?.is_none());
            assert!(tx.referenced_code()?.is_empty());
            Ok::<_, StoreError>(())
        })
        .expect("check");
}

#[test]
fn listing_pages_in_name_order() {
    let store = Store::open_in_memory().expect("open");
    for n in ["c", "a", "b", "d"] {
        insert(&store, &row(n)).expect("insert");
    }
    let page = store
        .transact(|tx| tx.functions(Some("a"), 2))
        .expect("list");
    let names: Vec<_> = page.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["b", "c"]);
}

#[test]
fn state_survives_reopening_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bulkhead.db");
    {
        let store = Store::open(&path).expect("open");
        insert(&store, &row("kept")).expect("insert");
    }
    let store = Store::open(&path).expect("reopen");
    let got = store.transact(|tx| tx.function("kept")).expect("read");
    assert_eq!(got.map(|r| r.code_sha256).as_deref(), Some("kept-code"));
}

#[test]
fn a_newer_schema_is_refused_rather_than_misread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bulkhead.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.pragma_update(None, "user_version", 99)
            .expect("pragma");
    }
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::SchemaTooNew { found: 99, .. })
    ));
}
