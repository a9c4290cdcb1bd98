//! Reading the central directory into a checked plan of the tree, before a byte is written.
//!
//! Every rule that can be decided from names, types and declared sizes is decided here, so that
//! extraction only has to stream file contents and keep counting. The plan is a tree of nodes
//! (one per file, symlink and directory, including directories only implied by deeper names),
//! which makes conflicts ("a" is a file and "a/b" exists) and symlink resolution exact.

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::PathBuf;

use zip::{CompressionMethod, ZipArchive};

use crate::Limits;
use crate::error::CodeError;
use crate::names::{self, MAX_LINK_TARGET, Step};

/// An archive read from the uploaded bytes.
pub(crate) type Archive<'a> = ZipArchive<Cursor<&'a [u8]>>;

const S_IFMT: u32 = 0o170_000;
const S_IFSOCK: u32 = 0o140_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFREG: u32 = 0o100_000;
const S_IFBLK: u32 = 0o060_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFIFO: u32 = 0o010_000;

/// The tree's root node.
pub(crate) const ROOT: usize = 0;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `explicit` when the archive has an entry for it, not just names below it.
    Dir {
        explicit: bool,
    },
    /// `index` into the archive; `size` as declared (and later verified).
    File {
        index: usize,
        size: u64,
        exec: bool,
    },
    Symlink {
        target: String,
    },
}

#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) parent: usize,
    pub(crate) name: Box<str>,
    pub(crate) kind: Kind,
    children: HashMap<Box<str>, usize>,
}

/// The checked tree. Node ids grow from parents to children, so walking ids upwards creates
/// directories before their contents, and downwards finishes children before parents.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) nodes: Vec<Node>,
    /// Declared bytes of files plus symlink targets.
    pub(crate) unzipped_size: u64,
    /// Files plus symlinks.
    pub(crate) files: u64,
    /// Bytes of symlink targets, already read and counted.
    pub(crate) link_bytes: u64,
}

enum EntryType {
    Dir,
    File { exec: bool },
    Symlink,
    Special(&'static str),
}

fn classify(name: &str, mode: Option<u32>) -> EntryType {
    // Archives without a Unix mode (Windows tools) get none of the x bits, so their files
    // become 0444; a `bootstrap` from Windows is therefore not executable, as the zip says.
    let mode = mode.unwrap_or(0);
    match mode & S_IFMT {
        S_IFLNK => EntryType::Symlink,
        S_IFDIR => EntryType::Dir,
        0 | S_IFREG if name.ends_with('/') => EntryType::Dir,
        0 | S_IFREG => EntryType::File {
            exec: mode & 0o111 != 0,
        },
        S_IFCHR => EntryType::Special("character device"),
        S_IFBLK => EntryType::Special("block device"),
        S_IFIFO => EntryType::Special("FIFO"),
        S_IFSOCK => EntryType::Special("socket"),
        _ => EntryType::Special("file of unknown type"),
    }
}

impl Plan {
    fn new() -> Self {
        Self {
            nodes: vec![Node {
                parent: ROOT,
                name: "".into(),
                kind: Kind::Dir { explicit: true },
                children: HashMap::new(),
            }],
            unzipped_size: 0,
            files: 0,
            link_bytes: 0,
        }
    }

    /// Checks every entry of `archive` against the rules and the limits, reading only symlink
    /// targets (at most [`MAX_LINK_TARGET`] bytes each). `max_name_len` keeps every path under
    /// the tree below `PATH_MAX`.
    pub(crate) fn survey(
        archive: &mut Archive<'_>,
        limits: &Limits,
        max_name_len: usize,
    ) -> Result<Self, CodeError> {
        // The reader keeps one entry per byte-identical name; a second one would silently
        // replace the first, so refuse rather than guess which one the uploader meant.
        if archive.has_duplicate_names() {
            return Err(CodeError::DuplicateEntry { name: None });
        }
        if archive.len() as u64 > limits.max_entries {
            return Err(CodeError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let mut plan = Self::new();
        for index in 0..archive.len() {
            let entry = archive.by_index_data(index).map_err(CodeError::corrupt)?;
            let name = entry.name().map_err(CodeError::corrupt)?.into_owned();
            if entry.encrypted() {
                return Err(CodeError::corrupt(format!(
                    "entry {} is encrypted",
                    names::display(&name)
                )));
            }
            let method = entry.compression();
            if !matches!(
                method,
                CompressionMethod::Stored | CompressionMethod::Deflated
            ) {
                return Err(CodeError::corrupt(format!(
                    "entry {} uses compression method {method:?}",
                    names::display(&name)
                )));
            }
            let declared = entry.size();
            let entry_type = classify(&name, entry.unix_mode());
            drop(entry);

            let unsafe_name = |problem| CodeError::UnsafeName {
                name: names::display(&name),
                problem,
            };
            let components = names::entry_components(&name, max_name_len).map_err(unsafe_name)?;
            let kind = match entry_type {
                EntryType::Special(kind) => {
                    return Err(CodeError::SpecialFile {
                        name: names::display(&name),
                        kind,
                    });
                }
                // A directory entry's data, if any, is never read: nothing to count.
                EntryType::Dir => Kind::Dir { explicit: true },
                EntryType::File { exec } => {
                    plan.charge(declared, limits)?;
                    Kind::File {
                        index,
                        size: declared,
                        exec,
                    }
                }
                EntryType::Symlink => {
                    plan.charge(declared, limits)?;
                    let target = read_link_target(archive, index, declared, &name)?;
                    plan.link_bytes += declared;
                    Kind::Symlink { target }
                }
            };
            if components.is_empty() {
                // "./" names the root itself, which always exists.
                if matches!(kind, Kind::Dir { .. }) {
                    continue;
                }
                return Err(unsafe_name(crate::NameProblem::Empty));
            }
            plan.insert(&components, &name, kind, limits)?;
        }
        if plan.files == 0 {
            return Err(CodeError::Empty);
        }
        plan.check_links()?;
        Ok(plan)
    }

    fn charge(&mut self, declared: u64, limits: &Limits) -> Result<(), CodeError> {
        self.unzipped_size = self.unzipped_size.saturating_add(declared);
        if self.unzipped_size >= limits.max_unzipped {
            return Err(CodeError::UnzippedTooLarge {
                limit: limits.max_unzipped,
            });
        }
        self.files += 1;
        Ok(())
    }

    fn add_node(
        &mut self,
        parent: usize,
        name: &str,
        kind: Kind,
        limits: &Limits,
    ) -> Result<usize, CodeError> {
        // The root is not counted: the limit is on what the archive makes.
        if self.nodes.len() as u64 > limits.max_entries {
            return Err(CodeError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let id = self.nodes.len();
        self.nodes.push(Node {
            parent,
            name: name.into(),
            kind,
            children: HashMap::new(),
        });
        self.nodes[parent].children.insert(name.into(), id);
        Ok(id)
    }

    fn insert(
        &mut self,
        components: &[&str],
        raw_name: &str,
        kind: Kind,
        limits: &Limits,
    ) -> Result<(), CodeError> {
        let conflict = || CodeError::PathConflict {
            name: names::display(raw_name),
        };
        let Some((last, dirs)) = components.split_last() else {
            return Ok(());
        };
        let mut cur = ROOT;
        for dir in dirs {
            cur = match self.nodes[cur].children.get(*dir) {
                Some(&child) if matches!(self.nodes[child].kind, Kind::Dir { .. }) => child,
                // Writing below a file fails; below a symlink it would follow the link.
                Some(_) => return Err(conflict()),
                None => self.add_node(cur, dir, Kind::Dir { explicit: false }, limits)?,
            };
        }
        let Some(&existing) = self.nodes[cur].children.get(*last) else {
            self.add_node(cur, last, kind, limits)?;
            return Ok(());
        };
        match (&self.nodes[existing].kind, &kind) {
            (Kind::Dir { explicit: false }, Kind::Dir { .. }) => {
                self.nodes[existing].kind = Kind::Dir { explicit: true };
                Ok(())
            }
            (Kind::Dir { explicit: false }, _) => Err(conflict()),
            (Kind::Dir { explicit: true }, Kind::File { .. } | Kind::Symlink { .. })
            | (Kind::File { .. } | Kind::Symlink { .. }, Kind::Dir { .. }) => Err(conflict()),
            _ => Err(CodeError::DuplicateEntry {
                name: Some(names::display(raw_name)),
            }),
        }
    }

    /// Resolves every symlink against the tree: it must stay inside, and must not pass through
    /// or end at another symlink (a chain could climb out even when each link alone does not:
    /// `d/up -> ..` is fine, `x -> d/up/..` is not).
    fn check_links(&self) -> Result<(), CodeError> {
        for (id, node) in self.nodes.iter().enumerate() {
            let Kind::Symlink { target } = &node.kind else {
                continue;
            };
            let link_name = || names::display(&self.rel_path(id).to_string_lossy());
            let steps = names::link_steps(target).map_err(|problem| CodeError::InvalidSymlink {
                name: link_name(),
                problem,
            })?;
            // Where resolution stands: an existing node, plus components below it that name
            // nothing in the tree (they can never come to exist: the tree is read-only).
            let mut at = node.parent;
            let mut missing = 0usize;
            for step in steps {
                match step {
                    Step::Up if missing > 0 => missing -= 1,
                    Step::Up if at == ROOT => {
                        return Err(CodeError::SymlinkEscapes {
                            name: link_name(),
                            target: names::display(target),
                        });
                    }
                    Step::Up => at = self.nodes[at].parent,
                    Step::Down(_) if missing > 0 => missing += 1,
                    Step::Down(part) => match self.nodes[at].children.get(part) {
                        Some(&child) => {
                            if matches!(self.nodes[child].kind, Kind::Symlink { .. }) {
                                return Err(CodeError::SymlinkThroughSymlink {
                                    name: link_name(),
                                    target: names::display(target),
                                    via: names::display(&self.rel_path(child).to_string_lossy()),
                                });
                            }
                            at = child;
                        }
                        None => missing = 1,
                    },
                }
            }
        }
        Ok(())
    }

    /// The node's path relative to the tree root.
    pub(crate) fn rel_path(&self, id: usize) -> PathBuf {
        let mut parts = Vec::new();
        let mut cur = id;
        while cur != ROOT {
            parts.push(&*self.nodes[cur].name);
            cur = self.nodes[cur].parent;
        }
        parts.iter().rev().collect()
    }
}

/// The entry count that the archive's end-of-central-directory record declares, read from the
/// raw bytes (zip64 included), or `None` when no plain record is found.
///
/// The zip reader parses the whole central directory into memory (about 170 bytes per entry)
/// before we can count entries; checking the declared count first keeps a hostile 50 MB
/// directory of a million tiny entries from costing that. The reader reads exactly this many
/// entries, so the post-parse count check remains the authority.
pub(crate) fn declared_entries(zip: &[u8]) -> Option<u64> {
    const EOCD: [u8; 4] = 0x0605_4b50u32.to_le_bytes();
    const LOCATOR: [u8; 4] = 0x0706_4b50u32.to_le_bytes();
    const EOCD64: [u8; 4] = 0x0606_4b50u32.to_le_bytes();
    let u16_at = |at: usize| -> Option<u64> {
        Some(u16::from_le_bytes(zip.get(at..at + 2)?.try_into().ok()?).into())
    };
    let u64_at = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(zip.get(at..at + 8)?.try_into().ok()?))
    };
    // The record is 22 bytes plus a comment of at most 64 KiB, at the very end.
    let window = zip.len().saturating_sub(22 + 0xFFFF);
    let eocd = (window..=zip.len().checked_sub(22)?)
        .rev()
        .find(|&i| zip.get(i..i + 4) == Some(&EOCD[..]))?;
    let count = u16_at(eocd + 10)?;
    if count != 0xFFFF {
        return Some(count);
    }
    let locator = eocd.checked_sub(20)?;
    if zip.get(locator..locator + 4) != Some(&LOCATOR[..]) {
        return None;
    }
    let eocd64 = usize::try_from(u64_at(locator + 8)?).ok()?;
    if zip.get(eocd64..eocd64.checked_add(4)?) != Some(&EOCD64[..]) {
        return None;
    }
    u64_at(eocd64 + 32)
}

fn read_link_target(
    archive: &mut Archive<'_>,
    index: usize,
    declared: u64,
    name: &str,
) -> Result<String, CodeError> {
    let invalid = |problem| CodeError::InvalidSymlink {
        name: names::display(name),
        problem,
    };
    if declared > MAX_LINK_TARGET {
        return Err(invalid(crate::NameProblem::TooLong {
            limit: MAX_LINK_TARGET as usize,
        }));
    }
    let mut file = archive.by_index(index).map_err(CodeError::corrupt)?;
    let mut bytes = Vec::new();
    // One byte of slack so that the reader reaches its end, where the CRC is checked.
    (&mut file)
        .take(MAX_LINK_TARGET + 1)
        .read_to_end(&mut bytes)
        .map_err(CodeError::corrupt)?;
    if bytes.len() as u64 != declared {
        return Err(CodeError::corrupt(format!(
            "symlink {} has {} bytes, {declared} declared",
            names::display(name),
            bytes.len()
        )));
    }
    String::from_utf8(bytes).map_err(|_| invalid(crate::NameProblem::NotUtf8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testzip::{Raw, dir, file, link};

    fn survey(zip: &[u8]) -> Result<Plan, CodeError> {
        let mut archive = ZipArchive::new(Cursor::new(zip)).map_err(CodeError::corrupt)?;
        Plan::survey(&mut archive, &Limits::default(), 4000)
    }

    fn paths(plan: &Plan) -> Vec<String> {
        let mut v: Vec<_> = (1..plan.nodes.len())
            .map(|id| plan.rel_path(id).to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn implied_directories_are_planned() {
        let zip = Raw::new()
            .with(file("a/b/c.txt", b"x"))
            .with(dir("a/"))
            .build();
        let plan = survey(&zip).expect("valid");
        assert_eq!(paths(&plan), ["a", "a/b", "a/b/c.txt"]);
        assert_eq!(plan.files, 1);
        assert_eq!(plan.unzipped_size, 1);
    }

    #[test]
    fn parents_come_before_children() {
        let zip = Raw::new()
            .with(file("x/y/z/f", b"1"))
            .with(file("x/g", b"2"))
            .build();
        let plan = survey(&zip).expect("valid");
        for (id, node) in plan.nodes.iter().enumerate().skip(1) {
            assert!(node.parent < id);
        }
    }

    #[test]
    fn file_and_directory_of_one_name_conflict() {
        for zip in [
            Raw::new().with(file("a", b"")).with(file("a/b", b"")),
            Raw::new().with(file("a/b", b"")).with(file("a", b"")),
            Raw::new().with(dir("a/")).with(file("a", b"")),
            Raw::new().with(link("a", "x")).with(file("a/b", b"")),
        ] {
            let err = survey(&zip.build()).expect_err("conflict");
            assert!(matches!(err, CodeError::PathConflict { .. }), "{err:?}");
        }
    }

    #[test]
    fn names_equal_after_normalising_are_duplicates() {
        let zip = Raw::new()
            .with(file("a/b", b"1"))
            .with(file("./a//b", b"2"))
            .build();
        let err = survey(&zip).expect_err("duplicate");
        assert!(
            matches!(&err, CodeError::DuplicateEntry { name: Some(n) } if n == "./a//b"),
            "{err:?}"
        );
    }

    #[test]
    fn links_inside_the_tree_are_fine() {
        let zip = Raw::new()
            .with(file("pkg/bin/cli.js", b"x"))
            .with(link("node_modules/.bin/cli", "../../pkg/bin/cli.js"))
            .with(link("here", "."))
            .with(link("dangling", "nowhere/../x"))
            .build();
        survey(&zip).expect("valid");
    }

    #[test]
    fn links_that_climb_out_are_refused() {
        for (name, target) in [
            ("up", ".."),
            ("a/b/up", "../../.."),
            ("abs", "/etc/passwd"),
            ("sneaky", "x/../../etc"),
        ] {
            let zip = Raw::new()
                .with(file("f", b""))
                .with(link(name, target))
                .build();
            let err = survey(&zip).expect_err(name);
            assert!(
                matches!(
                    err,
                    CodeError::SymlinkEscapes { .. } | CodeError::InvalidSymlink { .. }
                ),
                "{name}: {err:?}"
            );
        }
    }

    #[test]
    fn links_through_links_are_refused() {
        // Each alone stays inside; together `x` resolves to the tree's parent.
        let zip = Raw::new()
            .with(link("d/up", ".."))
            .with(link("x", "d/up/.."))
            .build();
        let err = survey(&zip).expect_err("chain");
        assert!(
            matches!(&err, CodeError::SymlinkThroughSymlink { via, .. } if via == "d/up"),
            "{err:?}"
        );
        let zip = Raw::new().with(link("self", "self")).build();
        assert!(matches!(
            survey(&zip),
            Err(CodeError::SymlinkThroughSymlink { .. })
        ));
    }

    #[test]
    fn special_files_are_refused() {
        for (mode, kind) in [
            (0o020_644, "character device"),
            (0o060_644, "block device"),
            (0o010_644, "FIFO"),
            (0o140_644, "socket"),
        ] {
            let zip = Raw::new().with(file("dev", b"").unix_mode(mode)).build();
            let err = survey(&zip).expect_err(kind);
            assert!(
                matches!(err, CodeError::SpecialFile { kind: k, .. } if k == kind),
                "{kind}"
            );
        }
    }

    #[test]
    fn implied_directories_count_towards_the_entry_limit() {
        let zip = Raw::new().with(file("a/b/c/d/e", b"")).build();
        let mut archive = ZipArchive::new(Cursor::new(&zip[..])).expect("zip");
        let limits = Limits {
            max_entries: 4,
            ..Limits::default()
        };
        let err = Plan::survey(&mut archive, &limits, 4000).expect_err("5 nodes");
        assert!(matches!(err, CodeError::TooManyEntries { limit: 4 }));
    }

    #[test]
    fn declared_entry_count_is_read_from_the_trailer() {
        let zip = Raw::new().with(file("a", b"")).with(file("b", b"")).build();
        assert_eq!(declared_entries(&zip), Some(2));
        let mut with_comment = zip.clone();
        with_comment[zip.len() - 2..].copy_from_slice(&5u16.to_le_bytes());
        with_comment.extend(b"hello");
        assert_eq!(declared_entries(&with_comment), Some(2));
        assert_eq!(declared_entries(b"not a zip"), None);
        assert_eq!(declared_entries(&zip[..zip.len() - 1]), None);

        // Zip64: the 16-bit count says 0xFFFF and a locator points at the real record.
        let mut z64 = vec![0u8; 10];
        let eocd64_at = z64.len() as u64;
        z64.extend(0x0606_4b50u32.to_le_bytes());
        z64.extend(44u64.to_le_bytes());
        z64.extend([0u8; 2 + 2 + 4 + 4]);
        z64.extend(3_000_000u64.to_le_bytes());
        z64.extend(3_000_000u64.to_le_bytes());
        z64.extend([0u8; 16]);
        z64.extend(0x0706_4b50u32.to_le_bytes());
        z64.extend(0u32.to_le_bytes());
        z64.extend(eocd64_at.to_le_bytes());
        z64.extend(1u32.to_le_bytes());
        z64.extend(0x0605_4b50u32.to_le_bytes());
        z64.extend([0u8; 4]);
        z64.extend([0xFF; 4]);
        z64.extend([0xFF; 8]);
        z64.extend([0u8; 2]);
        assert_eq!(declared_entries(&z64), Some(3_000_000));
    }

    #[test]
    fn only_directories_is_empty() {
        let zip = Raw::new().with(dir("a/")).with(dir("b/c/")).build();
        assert!(matches!(survey(&zip), Err(CodeError::Empty)));
    }
}
