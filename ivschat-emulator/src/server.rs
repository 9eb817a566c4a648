//! HTTP front end: accept loop, authentication, routing, quotas, faults, dispatch, logging,
//! stats and the `/_emulator/*` admin API.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::errors::ApiError;
use crate::faults::{FaultKind, Faults};
use crate::handlers::{Ctx, Reply, Settings, execute, force_lc_state};
use crate::model::LcState;
use crate::ops::{Operation, Route, route};
use crate::persist;
use crate::quotas::RateLimiter;
use crate::state::Store;
use crate::stats::Stats;
use crate::util::{now_ms, request_id};

const MAX_BODY: usize = 4 * 1024 * 1024;

type Resp = Response<Full<Bytes>>;

/// Returned by the service to make hyper close the connection without a response.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
pub struct Dropped;

/// Shared emulator state.
pub struct App {
    pub config: Config,
    pub settings: Settings,
    pub store: Mutex<Store>,
    pub stats: Stats,
    pub limiter: RateLimiter,
    pub faults: Faults,
    /// Bumped on every state change; the saver persists when it moves.
    pub generation: AtomicU64,
}

impl App {
    pub fn new(config: Config, store: Store) -> App {
        let settings = Settings {
            account_id: config.account_id.clone(),
            quotas: config.quotas_on(),
            max_rooms: config.max_rooms,
            max_logging_configurations: config.max_logging_configurations,
            logging_configuration_delay_ms: config.logging_configuration_delay,
        };
        let seed = config.seed.unwrap_or_else(rand::random);
        App {
            limiter: RateLimiter::new(config.quotas_on(), config.rate_scale),
            faults: Faults::new(
                seed,
                config.fault.clone(),
                config.latency_ms,
                config.latency.clone(),
            ),
            settings,
            store: Mutex::new(store),
            stats: Stats::default(),
            generation: AtomicU64::new(0),
            config,
        }
    }

    /// Write the state file now (no-op without `--state-file`).
    pub fn save(&self) -> anyhow::Result<()> {
        let Some(path) = &self.config.state_file else {
            return Ok(());
        };
        let bytes = {
            let store = self.store.lock();
            persist::serialize(&store)?
        };
        persist::write(path, &bytes)
    }
}

enum Outcome {
    Reply(Reply),
    Error(ApiError),
    Drop,
}

/// Region from `Authorization: AWS4-HMAC-SHA256 Credential=AKID/20240101/<region>/ivschat/aws4_request, ...`.
pub fn region_from_authorization(value: &str) -> Option<&str> {
    let cred = value.split("Credential=").nth(1)?;
    let cred = cred.split([',', ' ']).next()?;
    let region = cred.split('/').nth(2)?;
    (!region.is_empty()).then_some(region)
}

fn response(status: u16, body: Option<&Value>, rid: &str, error_type: Option<&str>) -> Resp {
    let bytes = match body {
        Some(v) if status != 204 => Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
        _ => Bytes::new(),
    };
    let has_body = !bytes.is_empty();
    let mut resp = Response::new(Full::new(bytes));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(rid) {
        h.insert("x-amzn-RequestId", v);
    }
    if has_body {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if let Some(t) = error_type.and_then(|t| HeaderValue::from_str(t).ok()) {
        h.insert("X-Amzn-ErrorType", t);
    }
    resp
}

fn error_response(e: &ApiError, rid: &str) -> Resp {
    response(e.status(), Some(&e.body()), rid, e.header())
}

/// Build the operation input: the JSON body, plus `resourceArn` from the path and `tagKeys`
/// from the query string for the tag operations.
fn build_input(route: &Route, query: Option<&str>, body: &[u8]) -> Result<Value, ApiError> {
    let mut input = if body.iter().all(u8::is_ascii_whitespace)
        || matches!(
            route.op,
            Operation::ListTagsForResource | Operation::UntagResource
        ) {
        json!({})
    } else {
        serde_json::from_slice::<Value>(body)
            .map_err(|e| ApiError::other(format!("Could not parse request body into json: {e}")))?
    };
    let Some(obj) = input.as_object_mut() else {
        return Err(ApiError::other("Request body must be a JSON object"));
    };
    if let Some(arn) = &route.resource_arn {
        obj.insert("resourceArn".into(), json!(arn));
    }
    if route.op == Operation::UntagResource {
        let keys: Vec<String> = query
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k == "tagKeys").then(|| {
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8_lossy()
                        .into_owned()
                })
            })
            .collect();
        let present = query
            .unwrap_or("")
            .split('&')
            .any(|kv| kv == "tagKeys" || kv.starts_with("tagKeys="));
        if present {
            obj.insert("tagKeys".into(), json!(keys));
        }
    }
    Ok(input)
}

fn fault_error(app: &App, op: Operation, kind: FaultKind) -> ApiError {
    let account = app.settings.account_id.clone();
    match kind {
        FaultKind::Throttle => ApiError::Throttling {
            message: "Rate exceeded".into(),
            resource_id: account,
            limit: app.limiter.limit(op),
        },
        FaultKind::Internal => ApiError::Internal("Internal server error (injected)".into()),
        FaultKind::Conflict => ApiError::Conflict {
            message: "Conflict (injected)".into(),
            resource_id: account,
        },
        FaultKind::Quota => ApiError::Quota {
            message: "Service quota exceeded (injected)".into(),
            resource_id: account,
            limit: match op {
                Operation::CreateLoggingConfiguration => {
                    app.settings.max_logging_configurations as i64
                }
                _ => app.settings.max_rooms as i64,
            },
        },
        FaultKind::Denied => ApiError::AccessDenied("Access denied (injected)".into()),
        FaultKind::Pending => {
            ApiError::PendingVerification("Account pending verification (injected)".into())
        }
        FaultKind::NotFound => ApiError::NotFound {
            message: "Resource not found (injected)".into(),
            resource_id: account,
        },
        FaultKind::Untyped => ApiError::Untyped(500),
        FaultKind::Drop | FaultKind::DropAfter => ApiError::Internal("dropped".into()),
    }
}

async fn process(
    app: &App,
    parts: &http::request::Parts,
    body: &[u8],
    route: Option<Route>,
    region: &mut String,
) -> Outcome {
    let Some(auth) = parts.headers.get(header::AUTHORIZATION) else {
        return Outcome::Error(ApiError::MissingAuthenticationToken);
    };
    if let Some(r) = auth.to_str().ok().and_then(region_from_authorization) {
        *region = r.to_string();
    }
    let Some(route) = route else {
        return Outcome::Error(ApiError::unknown_operation(
            parts.method.as_str(),
            parts.uri.path(),
        ));
    };
    let op = route.op;
    let latency = app.faults.latency_ms(op);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if !app.limiter.try_acquire(region, op) {
        return Outcome::Error(ApiError::Throttling {
            message: "Rate exceeded".into(),
            resource_id: app.settings.account_id.clone(),
            limit: app.limiter.limit(op),
        });
    }
    let fault = app.faults.decide(op);
    match fault {
        Some(FaultKind::Drop) => return Outcome::Drop,
        Some(FaultKind::DropAfter) | None => {}
        Some(kind) => return Outcome::Error(fault_error(app, op, kind)),
    }
    let input = match build_input(&route, parts.uri.query(), body) {
        Ok(v) => v,
        Err(e) => return Outcome::Error(e),
    };
    if let Err(e) = crate::validate::validate(op, &input) {
        return Outcome::Error(e);
    }
    let ctx = Ctx {
        region,
        settings: &app.settings,
        now: now_ms(),
    };
    let result = {
        let mut store = app.store.lock();
        execute(&mut store, &ctx, op, &input)
    };
    match result {
        Ok(reply) => {
            if reply.mutated {
                app.generation.fetch_add(1, Ordering::Relaxed);
            }
            if fault == Some(FaultKind::DropAfter) {
                Outcome::Drop
            } else {
                Outcome::Reply(reply)
            }
        }
        Err(e) => Outcome::Error(e),
    }
}

pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Resp, Dropped> {
    let start = Instant::now();
    let rid = request_id();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            let e = ApiError::other("Request body too large or unreadable");
            return Ok(error_response(&e, &rid));
        }
    };
    let path = parts.uri.path();
    if let Some(i) = path.find("/_emulator/") {
        let sub = &path[i + "/_emulator/".len()..];
        return Ok(admin(&app, &parts.method, sub, &body, &rid));
    }
    let route = route(&parts.method, path);
    let op_name = route.as_ref().map_or("UNKNOWN", |r| r.op.name());
    let mut region = app.config.region.clone();
    let outcome = process(&app, &parts, &body, route, &mut region).await;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let (result, status, outcome_key) = match &outcome {
        Outcome::Reply(r) => (
            Ok(response(r.status, r.body.as_ref(), &rid, None)),
            r.status,
            "Success",
        ),
        Outcome::Error(e) => (Ok(error_response(e, &rid)), e.status(), e.shape()),
        Outcome::Drop => (Err(Dropped), 0, "Dropped"),
    };
    app.stats.record(op_name, outcome_key);
    tracing::info!(
        op = %op_name,
        status,
        error = %if outcome_key == "Success" { "-" } else { outcome_key },
        latency_ms = format_args!("{ms:.2}"),
        region = %region,
        request_id = %rid,
        "{} {}",
        parts.method,
        parts.uri.path()
    );
    result
}

fn admin(app: &App, method: &Method, sub: &str, body: &[u8], rid: &str) -> Resp {
    let sub = sub.trim_end_matches('/');
    let not_found = || {
        response(
            404,
            Some(&json!({"message": format!("no admin route {method} /_emulator/{sub}")})),
            rid,
            None,
        )
    };
    match (method.clone(), sub) {
        (Method::GET, "stats") => {
            let (rooms, lcs) = {
                let mut store = app.store.lock();
                store.reap_all(now_ms());
                (store.room_count(), store.lc_count())
            };
            response(200, Some(&app.stats.to_json(rooms, lcs)), rid, None)
        }
        (Method::GET, "health") => response(200, Some(&json!({"status": "ok"})), rid, None),
        (Method::POST, "reset") => {
            *app.store.lock() = Store::default();
            app.stats.reset();
            app.limiter.reset();
            app.faults.reset();
            app.generation.fetch_add(1, Ordering::Relaxed);
            response(200, Some(&json!({"reset": true})), rid, None)
        }
        (Method::POST, "reset-stats") => {
            app.stats.reset();
            response(200, Some(&json!({"reset": true})), rid, None)
        }
        (Method::POST, "logging-configurations/state") => {
            let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let arn = req.get("arn").and_then(Value::as_str);
            let state = req
                .get("state")
                .and_then(Value::as_str)
                .and_then(LcState::parse);
            let (Some(arn), Some(state)) = (arn, state) else {
                return response(
                    400,
                    Some(
                        &json!({"message": "expected {\"arn\": \"...\", \"state\": \"CREATING|CREATE_FAILED|DELETING|DELETE_FAILED|UPDATING|UPDATE_FAILED|ACTIVE\"}"}),
                    ),
                    rid,
                    None,
                );
            };
            let found = force_lc_state(&mut app.store.lock(), arn, state, now_ms());
            if found {
                app.generation.fetch_add(1, Ordering::Relaxed);
                response(
                    200,
                    Some(&json!({"arn": arn, "state": state.as_str()})),
                    rid,
                    None,
                )
            } else {
                response(
                    404,
                    Some(&json!({"message": format!("no logging configuration {arn}")})),
                    rid,
                    None,
                )
            }
        }
        _ => not_found(),
    }
}

/// A running emulator.
pub struct ServerHandle {
    pub app: Arc<App>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// Stop accepting connections, stop the saver and write the state file a last time.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let app = self.app.clone();
        tokio::task::spawn_blocking(move || app.save()).await?
    }
}

pub async fn serve(app: Arc<App>) -> anyhow::Result<(SocketAddr, ServerHandle)> {
    let listener = TcpListener::bind(app.config.listen).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = watch::channel(false);
    let mut tasks = vec![tokio::spawn(accept_loop(app.clone(), listener, rx.clone()))];
    if app.config.state_file.is_some() {
        tasks.push(tokio::spawn(saver(app.clone(), rx)));
    }
    Ok((
        addr,
        ServerHandle {
            app,
            shutdown: tx,
            tasks,
        },
    ))
}

async fn accept_loop(app: Arc<App>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            a = listener.accept() => a,
        };
        let (stream, _) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(app.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn saver(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut saved = app.generation.load(Ordering::Relaxed);
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        let generation = app.generation.load(Ordering::Relaxed);
        if generation == saved {
            continue;
        }
        let a = app.clone();
        match tokio::task::spawn_blocking(move || a.save()).await {
            Ok(Ok(())) => saved = generation,
            Ok(Err(e)) => tracing::warn!("saving state failed: {e:#}"),
            Err(e) => tracing::warn!("saving state failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_parsing() {
        let h = "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/ivschat/aws4_request, SignedHeaders=host, Signature=abc";
        assert_eq!(region_from_authorization(h), Some("eu-west-1"));
        assert_eq!(region_from_authorization("Bearer x"), None);
    }
}
