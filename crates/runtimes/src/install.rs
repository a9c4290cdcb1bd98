//! `bulkhead runtime install`: the runtime interface clients from PyPI and npm, into
//! `<root>/<family>/`, with the host's interpreters.
//!
//! Each family is built in a staging directory, checked by loading it with the interpreter that
//! environments will run, stamped, and only then renamed into place, so a directory with a stamp
//! is always complete. A per-family lock file serialises concurrent installs (two CLI runs, or
//! tests in parallel); an up-to-date stamp makes a re-run a no-op.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::stamp::{self, Stamp};
use crate::{Family, RUNTIME_MOUNT, RuntimeError};

/// Debian's interpreter, which environments see through their read-only `/usr`. Never a
/// version-manager shim from `PATH` (a pyenv shim is a shell script and adds ~100 ms per start).
pub const PYTHON_INTERPRETER: &str = "/usr/bin/python3";

/// awslambdaric 4.2.2 has `context.tenant_id`, and a manylinux wheel for CPython 3.10–3.13, so
/// nothing is compiled. Its two dependencies are pinned too and installed with `--no-deps`, so an
/// install today and one next year give the same tree.
pub const PYTHON_PACKAGES: &[&str] = &[
    "awslambdaric==4.2.2",
    "simplejson==4.3.0",
    "snapshot-restore-py==1.0.0",
];

/// 3.3.0 is the newest release that runs on Node.js 18 and 20 and has `context.tenantId`
/// (4.x requires Node.js ≥ 22). It builds curl and aws-lambda-cpp at install.
pub const NODE_RIC: &str = "aws-lambda-ric@3.3.0";

/// What `aws-lambda-ric` needs at run time: its entry point, the bundled client and the native
/// addon (curl and aws-lambda-cpp are linked in statically). The build leaves 150 MB of sources
/// and node-gyp's dependency tree behind, none of which an environment should see.
const NODE_RIC_FILES: &[&str] = &[
    "package.json",
    "bin",
    "dist",
    "LICENSE",
    "NOTICE",
    "THIRD-PARTY-LICENSES",
];

/// Program → Debian package, for the native build of `aws-lambda-ric`.
const NODE_BUILD_TOOLS: &[(&str, &str)] = &[
    ("cmake", "cmake"),
    ("make", "make"),
    ("g++", "g++"),
    ("autoconf", "autoconf"),
    ("automake", "automake"),
    ("libtoolize", "libtool"),
    ("python3", "python3"),
];

/// Words in a client's output that mean the registry could not be reached (not that the
/// package is wrong), so callers can tell "offline" from "broken".
const NETWORK_FAILURES: &[&str] = &[
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ConnectTimeoutError",
    "ProxyError",
    "ENOTFOUND",
    "EAI_AGAIN",
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "ENETUNREACH",
];

#[derive(Debug, Clone)]
pub struct Installed {
    pub families: Vec<InstalledFamily>,
}

#[derive(Debug, Clone)]
pub struct InstalledFamily {
    pub family: Family,
    /// The runtime directory (`None` for `provided`, which needs none).
    pub dir: Option<PathBuf>,
    /// The pinned packages, as passed to pip / npm.
    pub packages: String,
    /// argv[0] inside an environment.
    pub interpreter: Option<String>,
    /// Host interpreter version, e.g. "3.11" or "v20.20.2".
    pub version: Option<String>,
    /// False when an up-to-date install was found and nothing was done.
    pub fresh: bool,
    pub took: Duration,
}

/// Install `which` under `root`, printing one line per step to stdout.
pub fn install(root: &Path, which: &[Family]) -> Result<Installed, RuntimeError> {
    install_with_progress(root, which, &mut |line| println!("{line}"))
}

/// [`install`] with the step lines handed to `progress` instead of printed.
pub fn install_with_progress(
    root: &Path,
    which: &[Family],
    progress: &mut dyn FnMut(&str),
) -> Result<Installed, RuntimeError> {
    fs::create_dir_all(root).map_err(RuntimeError::io(root))?;
    let mut families = which.to_vec();
    families.sort();
    families.dedup();
    let mut done = Vec::new();
    for family in families {
        let start = Instant::now();
        let installed = match family {
            Family::Provided => {
                progress("provided: nothing to install (functions bring their own bootstrap)");
                InstalledFamily {
                    family,
                    dir: None,
                    packages: String::new(),
                    interpreter: None,
                    version: None,
                    fresh: false,
                    took: start.elapsed(),
                }
            }
            Family::Python => install_python(root, progress, start)?,
            Family::Node => install_node(root, progress, start)?,
        };
        done.push(installed);
    }
    Ok(Installed { families: done })
}

fn install_python(
    root: &Path,
    progress: &mut dyn FnMut(&str),
    start: Instant,
) -> Result<InstalledFamily, RuntimeError> {
    let family = Family::Python;
    let (python, version) = python_host()?;
    let packages = PYTHON_PACKAGES.join(" ");
    let want = Stamp {
        family,
        packages: packages.clone(),
        // The resolved path (python3.11), so a later Debian upgrade of the python3 symlink cannot
        // run these cp311 extensions and bytecode with another interpreter.
        interpreter: python.display().to_string(),
        host_interpreter: python.display().to_string(),
        version: version.clone(),
    };
    progress(&format!(
        "python: interpreter {} (Python {version})",
        python.display()
    ));
    let dir = root.join(family.as_str());
    let _lock = lock(root, family)?;
    let result = |fresh| InstalledFamily {
        family,
        dir: Some(dir.clone()),
        packages: packages.clone(),
        interpreter: Some(want.interpreter.clone()),
        version: Some(version.clone()),
        fresh,
        took: start.elapsed(),
    };
    if up_to_date(&dir, &want)? {
        progress(&format!(
            "python: {packages} already installed in {}",
            dir.display()
        ));
        return Ok(result(false));
    }

    let staging = fresh_dir(&root.join(".python.staging"))?;
    progress(&format!("python: pip install {packages} (from PyPI)"));
    let mut pip = Command::new(&python);
    pip.args(["-m", "pip", "install", "--target"])
        .arg(&staging)
        .args([
            "--no-deps",
            "--compile",
            "--no-input",
            "--disable-pip-version-check",
            "--no-warn-script-location",
            "--progress-bar",
            "off",
            "--timeout",
            "60",
            "--retries",
            "2",
        ])
        .args(PYTHON_PACKAGES);
    // Bytecode must be compiled now: /var/runtime is read-only inside environments, and
    // compiling awslambdaric's imports on every cold start would cost more than the imports.
    clean_python_env(&mut pip).env("PIP_ROOT_USER_ACTION", "ignore");
    run(
        family,
        &mut pip,
        Some("PyPI"),
        "check the pip error above; awslambdaric needs a wheel for this Python \
         (4.2.2 has them for CPython 3.10-3.13 on x86_64 and aarch64) or, for an sdist build, \
         `apt-get install -y g++ make cmake autoconf automake libtool`",
    )?;

    progress("python: checking that awslambdaric imports from the new directory");
    let mut check = Command::new(&python);
    check
        .args([
            "-S",
            "-c",
            "import sys; sys.path[:0] = [sys.argv[1]]; \
             import awslambdaric.__main__, runtime_client; print(awslambdaric.__file__)",
        ])
        .arg(&staging);
    clean_python_env(&mut check);
    let out = run(
        family,
        &mut check,
        None,
        "reinstall: the wheel does not load",
    )?;
    if !out.trim().starts_with(&*staging.to_string_lossy()) {
        return Err(RuntimeError::InstallFailed {
            family,
            command: describe(&check),
            status: "imported from elsewhere".into(),
            output: out,
            fix: "remove other awslambdaric installs from the host Python".into(),
        });
    }
    finish(root, &staging, &dir, &want)?;
    let done = result(true);
    progress(&format!(
        "python: installed in {} ({:.1} s)",
        dir.display(),
        done.took.as_secs_f64()
    ));
    Ok(done)
}

/// The resolved Debian interpreter and its "3.11"-style version; also proves pip is there.
fn python_host() -> Result<(PathBuf, String), RuntimeError> {
    let family = Family::Python;
    let python = fs::canonicalize(PYTHON_INTERPRETER).map_err(|_| RuntimeError::MissingTool {
        family,
        what: format!("there is no {PYTHON_INTERPRETER}"),
        fix: "apt-get install -y python3 python3-pip".into(),
    })?;
    if !python.starts_with("/usr/") {
        return Err(RuntimeError::MissingTool {
            family,
            what: format!(
                "{PYTHON_INTERPRETER} resolves to {}, outside the /usr that environments see",
                python.display()
            ),
            fix: "install Debian's interpreter: apt-get install -y python3 python3-pip".into(),
        });
    }
    let mut pip = Command::new(&python);
    pip.args(["-m", "pip", "--version"]);
    clean_python_env(&mut pip);
    let out = pip.output().map_err(RuntimeError::io(&python))?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "pip 23.0.1 from /usr/lib/python3/dist-packages/pip (python 3.11)"
    let version = text
        .rsplit_once("(python ")
        .and_then(|(_, v)| v.split(')').next())
        .map(str::to_owned);
    match (out.status.success(), version) {
        (true, Some(v)) => Ok((python, v)),
        _ => Err(RuntimeError::MissingTool {
            family,
            what: format!("pip is not installed for {}", python.display()),
            fix: "apt-get install -y python3-pip".into(),
        }),
    }
}

/// The caller's Python variables must not leak into pip or the import check: another
/// `PYTHONPATH` could satisfy the check from elsewhere, and `PYTHONDONTWRITEBYTECODE` would
/// skip the bytecode environments rely on.
fn clean_python_env(cmd: &mut Command) -> &mut Command {
    for var in [
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONNOUSERSITE",
        "PYTHONSTARTUP",
        "PYTHONSAFEPATH",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

struct NodeHost {
    /// Resolved path of the real node binary.
    node: PathBuf,
    version: String,
    npm: PathBuf,
    /// The prefix whose `include/node` node-gyp builds against.
    nodedir: PathBuf,
    /// Whether environments can run `node` where it is (under /usr) or need a copy.
    in_usr: bool,
}

fn install_node(
    root: &Path,
    progress: &mut dyn FnMut(&str),
    start: Instant,
) -> Result<InstalledFamily, RuntimeError> {
    let family = Family::Node;
    let host = node_host()?;
    let copied = format!("{RUNTIME_MOUNT}/bin/node");
    let interpreter = if host.in_usr {
        host.node.display().to_string()
    } else {
        copied
    };
    let want = Stamp {
        family,
        packages: NODE_RIC.to_owned(),
        interpreter: interpreter.clone(),
        host_interpreter: host.node.display().to_string(),
        version: host.version.clone(),
    };
    progress(&format!(
        "node: interpreter {} ({}; {})",
        host.node.display(),
        host.version,
        if host.in_usr {
            "under /usr, used in place"
        } else {
            "outside /usr, so it is copied into the runtime directory"
        }
    ));
    let dir = root.join(family.as_str());
    let _lock = lock(root, family)?;
    let result = |fresh| InstalledFamily {
        family,
        dir: Some(dir.clone()),
        packages: NODE_RIC.to_owned(),
        interpreter: Some(interpreter.clone()),
        version: Some(host.version.clone()),
        fresh,
        took: start.elapsed(),
    };
    if up_to_date(&dir, &want)? {
        progress(&format!(
            "node: {NODE_RIC} already installed in {}",
            dir.display()
        ));
        return Ok(result(false));
    }

    let build = fresh_dir(&root.join(".node.build"))?;
    progress(&format!(
        "node: npm install {NODE_RIC} (from npm; builds curl and aws-lambda-cpp, about 2 minutes)"
    ));
    let mut npm = Command::new(&host.npm);
    npm.arg("install")
        .arg("--prefix")
        .arg(&build)
        .args([
            NODE_RIC,
            "--omit=dev",
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
            "--fetch-retries=2",
            // npm's default backoff waits up to a minute per retry when offline.
            "--fetch-retry-maxtimeout=10000",
        ])
        .current_dir(&build)
        // Without it node-gyp downloads the headers from nodejs.org, which may be unreachable
        // and would build against headers of a node other than the one that runs the addon.
        .env("npm_config_nodedir", &host.nodedir)
        .env("PATH", path_with(host.node.parent()));
    run(
        family,
        &mut npm,
        Some("the npm registry"),
        "the native build needs `apt-get install -y cmake make g++ autoconf automake libtool python3`",
    )?;
    let ric = build.join("node_modules/aws-lambda-ric");
    if !ric.join("dist/rapid-client.node").is_file() {
        return Err(RuntimeError::InstallFailed {
            family,
            command: describe(&npm),
            status: "no dist/rapid-client.node".into(),
            output: String::new(),
            fix: "aws-lambda-ric's install scripts did not run: allow install scripts for it \
                  (npm `ignore-scripts`/`allowScripts` settings)"
                .into(),
        });
    }

    progress("node: copying the client (bin, dist, native addon) into place");
    let staging = fresh_dir(&root.join(".node.staging"))?;
    let dest = staging.join("node_modules/aws-lambda-ric");
    fs::create_dir_all(&dest).map_err(RuntimeError::io(&dest))?;
    for name in NODE_RIC_FILES {
        let from = ric.join(name);
        if from.exists() {
            copy_tree(&from, &dest.join(name))?;
        }
    }
    let runner = if host.in_usr {
        host.node.clone()
    } else {
        let bin = staging.join("bin");
        fs::create_dir_all(&bin).map_err(RuntimeError::io(&bin))?;
        let to = bin.join("node");
        fs::copy(&host.node, &to).map_err(RuntimeError::io(&to))?;
        fs::set_permissions(&to, fs::Permissions::from_mode(0o755))
            .map_err(RuntimeError::io(&to))?;
        to
    };

    progress("node: checking that aws-lambda-ric and its native addon load");
    let entry = dest.join("dist/index.mjs");
    let mut check = Command::new(&runner);
    check
        .args([
            "--input-type=module",
            "-e",
            "const [entry, addon] = process.argv.slice(1);\n\
             const m = await import(entry);\n\
             if (typeof m.run !== 'function') throw new Error('no run() in ' + entry);\n\
             const { createRequire } = await import('node:module');\n\
             createRequire(entry)(addon);",
        ])
        .arg(&entry)
        .arg(dest.join("dist/rapid-client.node"))
        .env_remove("NODE_PATH")
        .env_remove("NODE_OPTIONS")
        // The addon reads this when it loads and aborts without it; nothing connects to it.
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9");
    run(
        family,
        &mut check,
        None,
        "the built addon does not load with this node",
    )?;
    remove_if_exists(&build)?;
    finish(root, &staging, &dir, &want)?;
    let done = result(true);
    progress(&format!(
        "node: installed in {} ({:.1} s)",
        dir.display(),
        done.took.as_secs_f64()
    ));
    Ok(done)
}

fn node_host() -> Result<NodeHost, RuntimeError> {
    let family = Family::Node;
    let found = std::env::var_os("BULKHEAD_NODE")
        .map(PathBuf::from)
        .or_else(|| which("node"))
        .ok_or_else(|| RuntimeError::MissingTool {
            family,
            what: "node is not on PATH".into(),
            fix: "apt-get install -y nodejs npm libnode-dev (or set BULKHEAD_NODE)".into(),
        })?;
    let node = fs::canonicalize(&found).map_err(RuntimeError::io(&found))?;
    if is_script(&node)? {
        return Err(RuntimeError::MissingTool {
            family,
            what: format!(
                "{} is a script (a version manager's shim?), not the node binary",
                node.display()
            ),
            fix: "set BULKHEAD_NODE to the real binary (e.g. the output of `nvm which current`)"
                .into(),
        });
    }
    let out = Command::new(&node)
        .arg("--version")
        .output()
        .map_err(RuntimeError::io(&node))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let npm = which("npm").ok_or_else(|| RuntimeError::MissingTool {
        family,
        what: "npm is not on PATH".into(),
        fix: "apt-get install -y npm".into(),
    })?;
    let nodedir = node
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("/usr"))
        .to_path_buf();
    if !nodedir.join("include/node/node_api.h").is_file() {
        return Err(RuntimeError::MissingTool {
            family,
            what: format!(
                "no Node.js headers in {}/include/node (the native addon is built against them)",
                nodedir.display()
            ),
            fix: "apt-get install -y libnode-dev (Debian's nodejs), or a node build that ships \
                  include/node"
                .into(),
        });
    }
    let missing: Vec<&str> = NODE_BUILD_TOOLS
        .iter()
        .filter(|(program, _)| which(program).is_none())
        .map(|(_, package)| *package)
        .collect();
    if !missing.is_empty() {
        return Err(RuntimeError::MissingTool {
            family,
            what: format!(
                "aws-lambda-ric builds a native addon at install and this host lacks: {}",
                missing.join(", ")
            ),
            fix: format!("apt-get install -y {}", missing.join(" ")),
        });
    }
    let in_usr = node.starts_with("/usr/");
    if !in_usr {
        outside_libraries(&node)?;
    }
    Ok(NodeHost {
        node,
        version,
        npm,
        nodedir,
        in_usr,
    })
}

/// A node copied into the runtime directory still loads its shared libraries from the host;
/// environments only see /usr and /lib*, so anything else would fail at start-up.
fn outside_libraries(node: &Path) -> Result<(), RuntimeError> {
    let out = Command::new("ldd")
        .arg(node)
        .output()
        .map_err(RuntimeError::io("ldd"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let outside: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split("=> ").nth(1)?.split_whitespace().next())
        .filter(|p| p.starts_with('/') && !p.starts_with("/usr/") && !p.starts_with("/lib"))
        .collect();
    if outside.is_empty() {
        return Ok(());
    }
    Err(RuntimeError::MissingTool {
        family: Family::Node,
        what: format!(
            "{} links {}, outside what environments see (/usr, /lib*)",
            node.display(),
            outside.join(", ")
        ),
        fix: "use a node installed under /usr: apt-get install -y nodejs npm libnode-dev".into(),
    })
}

fn is_script(path: &Path) -> Result<bool, RuntimeError> {
    let mut head = [0u8; 2];
    let mut f = File::open(path).map_err(RuntimeError::io(path))?;
    let n = f.read(&mut head).map_err(RuntimeError::io(path))?;
    Ok(n == 2 && &head == b"#!")
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

fn path_with(first: Option<&Path>) -> OsString {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = first.map(Path::to_path_buf).into_iter().collect();
    dirs.extend(std::env::split_paths(&rest));
    std::env::join_paths(dirs).unwrap_or(rest)
}

/// Held for the whole install of one family; the OS drops the lock if we die.
fn lock(root: &Path, family: Family) -> Result<File, RuntimeError> {
    let path = root.join(format!(".{family}.lock"));
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(RuntimeError::io(&path))?;
    f.lock().map_err(RuntimeError::io(&path))?;
    Ok(f)
}

fn up_to_date(dir: &Path, want: &Stamp) -> Result<bool, RuntimeError> {
    // A damaged stamp is a reason to reinstall, not to fail the install.
    Ok(match stamp::read(dir, want.family) {
        Ok(Some(have)) => {
            have.packages == want.packages
                && have.host_interpreter == want.host_interpreter
                && have.interpreter == want.interpreter
        }
        Ok(None) | Err(RuntimeError::Damaged { .. }) => false,
        Err(e) => return Err(e),
    })
}

fn fresh_dir(path: &Path) -> Result<PathBuf, RuntimeError> {
    remove_if_exists(path)?;
    fs::create_dir_all(path).map_err(RuntimeError::io(path))?;
    Ok(path.to_path_buf())
}

fn remove_if_exists(path: &Path) -> Result<(), RuntimeError> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(RuntimeError::io(path)(e)),
        _ => Ok(()),
    }
}

/// Make the staged tree readable by the unprivileged users environments run as, stamp it, and
/// swap it in. Environments already running keep the mount of the old directory until they end.
fn finish(root: &Path, staging: &Path, dir: &Path, want: &Stamp) -> Result<(), RuntimeError> {
    world_readable(staging)?;
    stamp::write(staging, want)?;
    let old = root.join(format!(".{}.old", want.family));
    remove_if_exists(&old)?;
    if fs::symlink_metadata(dir).is_ok() {
        fs::rename(dir, &old).map_err(RuntimeError::io(dir))?;
    }
    fs::rename(staging, dir).map_err(RuntimeError::io(dir))?;
    remove_if_exists(&old)
}

fn world_readable(path: &Path) -> Result<(), RuntimeError> {
    let meta = fs::symlink_metadata(path).map_err(RuntimeError::io(path))?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    let wanted = if meta.is_dir() || mode & 0o100 != 0 {
        mode | 0o555
    } else {
        mode | 0o444
    };
    if wanted != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(wanted))
            .map_err(RuntimeError::io(path))?;
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path).map_err(RuntimeError::io(path))? {
            world_readable(&entry.map_err(RuntimeError::io(path))?.path())?;
        }
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), RuntimeError> {
    let meta = fs::symlink_metadata(from).map_err(RuntimeError::io(from))?;
    if meta.is_dir() {
        fs::create_dir_all(to).map_err(RuntimeError::io(to))?;
        for entry in fs::read_dir(from).map_err(RuntimeError::io(from))? {
            let entry = entry.map_err(RuntimeError::io(from))?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else if meta.is_file() {
        fs::copy(from, to).map_err(RuntimeError::io(to))?;
    }
    // npm's packages contain no symlinks we need; anything else is skipped on purpose.
    Ok(())
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Run to completion; stdout on success. On failure the error carries the output's tail, and
/// registry-connection failures become [`RuntimeError::RegistryUnreachable`].
fn run(
    family: Family,
    cmd: &mut Command,
    registry: Option<&'static str>,
    fix: &str,
) -> Result<String, RuntimeError> {
    let command = describe(cmd);
    tracing::debug!(%family, %command, "running");
    let out = cmd.output().map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            RuntimeError::MissingTool {
                family,
                what: format!("cannot run {}", cmd.get_program().to_string_lossy()),
                fix: fix.to_owned(),
            }
        } else {
            RuntimeError::io(cmd.get_program())(e)
        }
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        return Ok(stdout);
    }
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = all.lines().collect();
    let output = lines[lines.len().saturating_sub(30)..].join("\n");
    if let Some(registry) = registry
        && let Some(hit) = NETWORK_FAILURES.iter().find(|w| all.contains(**w))
    {
        return Err(RuntimeError::RegistryUnreachable {
            family,
            registry,
            command,
            detail: format!("{hit} (and the client gave up)"),
        });
    }
    Err(RuntimeError::InstallFailed {
        family,
        command,
        status: out.status.to_string(),
        output,
        fix: fix.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rapi::{Invocation, serve_one};
    use crate::{Launch, launch};
    use bulkhead_model::Runtime;

    /// One install per test run, shared by every test and by later runs: `<target>/<profile>/
    /// bulkhead-runtimes-test`. The install's own lock and stamp make this safe and cheap.
    fn shared_root() -> PathBuf {
        let exe = std::env::current_exe().unwrap();
        // <target>/<profile>/deps/<test binary>
        exe.ancestors()
            .nth(2)
            .unwrap()
            .join("bulkhead-runtimes-test")
    }

    /// The installed root, or `None` (with the reason printed) when the registry is offline.
    fn installed(family: Family) -> Option<PathBuf> {
        let root = shared_root();
        match install_with_progress(&root, &[family], &mut |l| eprintln!("{l}")) {
            Ok(_) => Some(root),
            Err(e @ RuntimeError::RegistryUnreachable { .. }) => {
                eprintln!("SKIPPED: {e}");
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn python_install_imports_and_is_idempotent() {
        let Some(root) = installed(Family::Python) else {
            return;
        };
        let dir = root.join("python");
        let out = Command::new(PYTHON_INTERPRETER)
            .arg("-c")
            .arg(format!(
                "import sys; sys.path[:0] = ['{}']; import awslambdaric.bootstrap; \
                 import awslambdaric.lambda_context as c; \
                 assert 'tenant_id' in c.LambdaContext.__init__.__code__.co_varnames",
                dir.display()
            ))
            .env_remove("PYTHONPATH")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            dir.join("awslambdaric/__pycache__").is_dir(),
            "bytecode must be precompiled: environments cannot write /var/runtime"
        );
        let again = install_with_progress(&root, &[Family::Python], &mut |_| {}).unwrap();
        assert!(!again.families[0].fresh);
        assert_eq!(
            again.families[0].interpreter.as_deref(),
            fs::canonicalize(PYTHON_INTERPRETER)
                .ok()
                .as_deref()
                .and_then(Path::to_str)
        );
    }

    #[test]
    fn node_install_loads_and_is_small() {
        let Some(root) = installed(Family::Node) else {
            return;
        };
        let dir = root.join("node");
        let stamp = stamp::read(&dir, Family::Node).unwrap().unwrap();
        let out = Command::new(&stamp.host_interpreter)
            .args([
                "--input-type=module",
                "-e",
                "const m = await import(process.argv[1]); \
                 if (typeof m.run !== 'function') process.exit(3);",
            ])
            .arg(dir.join("node_modules/aws-lambda-ric/dist/index.mjs"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Only the run-time files were copied: no sources, no node-gyp.
        assert!(!dir.join("node_modules/aws-lambda-ric/deps").exists());
        assert!(!dir.join("node_modules/node-gyp").exists());
        let again = install_with_progress(&root, &[Family::Node], &mut |_| {}).unwrap();
        assert!(!again.families[0].fresh);
    }

    /// Run a launch plan outside a sandbox: the environment's /var/runtime and /var/task become
    /// host paths, and nothing from our own environment leaks in.
    fn start(plan: &Launch, task: &Path, runtime: Runtime, api: &str) -> std::process::Child {
        let runtime_dir = plan.runtime_dir.as_ref().unwrap().display().to_string();
        let task = task.display().to_string();
        let map = |s: &str| {
            s.replace("/var/runtime", &runtime_dir)
                .replace("/var/task", &task)
        };
        let mut cmd = Command::new(map(&plan.argv[0]));
        cmd.args(plan.argv[1..].iter().map(|a| map(a)))
            .current_dir(map(plan.cwd))
            .env_clear()
            .envs(plan.env.iter().map(|(k, v)| (k, map(v))))
            .env("AWS_LAMBDA_RUNTIME_API", api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "f")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/f")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]0123")
            .env("LAMBDA_TASK_ROOT", &task)
            .env("TZ", ":UTC")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(e) = runtime.execution_env() {
            cmd.env("AWS_EXECUTION_ENV", e);
        }
        cmd.spawn().unwrap()
    }

    fn invoke_through(runtime: Runtime, handler: &str, file: &str, code: &str) {
        let Some(root) = installed(Family::of(runtime)) else {
            return;
        };
        let task = tempfile::tempdir().unwrap();
        fs::write(task.path().join(file), code).unwrap();
        let plan = launch(runtime, Some(handler), &root).unwrap();
        let api = serve_one(Invocation {
            request_id: "11111111-2222-3333-4444-555555555555",
            tenant_id: "blue",
            event: r#"{"n":1}"#,
        });
        let mut child = start(&plan, task.path(), runtime, &api.address);
        let posted = api.result(Duration::from_secs(30));
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        let logs = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let (path, body) =
            posted.unwrap_or_else(|| panic!("no result posted; runtime said:\n{logs}"));
        assert_eq!(
            path, "/2018-06-01/runtime/invocation/11111111-2222-3333-4444-555555555555/response",
            "{body}\n{logs}"
        );
        let body = body.replace(' ', "");
        assert!(body.contains(r#""tenant":"blue""#), "{body}\n{logs}");
        assert!(body.contains(r#""event":{"n":1}"#), "{body}\n{logs}");
    }

    #[test]
    fn python_plan_serves_an_invoke_and_sees_the_tenant() {
        invoke_through(
            Runtime::Python312,
            "app.handler",
            "app.py",
            "def handler(event, context):\n    return {'tenant': context.tenant_id, 'event': event}\n",
        );
    }

    #[test]
    fn node_plan_serves_an_invoke_and_sees_the_tenant() {
        invoke_through(
            Runtime::Nodejs20,
            "index.handler",
            "index.mjs",
            "export const handler = async (event, context) => ({ tenant: context.tenantId, event });\n",
        );
    }

    #[test]
    fn offline_output_is_told_apart_from_a_broken_package() {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo 'npm error code ENOTFOUND' >&2; echo 'request to https://registry failed' >&2; exit 1",
        ]);
        let e = run(Family::Node, &mut cmd, Some("the npm registry"), "fix").unwrap_err();
        assert!(
            matches!(e, RuntimeError::RegistryUnreachable { .. }),
            "{e:?}"
        );
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo 'No matching distribution' >&2; exit 1"]);
        let e = run(Family::Python, &mut cmd, Some("PyPI"), "do this").unwrap_err();
        assert!(
            matches!(&e, RuntimeError::InstallFailed { output, fix, .. }
                if output.contains("No matching distribution") && fix == "do this"),
            "{e:?}"
        );
    }
}
