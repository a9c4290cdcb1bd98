//! `bulkhead doctor`: what this host supports for running environments, in plain words.

use std::io::Write;

pub fn run() -> anyhow::Result<()> {
    let agent = bulkhead_sandbox::ns::NsConfig::default_agent();
    let checks = bulkhead_sandbox::doctor::report(&agent);
    let mut out = std::io::stdout().lock();
    for c in &checks {
        writeln!(
            out,
            "{:<4} {:<16} {}",
            if c.ok { "ok" } else { "MISS" },
            c.name,
            c.detail
        )?;
    }
    let missing: Vec<&str> = checks
        .iter()
        .filter(|c| !c.ok && c.name != "kvm")
        .map(|c| c.name)
        .collect();
    if missing.is_empty() {
        writeln!(out, "\nthis host can run Bulkhead's namespace sandboxes")?;
        Ok(())
    } else {
        anyhow::bail!(
            "this host lacks what the namespace sandbox needs: {}",
            missing.join(", ")
        )
    }
}
