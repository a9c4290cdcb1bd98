//! `bulkhead function ...`: the control plane from a terminal.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use serde_json::{Value, json};

use crate::client::{Client, Connection, segment};
use crate::table;

#[derive(clap::ValueEnum, Clone, Copy, Default, PartialEq, Eq)]
pub enum Output {
    #[default]
    Table,
    Json,
}

#[derive(clap::Args, Clone)]
pub struct Common {
    #[command(flatten)]
    conn: Connection,
    /// Output format.
    #[arg(long, short, global = true, value_enum, default_value_t = Output::Table)]
    output: Output,
}

#[derive(clap::Args)]
pub struct ConfigArgs {
    /// Runtime id, e.g. provided.al2023, python3.12, nodejs22.x.
    #[arg(long)]
    runtime: Option<String>,
    /// Handler, e.g. app.handler (not needed for provided.* runtimes).
    #[arg(long)]
    handler: Option<String>,
    /// Memory in MB (128–10240).
    #[arg(long)]
    memory: Option<u32>,
    /// Timeout in seconds (1–900).
    #[arg(long)]
    timeout: Option<u32>,
    /// /tmp size in MB (512–10240).
    #[arg(long)]
    ephemeral_storage: Option<u32>,
    /// Environment variable KEY=VALUE; repeat for more. Replaces all variables on update.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    #[arg(long)]
    description: Option<String>,
    /// Execution role ARN.
    #[arg(long)]
    role: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum FunctionCommand {
    /// Create a function from a directory or a .zip file.
    Create {
        name: String,
        /// A directory (zipped for you) or a .zip file.
        #[arg(long)]
        code: PathBuf,
        /// Give every tenant environments of its own (TenancyConfig PER_TENANT). Cannot be changed later.
        #[arg(long)]
        tenant_isolation: bool,
        /// Also publish version 1.
        #[arg(long)]
        publish: bool,
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        common: Common,
    },
    /// List functions.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Show one function.
    Get {
        name: String,
        /// A version number or alias.
        #[arg(long)]
        qualifier: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Change a function's code and/or configuration.
    Update {
        name: String,
        /// New code: a directory or a .zip file.
        #[arg(long)]
        code: Option<PathBuf>,
        /// Publish a version after the update.
        #[arg(long)]
        publish: bool,
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Delete a function, or one version of it with --qualifier.
    Delete {
        name: String,
        #[arg(long)]
        qualifier: Option<String>,
        #[command(flatten)]
        common: Common,
    },
}

pub fn run(cmd: FunctionCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        FunctionCommand::Create {
            name,
            code,
            tenant_isolation,
            publish,
            config,
            common,
        } => {
            let client = Client::new(&common.conn)?;
            let mut body = config_body(&config, true)?;
            body["FunctionName"] = name.into();
            body["Code"] = json!({ "ZipFile": package(&code)? });
            if body.get("Role").is_none() {
                body["Role"] = "arn:aws:iam::000000000000:role/bulkhead-function".into();
            }
            if tenant_isolation {
                body["TenancyConfig"] = json!({ "TenantIsolationMode": "PER_TENANT" });
            }
            if publish {
                body["Publish"] = true.into();
            }
            let res = client
                .call("POST", "/2015-03-31/functions", "", Some(&body))?
                .unwrap_or_default();
            show_config(&mut out, &res, common.output)
        }
        FunctionCommand::List { common } => {
            let client = Client::new(&common.conn)?;
            let mut functions = Vec::new();
            let mut marker: Option<String> = None;
            loop {
                let query = marker
                    .as_deref()
                    .map(|m| format!("Marker={}", segment(m)))
                    .unwrap_or_default();
                let page = client
                    .call("GET", "/2015-03-31/functions/", &query, None)?
                    .unwrap_or_default();
                functions.extend(page["Functions"].as_array().cloned().unwrap_or_default());
                match page["NextMarker"].as_str() {
                    Some(m) => marker = Some(m.to_owned()),
                    None => break,
                }
            }
            if common.output == Output::Json {
                return print_json(&mut out, &json!({ "Functions": functions }));
            }
            let rows: Vec<Vec<String>> = functions
                .iter()
                .map(|f| {
                    vec![
                        text(&f["FunctionName"]),
                        text(&f["Runtime"]),
                        text(&f["MemorySize"]),
                        text(&f["Timeout"]),
                        tenancy(f),
                        text(&f["LastModified"]),
                    ]
                })
                .collect();
            table::print(
                &mut out,
                &[
                    "NAME",
                    "RUNTIME",
                    "MEMORY",
                    "TIMEOUT",
                    "TENANCY",
                    "LAST MODIFIED",
                ],
                &rows,
            )?;
            Ok(())
        }
        FunctionCommand::Get {
            name,
            qualifier,
            common,
        } => {
            let client = Client::new(&common.conn)?;
            let query = qualifier
                .map(|q| format!("Qualifier={}", segment(&q)))
                .unwrap_or_default();
            let res = client
                .call(
                    "GET",
                    &format!("/2015-03-31/functions/{}", segment(&name)),
                    &query,
                    None,
                )?
                .unwrap_or_default();
            if common.output == Output::Json {
                return print_json(&mut out, &res);
            }
            show_config(&mut out, &res["Configuration"], Output::Table)?;
            if let Some(n) = res["Concurrency"]["ReservedConcurrentExecutions"].as_u64() {
                table::print_pairs(&mut out, &[("Reserved concurrency", n.to_string())])?;
            }
            Ok(())
        }
        FunctionCommand::Update {
            name,
            code,
            publish,
            config,
            common,
        } => {
            let client = Client::new(&common.conn)?;
            let path = format!("/2015-03-31/functions/{}", segment(&name));
            let body = config_body(&config, false)?;
            let changes_config = body.as_object().is_some_and(|o| !o.is_empty());
            if code.is_none() && !changes_config && !publish {
                bail!("nothing to update: give --code and/or a configuration option (see --help)");
            }
            let mut last = None;
            if changes_config {
                last = client.call("PUT", &format!("{path}/configuration"), "", Some(&body))?;
            }
            if let Some(code) = code {
                let body = json!({ "ZipFile": package(&code)?, "Publish": publish });
                last = client.call("PUT", &format!("{path}/code"), "", Some(&body))?;
            } else if publish {
                last = client.call("POST", &format!("{path}/versions"), "", Some(&json!({})))?;
            }
            show_config(&mut out, &last.unwrap_or_default(), common.output)
        }
        FunctionCommand::Delete {
            name,
            qualifier,
            common,
        } => {
            let client = Client::new(&common.conn)?;
            let query = qualifier
                .as_deref()
                .map(|q| format!("Qualifier={}", segment(q)))
                .unwrap_or_default();
            client.call(
                "DELETE",
                &format!("/2015-03-31/functions/{}", segment(&name)),
                &query,
                None,
            )?;
            match common.output {
                Output::Json => print_json(
                    &mut out,
                    &json!({ "Deleted": name, "Qualifier": qualifier }),
                ),
                Output::Table => Ok(writeln!(
                    out,
                    "deleted {name}{}",
                    qualifier.map(|q| format!(":{q}")).unwrap_or_default()
                )?),
            }
        }
    }
}

fn config_body(args: &ConfigArgs, create: bool) -> anyhow::Result<Value> {
    let mut body = json!({});
    if let Some(r) = &args.runtime {
        body["Runtime"] = r.clone().into();
    } else if create {
        bail!("--runtime is required (e.g. provided.al2023, python3.12, nodejs22.x)");
    }
    if let Some(h) = &args.handler {
        body["Handler"] = h.clone().into();
    }
    if let Some(m) = args.memory {
        body["MemorySize"] = m.into();
    }
    if let Some(t) = args.timeout {
        body["Timeout"] = t.into();
    }
    if let Some(s) = args.ephemeral_storage {
        body["EphemeralStorage"] = json!({ "Size": s });
    }
    if let Some(d) = &args.description {
        body["Description"] = d.clone().into();
    }
    if let Some(r) = &args.role {
        body["Role"] = r.clone().into();
    }
    if !args.env.is_empty() {
        let mut vars = serde_json::Map::new();
        for pair in &args.env {
            let Some((k, v)) = pair.split_once('=') else {
                bail!("--env takes KEY=VALUE (got {pair:?})");
            };
            vars.insert(k.to_owned(), v.into());
        }
        body["Environment"] = json!({ "Variables": vars });
    }
    Ok(body)
}

/// Base64 of a .zip file, or of a directory zipped here with its executable bits kept.
fn package(path: &Path) -> anyhow::Result<String> {
    let bytes = if path.is_dir() {
        zip_dir(path).with_context(|| format!("zipping {}", path.display()))?
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
    };
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn zip_dir(root: &Path) -> anyhow::Result<Vec<u8>> {
    use std::os::unix::fs::PermissionsExt;
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let rel = path
                .strip_prefix(root)?
                .to_str()
                .context("file names must be UTF-8")?
                .to_owned();
            let meta = std::fs::symlink_metadata(&path)?;
            let options = zip::write::SimpleFileOptions::default()
                .unix_permissions(meta.permissions().mode() & 0o777);
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path)?;
                writer.add_symlink(
                    rel,
                    target.to_str().context("link targets must be UTF-8")?,
                    options,
                )?;
            } else if meta.is_dir() {
                writer.add_directory(format!("{rel}/"), options)?;
                stack.push(path);
            } else if meta.is_file() {
                writer.start_file(rel, options)?;
                std::io::copy(&mut std::fs::File::open(&path)?, &mut writer)?;
            }
        }
    }
    Ok(writer.finish()?.into_inner())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn tenancy(config: &Value) -> String {
    config["TenancyConfig"]["TenantIsolationMode"]
        .as_str()
        .unwrap_or("-")
        .to_owned()
}

fn print_json(out: &mut impl Write, v: &Value) -> anyhow::Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}

fn show_config(out: &mut impl Write, c: &Value, output: Output) -> anyhow::Result<()> {
    if output == Output::Json {
        return print_json(out, c);
    }
    let env = c["Environment"]["Variables"]
        .as_object()
        .map(|vars| vars.keys().cloned().collect::<Vec<_>>().join(", "));
    table::print_pairs(
        out,
        &[
            ("Name", text(&c["FunctionName"])),
            ("ARN", text(&c["FunctionArn"])),
            ("Version", text(&c["Version"])),
            ("Runtime", text(&c["Runtime"])),
            ("Handler", text(&c["Handler"])),
            ("Tenancy", tenancy(c)),
            ("Memory (MB)", text(&c["MemorySize"])),
            ("Timeout (s)", text(&c["Timeout"])),
            ("/tmp (MB)", text(&c["EphemeralStorage"]["Size"])),
            ("Code SHA-256", text(&c["CodeSha256"])),
            ("Code size", text(&c["CodeSize"])),
            ("Environment", env.unwrap_or_else(|| "-".into())),
            ("Last modified", text(&c["LastModified"])),
            ("Revision", text(&c["RevisionId"])),
        ],
    )?;
    Ok(())
}
