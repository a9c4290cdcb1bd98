//! Function code packages: a Lambda deployment zip is validated, extracted into a read-only
//! tree, and stored by the SHA-256 of its bytes.
//!
//! # What
//!
//! [`CodeStore::put_zip`] takes the bytes of `Code.ZipFile` and either returns a
//! [`CodePackage`] (`CodeSha256`, `CodeSize`, ...) whose tree is at
//! [`CodeStore::tree_path`], ready to be bound read-only at `/var/task`, or a [`CodeError`] whose
//! [`CodeError::aws_message`] is what AWS would say. The store on disk:
//!
//! ```text
//! <root>/<sha256-hex>/        the tree: dirs 0555, files 0444 (0555 if the zip set an x bit)
//! <root>/<sha256-hex>.zip     the bytes as uploaded (GetFunction returns them), 0444
//! <root>/.tmp-<random>[.zip]  work in progress; removed by CodeStore::open after a crash
//! ```
//!
//! A package appears by `rename(2)` of a fully written, synced tree, so a crash leaves either
//! the old state or the new one, plus temp names that the next `open` sweeps.
//!
//! # Why a crate of its own
//!
//! The zip is the most hostile input the platform takes: an attacker chooses every name, mode,
//! size and byte. Keeping the parsing and every rule about it in one small crate, with no
//! knowledge of functions or tenants, makes it easy to audit and to fuzz. The rules, in the order
//! they are applied:
//!
//! 1. The zip must be non-empty and smaller than [`Limits::max_zipped`]; the entry count its
//!    trailer declares must not exceed [`Limits::max_entries`] (checked on the raw bytes, so a
//!    huge central directory is never parsed).
//! 2. The central directory is read into a plan (`plan.rs`) before anything is written. Names
//!    are split into plain components: no `..` (anywhere), no absolute paths, no drive letters,
//!    no backslashes, no NUL, `NAME_MAX` and `PATH_MAX` respected. Duplicates (also after
//!    dropping `.` and empty components) and file-versus-directory conflicts are refused, and so
//!    are devices, FIFOs, sockets, encryption and methods other than stored and deflate.
//!    Symlinks must resolve inside the tree, from their own directory, without passing through
//!    or ending at another symlink. Declared sizes must add up to less than
//!    [`Limits::max_unzipped`]; files, symlinks and directories (implied ones included) must not
//!    exceed [`Limits::max_entries`].
//! 3. Files are streamed, 64 KiB at a time, into a private temp dir. Declared sizes are not
//!    trusted: every entry must produce exactly its declared size with a good CRC, and the bytes
//!    actually decompressed are counted across all entries against the limit.
//! 4. Modes: only the execute bits of a Unix mode are honoured (any x bit gives 0555, else
//!    0444); setuid, setgid, sticky and write bits never reach the disk. Zips without a Unix mode
//!    (Windows tools) get 0444 files, `bootstrap` included: the zip did not ask for execution.
//!    Symlinks are created last, so no write ever goes through one.
//!
//! An archive with no file or symlink (a bare 22-byte trailer, or only directories) is refused
//! with AWS's "Uploaded file must be a non-empty zip"; AWS is reported to say so for the bare
//! trailer, the directories-only case is UNCONFIRMED.
//!
//! # Alternatives rejected
//!
//! - **Shelling out to `unzip`/`bsdtar`**: another process and another parser whose handling of
//!   hostile names and symlinks differs between versions; the limits would be enforced after
//!   the fact, if at all.
//! - **`ZipArchive::extract`** from the `zip` crate: its policies for modes, symlinks, devices
//!   and duplicate names are its own, and it writes in place, so a failure leaves a partial
//!   tree.
//! - **`async_zip`**: the API is async, but extraction is disk and CPU work that belongs on a
//!   blocking thread anyway (the registry calls us under `spawn_blocking`).
//! - **Keeping only the zip and unpacking per sandbox**: every cold start would pay for the
//!   decompression, and a bomb would be found at invoke time instead of at upload.
//! - **Naming packages by function or version**: content addressing makes uploads of the same
//!   bytes free, and lets versions share one tree.
//! - **An fsync per file**: correct but slow for packages of thousands of files; one `syncfs(2)`
//!   before the commit rename gives the same guarantee.
//!
//! # Fuzzing
//!
//! Property tests run with `cargo test`. A cargo-fuzz target lives in `fuzz/`, outside the
//! workspace: `cd crates/code/fuzz && cargo +nightly fuzz run put_zip -- -max_total_time=300`
//! (after `cargo install cargo-fuzz`).

mod error;
mod names;
mod plan;
#[cfg(test)]
mod proptests;
mod store;
#[cfg(test)]
mod testzip;

pub use error::{COULD_NOT_UNZIP, CodeError, NameProblem};
pub use store::CodeStore;

/// Size and count limits of a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The zip must be strictly smaller than this many bytes (AWS: "Zipped size must be smaller
    /// than 52428800 bytes"). Default 50 MiB.
    pub max_zipped: u64,
    /// Files and symlink targets, unzipped, must add up to strictly less than this (AWS:
    /// "Unzipped size must be smaller than 262144000 bytes"). Default 250 MiB.
    pub max_unzipped: u64,
    /// At most this many files, symlinks and directories, including directories that are only
    /// implied by deeper names. AWS has no documented limit; ours bounds inodes and memory.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_zipped: 52_428_800,
            max_unzipped: 262_144_000,
            max_entries: 100_000,
        }
    }
}

/// A stored package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodePackage {
    /// Lowercase hex SHA-256 of the zip bytes: the package's name in the store.
    pub sha256_hex: String,
    /// AWS `CodeSha256`: standard base64 (padded) of the raw SHA-256 of the zip bytes.
    pub sha256_base64: String,
    /// AWS `CodeSize`: bytes of the zip.
    pub size: u64,
    /// Bytes of files and symlink targets once unzipped.
    pub unzipped_size: u64,
    /// Regular files plus symlinks (directories not counted).
    pub files: u64,
}

/// Whether `s` is a package name as [`CodePackage::sha256_hex`] spells it: 64 lowercase hex
/// digits. Anything else never names a package, so it can never name a path outside the store.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_are_lowercase_hex_only() {
        assert!(is_sha256_hex(&"ab".repeat(32)));
        assert!(!is_sha256_hex(&"AB".repeat(32)));
        assert!(!is_sha256_hex(&"ab".repeat(31)));
        assert!(!is_sha256_hex(&format!("../{}", "a".repeat(61))));
        assert!(!is_sha256_hex(""));
    }

    #[test]
    fn default_limits_are_aws_quotas() {
        let l = Limits::default();
        assert_eq!(l.max_zipped, 50 * 1024 * 1024);
        assert_eq!(l.max_unzipped, 250 * 1024 * 1024);
    }
}
