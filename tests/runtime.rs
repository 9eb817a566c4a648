//! The operator runtime: leader election, client-side rate limiting, metrics, health and
//! graceful shutdown, with real operator processes.

mod support;

use std::time::{Duration, Instant};

use ivschat_operator::api::ChatRoomSpec;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use support::processes::{http_get, try_http_get};
use support::scenario::{Scenario, TIMEOUT, eventually};

fn holder(lease: &Lease) -> Option<String> {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.clone())
        .filter(|h| !h.is_empty())
}

fn election_args<'a>(ns: &'a str, lease_seconds: &'a str) -> Vec<&'a str> {
    vec![
        "--leader-election=true",
        "--leader-election-namespace",
        ns,
        "--lease-duration",
        lease_seconds,
    ]
}

#[tokio::test]
async fn standby_takes_over_within_the_lease_duration_after_the_leader_is_killed() {
    let mut s = Scenario::without_operator("leader-failover", &[]).await;
    let ns = s.ns.name().to_string();
    let leases: Api<Lease> = Api::namespaced(s.client.clone(), &ns);
    s.start_operator(|o| {
        o.args(&election_args(&ns, "6s"))
            .env("POD_NAME", "operator-a")
    });
    let first = support::wait_for(&leases, "ivschat-operator", TIMEOUT, |l: &Lease| {
        holder(l).is_some()
    })
    .await;
    assert_eq!(holder(&first).as_deref(), Some("operator-a"));
    let mut leader = s.operator.take().expect("operator a");
    s.start_operator(|o| {
        o.args(&election_args(&ns, "6s"))
            .env("POD_NAME", "operator-b")
    });

    // Only the leader reconciles: the room becomes Ready while b is standing by.
    s.apply_room("before", ChatRoomSpec::default()).await;
    s.wait_room_ready("before").await;
    assert_eq!(
        holder(&leases.get("ivschat-operator").await.expect("lease")).as_deref(),
        Some("operator-a")
    );

    leader.kill().await;
    let killed_at = Instant::now();
    s.apply_room("after", ChatRoomSpec::default()).await;
    s.wait_room_ready("after").await;
    let took = killed_at.elapsed();
    let lease = leases.get("ivschat-operator").await.expect("lease");
    assert_eq!(holder(&lease).as_deref(), Some("operator-b"));
    // Lease duration (6 s) plus time to create the room and a margin for a loaded machine.
    assert!(
        took < Duration::from_secs(20),
        "took {took:?} to converge after the leader died"
    );
    assert_eq!(s.emulator.calls("CreateRoom", "Success").await, 2);
}

#[tokio::test]
async fn sigterm_releases_the_lease_and_exits_cleanly() {
    let mut s = Scenario::without_operator("leader-handover", &[]).await;
    let ns = s.ns.name().to_string();
    let leases: Api<Lease> = Api::namespaced(s.client.clone(), &ns);
    s.start_operator(|o| {
        o.args(&election_args(&ns, "30s"))
            .env("POD_NAME", "operator-a")
    });
    support::wait_for(&leases, "ivschat-operator", TIMEOUT, |l: &Lease| {
        holder(l).as_deref() == Some("operator-a")
    })
    .await;
    s.apply_room("served", ChatRoomSpec::default()).await;
    s.wait_room_ready("served").await;
    let code = s.operator().terminate().await;
    assert_eq!(code, Some(0), "operator did not exit cleanly on SIGTERM");
    // Released, not left to expire (30 s): a standby can take over at once.
    let lease = leases.get("ivschat-operator").await.expect("lease");
    assert_eq!(
        holder(&lease),
        None,
        "lease still held after SIGTERM: {:?}",
        lease.spec
    );
}

#[tokio::test]
async fn two_hundred_rooms_at_once_are_paced_below_the_quota() {
    let s = Scenario::start("burst", &["--quotas", "on"], &["--concurrency", "32"]).await;
    let names: Vec<String> = (0..200).map(|i| format!("room-{i:03}")).collect();
    let applies = names
        .iter()
        .map(|n| s.apply_room(n, ChatRoomSpec::default()));
    futures::future::join_all(applies).await;
    let started = Instant::now();
    eventually("200 rooms Ready", Duration::from_secs(180), || async {
        let rooms = s.rooms.list(&Default::default()).await.ok()?;
        let ready = rooms
            .items
            .iter()
            .filter(|r| {
                support::scenario::room_condition(r, "Ready").is_some_and(|c| c.status == "True")
            })
            .count();
        (ready == 200).then_some(())
    })
    .await;
    let stats = s.emulator.stats().await;
    assert_eq!(
        stats["throttled"].as_u64(),
        Some(0),
        "the emulator throttled: {stats}"
    );
    assert_eq!(
        stats["operations"]["CreateRoom"]["Success"].as_u64(),
        Some(200)
    );
    println!(
        "200 rooms Ready in {:?} (quota floor 40 s)",
        started.elapsed()
    );
}

#[tokio::test]
async fn metrics_use_controller_runtime_names_and_health_endpoints_answer() {
    let s = Scenario::start("metrics", &[], &[]).await;
    let operator = s.operator.as_ref().expect("operator");
    let base = format!("http://{}", operator.metrics_addr);
    let (status, body) = eventually("/readyz ok", TIMEOUT, || {
        let url = format!("{base}/readyz");
        async move {
            try_http_get(&url)
                .await
                .filter(|(status, _)| *status == 200)
        }
    })
    .await;
    assert_eq!((status, body.trim()), (200, "ok"));
    assert_eq!(
        http_get(&format!("{base}/healthz")).await,
        (200, "ok".into())
    );

    s.apply_room("measured", ChatRoomSpec::default()).await;
    s.wait_room_ready("measured").await;
    let text = eventually("resource gauges", TIMEOUT, || async {
        let text = operator.metrics().await;
        text.contains("ivschat_operator_resources{kind=\"ChatRoom\",ready=\"true\"} 1")
            .then_some(text)
    })
    .await;
    let samples: Vec<(String, f64)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad sample line {l}"));
            (
                name.to_string(),
                value
                    .parse::<f64>()
                    .unwrap_or_else(|_| panic!("bad value in {l}")),
            )
        })
        .collect();
    let value = |prefix: &str| {
        samples
            .iter()
            .find(|(n, _)| n.starts_with(prefix))
            .map(|(_, v)| *v)
    };
    assert!(
        value("controller_runtime_reconcile_total{controller=\"chatroom\",result=\"success\"}")
            .unwrap_or(0.0)
            >= 1.0
    );
    for family in [
        "controller_runtime_reconcile_time_seconds_bucket{",
        "controller_runtime_active_workers{controller=\"chatroom\"}",
        "ivschat_operator_aws_api_requests_total{operation=\"CreateRoom\",outcome=\"success\"}",
        "ivschat_operator_rate_limiter_wait_seconds_count{operation=\"CreateRoom\"}",
        "leader_election_master_status{name=\"ivschat-operator\"}",
    ] {
        assert!(value(family).is_some(), "missing {family} in\n{text}");
    }
    assert!(
        text.contains("# TYPE controller_runtime_reconcile_errors counter"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE ivschat_operator_aws_throttles counter"),
        "{text}"
    );
    // No per-object labels.
    assert!(
        !text.contains("measured"),
        "object names leaked into metrics"
    );
}
