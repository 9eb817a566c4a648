#![allow(dead_code)]
//! Shared test helpers: start the emulator in-process, build a real SDK client, raw HTTP.

use std::collections::HashMap;
use std::net::SocketAddr;

use aws_sdk_ivschat::Client;
use aws_sdk_ivschat::config::http::HttpResponse;
use aws_sdk_ivschat::config::retry::RetryConfig;
use aws_sdk_ivschat::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ivschat::error::{ProvideErrorMetadata, SdkError};
use ivschat_emulator::{Config, ServerHandle, Toggle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const ACCOUNT: &str = "123456789012";

pub async fn start(config: Config) -> (SocketAddr, ServerHandle) {
    ivschat_emulator::run(config)
        .await
        .expect("emulator starts")
}

/// Default config with quotas off (tests that exercise quotas turn them on).
pub fn no_quotas() -> Config {
    Config {
        quotas: Toggle::Off,
        ..Config::default()
    }
}

pub fn client(addr: SocketAddr) -> Client {
    client_in(addr, "us-east-1")
}

pub fn client_in(addr: SocketAddr, region: &str) -> Client {
    let conf = aws_sdk_ivschat::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(format!("http://{addr}"))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

/// A failed SDK call, flattened.
#[derive(Debug, Clone)]
pub struct Failure {
    /// HTTP status; 0 when no response was received.
    pub status: u16,
    pub code: Option<String>,
    pub message: Option<String>,
    /// Name of the SDK error enum variant (`ValidationException`, `Unhandled`, ...) or the
    /// `SdkError` kind for non-service errors.
    pub variant: String,
    pub body: String,
}

pub fn classify<T, E>(r: Result<T, SdkError<E, HttpResponse>>) -> Result<T, Failure>
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    r.map_err(|e| match &e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let dbg = format!("{err:?}");
            Failure {
                status: se.raw().status().as_u16(),
                code: err.code().map(str::to_string),
                message: err.message().map(str::to_string),
                variant: dbg.split(['(', ' ', '{']).next().unwrap_or("").to_string(),
                body: se
                    .raw()
                    .body()
                    .bytes()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default(),
            }
        }
        SdkError::DispatchFailure(_) => failure0("DispatchFailure"),
        SdkError::ResponseError(_) => failure0("ResponseError"),
        SdkError::TimeoutError(_) => failure0("TimeoutError"),
        SdkError::ConstructionFailure(_) => failure0("ConstructionFailure"),
        _ => failure0("Other"),
    })
}

fn failure0(kind: &str) -> Failure {
    Failure {
        status: 0,
        code: None,
        message: None,
        variant: kind.to_string(),
        body: String::new(),
    }
}

pub fn auth_header(region: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDTEST/20240101/{region}/ivschat/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000"
    )
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl RawResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`).
pub async fn raw(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut req =
        format!("{method} {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    RawResponse {
        status,
        headers,
        body: body.to_string(),
    }
}

/// Signed (header present) raw request in us-east-1.
pub async fn signed(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    body: Option<&str>,
) -> RawResponse {
    raw(
        addr,
        method,
        path_and_query,
        Some(&auth_header("us-east-1")),
        body,
    )
    .await
}

pub async fn stats(addr: SocketAddr) -> serde_json::Value {
    raw(addr, "GET", "/_emulator/stats", None, None)
        .await
        .json()
}

pub fn room_arn(id: &str) -> String {
    format!("arn:aws:ivschat:us-east-1:{ACCOUNT}:room/{id}")
}

pub fn lc_arn(id: &str) -> String {
    format!("arn:aws:ivschat:us-east-1:{ACCOUNT}:logging-configuration/{id}")
}
