//! What a zip entry may be called, and how a hostile name is shown back to people.
//!
//! Rules are lexical and strict: a name becomes a list of plain components or is refused. `..`
//! is refused anywhere, even where it would stay inside (`a/../b`): real packages never need it,
//! and one rule is easier to trust than a resolver.

use crate::error::NameProblem;

/// Linux `NAME_MAX`.
pub(crate) const NAME_MAX: usize = 255;
/// Linux `PATH_MAX`, counting the terminating NUL.
pub(crate) const PATH_MAX: usize = 4096;
/// Longest symlink target read from an archive: anything longer cannot be a Linux path.
pub(crate) const MAX_LINK_TARGET: u64 = (PATH_MAX - 1) as u64;
/// How much of a hostile name is echoed in messages.
const DISPLAY_CHARS: usize = 100;

/// One component of a symlink target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step<'a> {
    Up,
    Down(&'a str),
}

/// Splits an entry name into plain components, dropping empty and `.` ones.
///
/// `max_len` bounds the joined result (components plus separators), so that every path built
/// under the tree stays below `PATH_MAX`.
pub(crate) fn entry_components(name: &str, max_len: usize) -> Result<Vec<&str>, NameProblem> {
    check_chars(name)?;
    if name.starts_with('/') {
        return Err(NameProblem::Absolute);
    }
    let mut out = Vec::new();
    let mut len = 0usize;
    for part in name.split('/') {
        match part {
            "" | "." => continue,
            ".." => return Err(NameProblem::ParentDir),
            _ if part.len() > NAME_MAX => return Err(NameProblem::ComponentTooLong),
            _ => {}
        }
        len = len.saturating_add(part.len() + usize::from(!out.is_empty()));
        if len > max_len {
            return Err(NameProblem::TooLong { limit: max_len });
        }
        out.push(part);
    }
    Ok(out)
}

/// Parses a symlink target into steps. Absolute targets are refused here; whether the `..`
/// steps climb out of the tree is decided against the tree itself (`plan.rs`).
pub(crate) fn link_steps(target: &str) -> Result<Vec<Step<'_>>, NameProblem> {
    if target.is_empty() {
        return Err(NameProblem::Empty);
    }
    check_chars(target)?;
    if target.starts_with('/') {
        return Err(NameProblem::Absolute);
    }
    let mut out = Vec::new();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => out.push(Step::Up),
            _ if part.len() > NAME_MAX => return Err(NameProblem::ComponentTooLong),
            _ => out.push(Step::Down(part)),
        }
    }
    Ok(out)
}

fn check_chars(s: &str) -> Result<(), NameProblem> {
    if s.contains('\0') {
        return Err(NameProblem::Nul);
    }
    // On Linux a backslash is an ordinary character, so `..\..\x` is harmless here; but it is a
    // separator to Windows tools and to some unzip programs, and a package that relies on it
    // being a separator would not work anyway. Refusing it says so at upload time.
    if s.contains('\\') {
        return Err(NameProblem::Backslash);
    }
    let b = s.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Err(NameProblem::DriveLetter);
    }
    Ok(())
}

/// A hostile string made safe to print: control characters escaped, cut to a readable length.
pub(crate) fn display(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == DISPLAY_CHARS {
            out.push_str("...");
            break;
        }
        if c.is_control() || c == '\u{FEFF}' || is_bidi_control(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Bidirectional overrides can make a name read differently from what it is ("Trojan Source").
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: usize = 4000;

    #[test]
    fn plain_names_split_into_components() {
        assert_eq!(
            entry_components("a/b/c.py", BIG),
            Ok(vec!["a", "b", "c.py"])
        );
        assert_eq!(entry_components("dir/", BIG), Ok(vec!["dir"]));
        assert_eq!(entry_components("./a//b/./c", BIG), Ok(vec!["a", "b", "c"]));
        assert_eq!(entry_components("./", BIG), Ok(vec![]));
        assert_eq!(entry_components("ab:c/d:e", BIG), Ok(vec!["ab:c", "d:e"]));
        assert_eq!(entry_components("é/ü", BIG), Ok(vec!["é", "ü"]));
    }

    #[test]
    fn hostile_names_are_refused() {
        let cases = [
            ("../x", NameProblem::ParentDir),
            ("a/../../x", NameProblem::ParentDir),
            ("a/../b", NameProblem::ParentDir),
            ("/etc/passwd", NameProblem::Absolute),
            ("//server/share", NameProblem::Absolute),
            ("C:/Windows/x", NameProblem::DriveLetter),
            ("c:x", NameProblem::DriveLetter),
            ("..\\..\\x", NameProblem::Backslash),
            ("a\\b", NameProblem::Backslash),
            ("a\0b", NameProblem::Nul),
        ];
        for (name, want) in cases {
            assert_eq!(entry_components(name, BIG), Err(want), "{name:?}");
        }
        let long = "x".repeat(NAME_MAX + 1);
        assert_eq!(
            entry_components(&long, BIG),
            Err(NameProblem::ComponentTooLong)
        );
    }

    #[test]
    fn length_counts_separators() {
        assert_eq!(entry_components("ab/cd", 5), Ok(vec!["ab", "cd"]));
        assert_eq!(
            entry_components("ab/cd/e", 6),
            Err(NameProblem::TooLong { limit: 6 })
        );
        // Dropped components do not count.
        assert_eq!(entry_components("./ab//cd", 5), Ok(vec!["ab", "cd"]));
    }

    #[test]
    fn link_targets_keep_their_parent_steps() {
        assert_eq!(
            link_steps("../lib/./x"),
            Ok(vec![Step::Up, Step::Down("lib"), Step::Down("x")])
        );
        assert_eq!(link_steps("."), Ok(vec![]));
        assert_eq!(link_steps(""), Err(NameProblem::Empty));
        assert_eq!(link_steps("/usr/bin/python3"), Err(NameProblem::Absolute));
        assert_eq!(link_steps("..\\x"), Err(NameProblem::Backslash));
        assert_eq!(link_steps("D:\\x"), Err(NameProblem::Backslash));
        assert_eq!(link_steps("D:x"), Err(NameProblem::DriveLetter));
    }

    #[test]
    fn display_escapes_and_truncates() {
        assert_eq!(display("a\nb\0c"), "a\\u{a}b\\u{0}c");
        assert_eq!(display("evil\u{202E}gpj.exe"), "evil\\u{202e}gpj.exe");
        let shown = display(&"x".repeat(500));
        assert_eq!(shown.len(), DISPLAY_CHARS + 3);
        assert!(shown.ends_with("..."));
        assert_eq!(display("node_modules/a.js"), "node_modules/a.js");
    }
}
