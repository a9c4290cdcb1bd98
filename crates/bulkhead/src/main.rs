//! `bulkhead`: the server (`bulkhead serve`) and its command-line client, in one binary.
//!
//! This is the only crate that uses `anyhow`: library errors become exit codes and one-line
//! messages here.

mod client;
mod commands;
mod keys;
mod logs;
mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bulkhead",
    version,
    about = "A self-hosted, Lambda-compatible function platform with per-tenant isolation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform: the Lambda API and its state, on one host.
    Serve(commands::serve::ServeArgs),
    /// Create, inspect, change and delete functions on a running server.
    #[command(subcommand)]
    Function(commands::function::FunctionCommand),
    /// Invoke a function and print its result.
    Invoke(commands::invoke::InvokeArgs),
    /// Inspect execution environments on a running server.
    #[command(subcommand)]
    Env(commands::invoke::EnvCommand),
    /// Install and list the runtimes environments start with (Python, Node.js).
    #[command(subcommand)]
    Runtime(commands::runtime::RuntimeCommand),
    /// Report what this host supports (namespaces, cgroups, seccomp, KVM) and what is missing.
    Doctor,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(args),
        Command::Function(cmd) => commands::function::run(cmd),
        Command::Doctor => commands::doctor::run(),
        Command::Invoke(args) => commands::invoke::invoke(args),
        Command::Env(cmd) => commands::invoke::env(cmd),
        Command::Runtime(cmd) => commands::runtime::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `bulkhead function list | head` closes our stdout early; that is success, not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
