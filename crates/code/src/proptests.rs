//! Properties over generated archives: whatever the bytes or names, `put_zip` never panics,
//! never writes outside its tree, leaves nothing on refusal, and stores exactly what it accepts.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use proptest::prelude::*;
use tempfile::TempDir;

use crate::testzip::{Item, Raw, RawEntry, dir, entry, file, link, written};
use crate::{CodeError, CodePackage, CodeStore, Limits};

fn store() -> (TempDir, CodeStore) {
    let tmp = TempDir::new().expect("tempdir");
    fs::create_dir(tmp.path().join("outside")).expect("outside");
    fs::write(tmp.path().join("outside/keep"), b"keep").expect("outside file");
    // Small limits keep generated bombs cheap.
    let limits = Limits {
        max_zipped: 1 << 20,
        max_unzipped: 1 << 20,
        max_entries: 1000,
    };
    let store = CodeStore::with_limits(tmp.path().join("code"), limits).expect("open");
    (tmp, store)
}

fn listing(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read_dir") {
            let e = e.expect("entry");
            let p = e.path();
            if e.file_type().expect("type").is_dir() {
                stack.push(p.clone());
            }
            out.insert(p.strip_prefix(dir).expect("under dir").to_path_buf());
        }
    }
    out
}

/// Puts `zip` and checks the properties that hold whatever the outcome.
fn put_checked(tmp: &TempDir, store: &CodeStore, zip: &[u8]) -> Result<CodePackage, CodeError> {
    let before = listing(tmp.path());
    let result = store.put_zip(zip);
    let after = listing(tmp.path());
    match &result {
        Err(e) => {
            assert!(e.is_user_error(), "internal error on bad input: {e}");
            assert_eq!(after, before, "refusal left files behind: {e}");
        }
        Ok(pkg) => {
            let tree = Path::new("code").join(&pkg.sha256_hex);
            let zip = Path::new("code").join(format!("{}.zip", pkg.sha256_hex));
            for new in after.difference(&before) {
                assert!(
                    new.starts_with(&tree) || *new == zip,
                    "written outside the package: {}",
                    new.display()
                );
            }
            assert!(before.is_subset(&after), "something was removed");
            let keep = fs::read(tmp.path().join("outside/keep")).expect("outside file");
            assert_eq!(keep, b"keep");
            check_links(&store.tree_path(&pkg.sha256_hex));
        }
    }
    result
}

/// Every symlink in the tree resolves inside it, both by the kernel (when it resolves at all)
/// and lexically.
fn check_links(tree: &Path) {
    let canonical_tree = fs::canonicalize(tree).expect("tree");
    for rel in listing(tree) {
        let path = tree.join(&rel);
        let meta = fs::symlink_metadata(&path).expect("stat");
        if !meta.file_type().is_symlink() {
            continue;
        }
        if let Ok(resolved) = fs::canonicalize(&path) {
            assert!(
                resolved.starts_with(&canonical_tree),
                "{} resolves to {}",
                rel.display(),
                resolved.display()
            );
        }
        let target = fs::read_link(&path).expect("link");
        let mut depth = rel.components().count() as i64 - 1;
        for c in target.components() {
            match c {
                Component::ParentDir => depth -= 1,
                Component::Normal(_) => depth += 1,
                Component::CurDir => {}
                Component::RootDir | Component::Prefix(_) => depth = -1,
            }
            assert!(
                depth >= 0,
                "{} -> {} climbs out",
                rel.display(),
                target.display()
            );
        }
    }
}

/// The path an accepted entry name must have landed at.
fn normalised(name: &str) -> PathBuf {
    name.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

fn component() -> impl Strategy<Value = String> {
    // Mostly plain, so that many archives are accepted and their trees get checked too.
    prop_oneof![
        20 => "[a-c]{1,2}",
        2 => Just("node_modules".to_owned()),
        1 => Just("é\n".to_owned()),
        1 => Just(".".to_owned()),
        1 => Just(String::new()),
        1 => Just("..".to_owned()),
        1 => Just("C:".to_owned()),
        1 => Just("..\\..".to_owned()),
        1 => Just("x\0y".to_owned()),
    ]
}

fn name() -> impl Strategy<Value = String> {
    (
        prop::option::weighted(0.05, Just("/")),
        prop::collection::vec(component(), 1..4),
        prop::option::weighted(0.2, Just("/")),
    )
        .prop_map(|(lead, parts, trail)| {
            format!(
                "{}{}{}",
                lead.unwrap_or(""),
                parts.join("/"),
                trail.unwrap_or("")
            )
        })
}

/// Symlink targets climb often: `..` inside the tree is legitimate, above it is not.
fn target() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        6 => "[a-c]{1,2}",
        4 => Just("..".to_owned()),
        1 => Just(".".to_owned()),
        1 => Just(String::new()),
    ];
    (
        prop::option::weighted(0.05, Just("/")),
        prop::collection::vec(part, 1..5),
    )
        .prop_map(|(lead, parts)| format!("{}{}", lead.unwrap_or(""), parts.join("/")))
}

#[derive(Debug, Clone)]
enum Gen {
    File(String, Vec<u8>, bool),
    Dir(String),
    Link(String, String),
    Fifo(String),
}

fn gen_entry() -> impl Strategy<Value = Gen> {
    prop_oneof![
        10 => (name(), prop::collection::vec(any::<u8>(), 0..64), any::<bool>())
            .prop_map(|(n, d, x)| Gen::File(n, d, x)),
        4 => name().prop_map(Gen::Dir),
        5 => (name(), target()).prop_map(|(n, t)| Gen::Link(n, t)),
        1 => name().prop_map(Gen::Fifo),
    ]
}

fn raw_entry(g: &Gen) -> RawEntry {
    match g {
        Gen::File(n, d, true) => entry(n, d, 0o100_755),
        Gen::File(n, d, false) => file(n, d),
        Gen::Dir(n) => dir(format!("{}/", n.trim_end_matches('/'))),
        Gen::Link(n, t) => link(n, t),
        Gen::Fifo(n) => entry(n, b"", 0o010_644),
    }
}

fn sample_zip() -> Vec<u8> {
    written(&[
        Item::File("bootstrap", b"#!/bin/sh\nexec ./app\n", 0o755),
        Item::Dir("lib/"),
        Item::File("lib/app.py", &[b'x'; 3000], 0o644),
        Item::Link("current", "lib"),
        Item::File("lib/z/y.txt", b"hello", 0o644),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_nor_leave_files(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let (tmp, store) = store();
        let _ = put_checked(&tmp, &store, &bytes);
    }

    #[test]
    fn any_zip64_trailer_is_read_without_panicking(
        prefix in prop::collection::vec(any::<u8>(), 0..64),
        offset in any::<u64>(),
        count in any::<u64>(),
    ) {
        let mut zip = prefix;
        if let Ok(at) = usize::try_from(offset % 80) {
            let mut eocd64 = 0x0606_4b50u32.to_le_bytes().to_vec();
            eocd64.extend([0u8; 28]);
            eocd64.extend(count.to_le_bytes());
            if at <= zip.len() {
                zip.splice(at..at, eocd64);
            }
        }
        zip.extend(0x0706_4b50u32.to_le_bytes());
        zip.extend(0u32.to_le_bytes());
        zip.extend((offset % 100).to_le_bytes());
        zip.extend(1u32.to_le_bytes());
        zip.extend(0x0605_4b50u32.to_le_bytes());
        zip.extend([0u8; 4]);
        zip.extend([0xFF; 12]);
        zip.extend([0u8; 2]);
        let _ = crate::plan::declared_entries(&zip);
        let mut far = zip.clone();
        let locator = far.len() - 22 - 12;
        far[locator..locator + 8].copy_from_slice(&offset.to_le_bytes());
        let _ = crate::plan::declared_entries(&far);
    }

    #[test]
    fn damaged_zips_never_panic_nor_leave_files(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in prop::option::weighted(0.3, any::<prop::sample::Index>()),
    ) {
        let mut zip = sample_zip();
        for (at, byte) in flips {
            let i = at.index(zip.len());
            zip[i] ^= byte | 1;
        }
        if let Some(cut) = cut {
            zip.truncate(cut.index(zip.len()));
        }
        let (tmp, store) = store();
        let _ = put_checked(&tmp, &store, &zip);
    }
}

proptest! {
    // About one archive in five is accepted, so this also checks some fifty extracted trees.
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn hostile_names_extract_inside_the_tree_or_are_refused(
        entries in prop::collection::vec(gen_entry(), 1..6),
    ) {
        let raw = entries.iter().fold(Raw::new(), |r, g| r.with(raw_entry(g)));
        let (tmp, store) = store();
        if let Ok(pkg) = put_checked(&tmp, &store, &raw.build()) {
            let tree = store.tree_path(&pkg.sha256_hex);
            for g in &entries {
                match g {
                    // A trailing slash makes any plain entry a directory.
                    Gen::File(n, _, _) if n.ends_with('/') => {
                        prop_assert!(tree.join(normalised(n)).is_dir());
                    }
                    Gen::File(n, d, _) => {
                        prop_assert_eq!(&fs::read(tree.join(normalised(n))).expect("file"), d);
                    }
                    Gen::Link(n, t) => {
                        let got = fs::read_link(tree.join(normalised(n))).expect("link");
                        prop_assert_eq!(got, PathBuf::from(t));
                    }
                    Gen::Dir(n) => prop_assert!(tree.join(normalised(n)).is_dir()),
                    Gen::Fifo(_) => prop_assert!(false, "a FIFO was accepted"),
                }
            }
        }
    }
}

fn safe_tree() -> impl Strategy<Value = BTreeMap<String, (Vec<u8>, bool)>> {
    let path =
        (prop::collection::vec("d_[a-c]{1,2}", 0..4), "f_[a-z]{1,6}").prop_map(|(dirs, leaf)| {
            let mut parts = dirs;
            parts.push(leaf);
            parts.join("/")
        });
    prop::collection::btree_map(
        path,
        (prop::collection::vec(any::<u8>(), 0..3000), any::<bool>()),
        1..20,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn accepted_archives_roundtrip(files in safe_tree()) {
        let items: Vec<_> = files
            .iter()
            .map(|(n, (d, x))| Item::File(n, d, if *x { 0o755 } else { 0o644 }))
            .collect();
        let zip = written(&items);
        let (tmp, store) = store();
        let pkg = put_checked(&tmp, &store, &zip).expect("valid archive refused");
        prop_assert_eq!(pkg.files, files.len() as u64);
        prop_assert_eq!(
            pkg.unzipped_size,
            files.values().map(|(d, _)| d.len() as u64).sum::<u64>()
        );
        let tree = store.tree_path(&pkg.sha256_hex);
        for (n, (d, x)) in &files {
            let path = tree.join(n);
            prop_assert_eq!(&fs::read(&path).expect("file"), d);
            let mode = fs::metadata(&path).expect("stat").mode() & 0o7777;
            prop_assert_eq!(mode, if *x { 0o555 } else { 0o444 });
        }
        let on_disk = listing(&tree)
            .into_iter()
            .filter(|p| fs::symlink_metadata(tree.join(p)).expect("stat").is_file())
            .count();
        prop_assert_eq!(on_disk, files.len());
        // Idempotent: the same bytes give the same package.
        prop_assert_eq!(store.put_zip(&zip).expect("again"), pkg);
    }
}
