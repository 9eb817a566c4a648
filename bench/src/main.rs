//! `ivschat-bench`: measures ivschat-operator at scale against a real Kubernetes API server and
//! the ivschat-emulator with the IVS Chat quotas on and added latency.
//!
//! Phases (see docs/performance.md for the method):
//! 1. convergence: N new ChatRooms -> all Ready, for each N in `--sizes`, next to the quota
//!    floor N/5 s; AWS calls per created room and ThrottlingExceptions from the emulator;
//! 2. steady state: an operator restart over a fleet of N rooms (for N in `--steady-sizes`;
//!    the largest convergence fleet is reused, bigger fleets are pre-populated), AWS reads per
//!    drift sweep and per hour, resident memory and CPU;
//! 3. drift: out-of-band changes at the largest steady size, time to detect and revert;
//! 4. apply-to-Ready latency of single rooms on an idle system.
//!
//! Prints a table, writes JSON (`<out-dir>/results.json`), and exits non-zero when the
//! emulator counted a ThrottlingException or a room did not become Ready.

mod fleet;
mod kube_ops;
mod procs;
mod report;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Parser;
use kube::Client;
use kube::api::Api;
use rand::Rng;
use serde::Serialize;

use ivschat_operator::api::ChatRoom;

use kube_ops::{ReadyTracker, create_namespace, create_rooms, new_room, room_name, room_spec};
use procs::{Emulator, LogFollower, Operator, OperatorSettings, Stats, SweepReport};

/// IVS Chat quota of each room operation, requests per second.
const ROOM_QUOTA: f64 = 5.0;
/// Rooms per ListRooms page.
const PAGE: usize = 50;
const CLUSTER_NAME: &str = "bench";
/// Parallel ChatRoom creates (what `kubectl apply -f dir/` with many files amounts to).
const CREATE_PARALLELISM: usize = 32;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ivschat-bench",
    about = "Benchmark of ivschat-operator (quotas on)"
)]
struct Args {
    /// Directory with the release binaries ivschat-operator and ivschat-emulator.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Where results.json and the process logs go.
    #[arg(long, default_value = "target/bench")]
    out_dir: PathBuf,
    /// Fleet sizes for the convergence measurement (N new ChatRooms -> all Ready).
    #[arg(long, value_delimiter = ',', default_value = "100,300,1000")]
    sizes: Vec<usize>,
    /// Fleet sizes for the steady-state measurement (drift sweeps, memory, CPU). A size also
    /// in `--sizes` reuses that fleet; others are pre-populated. No value: skip the phase.
    #[arg(long, value_delimiter = ',', num_args = 0.., default_value = "1000,10000")]
    steady_sizes: Vec<usize>,
    /// Single-room apply-to-Ready samples on an idle system.
    #[arg(long, default_value_t = 30)]
    latency_samples: usize,
    /// The operator's --concurrency.
    #[arg(long, default_value_t = 16)]
    concurrency: u16,
    /// The operator's --resync-period in the steady-state phase (shorter than the 10m default
    /// so that two sweeps fit in a run; per-hour numbers are also given for the default).
    #[arg(long, default_value = "2m")]
    resync_period: String,
    /// Latency the emulator adds to every AWS call, in ms.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// Skip the out-of-band tag change (found only by a full sweep, so it takes up to a
    /// resync period).
    #[arg(long)]
    skip_tag_drift: bool,
    /// CI size: N = 50 only, 5 latency samples, no steady state.
    #[arg(long)]
    quick: bool,
}

#[derive(Serialize, Debug, Clone)]
struct Convergence {
    rooms: usize,
    seconds: f64,
    quota_floor_seconds: f64,
    ratio_to_floor: f64,
    /// Time to submit all N creates to the API server.
    submit_seconds: f64,
    ready: usize,
    throttling_exceptions: u64,
    /// Every AWS call the emulator served while the N rooms converged, by operation.
    aws_calls: BTreeMap<String, u64>,
    /// Head polls of the drift detector (ListRooms, one per --drift-poll-interval) expected in
    /// that time; they do not depend on N.
    expected_head_polls: u64,
    operator_rss_mib: f64,
    operator_cpu_seconds: f64,
    /// From the operator's log: first apply -> first CreateRoom returned.
    first_create_seconds: f64,
    /// First -> last CreateRoom returned, and the resulting CreateRoom rate.
    create_span_seconds: f64,
    create_rate_per_second: f64,
    /// Last CreateRoom returned -> all Ready seen by a watch.
    last_create_to_all_ready_seconds: f64,
    /// Reconciles that found a `Creating` mark without an ARN (a stale cache after the create)
    /// and searched AWS for the room (ListRooms by name + GetRoom) instead of trusting status.
    recovered_creates: u64,
    reconcile_failures: u64,
}

#[derive(Serialize, Debug, Clone, Default)]
struct SteadyState {
    rooms: usize,
    prepopulated: bool,
    seed_seconds: Option<f64>,
    resync_period_seconds: f64,
    /// Operator start to /readyz (watch caches synced).
    startup_seconds: f64,
    /// The sweep measured (the second one after the restart).
    sweep: SweepReport,
    /// Between the first and the second sweep's "drift sweep done".
    window_seconds: f64,
    list_rooms_in_window: u64,
    get_room_in_window: u64,
    other_calls_in_window: BTreeMap<String, u64>,
    /// ListRooms pages of the sweep + GetRoom calls (suspects) per sweep.
    reads_per_sweep: u64,
    /// ceil(N / 50): the target bound.
    reads_per_sweep_bound: u64,
    /// Reads per hour at the measured rate (bench's --resync-period, 30 s head polls).
    reads_per_hour_measured: f64,
    /// Reads per hour with the defaults (10 m resync + jitter ignored, 30 s head polls),
    /// from the measured reads per sweep and the paced sweep duration.
    reads_per_hour_default_settings: f64,
    /// Highest read rate (ListRooms + GetRoom) over any 10 s interval of the window.
    peak_read_rate_per_second: f64,
    get_room_since_restart: u64,
    aws_calls_since_restart: BTreeMap<String, u64>,
    rss_mib: f64,
    peak_rss_mib: f64,
    cpu_seconds_total: f64,
    cpu_seconds_in_window: f64,
    throttling_exceptions: u64,
}

#[derive(Serialize, Debug, Clone)]
struct DriftTrial {
    change: String,
    room: String,
    /// Out-of-band call -> the operator's GetRoom of that room.
    detect_seconds: Option<f64>,
    /// Out-of-band call -> the operator's corrective call (UpdateRoom / UntagResource).
    revert_seconds: Option<f64>,
    reverted: bool,
    /// ListRooms + GetRoom per second over the trial (the operator's reads).
    read_rate_per_second: f64,
    calls: BTreeMap<String, u64>,
}

#[derive(Serialize, Debug, Clone)]
struct Latency {
    samples: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    min_ms: f64,
    all_ms: Vec<f64>,
    /// Medians of the two parts, from the operator's log: apply -> CreateRoom returned, and
    /// CreateRoom returned -> Ready seen by a watch.
    apply_to_create_returned_p50_ms: f64,
    create_returned_to_ready_p50_ms: f64,
    throttling_exceptions: u64,
}

#[derive(Serialize, Debug, Default)]
struct Results {
    machine: BTreeMap<String, String>,
    settings: BTreeMap<String, String>,
    convergence: Vec<Convergence>,
    steady_state: Vec<SteadyState>,
    drift: Vec<DriftTrial>,
    drift_rooms: Option<usize>,
    latency: Option<Latency>,
    throttling_exceptions_total: u64,
    rooms_not_ready: usize,
    targets: Vec<report::Target>,
    errors: Vec<String>,
}

struct Bench {
    args: Args,
    client: Client,
    run_id: String,
    log_dir: PathBuf,
}

/// A fleet kept after convergence for the steady-state phase.
struct Fleet {
    namespace: String,
    emulator: Emulator,
}

fn humantime_secs(s: &str) -> Result<f64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: f64 = num.parse().with_context(|| format!("bad duration {s}"))?;
    Ok(match unit {
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("bad duration unit in {s} (use s, m or h)"),
    })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

impl Bench {
    fn emulator_args(&self, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "--quotas".into(),
            "on".into(),
            "--latency-ms".into(),
            self.args.latency_ms.to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    async fn start_operator(
        &self,
        namespace: &str,
        emulator: &Emulator,
        tag: &str,
        resync: Option<&str>,
    ) -> Result<Operator> {
        Operator::start(OperatorSettings {
            bin_dir: &self.args.bin_dir,
            log: self.log_dir.join(format!("{tag}-operator.log")),
            namespace,
            endpoint: &emulator.endpoint,
            cluster_name: CLUSTER_NAME,
            concurrency: self.args.concurrency,
            resync_period: resync,
        })
        .await
    }

    /// N new ChatRooms -> all Ready.
    async fn convergence(&self, n: usize) -> Result<(Convergence, Fleet)> {
        let namespace = format!("bench-{}-create-{n}", self.run_id);
        create_namespace(&self.client, &namespace).await?;
        let emulator = Emulator::start(
            &self.args.bin_dir,
            self.log_dir.join(format!("create-{n}-emulator.log")),
            &self.emulator_args(&[]),
        )
        .await?;
        let operator = self
            .start_operator(&namespace, &emulator, &format!("create-{n}"), None)
            .await?;
        let operator_log = operator.log.clone();
        let api: Api<ChatRoom> = Api::namespaced(self.client.clone(), &namespace);
        let tracker = ReadyTracker::start(api.clone()).await?;
        let before = emulator.stats().await?;

        eprintln!("bench: creating {n} ChatRooms in {namespace}");
        let t0 = Instant::now();
        let t0_wall = jiff::Timestamp::now();
        create_rooms(
            &api,
            (0..n)
                .map(|i| new_room(&room_name("room", i), room_spec(i), false))
                .collect(),
            CREATE_PARALLELISM,
        )
        .await?;
        let submitted = t0.elapsed();
        let floor = n as f64 / ROOM_QUOTA;
        let timeout = Duration::from_secs_f64(floor * 3.0 + 120.0);
        let tracked = tracker.wait_for(n, timeout).await;
        let seconds = tracker
            .latest()
            .map(|t| t.duration_since(t0).as_secs_f64())
            .unwrap_or(f64::NAN);
        // Let in-flight follow-up reconciles (the Ready status write's own watch event) finish
        // so that any extra call they make is counted.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = emulator.stats().await?;
        let elapsed = t0.elapsed().as_secs_f64();
        // Cross-check the watch with a list.
        let (_, listed) = kube_ops::count_ready(&api).await?;
        let ready = tracked.min(listed);
        let (rss, _) = operator.memory_kib()?;
        let cpu = operator.cpu_seconds()?;
        operator.stop().await;
        let log = procs::read_operator_log(&operator_log);
        let since_t0 = |t: &jiff::Timestamp| t.duration_since(t0_wall).as_secs_f64();
        let first = log.created.values().min().map(since_t0).unwrap_or(f64::NAN);
        let last = log.created.values().max().map(since_t0).unwrap_or(f64::NAN);
        let result = Convergence {
            rooms: n,
            seconds: if ready == n { seconds } else { f64::NAN },
            quota_floor_seconds: floor,
            ratio_to_floor: seconds / floor,
            submit_seconds: submitted.as_secs_f64(),
            ready,
            throttling_exceptions: after.throttled() - before.throttled(),
            aws_calls: after.delta(&before),
            expected_head_polls: (elapsed / 30.0).ceil() as u64 + 1,
            operator_rss_mib: mib(rss),
            operator_cpu_seconds: cpu,
            first_create_seconds: first,
            create_span_seconds: last - first,
            create_rate_per_second: (log.created.len().saturating_sub(1)) as f64 / (last - first),
            last_create_to_all_ready_seconds: seconds - last,
            recovered_creates: log.recovered_creates,
            reconcile_failures: log.reconcile_failures,
        };
        eprintln!(
            "bench: N={n}: {ready}/{n} Ready in {seconds:.1} s (floor {floor:.1} s), calls {:?}",
            result.aws_calls
        );
        Ok((
            result,
            Fleet {
                namespace,
                emulator,
            },
        ))
    }

    /// Restart over an existing fleet; measure one full drift sweep and the operator's resources.
    async fn steady_state(
        &self,
        n: usize,
        fleet: &Fleet,
        prepopulated: bool,
        seed_seconds: Option<f64>,
    ) -> Result<(SteadyState, Operator)> {
        let resync_s = humantime_secs(&self.args.resync_period)?;
        let before = fleet.emulator.stats().await?;
        let started = Instant::now();
        let operator = self
            .start_operator(
                &fleet.namespace,
                &fleet.emulator,
                &format!("steady-{n}"),
                Some(&self.args.resync_period),
            )
            .await?;
        let startup_seconds = started.elapsed().as_secs_f64();
        let mut follower = LogFollower::new(&operator.log);
        let pages = n.div_ceil(PAGE) as f64;
        // A sweep is paced at half the ListRooms quota.
        let sweep_s = pages / (ROOM_QUOTA / 2.0);
        let timeout = Duration::from_secs_f64(2.0 * (resync_s * 1.1 + sweep_s + 30.0) + 120.0);
        eprintln!(
            "bench: steady state at N={n}: waiting for two drift sweeps (about {:.0} s)",
            2.0 * (resync_s + sweep_s)
        );
        let mut dones: Vec<(Instant, Stats, SweepReport, f64)> = Vec::new();
        let mut samples: Vec<(Instant, u64)> = Vec::new();
        let deadline = Instant::now() + timeout;
        while dones.len() < 2 {
            if Instant::now() > deadline {
                bail!(
                    "no two drift sweeps within {timeout:?}; see {}",
                    operator.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            let stats = fleet.emulator.stats().await?;
            samples.push((
                Instant::now(),
                stats.calls("ListRooms") + stats.calls("GetRoom"),
            ));
            for line in follower.new_lines() {
                if let Some(report) = procs::parse_sweep_done(&line) {
                    eprintln!("bench: sweep done: {report:?}");
                    let cpu = operator.cpu_seconds()?;
                    dones.push((Instant::now(), stats.clone(), report, cpu));
                }
            }
        }
        let (t1, s1, _, cpu1) = &dones[0];
        let (t2, s2, sweep, cpu2) = &dones[1];
        let window = t2.duration_since(*t1).as_secs_f64();
        let list = s2.calls("ListRooms") - s1.calls("ListRooms");
        let get = s2.calls("GetRoom") - s1.calls("GetRoom");
        let mut other = s2.delta(s1);
        other.remove("ListRooms");
        other.remove("GetRoom");
        // Peak read rate over any 10 s interval of the window.
        let in_window: Vec<&(Instant, u64)> =
            samples.iter().filter(|(t, _)| t >= t1 && t <= t2).collect();
        let mut peak = 0.0f64;
        for (i, (ta, ca)) in in_window.iter().enumerate() {
            if let Some((tb, cb)) = in_window[i..]
                .iter()
                .find(|(tb, _)| tb.duration_since(*ta) >= Duration::from_secs(10))
            {
                peak = peak.max((cb - ca) as f64 / tb.duration_since(*ta).as_secs_f64());
            }
        }
        let reads_per_sweep = sweep.pages + get;
        let (rss, hwm) = operator.memory_kib()?;
        let default_cycle = 600.0 + sweep_s;
        let result = SteadyState {
            rooms: n,
            prepopulated,
            seed_seconds,
            resync_period_seconds: resync_s,
            startup_seconds,
            sweep: *sweep,
            window_seconds: window,
            list_rooms_in_window: list,
            get_room_in_window: get,
            other_calls_in_window: other,
            reads_per_sweep,
            reads_per_sweep_bound: n.div_ceil(PAGE) as u64,
            reads_per_hour_measured: (list + get) as f64 / window * 3600.0,
            reads_per_hour_default_settings: 3600.0 / default_cycle * reads_per_sweep as f64
                + 3600.0 / 30.0,
            peak_read_rate_per_second: peak,
            get_room_since_restart: s2.calls("GetRoom") - before.calls("GetRoom"),
            aws_calls_since_restart: s2.delta(&before),
            rss_mib: mib(rss),
            peak_rss_mib: mib(hwm),
            cpu_seconds_total: *cpu2,
            cpu_seconds_in_window: cpu2 - cpu1,
            throttling_exceptions: s2.throttled() - before.throttled(),
        };
        Ok((result, operator))
    }

    /// Changes rooms behind the operator's back and times detection and revert.
    async fn drift_trials(&self, n: usize, fleet: &Fleet) -> Result<Vec<DriftTrial>> {
        let sdk = fleet.emulator.sdk().await;
        let api: Api<ChatRoom> = Api::namespaced(self.client.clone(), &fleet.namespace);
        let resync_s = humantime_secs(&self.args.resync_period)?;
        let sweep_s = n.div_ceil(PAGE) as f64 / (ROOM_QUOTA / 2.0);
        let mut kinds = vec!["UpdateRoom maximumMessageLength", "UpdateRoom name"];
        if !self.args.skip_tag_drift {
            kinds.push("TagResource (extra tag)");
        }
        let mut trials = Vec::new();
        for kind in kinds {
            let i = rand::rng().random_range(0..n);
            let name = room_name("room", i);
            let room = api.get(&name).await?;
            let arn = room
                .status
                .as_ref()
                .and_then(|s| s.arn.clone())
                .with_context(|| format!("{name} has no ARN"))?;
            let before = fleet.emulator.stats().await?;
            let t0 = Instant::now();
            let (corrective, timeout) = match kind {
                "UpdateRoom maximumMessageLength" => {
                    sdk.update_room()
                        .identifier(&arn)
                        .maximum_message_length(123)
                        .send()
                        .await?;
                    ("UpdateRoom", 120.0)
                }
                "UpdateRoom name" => {
                    sdk.update_room()
                        .identifier(&arn)
                        .name("renamed-out-of-band")
                        .send()
                        .await?;
                    ("UpdateRoom", 120.0)
                }
                _ => {
                    sdk.tag_resource()
                        .resource_arn(&arn)
                        .tags("out-of-band", "1")
                        .send()
                        .await?;
                    ("UntagResource", resync_s * 1.1 + sweep_s + 120.0)
                }
            };
            // The bench's own UpdateRoom is the first one after `before`.
            let own = u64::from(corrective == "UpdateRoom");
            eprintln!("bench: drift trial: {kind} on {name}");
            let mut detect = None;
            let mut revert = None;
            let deadline = t0 + Duration::from_secs_f64(timeout);
            let mut last = before.clone();
            while revert.is_none() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
                last = fleet.emulator.stats().await?;
                if detect.is_none() && last.calls("GetRoom") > before.calls("GetRoom") {
                    detect = Some(t0.elapsed().as_secs_f64());
                }
                if last.outcome(corrective, "Success") > before.outcome(corrective, "Success") + own
                {
                    revert = Some(t0.elapsed().as_secs_f64());
                }
            }
            let elapsed = t0.elapsed().as_secs_f64();
            let calls = last.delta(&before);
            let reads = calls.get("ListRooms").copied().unwrap_or(0)
                + calls.get("GetRoom").copied().unwrap_or(0);
            // Check the room in AWS (one GetRoom by the bench, after the measurement).
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = sdk.get_room().identifier(&arn).send().await?;
            let reverted = now.maximum_message_length() == Some(500)
                && now.name() == Some(name.as_str())
                && !now.tags().is_some_and(|t| t.contains_key("out-of-band"));
            trials.push(DriftTrial {
                change: kind.to_string(),
                room: name,
                detect_seconds: detect,
                revert_seconds: revert,
                reverted,
                read_rate_per_second: reads as f64 / elapsed.max(0.001),
                calls,
            });
            eprintln!("bench: drift trial: {:?}", trials.last());
            // Let the status write settle before the next change.
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        Ok(trials)
    }

    async fn latency(&self) -> Result<Latency> {
        let namespace = format!("bench-{}-latency", self.run_id);
        create_namespace(&self.client, &namespace).await?;
        let emulator = Emulator::start(
            &self.args.bin_dir,
            self.log_dir.join("latency-emulator.log"),
            &self.emulator_args(&[]),
        )
        .await?;
        let operator = self
            .start_operator(&namespace, &emulator, "latency", None)
            .await?;
        let api: Api<ChatRoom> = Api::namespaced(self.client.clone(), &namespace);
        let tracker = ReadyTracker::start(api.clone()).await?;
        let before = emulator.stats().await?;
        let mut all = Vec::new();
        let mut applied = Vec::new();
        for i in 0..self.args.latency_samples {
            // Idle between samples.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let name = room_name("single", i);
            let t0 = Instant::now();
            applied.push((name.clone(), jiff::Timestamp::now()));
            create_rooms(&api, vec![new_room(&name, room_spec(i), false)], 1).await?;
            let deadline = t0 + Duration::from_secs(60);
            let ready = loop {
                if let Some(t) = tracker.ready_at(&name) {
                    break t;
                }
                if Instant::now() > deadline {
                    bail!("{name} not Ready within 60 s");
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            };
            all.push(ready.duration_since(t0).as_secs_f64() * 1000.0);
        }
        let after = emulator.stats().await?;
        let operator_log = operator.log.clone();
        operator.stop().await;
        emulator.stop().await;
        let log = procs::read_operator_log(&operator_log);
        let mut to_create = Vec::new();
        let mut create_to_ready = Vec::new();
        for ((name, at), total) in applied.iter().zip(&all) {
            if let Some(created) = log.created.get(name) {
                let ms = created.duration_since(*at).as_secs_f64() * 1000.0;
                to_create.push(ms);
                create_to_ready.push(total - ms);
            }
        }
        to_create.sort_by(f64::total_cmp);
        create_to_ready.sort_by(f64::total_cmp);
        let mut sorted = all.clone();
        sorted.sort_by(f64::total_cmp);
        Ok(Latency {
            samples: all.len(),
            p50_ms: percentile(&sorted, 50.0),
            p99_ms: percentile(&sorted, 99.0),
            max_ms: sorted.last().copied().unwrap_or(f64::NAN),
            min_ms: sorted.first().copied().unwrap_or(f64::NAN),
            all_ms: all,
            apply_to_create_returned_p50_ms: percentile(&to_create, 50.0),
            create_returned_to_ready_p50_ms: percentile(&create_to_ready, 50.0),
            throttling_exceptions: after.throttled() - before.throttled(),
        })
    }
}

fn machine_info() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    m.insert("cpu".into(), cpu);
    m.insert(
        "cores".into(),
        std::thread::available_parallelism()
            .map(|n| n.to_string())
            .unwrap_or_default(),
    );
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string())
        })
        .unwrap_or_default();
    m.insert("memory_kib".into(), mem);
    m.insert(
        "loadavg_at_start".into(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
            .to_string(),
    );
    m.insert(
        "date".into(),
        jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    );
    m
}

async fn run(bench: &Bench, results: &mut Results) -> Result<()> {
    let args = &bench.args;
    kube_ops::install_crds(&bench.client).await?;
    // A freshly started API server serves the first writes of a new CRD slowly (about 2 s
    // here): warm it up with a throw-away object so that phase 1 measures the operator.
    kube_ops::warm_up(&bench.client, &format!("bench-{}-warmup", bench.run_id)).await?;

    // 1. Convergence.
    let mut fleets: BTreeMap<usize, Fleet> = BTreeMap::new();
    for &n in &args.sizes {
        let (result, fleet) = bench.convergence(n).await?;
        results.convergence.push(result);
        if args.steady_sizes.contains(&n) {
            fleets.insert(n, fleet);
        } else {
            fleet.emulator.stop().await;
        }
    }

    // 2. Steady state (and 3. drift at the largest size).
    let largest = args.steady_sizes.iter().copied().max();
    for &n in &args.steady_sizes {
        let (fleet, prepopulated, seed_seconds) = match fleets.remove(&n) {
            Some(f) => (f, false, None),
            None => {
                let namespace = format!("bench-{}-fleet-{n}", bench.run_id);
                let seeded = fleet::seed(
                    &bench.client,
                    &args.bin_dir,
                    &bench.log_dir,
                    &namespace,
                    CLUSTER_NAME,
                    n,
                )
                .await?;
                let state = seeded.state_file.display().to_string();
                let emulator = Emulator::start(
                    &args.bin_dir,
                    bench.log_dir.join(format!("steady-{n}-emulator.log")),
                    &bench.emulator_args(&["--state-file", &state]),
                )
                .await?;
                let rooms = emulator.stats().await?.rooms();
                anyhow::ensure!(
                    rooms as usize == n,
                    "emulator loaded {rooms} rooms, expected {n}"
                );
                eprintln!("bench: seeded {n} rooms in {:.0} s", seeded.seconds);
                (
                    Fleet {
                        namespace: seeded.namespace,
                        emulator,
                    },
                    true,
                    Some(seeded.seconds),
                )
            }
        };
        let (steady, operator) = bench
            .steady_state(n, &fleet, prepopulated, seed_seconds)
            .await?;
        eprintln!("bench: steady state: {steady:?}");
        results.steady_state.push(steady);
        if Some(n) == largest {
            match bench.drift_trials(n, &fleet).await {
                Ok(trials) => {
                    results.drift = trials;
                    results.drift_rooms = Some(n);
                }
                Err(e) => results.errors.push(format!("drift trials: {e:#}")),
            }
            // Throttles over the whole life of this emulator (steady state + drift).
            let stats = fleet.emulator.stats().await?;
            if let Some(s) = results.steady_state.last_mut() {
                s.throttling_exceptions = stats.throttled();
                let (rss, hwm) = operator.memory_kib()?;
                s.rss_mib = s.rss_mib.max(mib(rss));
                s.peak_rss_mib = mib(hwm);
            }
        }
        operator.stop().await;
        fleet.emulator.stop().await;
    }
    for (_, fleet) in fleets {
        fleet.emulator.stop().await;
    }

    // 4. Latency.
    if args.latency_samples > 0 {
        results.latency = Some(bench.latency().await?);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = Args::parse();
    if args.quick {
        args.sizes = vec![50];
        args.steady_sizes = vec![];
        args.latency_samples = 5;
    }
    std::fs::create_dir_all(&args.out_dir)?;
    let run_id: String = {
        let mut rng = rand::rng();
        (0..5)
            .map(|_| (b'a' + rng.random_range(0..26u8)) as char)
            .collect()
    };
    let log_dir = args.out_dir.join("logs");
    std::fs::create_dir_all(&log_dir)?;
    let client = Client::try_default()
        .await
        .context("connecting to Kubernetes (set KUBECONFIG)")?;
    let mut results = Results {
        machine: machine_info(),
        ..Default::default()
    };
    for (k, v) in [
        ("quotas", "on".to_string()),
        ("emulator_latency_ms", args.latency_ms.to_string()),
        ("operator_concurrency", args.concurrency.to_string()),
        ("steady_state_resync_period", args.resync_period.clone()),
        ("drift_poll_interval", "30s (default)".into()),
        ("room_rate_limit", "5/s (default)".into()),
        ("create_parallelism", CREATE_PARALLELISM.to_string()),
        ("run_id", run_id.clone()),
        ("bin_dir", args.bin_dir.display().to_string()),
    ] {
        results.settings.insert(k.into(), v);
    }
    let bench = Bench {
        args: args.clone(),
        client,
        run_id,
        log_dir,
    };
    let outcome = run(&bench, &mut results).await;
    if let Err(e) = &outcome {
        results.errors.push(format!("{e:#}"));
    }
    results.machine.insert(
        "loadavg_at_end".into(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
            .to_string(),
    );
    report::finish(&mut results);
    let json = serde_json::to_string_pretty(&results)?;
    let out = args.out_dir.join("results.json");
    std::fs::write(&out, json).with_context(|| format!("writing {}", out.display()))?;
    println!("{}", report::table(&results));
    println!("JSON: {}", out.display());
    println!("logs: {}", bench.log_dir.display());

    let mut failures = Vec::new();
    if results.throttling_exceptions_total > 0 {
        failures.push(format!(
            "the emulator counted {} ThrottlingException(s)",
            results.throttling_exceptions_total
        ));
    }
    if results.rooms_not_ready > 0 {
        failures.push(format!(
            "{} room(s) did not become Ready",
            results.rooms_not_ready
        ));
    }
    failures.extend(results.errors.iter().cloned());
    if !failures.is_empty() {
        bail!("benchmark failed: {}", failures.join("; "));
    }
    Ok(())
}
