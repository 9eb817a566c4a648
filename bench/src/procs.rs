//! The processes the benchmark drives: the `ivschat-emulator` (the AWS side) and the
//! `ivschat-operator` release binaries, each a child process with its log under the output
//! directory. Stopped by PID (SIGTERM, then SIGKILL) when the benchmark is done with them.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// A free TCP port on loopback.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Minimal HTTP/1.1 client (Connection: close) for the JSON admin endpoints on loopback.
pub async fn http(method: &str, url: &str, body: Option<&str>) -> Result<(u16, String)> {
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream =
        tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(host))
            .await
            .context("connect timeout")??;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buf))
        .await
        .context("read timeout")??;
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
    Ok((status, body))
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

/// SIGTERM, wait up to `grace`, then SIGKILL.
async fn stop_child(child: &mut Child, grace: Duration) {
    if let Some(pid) = child.id() {
        // SAFETY: signalling our own child process has no memory-safety preconditions.
        unsafe {
            libc::kill(pid as i32, libc::SIGTERM);
        }
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

/// `GET /_emulator/stats`, with helpers.
#[derive(Clone, Debug, Default)]
pub struct Stats(pub Value);

impl Stats {
    /// Every call of `op`, whatever the outcome.
    pub fn calls(&self, op: &str) -> u64 {
        self.0["operations"][op]
            .as_object()
            .map(|o| o.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0)
    }

    pub fn outcome(&self, op: &str, outcome: &str) -> u64 {
        self.0["operations"][op][outcome].as_u64().unwrap_or(0)
    }

    pub fn throttled(&self) -> u64 {
        self.0["throttled"].as_u64().unwrap_or(0)
    }

    pub fn rooms(&self) -> u64 {
        self.0["rooms"].as_u64().unwrap_or(0)
    }

    /// Calls per operation (all outcomes).
    pub fn by_operation(&self) -> BTreeMap<String, u64> {
        self.0["operations"]
            .as_object()
            .map(|ops| ops.keys().map(|op| (op.clone(), self.calls(op))).collect())
            .unwrap_or_default()
    }

    /// `self - before`, per operation.
    pub fn delta(&self, before: &Stats) -> BTreeMap<String, u64> {
        let mut out = self.by_operation();
        for (op, n) in out.iter_mut() {
            *n = n.saturating_sub(before.calls(op));
        }
        out.retain(|_, n| *n > 0);
        out
    }
}

/// A running `ivschat-emulator`.
pub struct Emulator {
    child: Child,
    pub endpoint: String,
    pub log: PathBuf,
}

impl Emulator {
    pub async fn start(bin_dir: &Path, log: PathBuf, args: &[String]) -> Result<Emulator> {
        let bin = bin_dir.join("ivschat-emulator");
        if !bin.exists() {
            bail!(
                "{} is missing: build it with `cargo build --release -p ivschat-emulator`",
                bin.display()
            );
        }
        let mut child = Command::new(&bin)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {}", bin.display()))?;
        let stdout = child.stdout.take().context("emulator stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .context("emulator did not print LISTENING within 60s")??
            .with_context(|| format!("emulator exited; see {}", log.display()))?;
        let endpoint = first
            .strip_prefix("LISTENING ")
            .with_context(|| format!("unexpected emulator line {first:?}"))?
            .to_string();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Emulator {
            child,
            endpoint,
            log,
        })
    }

    pub async fn stats(&self) -> Result<Stats> {
        let (status, body) = http("GET", &format!("{}/_emulator/stats", self.endpoint), None)
            .await
            .with_context(|| format!("GET /_emulator/stats (log: {})", self.log.display()))?;
        if status != 200 {
            bail!("GET /_emulator/stats: {status} {body}");
        }
        Ok(Stats(serde_json::from_str(&body)?))
    }

    /// An aws-sdk-ivschat client, for seeding and for changes "behind the operator's back".
    pub async fn sdk(&self) -> aws_sdk_ivschat::Client {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_ivschat::config::Credentials::new(
                "bench", "bench", None, None, "bench",
            ))
            .load()
            .await;
        aws_sdk_ivschat::Client::new(&conf)
    }

    /// SIGTERM (the emulator writes its state file one last time) and wait.
    pub async fn stop(mut self) {
        stop_child(&mut self.child, Duration::from_secs(30)).await;
    }
}

/// A running `ivschat-operator run`.
pub struct Operator {
    child: Child,
    pub pid: u32,
    pub metrics_addr: String,
    pub log: PathBuf,
}

pub struct OperatorSettings<'a> {
    pub bin_dir: &'a Path,
    pub log: PathBuf,
    pub namespace: &'a str,
    pub endpoint: &'a str,
    pub cluster_name: &'a str,
    pub concurrency: u16,
    /// `None`: the operator's default.
    pub resync_period: Option<&'a str>,
}

impl Operator {
    /// Starts the operator and waits for `/readyz` (watch caches synced).
    pub async fn start(s: OperatorSettings<'_>) -> Result<Operator> {
        let bin = s.bin_dir.join("ivschat-operator");
        if !bin.exists() {
            bail!(
                "{} is missing: build it with `cargo build --release -p ivschat-operator`",
                bin.display()
            );
        }
        let metrics_addr = format!("127.0.0.1:{}", free_port()?);
        let mut cmd = Command::new(&bin);
        cmd.arg("run")
            .arg("--leader-election=false")
            .args(["--watch-namespace", s.namespace])
            .args(["--metrics-addr", &metrics_addr])
            .args(["--cluster-name", s.cluster_name])
            .args(["--concurrency", &s.concurrency.to_string()])
            .args(["--log-format", "json"])
            .args(["--log-level", "info"]);
        if let Some(period) = s.resync_period {
            cmd.args(["--resync-period", period]);
        }
        let child = cmd
            .env("AWS_ENDPOINT_URL_IVSCHAT", s.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env_remove("AWS_PROFILE")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&s.log)?)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {}", bin.display()))?;
        let pid = child.id().context("operator pid")?;
        let mut op = Operator {
            child,
            pid,
            metrics_addr,
            log: s.log,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok((200, _)) =
                http("GET", &format!("http://{}/readyz", op.metrics_addr), None).await
            {
                return Ok(op);
            }
            if let Ok(Some(status)) = op.child.try_wait() {
                bail!(
                    "operator exited with {status} before /readyz; see {}",
                    op.log.display()
                );
            }
            if Instant::now() > deadline {
                bail!("operator not ready within 120s; see {}", op.log.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Resident memory (VmRSS) and its peak (VmHWM), in KiB.
    pub fn memory_kib(&self) -> Result<(u64, u64)> {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let field = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok((field("VmRSS:"), field("VmHWM:")))
    }

    /// User + system CPU seconds so far (`/proc/<pid>/stat` utime + stime).
    pub fn cpu_seconds(&self) -> Result<f64> {
        let text = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let after = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| -> f64 { fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0.0) };
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        Ok((ticks(11) + ticks(12)) / hz.max(1.0))
    }

    pub async fn stop(mut self) {
        stop_child(&mut self.child, Duration::from_secs(40)).await;
    }
}

/// Follows a JSON log file, yielding complete new lines.
pub struct LogFollower {
    path: PathBuf,
    offset: u64,
    partial: String,
}

impl LogFollower {
    pub fn new(path: &Path) -> LogFollower {
        LogFollower {
            path: path.to_path_buf(),
            offset: 0,
            partial: String::new(),
        }
    }

    pub fn new_lines(&mut self) -> Vec<String> {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return vec![];
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return vec![];
        }
        let mut buf = String::new();
        let Ok(n) = file.read_to_string(&mut buf) else {
            return vec![];
        };
        self.offset += n as u64;
        self.partial.push_str(&buf);
        let mut lines: Vec<String> = self.partial.split('\n').map(str::to_string).collect();
        self.partial = lines.pop().unwrap_or_default();
        lines
    }
}

/// `SweepReport { pages: 200, rooms_seen: 10000, suspects: 0, missing: 0 }` from a
/// "drift sweep done" JSON log line.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct SweepReport {
    pub pages: u64,
    pub rooms_seen: u64,
    pub suspects: u64,
    pub missing: u64,
}

pub fn parse_sweep_done(line: &str) -> Option<SweepReport> {
    let v: Value = serde_json::from_str(line).ok()?;
    if v["message"].as_str()? != "drift sweep done" {
        return None;
    }
    let report = v["report"].as_str()?;
    let field = |name: &str| -> u64 {
        report
            .split_once(&format!("{name}: "))
            .and_then(|(_, rest)| {
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|d| d.parse().ok())
            })
            .unwrap_or(0)
    };
    Some(SweepReport {
        pages: field("pages"),
        rooms_seen: field("rooms_seen"),
        suspects: field("suspects"),
        missing: field("missing"),
    })
}

/// What the operator's JSON log says about a run: when each ChatRoom's CreateRoom returned
/// ("created room"), and how many reconciles took the crash-recovery path (a `Creating` mark
/// without an ARN: ListRooms by name + GetRoom) instead of trusting status.
#[derive(Debug, Default)]
pub struct OperatorLog {
    pub created: BTreeMap<String, jiff::Timestamp>,
    pub recovered_creates: u64,
    pub reconcile_failures: u64,
}

pub fn read_operator_log(path: &Path) -> OperatorLog {
    let mut out = OperatorLog::default();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        match v["message"].as_str().unwrap_or_default() {
            "created room" => {
                let ts = v["timestamp"].as_str().and_then(|t| t.parse().ok());
                let name = v["span"]["chatroom"].as_str();
                if let (Some(ts), Some(name)) = (ts, name) {
                    out.created.insert(name.to_string(), ts);
                }
            }
            m if m.starts_with("found the room a previous CreateRoom made") => {
                out.recovered_creates += 1
            }
            "reconcile failed" => out.reconcile_failures += 1,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sweep_report() {
        let line = r#"{"timestamp":"x","level":"INFO","message":"drift sweep done","report":"SweepReport { pages: 200, rooms_seen: 10000, suspects: 1, missing: 0 }","target":"ivschat_operator::drift"}"#;
        let r = parse_sweep_done(line).expect("parsed");
        assert_eq!(
            (r.pages, r.rooms_seen, r.suspects, r.missing),
            (200, 10000, 1, 0)
        );
        assert!(parse_sweep_done(r#"{"message":"other"}"#).is_none());
    }

    #[test]
    fn reads_created_rooms_from_the_log() {
        let dir = std::env::temp_dir().join(format!("bench-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let log = dir.join("op.log");
        std::fs::write(&log, concat!(
            r#"{"timestamp":"2026-11-25T23:14:41.982034Z","level":"INFO","message":"created room","arn":"a","span":{"chatroom":"room-00002","name":"apply"}}"#, "\n",
            r#"{"timestamp":"2026-11-25T23:14:48.781151Z","level":"INFO","message":"found the room a previous CreateRoom made; adopting it instead of creating another"}"#, "\n",
            "not json\n",
        )).expect("write");
        let parsed = read_operator_log(&log);
        assert_eq!(parsed.created.len(), 1);
        assert!(parsed.created.contains_key("room-00002"));
        assert_eq!(parsed.recovered_creates, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn stats_delta_per_operation() {
        let a = Stats(serde_json::json!({"operations": {"CreateRoom": {"Success": 2}}}));
        let b = Stats(
            serde_json::json!({"operations": {"CreateRoom": {"Success": 5, "ThrottlingException": 1}, "ListRooms": {"Success": 1}}}),
        );
        let d = b.delta(&a);
        assert_eq!(d.get("CreateRoom"), Some(&4));
        assert_eq!(d.get("ListRooms"), Some(&1));
    }
}
