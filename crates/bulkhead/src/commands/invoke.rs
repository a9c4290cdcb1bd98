//! `bulkhead invoke` and `bulkhead env list`: the data plane from a terminal.

use std::io::Write;

use anyhow::{Context, bail};
use base64::Engine;
use serde_json::Value;

use crate::client::{ApiFailure, Client, Connection, segment};
use crate::table;

#[derive(clap::Args)]
pub struct InvokeArgs {
    /// Function name or ARN, optionally NAME:QUALIFIER.
    name: String,
    /// The tenant to run as (required for tenant-isolated functions).
    #[arg(long)]
    tenant_id: Option<String>,
    /// The event: JSON text, or @FILE to read it from a file.
    #[arg(long, default_value = "{}")]
    payload: String,
    /// `Tail` prints the last 4 KB of the invocation's log to stderr.
    #[arg(long, value_parser = ["None", "Tail"])]
    log_type: Option<String>,
    /// A version or alias.
    #[arg(long)]
    qualifier: Option<String>,
    #[command(flatten)]
    conn: Connection,
}

pub fn invoke(args: InvokeArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.conn)?;
    let payload = match args.payload.strip_prefix('@') {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {path}"))?,
        None => args.payload.into_bytes(),
    };
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(t) = &args.tenant_id {
        headers.push(("x-amz-tenant-id", t));
    }
    if let Some(l) = &args.log_type {
        headers.push(("x-amz-log-type", l));
    }
    let query = args
        .qualifier
        .as_deref()
        .map(|q| format!("Qualifier={}", segment(q)))
        .unwrap_or_default();
    let path = format!("/2015-03-31/functions/{}/invocations", segment(&args.name));
    let res = client.send("POST", &path, &query, &headers, payload)?;
    if !(200..300).contains(&res.status) {
        let json: Option<Value> = serde_json::from_slice(&res.body).ok();
        let message = json
            .as_ref()
            .and_then(|j| j.get("message").or_else(|| j.get("Message")))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let code = res
            .header("x-amzn-ErrorType")
            .unwrap_or("HttpError")
            .to_owned();
        return Err(ApiFailure {
            status: res.status,
            code,
            message,
        }
        .into());
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&res.body)?;
    writeln!(out)?;
    if let Some(tail) = res.header("x-amz-log-result") {
        let text = base64::engine::general_purpose::STANDARD
            .decode(tail)
            .context("decoding the log tail")?;
        eprint!("{}", String::from_utf8_lossy(&text));
    }
    if let Some(kind) = res.header("x-amz-function-error") {
        bail!("the function failed ({kind}); its error is printed above");
    }
    Ok(())
}

#[derive(clap::Subcommand)]
pub enum EnvCommand {
    /// List live execution environments.
    List {
        #[arg(long, short, value_enum, default_value_t = crate::commands::function::Output::Table)]
        output: crate::commands::function::Output,
        #[command(flatten)]
        conn: Connection,
    },
}

pub fn env(cmd: EnvCommand) -> anyhow::Result<()> {
    let EnvCommand::List { output, conn } = cmd;
    let client = Client::new(&conn)?;
    let res = client
        .call("GET", "/bulkhead/v1/environments", "", None)?
        .unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if output == crate::commands::function::Output::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&res)?)?;
        return Ok(());
    }
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = res["Environments"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|e| {
            vec![
                text(&e["Id"]),
                text(&e["FunctionName"]),
                text(&e["Version"]),
                text(&e["TenantId"]),
                text(&e["State"]),
                format!("{:.0}s", e["AgeSeconds"].as_f64().unwrap_or(0.0)),
                text(&e["Invocations"]),
                format!(
                    "{}/{} MB",
                    e["MaxMemoryUsedBytes"]
                        .as_u64()
                        .unwrap_or(0)
                        .div_ceil(1 << 20),
                    text(&e["MemorySize"])
                ),
            ]
        })
        .collect();
    table::print(
        &mut out,
        &[
            "ID",
            "FUNCTION",
            "VERSION",
            "TENANT",
            "STATE",
            "AGE",
            "INVOCATIONS",
            "MEMORY",
        ],
        &rows,
    )?;
    Ok(())
}
