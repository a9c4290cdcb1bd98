//! Why a package was refused, in two voices: `Display` for our logs (lower case, no period, may
//! carry internal detail), [`CodeError::aws_message`] for the caller (AWS's words where AWS has
//! them, never internal detail).

use std::fmt;
use std::io;
use std::path::PathBuf;

/// What is wrong with an entry name or a symlink target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameProblem {
    /// Nothing left after dropping empty and `.` components.
    Empty,
    /// A NUL byte: the kernel would cut the path short.
    Nul,
    /// A backslash: a Windows separator that tools disagree about.
    Backslash,
    /// Starts with `/`.
    Absolute,
    /// Starts with a drive letter such as `C:`.
    DriveLetter,
    /// A `..` component.
    ParentDir,
    /// A component longer than 255 bytes (`NAME_MAX`).
    ComponentTooLong,
    /// The whole path is too long to be stored under the tree (`PATH_MAX`).
    TooLong {
        /// The longest name accepted by this store.
        limit: usize,
    },
    /// A symlink target that is not UTF-8.
    NotUtf8,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("is empty"),
            Self::Nul => f.write_str("contains a NUL character"),
            Self::Backslash => {
                f.write_str("contains a backslash (zip paths must use '/' between directories)")
            }
            Self::Absolute => f.write_str("is an absolute path"),
            Self::DriveLetter => f.write_str("starts with a drive letter"),
            Self::ParentDir => f.write_str("contains a '..' component"),
            Self::ComponentTooLong => f.write_str("has a component longer than 255 bytes"),
            Self::TooLong { limit } => write!(f, "is longer than {limit} bytes"),
            Self::NotUtf8 => f.write_str("is not valid UTF-8"),
        }
    }
}

/// Why a zip was not stored. Every variant but [`CodeError::Io`] is the uploader's fault.
///
/// Names and targets in variants are already sanitised for display (control characters escaped,
/// truncated): they come from hostile input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// No bytes, or an archive without a single file or symlink.
    #[error("the zip file is empty")]
    Empty,
    /// The zip itself is not smaller than [`crate::Limits::max_zipped`].
    #[error("the zip file is {size} bytes, not smaller than the limit of {limit}")]
    ZippedTooLarge {
        /// Bytes uploaded.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// Not a zip, truncated, bad CRC, a size that lies, encryption, an unsupported method.
    #[error("the zip file cannot be unzipped: {reason}")]
    Corrupt {
        /// Internal detail for the log; never sent.
        reason: String,
    },
    /// Declared or actually decompressed bytes reached [`crate::Limits::max_unzipped`].
    #[error("the unzipped size is not smaller than the limit of {limit} bytes")]
    UnzippedTooLarge {
        /// The limit in force.
        limit: u64,
    },
    /// More entries, counting implied directories, than [`crate::Limits::max_entries`].
    #[error("the zip file has more than {limit} files and directories")]
    TooManyEntries {
        /// The limit in force.
        limit: u64,
    },
    /// An entry name that would leave the tree or cannot be a Linux path.
    #[error("unsafe entry name '{name}': {problem}")]
    UnsafeName {
        /// The entry's name, sanitised.
        name: String,
        /// What is wrong with it.
        problem: NameProblem,
    },
    /// Two entries for one path. `None` when the names are byte-identical (the zip reader keeps
    /// only one of them, so the name is not known).
    #[error("duplicate entry '{}'", name.as_deref().unwrap_or("?"))]
    DuplicateEntry {
        /// The entry's name, sanitised.
        name: Option<String>,
    },
    /// A path that is a file or symlink in one entry and a directory in another.
    #[error("entry '{name}' is used both as a file and as a directory")]
    PathConflict {
        /// The entry's name, sanitised.
        name: String,
    },
    /// A symlink whose target is not a usable path.
    #[error("symlink '{name}' has an invalid target: {problem}")]
    InvalidSymlink {
        /// The link's name, sanitised.
        name: String,
        /// What is wrong with the target.
        problem: NameProblem,
    },
    /// A symlink whose target is absolute or climbs above the tree's root.
    #[error("symlink '{name}' -> '{target}' points outside the package")]
    SymlinkEscapes {
        /// The link's name, sanitised.
        name: String,
        /// Its target, sanitised.
        target: String,
    },
    /// A symlink whose target passes through (or is) another symlink of the package.
    #[error("symlink '{name}' -> '{target}' goes through symlink '{via}'")]
    SymlinkThroughSymlink {
        /// The link's name, sanitised.
        name: String,
        /// Its target, sanitised.
        target: String,
        /// The other link, sanitised.
        via: String,
    },
    /// A device, FIFO, socket or unknown file type.
    #[error("entry '{name}' is a {kind}")]
    SpecialFile {
        /// The entry's name, sanitised.
        name: String,
        /// "character device", "FIFO", ...
        kind: &'static str,
    },
    /// A failure of ours (disk full, permissions): not the uploader's fault.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// The step that failed.
        op: &'static str,
        /// The path it failed on.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// AWS's text for an archive it cannot read (moto/localstack `InvalidParameterValueException`,
/// and AWS users' reports).
pub const COULD_NOT_UNZIP: &str =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";

impl CodeError {
    /// Whether the uploader caused it (sent as `InvalidParameterValueException`), as opposed to a
    /// failure of the server (`ServiceException`).
    pub fn is_user_error(&self) -> bool {
        !matches!(self, Self::Io { .. })
    }

    /// The message to send to the caller.
    pub fn aws_message(&self) -> String {
        match self {
            // AWS, seen by users of CloudFormation, CDK and Terraform for a 22-byte empty archive
            // (e.g. tobilg/lsh#1, aws/aws-cdk#12667). That an archive holding only directories
            // gets the same answer is UNCONFIRMED.
            Self::Empty => "Uploaded file must be a non-empty zip".to_owned(),
            // AWS, quoted in aws/aws-lambda-dotnet#1570 (UpdateFunctionCode, 2023). AWS may send
            // it as RequestEntityTooLargeException rather than InvalidParameterValueException
            // (localstack does): UNCONFIRMED.
            Self::ZippedTooLarge { limit, .. } => {
                format!("Zipped size must be smaller than {limit} bytes")
            }
            Self::Corrupt { .. } => COULD_NOT_UNZIP.to_owned(),
            // AWS, widely reported (e.g. jkehler/awslambda-psycopg2#82); localstack uses it too.
            Self::UnzippedTooLarge { limit } => {
                format!("Unzipped size must be smaller than {limit} bytes")
            }
            // AWS has no words for the cases below; wording ours, UNCONFIRMED.
            Self::TooManyEntries { limit } => {
                format!(
                    "Uploaded zip file must not contain more than {limit} files and directories"
                )
            }
            Self::UnsafeName { name, problem } => {
                format!("Uploaded zip file has an unsafe entry name: '{name}' {problem}")
            }
            Self::DuplicateEntry { name: Some(name) } => {
                format!("Uploaded zip file contains the entry '{name}' more than once")
            }
            Self::DuplicateEntry { name: None } => {
                "Uploaded zip file contains the same entry name more than once".to_owned()
            }
            Self::PathConflict { name } => {
                format!("Uploaded zip file uses '{name}' both as a file and as a directory")
            }
            Self::InvalidSymlink { name, problem } => {
                format!("Symbolic link '{name}' in uploaded zip file has a target that {problem}")
            }
            Self::SymlinkEscapes { name, target } => format!(
                "Symbolic link '{name}' in uploaded zip file points outside the package: '{target}'"
            ),
            Self::SymlinkThroughSymlink { name, target, via } => format!(
                "Symbolic link '{name}' in uploaded zip file points to '{target}' through another \
                 symbolic link ('{via}'); links to links are not supported"
            ),
            Self::SpecialFile { name, kind } => format!(
                "Entry '{name}' in uploaded zip file is a {kind}; only files, directories and \
                 symbolic links are supported"
            ),
            Self::Io { .. } => "An internal error occurred while storing the code".to_owned(),
        }
    }

    pub(crate) fn corrupt(reason: impl fmt::Display) -> Self {
        Self::Corrupt {
            reason: reason.to_string(),
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_io_is_ours() {
        assert!(CodeError::Empty.is_user_error());
        assert!(CodeError::corrupt("x").is_user_error());
        let io = CodeError::io("write", "/x", io::Error::other("disk full"));
        assert!(!io.is_user_error());
        assert!(
            !io.aws_message().contains("disk full"),
            "internal detail leaked"
        );
    }

    #[test]
    fn aws_words_where_aws_has_them() {
        assert_eq!(CodeError::corrupt("crc").aws_message(), COULD_NOT_UNZIP);
        assert_eq!(
            CodeError::UnzippedTooLarge { limit: 262_144_000 }.aws_message(),
            "Unzipped size must be smaller than 262144000 bytes"
        );
        assert_eq!(
            CodeError::ZippedTooLarge {
                size: 60_000_000,
                limit: 52_428_800
            }
            .aws_message(),
            "Zipped size must be smaller than 52428800 bytes"
        );
        assert_eq!(
            CodeError::Empty.aws_message(),
            "Uploaded file must be a non-empty zip"
        );
    }

    #[test]
    fn corrupt_reason_stays_in_the_log() {
        let e = CodeError::corrupt("invalid checksum at offset 1234");
        assert!(e.to_string().contains("invalid checksum"));
        assert!(!e.aws_message().contains("checksum"));
    }
}
