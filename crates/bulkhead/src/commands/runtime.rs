//! `bulkhead runtime install`: put the Python and Node.js runtime interface clients where
//! `bulkhead serve` maps them into environments (read-only at /var/runtime).

use std::path::PathBuf;

use anyhow::Context;
use bulkhead_model::Runtime;
use bulkhead_runtimes::Family;

#[derive(clap::Subcommand)]
pub enum RuntimeCommand {
    /// Install the runtime clients from PyPI and npm (awslambdaric for python3.x,
    /// aws-lambda-ric for nodejsNN.x). Safe to re-run: up-to-date families are skipped.
    Install(InstallArgs),
    /// Show which host interpreter each runtime id runs with.
    List,
}

#[derive(clap::Args)]
pub struct InstallArgs {
    /// Families to install: provided, python, node. Default: all.
    #[arg(value_name = "FAMILY")]
    families: Vec<Family>,
    /// The server's data directory; runtimes go to <data-dir>/runtimes.
    #[arg(long, env = "BULKHEAD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Install here instead of <data-dir>/runtimes (as `bulkhead serve --runtimes-dir`).
    #[arg(long, env = "BULKHEAD_RUNTIMES_DIR")]
    runtimes_dir: Option<PathBuf>,
}

pub fn run(cmd: RuntimeCommand) -> anyhow::Result<()> {
    match cmd {
        RuntimeCommand::Install(args) => install(args),
        RuntimeCommand::List => {
            for r in Runtime::ALL {
                println!(
                    "{:<16} {}",
                    r.as_str(),
                    bulkhead_runtimes::interpreter_for(r)
                );
            }
            Ok(())
        }
    }
}

fn install(args: InstallArgs) -> anyhow::Result<()> {
    let root = args.runtimes_dir.unwrap_or_else(|| {
        bulkhead_runtimes::default_root(
            &args.data_dir.unwrap_or_else(super::serve::default_data_dir),
        )
    });
    // The install checks the tree it built from where it will be mounted: compare absolute paths.
    let root =
        std::path::absolute(&root).with_context(|| format!("resolving {}", root.display()))?;
    let families = if args.families.is_empty() {
        Family::ALL.to_vec()
    } else {
        args.families
    };
    bulkhead_runtimes::install(&root, &families)
        .with_context(|| format!("installing runtimes into {}", root.display()))?;
    println!("runtimes ready in {}", root.display());
    Ok(())
}
