use std::io::Write;

use base64::Engine;
use bulkhead_model::FunctionRef;
use bulkhead_store::Store;

use super::*;

fn zip_of(files: &[(&str, &str)]) -> String {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        for (name, body) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("start");
            w.write_all(body.as_bytes()).expect("write");
        }
        w.finish().expect("finish");
    }
    base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
}

struct Fixture {
    _dir: tempfile::TempDir,
    registry: Registry,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Registry::open(
        Store::open_in_memory().expect("store"),
        dir.path().join("code"),
        Settings::default(),
    )
    .expect("registry");
    Fixture {
        _dir: dir,
        registry,
    }
}

fn create_input(name: &str, per_tenant: bool) -> CreateFunctionInput {
    CreateFunctionInput {
        function_name: Some(name.into()),
        runtime: Some("python3.12".into()),
        role: Some("arn:aws:iam::123456789012:role/r".into()),
        handler: Some("app.handler".into()),
        code: Some(CodeInput {
            zip_file: Some(zip_of(&[("app.py", "def handler(e, c): return 1\n")])),
            ..Default::default()
        }),
        tenancy_config: per_tenant.then(|| TenancyConfigInput {
            tenant_isolation_mode: Some("PER_TENANT".into()),
        }),
        ..Default::default()
    }
}

fn fref(s: &str) -> FunctionRef {
    FunctionRef::parse(s).expect("ref")
}

#[test]
fn create_fills_aws_defaults_and_echoes_tenancy() {
    let f = fixture();
    let c = f
        .registry
        .create_function(create_input("iso", true))
        .expect("create");
    assert_eq!(
        c.function_arn,
        "arn:aws:lambda:us-east-1:000000000000:function:iso"
    );
    assert_eq!(
        (c.timeout, c.memory_size, c.ephemeral_storage.size),
        (3, 128, 512)
    );
    assert_eq!(c.version, "$LATEST");
    assert_eq!(
        c.tenancy_config
            .as_ref()
            .map(|t| t.tenant_isolation_mode.as_str()),
        Some("PER_TENANT")
    );
    let plain = f
        .registry
        .create_function(create_input("plain", false))
        .expect("create");
    assert!(plain.tenancy_config.is_none());
    let json = serde_json::to_value(&plain).expect("json");
    assert!(json.get("TenancyConfig").is_none());
    assert!(json.get("CodeSha256").is_some());
}

#[test]
fn a_second_create_conflicts_with_aws_words() {
    let f = fixture();
    f.registry
        .create_function(create_input("dup", false))
        .expect("create");
    let e = f
        .registry
        .create_function(create_input("dup", true))
        .unwrap_err();
    assert!(
        matches!(&e, RegistryError::Conflict(m) if m == "Function already exist: dup"),
        "{e:?}"
    );
    assert!(
        f.registry
            .get_config(&fref("dup"))
            .expect("get")
            .tenancy_config
            .is_none()
    );
}

#[test]
fn tenancy_cannot_be_changed_by_update() {
    let f = fixture();
    f.registry
        .create_function(create_input("iso", true))
        .expect("create");
    let input = UpdateConfigInput {
        tenancy_config: Some(serde_json::json!({})),
        memory_size: Some(256),
        ..Default::default()
    };
    assert!(matches!(
        f.registry.update_config(&fref("iso"), input),
        Err(RegistryError::InvalidParameter(_))
    ));
    let c = f.registry.get_config(&fref("iso")).expect("get");
    assert_eq!(c.memory_size, 128, "a refused update changes nothing");
    assert!(c.tenancy_config.is_some());
}

#[test]
fn validation_failures_leave_no_function_and_no_code() {
    let f = fixture();
    let mut bad = create_input("bad", false);
    bad.memory_size = Some(127);
    assert!(
        matches!(f.registry.create_function(bad), Err(RegistryError::Validation(v)) if v.field == "memorySize")
    );
    let mut bad = create_input("bad", false);
    bad.code = Some(CodeInput {
        zip_file: Some("!!notbase64".into()),
        ..Default::default()
    });
    assert!(matches!(
        f.registry.create_function(bad),
        Err(RegistryError::BadContent(_))
    ));
    let mut bad = create_input("bad", false);
    bad.code = Some(CodeInput {
        zip_file: Some(base64::engine::general_purpose::STANDARD.encode(b"not a zip")),
        ..Default::default()
    });
    assert!(matches!(
        f.registry.create_function(bad),
        Err(RegistryError::InvalidParameter(_))
    ));
    assert!(matches!(
        f.registry.get_config(&fref("bad")),
        Err(RegistryError::NotFound(_))
    ));
    assert_eq!(
        f.registry
            .account_settings()
            .expect("settings")
            .account_usage
            .function_count,
        0
    );
}

#[test]
fn publishing_unchanged_code_returns_the_same_version() {
    let f = fixture();
    f.registry
        .create_function(create_input("v", true))
        .expect("create");
    let v1 = f
        .registry
        .publish_version(&fref("v"), PublishVersionInput::default())
        .expect("publish");
    assert_eq!(v1.version, "1");
    assert_eq!(
        v1.function_arn,
        "arn:aws:lambda:us-east-1:000000000000:function:v:1"
    );
    assert!(v1.tenancy_config.is_some(), "versions keep the tenancy");
    let again = f
        .registry
        .publish_version(&fref("v"), PublishVersionInput::default())
        .expect("publish");
    assert_eq!(again.version, "1");
    f.registry
        .update_config(
            &fref("v"),
            UpdateConfigInput {
                memory_size: Some(256),
                ..Default::default()
            },
        )
        .expect("update");
    let v2 = f
        .registry
        .publish_version(&fref("v"), PublishVersionInput::default())
        .expect("publish");
    assert_eq!((v2.version.as_str(), v2.memory_size), ("2", 256));
    assert_eq!(
        f.registry.get_config(&fref("v:1")).expect("v1").memory_size,
        128
    );
}

#[test]
fn a_stale_revision_id_is_refused() {
    let f = fixture();
    let c = f
        .registry
        .create_function(create_input("r", false))
        .expect("create");
    f.registry
        .update_config(
            &fref("r"),
            UpdateConfigInput {
                timeout: Some(5),
                ..Default::default()
            },
        )
        .expect("update");
    let stale = UpdateConfigInput {
        timeout: Some(6),
        revision_id: Some(c.revision_id),
        ..Default::default()
    };
    assert!(matches!(
        f.registry.update_config(&fref("r"), stale),
        Err(RegistryError::PreconditionFailed(_))
    ));
}

#[test]
fn aliases_resolve_and_protect_their_versions() {
    let f = fixture();
    f.registry
        .create_function(create_input("a", false))
        .expect("create");
    f.registry
        .publish_version(&fref("a"), PublishVersionInput::default())
        .expect("publish");
    let alias = AliasInput {
        name: Some("live".into()),
        function_version: Some("1".into()),
        ..Default::default()
    };
    f.registry
        .create_alias(&fref("a"), alias.clone())
        .expect("alias");
    assert!(matches!(
        f.registry.create_alias(&fref("a"), alias),
        Err(RegistryError::Conflict(_))
    ));
    let resolved = f.registry.resolve(&fref("a:live")).expect("resolve");
    assert_eq!(resolved.executed_version, "1");
    assert!(matches!(
        f.registry.delete_function(&fref("a:1")),
        Err(RegistryError::Conflict(_))
    ));
    let to_missing = AliasInput {
        name: Some("next".into()),
        function_version: Some("9".into()),
        ..Default::default()
    };
    assert!(matches!(
        f.registry.create_alias(&fref("a"), to_missing),
        Err(RegistryError::NotFound(_))
    ));
    f.registry
        .delete_alias(&fref("a"), "live")
        .expect("delete alias");
    f.registry
        .delete_function(&fref("a:1"))
        .expect("delete version");
    assert!(matches!(
        f.registry.resolve(&fref("a:1")),
        Err(RegistryError::NotFound(_))
    ));
}

#[test]
fn listing_pages_through_every_function_and_version() {
    let f = fixture();
    for i in 0..7 {
        let name = format!("f{i}");
        f.registry
            .create_function(create_input(&name, false))
            .expect("create");
        f.registry
            .publish_version(&fref(&name), PublishVersionInput::default())
            .expect("publish");
    }
    for all in [false, true] {
        let mut seen = Vec::new();
        let mut marker = None;
        loop {
            let page = f
                .registry
                .list_functions(marker.as_deref(), Some(3), all)
                .expect("list");
            assert!(page.items.len() <= 3);
            seen.extend(page.items.into_iter().map(|c| c.function_arn));
            match page.next_marker {
                Some(m) => marker = Some(m),
                None => break,
            }
        }
        assert_eq!(seen.len(), if all { 14 } else { 7 }, "{seen:?}");
        let unique: std::collections::HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len());
    }
}

#[test]
fn reserved_concurrency_keeps_a_hundred_unreserved() {
    let f = fixture();
    f.registry
        .create_function(create_input("c", false))
        .expect("create");
    let input = |n| ConcurrencyInput {
        reserved_concurrent_executions: Some(n),
    };
    assert!(matches!(
        f.registry.put_concurrency(&fref("c"), input(901)),
        Err(RegistryError::InvalidParameter(_))
    ));
    f.registry
        .put_concurrency(&fref("c"), input(900))
        .expect("put");
    assert_eq!(
        f.registry
            .account_settings()
            .expect("s")
            .account_limit
            .unreserved_concurrent_executions,
        100
    );
    f.registry.delete_concurrency(&fref("c")).expect("delete");
    assert_eq!(
        f.registry
            .get_concurrency(&fref("c"))
            .expect("get")
            .reserved_concurrent_executions,
        None
    );
}

#[test]
fn deleting_the_last_user_of_a_package_removes_it() {
    let f = fixture();
    f.registry
        .create_function(create_input("g", false))
        .expect("create");
    let hex = f
        .registry
        .resolve(&fref("g"))
        .expect("resolve")
        .code_sha256_hex;
    assert!(f.registry.code_tree(&hex).join("app.py").exists());
    f.registry.delete_function(&fref("g")).expect("delete");
    assert!(!f.registry.code_tree(&hex).exists());
}

#[test]
fn arns_of_another_account_or_region_are_not_found() {
    let f = fixture();
    f.registry
        .create_function(create_input("x", false))
        .expect("create");
    let foreign = f
        .registry
        .function_ref("arn:aws:lambda:eu-west-1:000000000000:function:x", None);
    assert!(matches!(foreign, Err(RegistryError::NotFound(_))));
    let r = f
        .registry
        .function_ref(
            "arn:aws:lambda:us-east-1:000000000000:function:x",
            Some("$LATEST"),
        )
        .expect("ref");
    assert_eq!(
        f.registry.resolve(&r).expect("resolve").executed_version,
        "$LATEST"
    );
    assert!(f.registry.function_ref("x:1", Some("2")).is_err());
}

#[test]
fn cached_resolutions_never_outlive_a_write() {
    let f = fixture();
    f.registry
        .create_function(create_input("c", true))
        .expect("create");
    assert!(
        f.registry.cached(&fref("c")).is_none(),
        "nothing cached before the first resolve"
    );
    assert_eq!(
        f.registry
            .resolve_cached(&fref("c"))
            .expect("resolve")
            .config
            .memory_size,
        128
    );
    assert!(f.registry.cached(&fref("c")).is_some());
    f.registry
        .update_config(
            &fref("c"),
            UpdateConfigInput {
                memory_size: Some(512),
                ..Default::default()
            },
        )
        .expect("update");
    assert!(
        f.registry.cached(&fref("c")).is_none(),
        "a write empties the cache"
    );
    assert_eq!(
        f.registry
            .resolve_cached(&fref("c"))
            .expect("resolve")
            .config
            .memory_size,
        512
    );
    f.registry.delete_function(&fref("c")).expect("delete");
    assert!(matches!(
        f.registry.resolve_cached(&fref("c")),
        Err(RegistryError::NotFound(_))
    ));
}
