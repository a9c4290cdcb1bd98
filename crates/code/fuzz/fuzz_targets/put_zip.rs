//! Arbitrary bytes as an uploaded zip: `put_zip` must never panic, never report our own failure
//! for bad input, and never leave anything behind when it refuses.
#![no_main]

use std::collections::HashSet;
use std::sync::OnceLock;

use bulkhead_code::{CodeStore, Limits};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    _dir: tempfile::TempDir,
    store: CodeStore,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        // Small limits keep every run fast; the rules do not depend on the numbers.
        let limits = Limits {
            max_zipped: 1 << 20,
            max_unzipped: 4 << 20,
            max_entries: 1000,
        };
        let store = CodeStore::with_limits(dir.path().join("code"), limits).expect("open");
        Fixture { _dir: dir, store }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    match f.store.put_zip(data) {
        Ok(pkg) => {
            assert!(f.store.contains(&pkg.sha256_hex));
            f.store.retain(&HashSet::new()).expect("retain");
        }
        Err(e) => assert!(e.is_user_error(), "internal error on bad input: {e}"),
    }
    let left = std::fs::read_dir(f.store.root()).expect("root").count();
    assert_eq!(left, 0, "files left in the store");
});
