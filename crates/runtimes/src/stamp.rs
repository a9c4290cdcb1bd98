//! The stamp a finished install leaves in its directory: what was installed and which
//! interpreter runs it. Written last, so its presence means the install completed.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::{Family, RuntimeError};

pub(crate) const FILE: &str = ".bulkhead-runtime";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub family: Family,
    /// The pinned package set, exactly as the installer spells it; a change means reinstall.
    pub packages: String,
    /// The interpreter as an environment sees it (what goes in argv[0]).
    pub interpreter: String,
    /// The host interpreter the packages were installed with (resolved, no symlinks); a change
    /// means reinstall, since compiled extensions and bytecode belong to one interpreter.
    pub host_interpreter: String,
    /// Informational: the interpreter's version at install time.
    pub version: String,
}

pub(crate) fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

pub(crate) fn write(dir: &Path, s: &Stamp) -> Result<(), RuntimeError> {
    let text = format!(
        "family={}\npackages={}\ninterpreter={}\nhost_interpreter={}\nversion={}\n",
        s.family, s.packages, s.interpreter, s.host_interpreter, s.version
    );
    let p = path(dir);
    std::fs::write(&p, text).map_err(RuntimeError::io(p))
}

/// `Ok(None)` when there is no stamp (never installed, or an install that did not finish).
pub(crate) fn read(dir: &Path, family: Family) -> Result<Option<Stamp>, RuntimeError> {
    let p = path(dir);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RuntimeError::io(p)(e)),
    };
    let damaged = |detail: String| RuntimeError::Damaged {
        family,
        dir: dir.to_path_buf(),
        detail,
    };
    let field = |key: &str| -> Result<String, RuntimeError> {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_owned)
            .ok_or_else(|| damaged(format!("{FILE} has no {key}")))
    };
    let recorded = field("family")?;
    if recorded != family.as_str() {
        return Err(damaged(format!("{FILE} says family {recorded}")));
    }
    let interpreter = field("interpreter")?;
    if !interpreter.starts_with('/') {
        return Err(damaged(format!(
            "interpreter {interpreter:?} is not absolute"
        )));
    }
    Ok(Some(Stamp {
        family,
        packages: field("packages")?,
        interpreter,
        host_interpreter: field("host_interpreter")?,
        version: field("version")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_another_family() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path(), Family::Python).unwrap(), None);
        let s = Stamp {
            family: Family::Python,
            packages: "awslambdaric==4.2.2 simplejson==4.3.0".into(),
            interpreter: "/usr/bin/python3.11".into(),
            host_interpreter: "/usr/bin/python3.11".into(),
            version: "3.11".into(),
        };
        write(dir.path(), &s).unwrap();
        assert_eq!(read(dir.path(), Family::Python).unwrap(), Some(s));
        let e = read(dir.path(), Family::Node).unwrap_err();
        assert!(matches!(e, RuntimeError::Damaged { .. }), "{e:?}");
        std::fs::write(path(dir.path()), "family=python\n").unwrap();
        let e = read(dir.path(), Family::Python).unwrap_err();
        assert!(
            e.to_string().contains("bulkhead runtime install python"),
            "{e}"
        );
    }
}
