use std::path::PathBuf;

/// What to run and within which limits.
#[derive(Debug, Clone)]
pub struct EnvSpec {
    /// Names the environment in logs only; never part of a path, a cgroup or a uid.
    pub label: String,
    /// The function's code, read-only at `/var/task`.
    pub code_dir: PathBuf,
    /// The runtime (interpreter, runtime client), read-only at `/var/runtime`.
    pub runtime_dir: Option<PathBuf>,
    /// Layers, read-only at `/opt`.
    pub layers_dir: Option<PathBuf>,
    /// Memory limit in MiB (no swap).
    pub memory_mb: u32,
    /// Size of `/tmp` in MiB.
    pub tmp_mb: u32,
    /// Most processes and threads the environment may hold at once.
    pub pids_max: u32,
    /// argv of the runtime; `argv[0]` is an absolute path inside the environment.
    pub argv: Vec<String>,
    /// The runtime's environment variables, all of them.
    pub env: Vec<(String, String)>,
}

impl EnvSpec {
    pub(crate) fn check(&self) -> Result<(), crate::SandboxError> {
        let bad = |m: &str| Err(crate::SandboxError::Spec(m.to_owned()));
        if self.argv.first().is_none_or(|a| !a.starts_with('/')) {
            return bad("argv[0] must be an absolute path inside the environment");
        }
        if self.memory_mb < 16 || self.tmp_mb == 0 || self.pids_max == 0 {
            return bad("memory must be at least 16 MiB and /tmp and pids non-zero");
        }
        let has_nul = |s: &str| s.contains('\0');
        if self.argv.iter().any(|a| has_nul(a))
            || self
                .env
                .iter()
                .any(|(k, v)| has_nul(k) || has_nul(v) || k.contains('=') || k.is_empty())
        {
            return bad(
                "argv and environment must not contain NUL, and names neither '=' nor nothing",
            );
        }
        if !self.code_dir.is_dir() {
            return bad("the code directory does not exist");
        }
        Ok(())
    }
}
