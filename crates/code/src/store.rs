//! The store on disk: staging, streaming extraction, permissions, the commit rename, removal.

use std::collections::HashSet;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{self, Cursor, ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use tracing::{debug, warn};
use zip::ZipArchive;

use crate::error::CodeError;
use crate::names::PATH_MAX;
use crate::plan::{self, Archive, Kind, Plan};
use crate::{CodePackage, Limits, is_sha256_hex};

/// Prefix of everything in progress; `open` removes what a crash left behind.
const TMP_PREFIX: &str = ".tmp-";
/// What `tree_path`/`zip_path` answer for a string that is not a package name: a name that
/// nothing ever creates, so it is never found, and never a path outside the root.
const NOT_A_PACKAGE: &str = ".not-a-package";
const CHUNK: usize = 64 * 1024;
const DIR_MODE: u32 = 0o555;
const FILE_MODE: u32 = 0o444;
const EXEC_MODE: u32 = 0o555;

/// Content-addressed packages under one root directory. One store per root: `open` removes
/// in-progress work it finds there, which would break a second store working on the same root.
#[derive(Debug, Clone)]
pub struct CodeStore {
    root: PathBuf,
    limits: Limits,
    /// Longest entry name whose path under a tree stays below `PATH_MAX`.
    max_name_len: usize,
}

impl CodeStore {
    /// Opens (creating if needed) a store with the default [`Limits`].
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, CodeError> {
        Self::with_limits(root, Limits::default())
    }

    /// Opens (creating if needed) a store with the given limits, and removes temp dirs and files
    /// left by a crash.
    pub fn with_limits(root: impl Into<PathBuf>, limits: Limits) -> Result<Self, CodeError> {
        let root = root.into();
        let root = std::path::absolute(&root).map_err(|e| CodeError::io("resolve", &root, e))?;
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&root)
            .map_err(|e| CodeError::io("create store", &root, e))?;
        // "<root>/<64 hex>/<name>" plus the terminating NUL must fit in PATH_MAX.
        let tree_len = root.as_os_str().len() + 1 + 64 + 1;
        let store = Self {
            max_name_len: PATH_MAX.saturating_sub(tree_len + 1),
            root,
            limits,
        };
        store.remove_leftovers()?;
        Ok(store)
    }

    /// The store's root directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Validates and stores a zip. Idempotent per content: storing the same bytes again returns
    /// the same package without extracting again. On error nothing is left in the root.
    pub fn put_zip(&self, zip: &[u8]) -> Result<CodePackage, CodeError> {
        let result = self.put(zip);
        match &result {
            Ok(p) => debug!(
                sha256 = %p.sha256_hex,
                size = p.size,
                unzipped_size = p.unzipped_size,
                files = p.files,
                "code package stored"
            ),
            Err(e) => debug!(error = %e, size = zip.len(), "code package refused"),
        }
        result
    }

    fn put(&self, zip: &[u8]) -> Result<CodePackage, CodeError> {
        if zip.is_empty() {
            return Err(CodeError::Empty);
        }
        let size = zip.len() as u64;
        if size >= self.limits.max_zipped {
            return Err(CodeError::ZippedTooLarge {
                size,
                limit: self.limits.max_zipped,
            });
        }
        if let Some(count) = plan::declared_entries(zip)
            && count > self.limits.max_entries
        {
            return Err(CodeError::TooManyEntries {
                limit: self.limits.max_entries,
            });
        }
        let digest = Sha256::digest(zip);
        let hex = hex::encode(digest);
        let mut archive = ZipArchive::new(Cursor::new(zip)).map_err(CodeError::corrupt)?;
        // Also on the fast path below: the counts come from the plan, and it is cheap (the
        // central directory and symlink targets only).
        let plan = Plan::survey(&mut archive, &self.limits, self.max_name_len)?;
        let package = CodePackage {
            sha256_base64: base64::engine::general_purpose::STANDARD.encode(digest),
            sha256_hex: hex,
            size,
            unzipped_size: plan.unzipped_size,
            files: plan.files,
        };
        let hex = &package.sha256_hex;
        let tree = self.tree_path(hex);

        if is_real_dir(&tree) {
            if !is_real_file(&self.zip_path(hex)) {
                self.write_zip(hex, zip)?;
                sync_dir(&self.root)?;
            }
            return Ok(package);
        }

        let staging = Staging::create(&self.root)?;
        extract(&mut archive, &plan, &staging.path, &self.limits)?;
        sync_fs(&staging.path)?;
        self.write_zip(hex, zip)?;
        match fs::rename(&staging.path, &tree) {
            Ok(()) => staging.committed(),
            // The same bytes were stored concurrently and won the rename; ours is dropped.
            Err(_) if is_real_dir(&tree) => drop(staging),
            Err(e) => {
                let _ = fs::remove_file(self.zip_path(hex));
                return Err(CodeError::io("commit", &tree, e));
            }
        }
        sync_dir(&self.root)?;
        Ok(package)
    }

    /// The extracted, read-only tree of a package: what the sandbox binds at `/var/task`.
    pub fn tree_path(&self, sha256_hex: &str) -> PathBuf {
        self.root.join(package_name(sha256_hex))
    }

    /// The zip of a package, as uploaded.
    pub fn zip_path(&self, sha256_hex: &str) -> PathBuf {
        self.root.join(format!("{}.zip", package_name(sha256_hex)))
    }

    /// Whether the package is stored: its tree and its zip both exist.
    pub fn contains(&self, sha256_hex: &str) -> bool {
        is_sha256_hex(sha256_hex)
            && is_real_dir(&self.tree_path(sha256_hex))
            && is_real_file(&self.zip_path(sha256_hex))
    }

    /// Removes every package whose hex is not in `keep`; returns how many were removed. Work in
    /// progress and unknown names are left alone. Callers must not store a package that is not
    /// in `keep` while this runs.
    pub fn retain(&self, keep: &HashSet<String>) -> Result<usize, CodeError> {
        let mut removed = HashSet::new();
        let entries = fs::read_dir(&self.root).map_err(|e| CodeError::io("list", &self.root, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| CodeError::io("list", &self.root, e))?;
            let path = entry.path();
            let file_type = entry
                .file_type()
                .map_err(|e| CodeError::io("stat", &path, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if file_type.is_dir() && is_sha256_hex(name) && !keep.contains(name) {
                // Renamed first, so that a crash halfway through the removal leaves a temp dir
                // for `open` to sweep, never a half-empty tree that looks stored.
                let doomed = self.root.join(format!("{TMP_PREFIX}{}", random_suffix()));
                fs::rename(&path, &doomed).map_err(|e| CodeError::io("retire", &path, e))?;
                remove_tree(&doomed).map_err(|e| CodeError::io("remove", &doomed, e))?;
                removed.insert(name.to_owned());
            } else if let Some(hex) = name.strip_suffix(".zip")
                && file_type.is_file()
                && is_sha256_hex(hex)
                && !keep.contains(hex)
            {
                fs::remove_file(&path).map_err(|e| CodeError::io("remove", &path, e))?;
                removed.insert(hex.to_owned());
            }
        }
        if !removed.is_empty() {
            sync_dir(&self.root)?;
            debug!(removed = removed.len(), "code packages removed");
        }
        Ok(removed.len())
    }

    fn remove_leftovers(&self) -> Result<(), CodeError> {
        let entries = fs::read_dir(&self.root).map_err(|e| CodeError::io("list", &self.root, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| CodeError::io("list", &self.root, e))?;
            if !entry
                .file_name()
                .as_encoded_bytes()
                .starts_with(TMP_PREFIX.as_bytes())
            {
                continue;
            }
            let path = entry.path();
            let is_dir = entry
                .file_type()
                .map_err(|e| CodeError::io("stat", &path, e))?
                .is_dir();
            let result = if is_dir {
                remove_tree(&path)
            } else {
                fs::remove_file(&path)
            };
            result.map_err(|e| CodeError::io("remove leftover", &path, e))?;
            debug!(path = %path.display(), "removed leftover from an interrupted store");
        }
        Ok(())
    }

    fn write_zip(&self, hex: &str, zip: &[u8]) -> Result<(), CodeError> {
        let dest = self.zip_path(hex);
        let tmp = self
            .root
            .join(format!("{TMP_PREFIX}{}.zip", random_suffix()));
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(zip)?;
            file.set_permissions(Permissions::from_mode(FILE_MODE))?;
            file.sync_all()?;
            fs::rename(&tmp, &dest)
        })();
        result.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            CodeError::io("write zip", &dest, e)
        })
    }
}

fn package_name(sha256_hex: &str) -> &str {
    if is_sha256_hex(sha256_hex) {
        sha256_hex
    } else {
        NOT_A_PACKAGE
    }
}

/// A temp dir in the root that removes itself unless committed.
struct Staging {
    path: PathBuf,
    committed: bool,
}

impl Staging {
    fn create(root: &Path) -> Result<Self, CodeError> {
        let mut last = None;
        for _ in 0..8 {
            let path = root.join(format!("{TMP_PREFIX}{}", random_suffix()));
            match DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    return Ok(Self {
                        path,
                        committed: false,
                    });
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => last = Some((path, e)),
                Err(e) => return Err(CodeError::io("create staging", &path, e)),
            }
        }
        let (path, e) = last.expect("the loop ran and only collisions continue it");
        Err(CodeError::io("create staging", path, e))
    }

    fn committed(mut self) {
        self.committed = true;
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed
            && let Err(e) = remove_tree(&self.path)
        {
            warn!(path = %self.path.display(), error = %e, "could not remove staging dir");
        }
    }
}

/// Bytes actually decompressed, across all entries.
struct Budget {
    used: u64,
    limit: u64,
}

impl Budget {
    fn charge(&mut self, bytes: u64) -> Result<(), CodeError> {
        self.used = self.used.saturating_add(bytes);
        if self.used >= self.limit {
            return Err(CodeError::UnzippedTooLarge { limit: self.limit });
        }
        Ok(())
    }
}

/// Writes the planned tree into `dir`: directories, then files in archive order, then symlinks,
/// then the final modes from the deepest directory up.
fn extract(
    archive: &mut Archive<'_>,
    plan: &Plan,
    dir: &Path,
    limits: &Limits,
) -> Result<(), CodeError> {
    let mut budget = Budget {
        used: plan.link_bytes,
        limit: limits.max_unzipped,
    };
    let mut buf = vec![0u8; CHUNK];
    for (id, node) in plan.nodes.iter().enumerate().skip(1) {
        let path = dir.join(plan.rel_path(id));
        match &node.kind {
            Kind::Dir { .. } => DirBuilder::new()
                .mode(0o700)
                .create(&path)
                .map_err(|e| CodeError::io("create dir", &path, e))?,
            Kind::File { index, size, exec } => {
                let mut entry = archive.by_index(*index).map_err(CodeError::corrupt)?;
                // `create_new` (O_EXCL) never follows a symlink, and none exists yet anyway.
                let mut out = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(|e| CodeError::io("create file", &path, e))?;
                copy_bounded(&mut entry, &mut out, *size, &mut budget, &mut buf, &path)?;
                let mode = if *exec { EXEC_MODE } else { FILE_MODE };
                out.set_permissions(Permissions::from_mode(mode))
                    .map_err(|e| CodeError::io("chmod", &path, e))?;
            }
            Kind::Symlink { .. } => {}
        }
    }
    for (id, node) in plan.nodes.iter().enumerate().skip(1) {
        if let Kind::Symlink { target } = &node.kind {
            let path = dir.join(plan.rel_path(id));
            std::os::unix::fs::symlink(target, &path)
                .map_err(|e| CodeError::io("symlink", &path, e))?;
        }
    }
    for (id, node) in plan.nodes.iter().enumerate().skip(1).rev() {
        if let Kind::Dir { .. } = node.kind {
            let path = dir.join(plan.rel_path(id));
            fs::set_permissions(&path, Permissions::from_mode(DIR_MODE))
                .map_err(|e| CodeError::io("chmod", &path, e))?;
        }
    }
    fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
        .map_err(|e| CodeError::io("chmod", dir, e))
}

/// Copies one entry, trusting nothing it declared: it must produce exactly `declared` bytes
/// (the reader checks the CRC when it reaches the end), and every byte is charged to `budget`.
fn copy_bounded(
    reader: &mut impl Read,
    writer: &mut impl Write,
    declared: u64,
    budget: &mut Budget,
    buf: &mut [u8],
    path: &Path,
) -> Result<(), CodeError> {
    let mut written = 0u64;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // The archive is in memory: a read error is the data's fault, never the disk's.
            Err(e) => return Err(CodeError::corrupt(e)),
        };
        written += n as u64;
        if written > declared {
            return Err(CodeError::corrupt(format!(
                "entry is larger than its declared {declared} bytes"
            )));
        }
        budget.charge(n as u64)?;
        writer
            .write_all(&buf[..n])
            .map_err(|e| CodeError::io("write", path, e))?;
    }
    if written != declared {
        return Err(CodeError::corrupt(format!(
            "entry has {written} bytes, {declared} declared"
        )));
    }
    Ok(())
}

/// One flush for the whole extracted tree, before the rename that publishes it.
fn sync_fs(path: &Path) -> Result<(), CodeError> {
    let dir = File::open(path).map_err(|e| CodeError::io("open", path, e))?;
    rustix::fs::syncfs(&dir).map_err(|e| CodeError::io("syncfs", path, e.into()))
}

/// Makes renames in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), CodeError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| CodeError::io("fsync", dir, e))
}

/// Removes a tree whose directories may be read-only (0555), without following symlinks.
fn remove_tree(path: &Path) -> io::Result<()> {
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let meta = fs::symlink_metadata(&dir)?;
        if !meta.is_dir() {
            continue;
        }
        if meta.permissions().mode() & 0o700 != 0o700 {
            fs::set_permissions(&dir, Permissions::from_mode(0o700))?;
        }
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    fs::remove_dir_all(path)
}

fn is_real_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

fn is_real_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
}

/// Unique, not secret: temp names only need to avoid each other inside our own root.
fn random_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(t) = SystemTime::now().duration_since(UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::os::unix::fs::MetadataExt;

    use tempfile::TempDir;

    use super::*;
    use crate::testzip::{Item, Raw, bomb, dir, entry, file, link, written};
    use crate::{COULD_NOT_UNZIP, NameProblem};

    /// A store at `<tmp>/code`, with a sibling `<tmp>/outside` holding one file, so that tests
    /// can see writes that escape the root.
    pub(super) fn store_with(limits: Limits) -> (TempDir, CodeStore) {
        let tmp = TempDir::new().expect("tempdir");
        fs::create_dir(tmp.path().join("outside")).expect("outside");
        fs::write(tmp.path().join("outside/keep"), b"keep").expect("outside file");
        let store = CodeStore::with_limits(tmp.path().join("code"), limits).expect("open");
        (tmp, store)
    }

    pub(super) fn store() -> (TempDir, CodeStore) {
        store_with(Limits::default())
    }

    /// Every path under `dir`, links not followed.
    pub(super) fn listing(dir: &Path) -> BTreeSet<PathBuf> {
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

    /// Puts `zip`, expects a refusal, and checks that nothing changed anywhere in the temp dir.
    pub(super) fn refused(tmp: &TempDir, store: &CodeStore, zip: &[u8]) -> CodeError {
        let before = listing(tmp.path());
        let err = store.put_zip(zip).expect_err("must be refused");
        assert_eq!(
            listing(tmp.path()),
            before,
            "refusal left files behind: {err}"
        );
        assert!(err.is_user_error(), "{err}");
        err
    }

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).expect("stat").mode() & 0o7777
    }

    #[test]
    fn nested_tree_is_extracted_read_only() {
        let (_tmp, store) = store();
        let zip = written(&[
            Item::File("index.js", b"exports.handler = 1", 0o644),
            Item::Dir("lib/"),
            Item::File("lib/util/deep/a.js", b"a", 0o644),
            Item::File("lib/b.js", b"bb", 0o664),
            Item::Dir("empty/"),
        ]);
        let pkg = store.put_zip(&zip).expect("valid");

        let digest = Sha256::digest(&zip);
        assert_eq!(pkg.sha256_hex, hex::encode(digest));
        assert_eq!(
            pkg.sha256_base64,
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        assert_eq!(pkg.size, zip.len() as u64);
        assert_eq!(pkg.unzipped_size, 19 + 1 + 2);
        assert_eq!(pkg.files, 3);
        assert!(store.contains(&pkg.sha256_hex));

        let tree = store.tree_path(&pkg.sha256_hex);
        assert_eq!(
            fs::read(tree.join("index.js")).expect("read"),
            b"exports.handler = 1"
        );
        assert_eq!(
            fs::read(tree.join("lib/util/deep/a.js")).expect("read"),
            b"a"
        );
        assert_eq!(fs::read(tree.join("lib/b.js")).expect("read"), b"bb");
        for d in ["", "lib", "lib/util", "lib/util/deep", "empty"] {
            assert_eq!(mode(&tree.join(d)), 0o555, "dir {d:?}");
        }
        for f in ["index.js", "lib/b.js", "lib/util/deep/a.js"] {
            assert_eq!(mode(&tree.join(f)), 0o444, "file {f}");
        }
        let zip_path = store.zip_path(&pkg.sha256_hex);
        assert_eq!(fs::read(&zip_path).expect("zip"), zip);
        assert_eq!(mode(&zip_path), 0o444);
        // Nothing else in the root: no staging left over.
        let names: BTreeSet<_> = fs::read_dir(store.root())
            .expect("root")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf8"))
            .collect();
        let hex = &pkg.sha256_hex;
        assert_eq!(names, BTreeSet::from([hex.clone(), format!("{hex}.zip")]));
    }

    #[test]
    fn only_execute_bits_of_the_mode_are_honoured() {
        let (_tmp, store) = store();
        let zip = written(&[
            Item::File("bootstrap", b"#!/bin/sh\necho hi\n", 0o755),
            Item::File("setuid", b"x", 0o4755),
            Item::File("setgid-sticky", b"x", 0o3644),
            Item::File("world-writable", b"x", 0o666),
            Item::File("owner-exec-only", b"x", 0o700),
            Item::File("plain", b"x", 0o644),
        ]);
        let pkg = store.put_zip(&zip).expect("valid");
        let tree = store.tree_path(&pkg.sha256_hex);
        for (name, want) in [
            ("bootstrap", 0o555),
            ("setuid", 0o555),
            ("setgid-sticky", 0o444),
            ("world-writable", 0o444),
            ("owner-exec-only", 0o555),
            ("plain", 0o444),
        ] {
            assert_eq!(mode(&tree.join(name)), want, "{name}");
        }
    }

    #[test]
    fn windows_zips_without_unix_mode_get_read_only_files() {
        let (_tmp, store) = store();
        let zip = Raw::new()
            .with(file("bootstrap", b"#!/bin/sh").no_unix_mode())
            .with(dir("lib/").no_unix_mode())
            .with(file("lib/x.py", b"x").no_unix_mode())
            .build();
        let pkg = store.put_zip(&zip).expect("valid");
        let tree = store.tree_path(&pkg.sha256_hex);
        // Documented choice: no Unix mode, no execute bit, even for `bootstrap`.
        assert_eq!(mode(&tree.join("bootstrap")), 0o444);
        assert_eq!(mode(&tree.join("lib")), 0o555);
        assert_eq!(mode(&tree.join("lib/x.py")), 0o444);
    }

    #[test]
    fn symlinks_inside_the_tree_are_kept_as_symlinks() {
        let (_tmp, store) = store();
        let zip = written(&[
            Item::File("node_modules/pkg/bin/cli.js", b"cli", 0o755),
            Item::Link("node_modules/.bin/cli", "../pkg/bin/cli.js"),
            Item::Link("current", "node_modules"),
        ]);
        let pkg = store.put_zip(&zip).expect("valid");
        assert_eq!(pkg.files, 3);
        let tree = store.tree_path(&pkg.sha256_hex);
        let bin = tree.join("node_modules/.bin/cli");
        assert_eq!(
            fs::read_link(&bin).expect("link"),
            Path::new("../pkg/bin/cli.js")
        );
        assert_eq!(fs::read(&bin).expect("through link"), b"cli");
        assert_eq!(
            fs::read(tree.join("current/pkg/bin/cli.js")).expect("read"),
            b"cli"
        );
    }

    #[test]
    fn empty_zips_are_refused_in_aws_words() {
        let (tmp, store) = store();
        for zip in [
            Vec::new(),
            Raw::new().build(), // the 22-byte archive AWS answers "non-empty zip" to
            Raw::new().with(dir("a/")).with(dir("b/")).build(),
        ] {
            let err = refused(&tmp, &store, &zip);
            assert!(matches!(err, CodeError::Empty), "{err:?}");
            assert_eq!(err.aws_message(), "Uploaded file must be a non-empty zip");
        }
    }

    #[test]
    fn same_content_twice_is_stored_once() {
        let (_tmp, store) = store();
        let zip = written(&[Item::File("a.py", b"print(1)", 0o644)]);
        let first = store.put_zip(&zip).expect("first");
        let tree = store.tree_path(&first.sha256_hex);
        let inode = fs::metadata(&tree).expect("tree").ino();

        let second = store.put_zip(&zip).expect("second");
        assert_eq!(first, second);
        assert_eq!(
            fs::metadata(&tree).expect("tree").ino(),
            inode,
            "re-extracted"
        );

        // A zip lost in a crash between the two renames is written again.
        fs::remove_file(store.zip_path(&first.sha256_hex)).expect("rm zip");
        assert!(!store.contains(&first.sha256_hex));
        assert_eq!(store.put_zip(&zip).expect("third"), first);
        assert!(store.contains(&first.sha256_hex));
    }

    #[test]
    fn concurrent_puts_of_the_same_bytes_agree() {
        let (_tmp, store) = store();
        let zip = written(&[Item::File("f", &[7u8; 10_000], 0o644)]);
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4).map(|_| s.spawn(|| store.put_zip(&zip))).collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .collect()
        });
        let first = results[0].as_ref().expect("ok").clone();
        for r in &results {
            assert_eq!(r.as_ref().expect("ok"), &first);
        }
        let names = fs::read_dir(store.root()).expect("root").count();
        assert_eq!(names, 2, "tree and zip only, no staging left");
    }

    #[test]
    fn hostile_names_are_refused_and_leave_nothing() {
        let (tmp, store) = store();
        let cases: Vec<(&str, Vec<u8>, NameProblem)> = vec![
            (
                "zip slip",
                Raw::new().with(file("../evil", b"x")).build(),
                NameProblem::ParentDir,
            ),
            (
                "deep zip slip",
                Raw::new()
                    .with(file("a/b/../../../outside/keep", b"x"))
                    .build(),
                NameProblem::ParentDir,
            ),
            (
                "absolute",
                Raw::new().with(file("/tmp/evil", b"x")).build(),
                NameProblem::Absolute,
            ),
            (
                "drive letter",
                Raw::new().with(file("C:/evil", b"x")).build(),
                NameProblem::DriveLetter,
            ),
            (
                "backslash slip",
                Raw::new().with(file("..\\..\\evil", b"x")).build(),
                NameProblem::Backslash,
            ),
            (
                "nul",
                Raw::new().with(file("ok.txt\0.exe", b"x")).build(),
                NameProblem::Nul,
            ),
            (
                "long component",
                Raw::new().with(file("a".repeat(256), b"x")).build(),
                NameProblem::ComponentTooLong,
            ),
        ];
        for (what, zip, want) in cases {
            let err = refused(&tmp, &store, &zip);
            assert!(
                matches!(&err, CodeError::UnsafeName { problem, .. } if *problem == want),
                "{what}: {err:?}"
            );
        }
        // The message names the entry, escaped.
        let err = refused(
            &tmp,
            &store,
            &Raw::new().with(file("x\n/../y", b"")).build(),
        );
        assert_eq!(
            err.aws_message(),
            "Uploaded zip file has an unsafe entry name: 'x\\u{a}/../y' contains a '..' component"
        );
    }

    #[test]
    fn path_longer_than_path_max_allows_is_refused() {
        let (tmp, store) = store();
        let name = vec!["d".repeat(200); 25].join("/");
        let err = refused(&tmp, &store, &Raw::new().with(file(&name, b"x")).build());
        assert!(
            matches!(
                err,
                CodeError::UnsafeName {
                    problem: NameProblem::TooLong { .. },
                    ..
                }
            ),
            "{err:?}"
        );
        // Just under the limit is stored, and every path of it is usable.
        let limit = store.max_name_len;
        let mut name = vec!["d".repeat(200); limit / 201].join("/");
        name.push('/');
        name.push_str(&"f".repeat(limit - name.len()));
        assert_eq!(name.len(), limit);
        let pkg = store
            .put_zip(&Raw::new().with(file(&name, b"deep")).build())
            .expect("at the limit");
        assert_eq!(
            fs::read(store.tree_path(&pkg.sha256_hex).join(&name)).expect("read"),
            b"deep"
        );
        assert!(store.retain(&HashSet::new()).expect("retain") == 1);
    }

    #[test]
    fn duplicates_and_conflicts_are_refused() {
        let (tmp, store) = store();
        let exact = Raw::new()
            .with(file("a", b"1"))
            .with(file("a", b"2"))
            .build();
        let err = refused(&tmp, &store, &exact);
        assert!(
            matches!(err, CodeError::DuplicateEntry { name: None }),
            "{err:?}"
        );

        let normalised = Raw::new()
            .with(file("a/b", b"1"))
            .with(file("a/./b", b"2"))
            .build();
        let err = refused(&tmp, &store, &normalised);
        assert!(
            matches!(err, CodeError::DuplicateEntry { name: Some(_) }),
            "{err:?}"
        );

        let conflict = Raw::new()
            .with(file("a", b"1"))
            .with(file("a/b", b"2"))
            .build();
        let err = refused(&tmp, &store, &conflict);
        assert!(matches!(err, CodeError::PathConflict { .. }), "{err:?}");

        // A file written through a symlinked directory would land wherever the link points.
        let through = Raw::new()
            .with(link("d", "."))
            .with(file("d/x", b"2"))
            .build();
        let err = refused(&tmp, &store, &through);
        assert!(matches!(err, CodeError::PathConflict { .. }), "{err:?}");
    }

    #[test]
    fn symlinks_leaving_the_tree_are_refused() {
        let (tmp, store) = store();
        for target in ["/etc/passwd", "..", "../outside/keep", "a/../../x", "C:\\x"] {
            let zip = Raw::new()
                .with(file("f", b""))
                .with(link("l", target))
                .build();
            let err = refused(&tmp, &store, &zip);
            assert!(
                matches!(
                    err,
                    CodeError::SymlinkEscapes { .. } | CodeError::InvalidSymlink { .. }
                ),
                "{target}: {err:?}"
            );
        }
        let zip = Raw::new()
            .with(file("f", b""))
            .with(link("sub/dir/l", "../../.."))
            .build();
        let err = refused(&tmp, &store, &zip);
        assert_eq!(
            err.aws_message(),
            "Symbolic link 'sub/dir/l' in uploaded zip file points outside the package: '../../..'"
        );
    }

    #[test]
    fn symlinks_through_symlinks_are_refused() {
        let (tmp, store) = store();
        let zip = Raw::new()
            .with(link("a/up", ".."))
            .with(link("x", "a/up/../outside"))
            .build();
        let err = refused(&tmp, &store, &zip);
        assert!(
            matches!(err, CodeError::SymlinkThroughSymlink { .. }),
            "{err:?}"
        );
        let chain = Raw::new()
            .with(file("f", b""))
            .with(link("l1", "f"))
            .with(link("l2", "l1"))
            .build();
        let err = refused(&tmp, &store, &chain);
        assert!(
            matches!(err, CodeError::SymlinkThroughSymlink { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn devices_and_fifos_are_refused() {
        let (tmp, store) = store();
        for mode in [0o020_666, 0o060_660, 0o010_644, 0o140_755] {
            let zip = Raw::new()
                .with(file("ok", b""))
                .with(entry("dev/x", b"", mode))
                .build();
            let err = refused(&tmp, &store, &zip);
            assert!(
                matches!(err, CodeError::SpecialFile { .. }),
                "{mode:o}: {err:?}"
            );
            assert!(
                err.aws_message()
                    .starts_with("Entry 'dev/x' in uploaded zip file is a")
            );
        }
    }

    #[test]
    fn too_many_entries_are_refused() {
        let (tmp, store) = store_with(Limits {
            max_entries: 3,
            ..Limits::default()
        });
        let mut raw = Raw::new();
        for i in 0..4 {
            raw = raw.with(file(format!("f{i}"), b""));
        }
        let err = refused(&tmp, &store, &raw.build());
        assert!(
            matches!(err, CodeError::TooManyEntries { limit: 3 }),
            "{err:?}"
        );
        // A trailer that declares more entries is refused before the directory is parsed.
        let mut liar = Raw::new().with(file("a", b"")).build();
        let at = liar.len() - 12;
        liar[at..at + 2].copy_from_slice(&60_000u16.to_le_bytes());
        let err = refused(&tmp, &store, &liar);
        assert!(
            matches!(err, CodeError::TooManyEntries { limit: 3 }),
            "{err:?}"
        );
        // Three entries are fine.
        let ok = Raw::new()
            .with(file("a", b""))
            .with(file("b", b""))
            .with(file("c", b""))
            .build();
        store.put_zip(&ok).expect("at the limit");
    }

    #[test]
    fn zipped_size_limit() {
        let zip = written(&[Item::File("f", &[1u8; 1000], 0o644)]);
        let (tmp, store) = store_with(Limits {
            max_zipped: zip.len() as u64,
            ..Limits::default()
        });
        let err = refused(&tmp, &store, &zip);
        assert_eq!(
            err.aws_message(),
            format!("Zipped size must be smaller than {} bytes", zip.len())
        );
        let (_tmp, store) = store_with(Limits {
            max_zipped: zip.len() as u64 + 1,
            ..Limits::default()
        });
        store.put_zip(&zip).expect("one byte under");
    }

    #[test]
    fn declared_unzipped_size_over_the_limit_is_refused_before_extracting() {
        let (tmp, store) = store_with(Limits {
            max_unzipped: 1000,
            ..Limits::default()
        });
        let zip = Raw::new()
            .with(file("a", &[0u8; 600]))
            .with(file("b", &[0u8; 400]))
            .build();
        let err = refused(&tmp, &store, &zip);
        assert_eq!(
            err.aws_message(),
            "Unzipped size must be smaller than 1000 bytes"
        );
        let ok = Raw::new()
            .with(file("a", &[0u8; 600]))
            .with(file("b", &[0u8; 399]))
            .build();
        assert_eq!(store.put_zip(&ok).expect("999 bytes").unzipped_size, 999);
    }

    #[test]
    fn zip_bomb_is_refused() {
        // 64 MiB of zeros deflate to about 64 KiB; the test store allows 1 MiB unzipped.
        let honest = bomb(64 << 20, None);
        assert!(honest.len() < 128 << 10, "{} bytes", honest.len());
        let (tmp, store) = store_with(Limits {
            max_unzipped: 1 << 20,
            ..Limits::default()
        });
        let err = refused(&tmp, &store, &honest);
        assert!(matches!(err, CodeError::UnzippedTooLarge { .. }), "{err:?}");

        // The same bomb claiming to be 100 bytes passes the declared check, and is stopped by
        // counting what the decompressor actually produces.
        let liar = bomb(64 << 20, Some(100));
        let err = refused(&tmp, &store, &liar);
        assert!(matches!(err, CodeError::Corrupt { .. }), "{err:?}");
        assert_eq!(err.aws_message(), COULD_NOT_UNZIP);
    }

    #[test]
    fn bytes_are_counted_across_entries_not_taken_from_headers() {
        // Four honest 1 MiB entries, extracted with a budget of 2.5 MiB: the count across
        // entries stops the third one, whatever the plan said.
        let mut raw = Raw::new();
        for i in 0..4 {
            raw = raw.with(file(format!("f{i}"), &vec![0u8; 1 << 20]));
        }
        let zip = raw.build();
        let mut archive = ZipArchive::new(Cursor::new(&zip[..])).expect("zip");
        let plan = Plan::survey(&mut archive, &Limits::default(), 4000).expect("plan");
        let tmp = TempDir::new().expect("tmp");
        let small = Limits {
            max_unzipped: 5 << 19,
            ..Limits::default()
        };
        let err = extract(&mut archive, &plan, tmp.path(), &small).expect_err("over budget");
        assert!(matches!(err, CodeError::UnzippedTooLarge { .. }), "{err:?}");
        let on_disk: u64 = (0..4)
            .filter_map(|i| fs::metadata(tmp.path().join(format!("f{i}"))).ok())
            .map(|m| m.len())
            .sum();
        assert!(on_disk < 5 << 19, "{on_disk} bytes written");
    }

    #[test]
    fn copy_stops_a_real_decompressor_at_the_budget() {
        let zip = bomb(16 << 20, None);
        let mut archive = ZipArchive::new(Cursor::new(&zip[..])).expect("zip");
        let mut entry = archive.by_index(0).expect("entry");
        let mut budget = Budget {
            used: 0,
            limit: 1 << 20,
        };
        let mut sink = Vec::new();
        let mut buf = vec![0u8; CHUNK];
        let err = copy_bounded(
            &mut entry,
            &mut sink,
            16 << 20,
            &mut budget,
            &mut buf,
            Path::new("zeros"),
        )
        .expect_err("over budget");
        assert!(matches!(err, CodeError::UnzippedTooLarge { .. }));
        assert!(sink.len() < 1 << 20, "{} bytes", sink.len());
    }

    #[test]
    fn declared_size_lies_and_bad_crcs_are_corrupt() {
        let (tmp, store) = store();
        let cases = [
            ("declared larger", file("f", b"hello").declared_size(50)),
            ("declared smaller", file("f", b"hello").declared_size(2)),
            ("bad crc", file("f", b"hello").crc(0xDEAD_BEEF)),
            ("encrypted", file("f", b"hello").encrypted()),
            ("bzip2", file("f", b"hello").method(12)),
            (
                "link declared smaller",
                link("l", "target").declared_size(3),
            ),
        ];
        for (what, e) in cases {
            let zip = Raw::new().with(file("ok", b"ok")).with(e).build();
            let err = refused(&tmp, &store, &zip);
            assert!(matches!(err, CodeError::Corrupt { .. }), "{what}: {err:?}");
        }
    }

    #[test]
    fn truncated_and_garbage_zips_are_corrupt() {
        let (tmp, store) = store();
        let zip = written(&[
            Item::File("a.js", &[b'a'; 5000], 0o644),
            Item::File("b.js", b"b", 0o644),
        ]);
        for len in [1, 4, 30, zip.len() / 2, zip.len() - 23, zip.len() - 1] {
            let err = refused(&tmp, &store, &zip[..len]);
            assert!(
                matches!(err, CodeError::Corrupt { .. }),
                "len {len}: {err:?}"
            );
            assert_eq!(err.aws_message(), COULD_NOT_UNZIP);
        }
        let err = refused(&tmp, &store, b"#!/bin/sh\necho not a zip\n");
        assert!(matches!(err, CodeError::Corrupt { .. }));
        // A flipped byte in the deflated data: bad stream or bad CRC, never a stored package.
        let name_len = usize::from(u16::from_le_bytes([zip[26], zip[27]]));
        let extra_len = usize::from(u16::from_le_bytes([zip[28], zip[29]]));
        let mut flipped = zip.clone();
        flipped[30 + name_len + extra_len + 2] ^= 0x55;
        let err = refused(&tmp, &store, &flipped);
        assert!(matches!(err, CodeError::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn open_removes_what_a_crash_left_behind() {
        let tmp = TempDir::new().expect("tmp");
        let root = tmp.path().join("code");
        let store = CodeStore::open(&root).expect("open");
        let pkg = store
            .put_zip(&written(&[Item::File("a", b"a", 0o644)]))
            .expect("put");

        // A staging dir as a crash leaves it: read-only dirs, files, a symlink pointing out.
        let stale = root.join(".tmp-0123456789abcdef");
        fs::create_dir_all(stale.join("sub/deeper")).expect("mkdir");
        fs::write(stale.join("sub/deeper/f"), b"x").expect("write");
        std::os::unix::fs::symlink("/etc", stale.join("sub/etc")).expect("symlink");
        for d in ["sub/deeper", "sub", ""] {
            fs::set_permissions(stale.join(d), Permissions::from_mode(0o555)).expect("chmod");
        }
        fs::write(root.join(".tmp-feedfacefeedface.zip"), b"partial").expect("zip");
        drop(store);

        let store = CodeStore::open(&root).expect("reopen");
        let names: BTreeSet<_> = fs::read_dir(&root)
            .expect("root")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf8"))
            .collect();
        let hex = &pkg.sha256_hex;
        assert_eq!(names, BTreeSet::from([hex.clone(), format!("{hex}.zip")]));
        assert!(store.contains(hex));
        assert!(
            Path::new("/etc").exists(),
            "removal must not follow the link"
        );
    }

    #[test]
    fn retain_removes_unreferenced_packages() {
        let (_tmp, store) = store();
        let a = store
            .put_zip(&written(&[Item::File("a", b"a", 0o644)]))
            .expect("a");
        let b = store
            .put_zip(&written(&[Item::File("d/b", b"b", 0o755)]))
            .expect("b");
        let c = store
            .put_zip(&written(&[Item::File("c", b"c", 0o644)]))
            .expect("c");
        fs::write(store.root().join("NOTES"), b"not ours").expect("unknown file");

        let keep = HashSet::from([a.sha256_hex.clone(), c.sha256_hex.clone()]);
        assert_eq!(store.retain(&keep).expect("retain"), 1);
        assert!(store.contains(&a.sha256_hex));
        assert!(!store.contains(&b.sha256_hex));
        assert!(!store.tree_path(&b.sha256_hex).exists());
        assert!(!store.zip_path(&b.sha256_hex).exists());
        assert!(store.contains(&c.sha256_hex));
        assert!(store.root().join("NOTES").exists());
        assert_eq!(store.retain(&keep).expect("again"), 0);

        // An orphan zip (crash before the tree rename) counts as a package too.
        fs::remove_dir_all(store.tree_path(&c.sha256_hex)).ok();
        remove_tree(&store.tree_path(&c.sha256_hex)).ok();
        assert_eq!(store.retain(&HashSet::new()).expect("all"), 2);
        assert_eq!(
            fs::read_dir(store.root()).expect("root").count(),
            1,
            "NOTES only"
        );
    }

    #[test]
    fn names_that_are_not_packages_never_resolve() {
        let (_tmp, store) = store();
        for bad in ["..", "../outside", "", "/etc", &"A".repeat(64)] {
            let path = store.tree_path(bad);
            assert!(path.starts_with(store.root()), "{bad:?}");
            assert!(!path.exists());
            assert!(!store.contains(bad));
            assert!(store.zip_path(bad).starts_with(store.root()));
        }
    }
}
