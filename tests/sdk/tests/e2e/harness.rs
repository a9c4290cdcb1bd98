//! Starts a real `bulkhead serve` process per test and builds SDK clients for it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::operation::create_function::CreateFunctionOutput;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime, TenancyConfig, TenantIsolationMode};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::http::PlainHttpClient;

/// The documented local pair the server accepts on loopback when no keys are configured.
pub const LOCAL_KEY_ID: &str = "BULKHEADLOCALDEMOKEY";
pub const LOCAL_SECRET: &str = "bulkhead/local/demo/secret/not/for/prod";
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "000000000000";
pub const ROLE: &str = "arn:aws:iam::000000000000:role/bulkhead-e2e";

const STARTUP_DEADLINE: Duration = Duration::from_secs(30);
const STOP_DEADLINE: Duration = Duration::from_secs(15);
const READY_PREFIX: &str = "bulkhead listening on ";

pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
}

fn bulkhead_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("BULKHEAD_BIN") {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/bulkhead")
}

/// A scratch directory holding one or more server lifetimes' data dir and logs.
pub struct Workdir {
    dir: TempDir,
    starts: u32,
}

impl Workdir {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("bulkhead-sdk-e2e-")
            .tempdir()
            .expect("create temp dir");
        std::fs::create_dir(dir.path().join("data")).expect("create data dir");
        Self { dir, starts: 0 }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Starts `bulkhead serve` on a free loopback port over this workdir's data dir.
    pub fn start(&mut self, extra_args: &[&str]) -> Server {
        self.starts += 1;
        let log_path = self.dir.path().join(format!("server-{}.log", self.starts));
        Server::start(&self.data_dir(), &log_path, extra_args)
    }
}

pub struct Server {
    child: Option<Child>,
    endpoint: String,
    log_path: PathBuf,
}

impl Server {
    fn start(data_dir: &Path, log_path: &Path, extra_args: &[&str]) -> Self {
        let bin = bulkhead_bin();
        assert!(
            bin.is_file(),
            "bulkhead binary not found at {}: run `cargo build -p bulkhead` first (or set BULKHEAD_BIN)",
            bin.display()
        );
        let log = std::fs::File::create(log_path).expect("create server log");
        let mut child = Command::new(&bin)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra_args)
            // Settings from the developer's shell would change what the server accepts and reports.
            .env_remove("BULKHEAD_ACCESS_KEYS")
            .env_remove("BULKHEAD_ACCESS_KEYS_FILE")
            .env_remove("BULKHEAD_REGION")
            .env_remove("BULKHEAD_ACCOUNT_ID")
            .env_remove("BULKHEAD_ACCOUNT_CONCURRENCY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));

        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // Keep draining stdout for the server's whole life so it can never block on a full pipe.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(url) = line.strip_prefix(READY_PREFIX) {
                    sent = tx.send(url.trim().to_owned()).is_ok();
                }
            }
        });

        let mut server = Server {
            child: Some(child),
            endpoint: String::new(),
            log_path: log_path.to_owned(),
        };
        match rx.recv_timeout(STARTUP_DEADLINE) {
            Ok(url) => {
                assert!(
                    url.starts_with("http://127.0.0.1:"),
                    "unexpected listen URL {url:?}"
                );
                server.endpoint = url;
                server
            }
            Err(_) => {
                let status = server.kill();
                panic!(
                    "bulkhead serve printed no `{READY_PREFIX}...` line within {STARTUP_DEADLINE:?} \
                     (exit: {status:?}); stderr:\n{}",
                    server.log()
                );
            }
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn client(&self) -> Client {
        client_for(&self.endpoint, LOCAL_KEY_ID, LOCAL_SECRET)
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("server running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + STOP_DEADLINE;
        loop {
            if let Some(status) = child.try_wait().expect("wait for server") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "bulkhead serve did not exit within {STOP_DEADLINE:?} of SIGTERM; stderr:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the process without warning, as a crash or power cut would.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Server {
    /// SIGTERM, then up to 10 s for a clean stop (the server ends its environments and removes
    /// their cgroups), then SIGKILL.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        // The test harness shows captured output only for failing tests: that is when the
        // server's own account of the requests is wanted.
        if std::thread::panicking() {
            eprintln!(
                "--- bulkhead serve stderr ({}) ---\n{}",
                self.log_path.display(),
                self.log()
            );
        }
    }
}

pub fn client_for(endpoint: &str, key_id: &str, secret: &str) -> Client {
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(key_id, secret, None, None, "test"))
        .http_client(PlainHttpClient::new())
        // A retried request would hide the first response, which is what the tests judge.
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// A fresh server in its own workdir; the workdir must outlive the server.
pub fn fresh() -> (Workdir, Server) {
    let mut work = Workdir::new();
    let server = work.start(&[]);
    (work, server)
}

/// A deployment package with `index.py` whose content embeds `marker`, so each marker gives a
/// different archive and hash.
pub fn python_zip(marker: &str) -> Vec<u8> {
    let source = format!("def handler(event, context):\n    return {{\"marker\": \"{marker}\"}}\n");
    zip_of(&[("index.py", source.as_bytes())])
}

pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in files {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("start zip entry");
        writer.write_all(content).expect("write zip entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

/// `CodeSha256` as Lambda reports it: base64 of the SHA-256 of the deployment package.
pub fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip))
}

pub fn per_tenant() -> TenancyConfig {
    TenancyConfig::builder()
        .tenant_isolation_mode(TenantIsolationMode::PerTenant)
        .build()
        .expect("tenancy config")
}

pub async fn create_python(
    client: &Client,
    name: &str,
    zip: &[u8],
    tenancy: Option<TenancyConfig>,
) -> CreateFunctionOutput {
    client
        .create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
        .set_tenancy_config(tenancy)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateFunction {name}: {}", describe(&e)))
}

/// Waits (bounded) until the function leaves `Pending`, as the SDK's own waiter does.
pub async fn wait_active(client: &Client, name: &str) {
    use aws_sdk_lambda::client::Waiters as _;
    client
        .wait_until_function_active_v2()
        .function_name(name)
        .wait(Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("function {name} never became Active: {e:?}"));
}

/// Waits (bounded) until the last update finished.
pub async fn wait_updated(client: &Client, name: &str) {
    use aws_sdk_lambda::client::Waiters as _;
    client
        .wait_until_function_updated_v2()
        .function_name(name)
        .wait(Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("function {name} update never finished: {e:?}"));
}

/// Code, message and HTTP status of a failed call, for assertion messages.
pub fn describe<E, R>(err: &aws_sdk_lambda::error::SdkError<E, R>) -> String
where
    E: aws_sdk_lambda::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(service) => format!(
            "service error code={:?} message={:?}",
            service.code(),
            service.message()
        ),
        None => format!("{:?}", aws_sdk_lambda::error::DisplayErrorContext(err)),
    }
}

/// HTTP status of a failed call's raw response, if one arrived.
pub fn status_of<E>(
    err: &aws_sdk_lambda::error::SdkError<E, aws_sdk_lambda::config::http::HttpResponse>,
) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// The fields of a `FunctionConfiguration` that the tests compare. Every SDK output that carries
/// a function configuration has the same getters, so `snapshot!` reads any of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub name: Option<String>,
    pub arn: Option<String>,
    pub runtime: Option<Runtime>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub code_size: i64,
    pub code_sha256: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i32>,
    pub memory: Option<i32>,
    pub version: Option<String>,
    pub revision_id: Option<String>,
    pub last_modified: Option<String>,
    pub package_type: Option<aws_sdk_lambda::types::PackageType>,
    pub architectures: Vec<aws_sdk_lambda::types::Architecture>,
    pub ephemeral_storage: Option<i32>,
    pub env: Option<std::collections::BTreeMap<String, String>>,
    pub tenancy: Option<TenantIsolationMode>,
    pub state: Option<aws_sdk_lambda::types::State>,
    pub last_update_status: Option<aws_sdk_lambda::types::LastUpdateStatus>,
}

impl Snapshot {
    /// The configuration without the fields that legitimately move between reads: AWS also
    /// issues a new RevisionId when a function goes from Pending to Active.
    pub fn stable(&self) -> Snapshot {
        Snapshot {
            revision_id: None,
            state: None,
            last_update_status: None,
            ..self.clone()
        }
    }
}

macro_rules! snapshot {
    ($c:expr) => {{
        let c = &$c;
        $crate::harness::Snapshot {
            name: c.function_name().map(str::to_owned),
            arn: c.function_arn().map(str::to_owned),
            runtime: c.runtime().cloned(),
            role: c.role().map(str::to_owned),
            handler: c.handler().map(str::to_owned),
            code_size: c.code_size(),
            code_sha256: c.code_sha256().map(str::to_owned),
            description: c.description().map(str::to_owned),
            timeout: c.timeout(),
            memory: c.memory_size(),
            version: c.version().map(str::to_owned),
            revision_id: c.revision_id().map(str::to_owned),
            last_modified: c.last_modified().map(str::to_owned),
            package_type: c.package_type().cloned(),
            architectures: c.architectures().to_vec(),
            ephemeral_storage: c.ephemeral_storage().map(|e| e.size()),
            env: c
                .environment()
                .and_then(|e| e.variables())
                .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            tenancy: c
                .tenancy_config()
                .map(|t| t.tenant_isolation_mode().clone()),
            state: c.state().cloned(),
            last_update_status: c.last_update_status().cloned(),
        }
    }};
}

/// `LastModified` is ISO-8601 with milliseconds and a `+0000` offset, e.g.
/// `2025-11-20T12:00:00.000+0000`; SDKs and tools parse that exact shape.
pub fn assert_lambda_timestamp(value: Option<&str>) {
    let value = value.expect("LastModified present");
    let bytes = value.as_bytes();
    let shape_ok = bytes.len() == 28
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 | 16 => *b == b':',
            19 => *b == b'.',
            23 => *b == b'+',
            _ => b.is_ascii_digit(),
        });
    assert!(
        shape_ok && value.ends_with("+0000"),
        "LastModified {value:?} is not like 2025-11-20T12:00:00.000+0000"
    );
}
