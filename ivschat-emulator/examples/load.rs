//! Load test: create N rooms, list them all, then hammer GetRoom/ListRooms, through the real
//! aws-sdk-ivschat client. Reports throughput, latency percentiles and RSS.
//!
//! In-process emulator (quotas off):
//!     cargo run --release -p ivschat-emulator --example load -- --rooms 10000
//! Against a running emulator (e.g. `ivschat-emulator --quotas off`):
//!     cargo run --release -p ivschat-emulator --example load -- --endpoint http://127.0.0.1:4599

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_ivschat::Client;
use aws_sdk_ivschat::config::retry::RetryConfig;
use aws_sdk_ivschat::config::{BehaviorVersion, Credentials, Region};
use clap::Parser;
use ivschat_emulator::{Config, Toggle};

#[derive(Parser, Debug)]
struct Args {
    /// Use a running emulator instead of an in-process one.
    #[arg(long)]
    endpoint: Option<String>,
    #[arg(long, default_value_t = 10_000)]
    rooms: usize,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds of the mixed GetRoom/ListRooms phase.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn run_parallel<F, Fut>(n: usize, concurrency: usize, f: F) -> (Duration, Vec<Duration>)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (f, next) = (f.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                if !f(i).await {
                    break;
                }
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("worker"));
    }
    all.sort();
    (start.elapsed(), all)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rss0 = rss_kib();
    let (endpoint, handle) = match &args.endpoint {
        Some(e) => (e.clone(), None),
        None => {
            let (addr, handle) = ivschat_emulator::run(Config {
                quotas: Toggle::Off,
                ..Config::default()
            })
            .await?;
            (format!("http://{addr}"), Some(handle))
        }
    };
    let conf = aws_sdk_ivschat::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDLOAD", "secret", None, None, "load"))
        .endpoint_url(&endpoint)
        .retry_config(RetryConfig::disabled())
        .build();
    let client = Client::from_conf(conf);
    println!(
        "endpoint {endpoint}, {} rooms, concurrency {}",
        args.rooms, args.concurrency
    );

    // 1. Create.
    let arns = Arc::new(std::sync::Mutex::new(vec![String::new(); args.rooms]));
    let (c, a) = (client.clone(), arns.clone());
    let (elapsed, lat) = run_parallel(args.rooms, args.concurrency, move |i| {
        let (c, a) = (c.clone(), a.clone());
        async move {
            let r = c
                .create_room()
                .name(format!("room-{i}"))
                .tags("bench", "load")
                .send()
                .await
                .expect("CreateRoom");
            if let Ok(mut g) = a.lock() {
                g[i] = r.arn().unwrap_or_default().to_string();
            }
            true
        }
    })
    .await;
    println!(
        "CreateRoom: {} in {:.2}s = {:.0} rooms/s (p50 {:.2} ms, p99 {:.2} ms)",
        args.rooms,
        elapsed.as_secs_f64(),
        args.rooms as f64 / elapsed.as_secs_f64(),
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );

    // 2. List everything, 50 per page.
    let start = Instant::now();
    let mut listed = 0;
    let mut pages = 0;
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_rooms()
            .max_results(50)
            .set_next_token(token)
            .send()
            .await?;
        pages += 1;
        listed += page.rooms().len();
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let el = start.elapsed().as_secs_f64();
    println!(
        "ListRooms (sequential): {listed} rooms in {pages} pages, {el:.2}s = {:.0} pages/s, {:.0} rooms/s",
        pages as f64 / el,
        listed as f64 / el
    );
    assert!(listed >= args.rooms, "listed {listed}");

    // 3. Mixed reads for a while: 9 GetRoom : 1 ListRooms (first page).
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let (c, a) = (client.clone(), arns.clone());
    let n_rooms = args.rooms;
    let (elapsed, lat) = run_parallel(usize::MAX, args.concurrency, move |i| {
        let (c, a) = (c.clone(), a.clone());
        async move {
            if Instant::now() > deadline {
                return false;
            }
            if i % 10 == 9 {
                c.list_rooms()
                    .max_results(50)
                    .send()
                    .await
                    .expect("ListRooms");
            } else {
                let arn = a
                    .lock()
                    .map(|g| g[(i * 7919) % n_rooms].clone())
                    .unwrap_or_default();
                c.get_room().identifier(arn).send().await.expect("GetRoom");
            }
            true
        }
    })
    .await;
    let real = lat;
    let secs = elapsed.as_secs_f64();
    println!(
        "Mixed GetRoom/ListRooms: {} requests in {secs:.2}s = {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms)",
        real.len(),
        real.len() as f64 / secs,
        pct(&real, 0.5),
        pct(&real, 0.99)
    );
    if let (Some(before), Some(after)) = (rss0, rss_kib()) {
        let who = if handle.is_some() {
            "process (emulator + client)"
        } else {
            "client process"
        };
        println!(
            "RSS of {who}: {:.1} MiB at start, {:.1} MiB now",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        );
    }
    if let Some(h) = handle {
        h.shutdown().await?;
    }
    Ok(())
}
