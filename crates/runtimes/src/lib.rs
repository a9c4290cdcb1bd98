//! Language runtimes for Bulkhead's execution environments.
//!
//! Two halves: [`install`] puts the official runtime interface clients (Python `awslambdaric`,
//! Node.js `aws-lambda-ric`) from PyPI and npm into `<root>/<family>/`, once, with pinned
//! versions; [`launch`] says how an environment of a given runtime starts: which host directory
//! is mapped read-only at `/var/runtime`, the command line, and the runtime's own environment
//! variables. The interpreters are the host's, reached through the read-only `/usr` every
//! environment sees, so each runtime id maps to one host interpreter ([`interpreter_for`]).

mod install;
mod stamp;
#[cfg(test)]
mod test_rapi;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use bulkhead_model::Runtime;

pub use install::{
    Installed, InstalledFamily, NODE_RIC, PYTHON_INTERPRETER, PYTHON_PACKAGES, install,
    install_with_progress,
};

/// Where an environment sees the runtime directory (read-only).
pub const RUNTIME_MOUNT: &str = "/var/runtime";
/// Where an environment sees the function's code (read-only); also the working directory.
pub const TASK_ROOT: &str = "/var/task";

/// The runtimes directory inside a data directory, so the CLI and the server agree on it.
pub fn default_root(data_dir: &Path) -> PathBuf {
    data_dir.join("runtimes")
}

/// What `bulkhead runtime install` installs: one directory per family, shared by every
/// runtime id of that family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Provided,
    Python,
    Node,
}

impl Family {
    pub const ALL: [Family; 3] = [Family::Provided, Family::Python, Family::Node];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Provided => "provided",
            Family::Python => "python",
            Family::Node => "node",
        }
    }

    pub fn of(runtime: Runtime) -> Family {
        match runtime {
            Runtime::ProvidedAl2023 | Runtime::ProvidedAl2 => Family::Provided,
            Runtime::Python39
            | Runtime::Python310
            | Runtime::Python311
            | Runtime::Python312
            | Runtime::Python313 => Family::Python,
            Runtime::Nodejs18 | Runtime::Nodejs20 | Runtime::Nodejs22 => Family::Node,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Family {
    type Err = RuntimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "provided" => Ok(Family::Provided),
            "python" => Ok(Family::Python),
            "node" | "nodejs" => Ok(Family::Node),
            _ => Err(RuntimeError::UnknownFamily(s.to_owned())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("unknown runtime family {0:?}: expected provided, python or node")]
    UnknownFamily(String),
    #[error("the {family} runtime is not installed in {}: run `bulkhead runtime install {family}`", root.display())]
    NotInstalled { family: Family, root: PathBuf },
    #[error("the {family} runtime in {} is damaged ({detail}): run `bulkhead runtime install {family}`", dir.display())]
    Damaged {
        family: Family,
        dir: PathBuf,
        detail: String,
    },
    #[error("{runtime} needs a handler such as {example}")]
    MissingHandler {
        runtime: Runtime,
        example: &'static str,
    },
    #[error("{family}: {what}; fix: {fix}")]
    MissingTool {
        family: Family,
        what: String,
        fix: String,
    },
    #[error("{family}: cannot reach {registry} (`{command}`): {detail}")]
    RegistryUnreachable {
        family: Family,
        registry: &'static str,
        command: String,
        detail: String,
    },
    #[error("{family}: `{command}` failed ({status}); fix: {fix}\n{output}")]
    InstallFailed {
        family: Family,
        command: String,
        status: String,
        output: String,
        fix: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl RuntimeError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> RuntimeError {
        let path = path.into();
        move |source| RuntimeError::Io { path, source }
    }
}

/// How one environment starts. Paths in `argv` and `env` are as the environment sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// Host directory to bind read-only at [`RUNTIME_MOUNT`]; `None` for OS-only runtimes.
    pub runtime_dir: Option<PathBuf>,
    pub argv: Vec<String>,
    /// The runtime's own variables (`PATH`, `LANG`, `LD_LIBRARY_PATH`, `LAMBDA_RUNTIME_DIR`,
    /// `PYTHONPATH`, `NODE_PATH`). Lambda's reserved variables (§3.3: `AWS_LAMBDA_RUNTIME_API`,
    /// `_HANDLER`, function name, memory, log stream, ...) are the caller's to add. Lambda lets a
    /// function's own configuration override these (they are unreserved there), so apply the
    /// function's variables after these.
    pub env: Vec<(String, String)>,
    /// Working directory: the Node.js client takes the app root from it, and Python's `-m` puts
    /// it first on `sys.path`, as Lambda does with `/var/task`.
    pub cwd: &'static str,
}

/// The Python client is started with `-S`: no `site`, so none of the host's `.pth` files,
/// `sitecustomize` or dist-packages run or become importable in an environment. That makes
/// start-up independent of the host's Python setup and 3–4 ms faster (best of 150 runs of
/// `import awslambdaric.__main__`: 33.8 → 30.3 ms; Debian's `site` imports certifi and
/// `_distutils_hack` through `.pth` files). The cost is the REPL helpers `site`
/// adds to builtins (`exit()`, `quit()`, `help()`); handlers use `sys.exit` as in any script.
const PYTHON_FLAGS: &[&str] = &["-S"];

/// Lambda's own Node.js bootstrap also passes `--expose-gc`, but on node 20 it costs ~15 ms per
/// start (importing the client: 39 ms without it, 55 ms with it; a V8 flag that differs from
/// node's build is known to make node skip its built-in code cache), so `global.gc` is not
/// defined here. The header limit is a plain option and costs nothing measurable.
const NODE_FLAGS: &[&str] = &["--max-http-header-size=81920"];

/// The entry point `aws-lambda-ric` documents (its `bin`), relative to the runtime directory.
const NODE_ENTRY: &str = "node_modules/aws-lambda-ric/bin/index.mjs";

/// Lambda's value minus `/var/lang/lib` (there is no `/var/lang` here). ld.so skips the
/// directories that don't exist after the first miss, so the unused ones cost nothing per start.
const LD_LIBRARY_PATH: &str =
    "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib";
const PATH: &str = "/usr/local/bin:/usr/bin:/bin:/opt/bin";

/// Lambda sets `en_US.UTF-8`, which Debian hosts usually don't have generated; `C.UTF-8` is
/// built into glibc ≥ 2.35, so it is always there and still means UTF-8 to every runtime.
const LANG: &str = "C.UTF-8";

/// The command line and runtime variables for an environment of `runtime`.
///
/// Reads the family's install stamp under `runtimes_root` (one small file), so a missing or
/// damaged install is reported here, with the command that fixes it, rather than as a failed
/// `exec` inside the sandbox.
pub fn launch(
    runtime: Runtime,
    handler: Option<&str>,
    runtimes_root: &Path,
) -> Result<Launch, RuntimeError> {
    let family = Family::of(runtime);
    let mut env = vec![
        ("LANG".to_owned(), LANG.to_owned()),
        ("LD_LIBRARY_PATH".to_owned(), LD_LIBRARY_PATH.to_owned()),
        ("LAMBDA_RUNTIME_DIR".to_owned(), RUNTIME_MOUNT.to_owned()),
    ];
    if family == Family::Provided {
        env.push(("PATH".to_owned(), PATH.to_owned()));
        return Ok(Launch {
            runtime_dir: None,
            argv: vec![format!("{TASK_ROOT}/bootstrap")],
            env,
            cwd: TASK_ROOT,
        });
    }
    let example = if family == Family::Python {
        "app.handler (module app, function handler)"
    } else {
        "index.handler (file index.js or index.mjs, export handler)"
    };
    let handler = handler
        .filter(|h| !h.is_empty())
        .ok_or(RuntimeError::MissingHandler { runtime, example })?;
    let dir = runtimes_root.join(family.as_str());
    let stamp = stamp::read(&dir, family)?.ok_or_else(|| RuntimeError::NotInstalled {
        family,
        root: runtimes_root.to_path_buf(),
    })?;
    let interpreter = stamp.interpreter;
    let mut argv = vec![interpreter.clone()];
    match family {
        Family::Python => {
            argv.extend(PYTHON_FLAGS.iter().map(|f| (*f).to_owned()));
            argv.extend(["-m".to_owned(), "awslambdaric".to_owned()]);
            env.push(("PATH".to_owned(), PATH.to_owned()));
            // Lambda's order: the function's code shadows the runtime's packages.
            env.push((
                "PYTHONPATH".to_owned(),
                format!("{TASK_ROOT}:{RUNTIME_MOUNT}"),
            ));
        }
        Family::Node => {
            argv.extend(NODE_FLAGS.iter().map(|f| (*f).to_owned()));
            argv.push(format!("{RUNTIME_MOUNT}/{NODE_ENTRY}"));
            // A node copied into the runtime directory must come first for child processes too.
            let path = match Path::new(&interpreter).parent() {
                Some(bin) if interpreter.starts_with(RUNTIME_MOUNT) => {
                    format!("{}:{PATH}", bin.display())
                }
                _ => PATH.to_owned(),
            };
            env.push(("PATH".to_owned(), path));
            // Lambda's NODE_PATH without its per-version layer directory.
            env.push((
                "NODE_PATH".to_owned(),
                format!(
                    "/opt/nodejs/node_modules:{RUNTIME_MOUNT}/node_modules:{RUNTIME_MOUNT}:{TASK_ROOT}"
                ),
            ));
        }
        Family::Provided => unreachable!("returned above"),
    }
    argv.push(handler.to_owned());
    Ok(Launch {
        runtime_dir: Some(dir),
        argv,
        env,
        cwd: TASK_ROOT,
    })
}

/// The host interpreter behind each runtime id, for the README and `bulkhead` output.
pub fn interpreter_for(runtime: Runtime) -> &'static str {
    match Family::of(runtime) {
        Family::Provided => "/var/task/bootstrap (the function's own executable; no interpreter)",
        Family::Python => {
            "the host's Debian CPython, /usr/bin/python3 (Python 3.11 on Debian 12), with awslambdaric 4.2.2"
        }
        Family::Node => {
            "the host's node (/usr/bin/node when it lives under /usr, else a copy at /var/runtime/bin/node), with aws-lambda-ric 3.3.0"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed_root() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (family, interpreter) in [
            (Family::Python, "/usr/bin/python3.11"),
            (Family::Node, "/usr/bin/node"),
        ] {
            let dir = root.path().join(family.as_str());
            std::fs::create_dir_all(&dir).unwrap();
            stamp::write(
                &dir,
                &stamp::Stamp {
                    family,
                    packages: "test".into(),
                    interpreter: interpreter.into(),
                    host_interpreter: interpreter.into(),
                    version: "test".into(),
                },
            )
            .unwrap();
        }
        root
    }

    fn env_of<'a>(l: &'a Launch, key: &str) -> Option<&'a str> {
        l.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn every_runtime_id_has_a_plan() {
        let root = installed_root();
        for r in Runtime::ALL {
            let l = launch(r, Some("app.handler"), root.path()).unwrap();
            assert_eq!(l.cwd, "/var/task", "{r}");
            assert_eq!(
                env_of(&l, "LAMBDA_RUNTIME_DIR"),
                Some("/var/runtime"),
                "{r}"
            );
            assert!(env_of(&l, "PATH").unwrap().contains("/usr/bin"), "{r}");
            match Family::of(r) {
                Family::Provided => {
                    assert_eq!(l.argv, ["/var/task/bootstrap"], "{r}");
                    assert_eq!(l.runtime_dir, None, "{r}");
                }
                Family::Python => {
                    assert_eq!(
                        l.argv,
                        [
                            "/usr/bin/python3.11",
                            "-S",
                            "-m",
                            "awslambdaric",
                            "app.handler"
                        ],
                        "{r}"
                    );
                    assert_eq!(l.runtime_dir, Some(root.path().join("python")), "{r}");
                    assert_eq!(env_of(&l, "PYTHONPATH"), Some("/var/task:/var/runtime"));
                }
                Family::Node => {
                    assert_eq!(l.argv[0], "/usr/bin/node", "{r}");
                    assert_eq!(
                        l.argv[l.argv.len() - 2..],
                        [
                            "/var/runtime/node_modules/aws-lambda-ric/bin/index.mjs",
                            "app.handler"
                        ],
                        "{r}"
                    );
                    assert_eq!(l.runtime_dir, Some(root.path().join("node")), "{r}");
                    assert!(
                        env_of(&l, "NODE_PATH")
                            .unwrap()
                            .contains("/var/runtime/node_modules")
                    );
                    assert!(env_of(&l, "PYTHONPATH").is_none());
                }
            }
        }
    }

    #[test]
    fn provided_needs_neither_handler_nor_install() {
        let empty = tempfile::tempdir().unwrap();
        let l = launch(Runtime::ProvidedAl2, None, empty.path()).unwrap();
        assert_eq!(l.argv, ["/var/task/bootstrap"]);
    }

    #[test]
    fn missing_install_names_the_command() {
        let empty = tempfile::tempdir().unwrap();
        for r in [Runtime::Python312, Runtime::Nodejs22] {
            let e = launch(r, Some("app.handler"), empty.path()).unwrap_err();
            assert!(matches!(e, RuntimeError::NotInstalled { .. }), "{e:?}");
            let family = Family::of(r).as_str();
            assert!(
                e.to_string()
                    .contains(&format!("bulkhead runtime install {family}")),
                "{e}"
            );
        }
    }

    #[test]
    fn language_runtimes_need_a_handler() {
        let root = installed_root();
        for h in [None, Some("")] {
            let e = launch(Runtime::Python39, h, root.path()).unwrap_err();
            assert!(matches!(e, RuntimeError::MissingHandler { .. }), "{e:?}");
        }
    }

    #[test]
    fn a_copied_node_leads_the_path() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("node");
        std::fs::create_dir_all(&dir).unwrap();
        stamp::write(
            &dir,
            &stamp::Stamp {
                family: Family::Node,
                packages: "test".into(),
                interpreter: "/var/runtime/bin/node".into(),
                host_interpreter: "/opt/node/bin/node".into(),
                version: "v20".into(),
            },
        )
        .unwrap();
        let l = launch(Runtime::Nodejs20, Some("index.handler"), root.path()).unwrap();
        assert_eq!(l.argv[0], "/var/runtime/bin/node");
        assert!(env_of(&l, "PATH").unwrap().starts_with("/var/runtime/bin:"));
    }

    #[test]
    fn families_parse_and_cover_every_runtime() {
        for f in Family::ALL {
            assert_eq!(f.as_str().parse::<Family>().unwrap(), f);
            assert!(Runtime::ALL.iter().any(|r| Family::of(*r) == f));
        }
        assert!("ruby".parse::<Family>().is_err());
        assert!(interpreter_for(Runtime::Python312).contains("/usr/bin/python3"));
    }
}
