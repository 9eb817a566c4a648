//! The real processes an operator test runs against: the `ivschat-emulator` binary over HTTP
//! (the AWS side) and the `ivschat-operator` binary itself, each a child process that is
//! killed when the test ends. Logs go to `target/test-logs/` and are printed on failure.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `target/<profile>/`, found from the test binary (`target/<profile>/deps/<test>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .to_path_buf()
}

pub fn log_dir() -> PathBuf {
    let dir = target_dir().join("test-logs");
    std::fs::create_dir_all(&dir).expect("create test-logs");
    dir
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn tail(path: &PathBuf, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A running `ivschat-emulator`.
pub struct Emulator {
    child: Child,
    pub endpoint: String,
    pub log: PathBuf,
}

impl Emulator {
    /// Starts the emulator with `args` on a free port; quotas are off unless `args` says so.
    pub async fn start(name: &str, args: &[&str]) -> Emulator {
        let bin = target_dir().join("ivschat-emulator");
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build -p ivschat-emulator` first (`make test` does)",
            bin.display()
        );
        let log = log_dir().join(format!("{name}-emulator.log"));
        let mut cmd = Command::new(&bin);
        cmd.args(["--listen", "127.0.0.1:0"]);
        if !args.iter().any(|a| a.starts_with("--quotas")) {
            cmd.args(["--quotas", "off"]);
        }
        cmd.args(args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("emulator log"))
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn ivschat-emulator");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("emulator did not start: {}", tail(&log, 20)))
            .expect("read emulator stdout")
            .unwrap_or_else(|| panic!("emulator exited: {}", tail(&log, 20)));
        let endpoint = first
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("unexpected line {first}"))
            .to_string();
        // Keep draining stdout so the emulator never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Emulator {
            child,
            endpoint,
            log,
        }
    }

    /// `GET /_emulator/stats`.
    pub async fn stats(&self) -> serde_json::Value {
        let url = format!("{}/_emulator/stats", self.endpoint);
        http_get_json(&url).await
    }

    /// Calls of `operation` with `outcome` ("Success" or an error shape) so far.
    pub async fn calls(&self, operation: &str, outcome: &str) -> u64 {
        self.stats().await["operations"][operation][outcome]
            .as_u64()
            .unwrap_or(0)
    }

    /// Every call of `operation`, whatever the outcome.
    pub async fn all_calls(&self, operation: &str) -> u64 {
        self.stats().await["operations"][operation]
            .as_object()
            .map(|o| o.values().filter_map(|v| v.as_u64()).sum())
            .unwrap_or(0)
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> u16 {
        http_post_json(&format!("{}{path}", self.endpoint), body).await
    }

    /// An aws-sdk-ivschat client for acting "behind the operator's back".
    pub async fn sdk(&self) -> aws_sdk_ivschat::Client {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_ivschat::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .load()
            .await;
        aws_sdk_ivschat::Client::new(&conf)
    }

    pub fn log_tail(&self) -> String {
        tail(&self.log, 30)
    }
}

async fn http_get_json(url: &str) -> serde_json::Value {
    let (host, path) = split_url(url);
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let body = raw_http(&host, request).await;
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"))
}

async fn http_post_json(url: &str, json: serde_json::Value) -> u16 {
    let (host, path) = split_url(url);
    let payload = json.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    );
    let (status, _) = raw_http_status(&host, request).await;
    status
}

/// GET `url` if something listens there yet.
pub async fn try_http_get(url: &str) -> Option<(u16, String)> {
    let (host, _) = split_url(url);
    tokio::net::TcpStream::connect(&host).await.ok()?;
    Some(http_get(url).await)
}

/// GET `url` and return (status, body); for the operator's own endpoints.
pub async fn http_get(url: &str) -> (u16, String) {
    let (host, path) = split_url(url);
    raw_http_status(
        &host,
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
    .await
}

fn split_url(url: &str) -> (String, String) {
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    (host.to_string(), format!("/{path}"))
}

async fn raw_http(host: &str, request: String) -> String {
    raw_http_status(host, request).await.1
}

/// A tiny HTTP/1.1 client (Connection: close), enough for JSON endpoints on loopback.
async fn raw_http_status(host: &str, request: String) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .unwrap_or_else(|e| panic!("connect {host}: {e}"));
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.expect("read response");
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A running `ivschat-operator run`.
pub struct Operator {
    child: Option<Child>,
    pub metrics_addr: String,
    pub log: PathBuf,
}

/// Settings of an operator process under test.
pub struct OperatorOptions<'a> {
    pub namespace: &'a str,
    pub emulator: &'a Emulator,
    pub extra_args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Defaults to the admin KUBECONFIG.
    pub kubeconfig: Option<PathBuf>,
}

impl<'a> OperatorOptions<'a> {
    pub fn new(namespace: &'a str, emulator: &'a Emulator) -> Self {
        OperatorOptions {
            namespace,
            emulator,
            extra_args: vec![],
            env: vec![],
            kubeconfig: None,
        }
    }
    pub fn args(mut self, args: &[&str]) -> Self {
        self.extra_args.extend(args.iter().map(|s| s.to_string()));
        self
    }
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

impl Operator {
    /// Starts the operator watching `namespace` only, with leader election off unless the
    /// extra args turn it on, and fast drift checks for tests.
    pub fn start(name: &str, options: OperatorOptions<'_>) -> Operator {
        let log = log_dir().join(format!("{name}.log"));
        let port = free_port();
        let metrics_addr = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ivschat-operator"));
        cmd.arg("run")
            .args(["--watch-namespace", options.namespace])
            .args(["--metrics-addr", &metrics_addr])
            .args(["--cluster-name", "test"]);
        if !options
            .extra_args
            .iter()
            .any(|a| a.starts_with("--leader-election"))
        {
            cmd.arg("--leader-election=false");
        }
        cmd.args(&options.extra_args)
            .env("AWS_ENDPOINT_URL_IVSCHAT", &options.emulator.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("AWS_PROFILE")
            .env("IVSCHAT_OPERATOR_LOG_LEVEL", "info,ivschat_operator=debug")
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .expect("operator log"),
            )
            .kill_on_drop(true);
        if let Some(kubeconfig) = &options.kubeconfig {
            cmd.env("KUBECONFIG", kubeconfig);
        }
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn ivschat-operator");
        Operator {
            child: Some(child),
            metrics_addr,
            log,
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// SIGKILL, like a node dying.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// SIGTERM and wait for a clean exit; returns the exit code.
    pub async fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        if let Some(pid) = child.id() {
            // SAFETY: sending a signal to our own child has no memory-safety preconditions.
            unsafe {
                libc::kill(pid as i32, libc::SIGTERM);
            }
        }
        let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .ok()?
            .ok()?;
        status.code()
    }

    /// Waits for the process to exit by itself (e.g. at a failpoint).
    pub async fn wait_exit(&mut self, timeout: Duration) -> bool {
        let Some(child) = self.child.as_mut() else {
            return true;
        };
        tokio::time::timeout(timeout, child.wait()).await.is_ok()
    }

    pub async fn metrics(&self) -> String {
        http_get(&format!("http://{}/metrics", self.metrics_addr))
            .await
            .1
    }

    pub fn log_tail(&self) -> String {
        tail(&self.log, 60)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- operator log ({}) ----\n{}",
                self.log.display(),
                self.log_tail()
            );
        }
    }
}

/// Directory where every emulator leaves the AWS operations it served (one JSON file per
/// emulator, written when it is dropped); `tests/iam_policy.rs` checks them against
/// `deploy/iam-policy.json`.
pub fn emulator_stats_dir() -> PathBuf {
    target_dir().join("test-logs").join("emulator-stats")
}

/// Blocking `GET /_emulator/stats` (usable from `Drop`), saved under [`emulator_stats_dir`].
/// Best effort: a failure only prints a line.
fn record_emulator_stats(endpoint: &str, log: &std::path::Path) {
    use std::io::{Read, Write};
    let (host, _) = split_url(endpoint);
    let fetch = || -> std::io::Result<String> {
        let addr: std::net::SocketAddr = host
            .parse()
            .map_err(|e| std::io::Error::other(format!("{host}: {e}")))?;
        let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            stream,
            "GET /_emulator/stats HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )?;
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf)?;
        let text = String::from_utf8_lossy(&buf).to_string();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        Ok(
            if head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked")
            {
                dechunk(body)
            } else {
                body.to_string()
            },
        )
    };
    let result = fetch().and_then(|body| {
        let dir = emulator_stats_dir();
        std::fs::create_dir_all(&dir)?;
        let stem = log
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "emulator".into());
        std::fs::write(dir.join(format!("{stem}.json")), body)
    });
    if let Err(e) = result {
        eprintln!("could not record emulator stats from {endpoint}: {e}");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        record_emulator_stats(&self.endpoint, &self.log);
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            eprintln!(
                "---- emulator log ({}) ----\n{}",
                self.log.display(),
                self.log_tail()
            );
        }
    }
}
