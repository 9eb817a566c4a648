//! `deploy/iam-policy.json` grants exactly the IVS Chat actions the operator calls:
//!
//! - statically: one `ivschat:<Operation>` per method of the `IvsChat` trait (src/aws/mod.rs),
//!   the only way the operator reaches AWS, and nothing else;
//! - dynamically: a full lifecycle (logging configuration and room: create, update, tag,
//!   untag, drift revert, delete) against the emulator, whose stats list every operation the
//!   operator made; plus the stats every other integration test's emulator left behind
//!   (`target/<profile>/test-logs/emulator-stats/`, written by `Drop for Emulator`).
//!
//! Needs the test control plane (KUBECONFIG) and `cargo build -p ivschat-emulator`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ivschat_operator::api::{
    ChatLoggingConfigurationSpec, ChatRoomSpec, DestinationConfiguration,
    LoggingConfigurationReference, S3Destination,
};
use kube::api::DeleteParams;
use support::processes::emulator_stats_dir;
use support::scenario::{Scenario, TIMEOUT, arn_of, eventually};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `ivschat:*` actions of deploy/iam-policy.json, as operation names.
fn policy_operations() -> BTreeSet<String> {
    let path = repo().join("deploy/iam-policy.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let policy: serde_json::Value = serde_json::from_str(&text).expect("iam-policy.json is JSON");
    let statements = policy["Statement"].as_array().expect("Statement list");
    let mut ops = BTreeSet::new();
    for statement in statements {
        assert_eq!(statement["Effect"], "Allow", "{statement}");
        let actions: Vec<&str> = match &statement["Action"] {
            serde_json::Value::String(s) => vec![s.as_str()],
            serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
            other => panic!("unexpected Action {other}"),
        };
        for action in actions {
            let op = action
                .strip_prefix("ivschat:")
                .unwrap_or_else(|| panic!("{action}: only ivschat actions belong in the policy"));
            assert!(
                !op.contains('*') && !op.is_empty(),
                "{action}: no wildcards in the policy"
            );
            assert!(ops.insert(op.to_string()), "{action} listed twice");
        }
    }
    ops
}

/// `create_room` -> `CreateRoom`.
fn pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The methods of `pub trait IvsChat` in src/aws/mod.rs, as AWS operation names.
fn trait_operations() -> BTreeSet<String> {
    let path = repo().join("src/aws/mod.rs");
    let text = std::fs::read_to_string(&path).expect("src/aws/mod.rs");
    let start = text
        .find("pub trait IvsChat")
        .expect("`pub trait IvsChat` in src/aws/mod.rs");
    let body = &text[start..];
    let end = body.find("\n}").expect("end of the IvsChat trait");
    body[..end]
        .lines()
        .filter_map(|l| l.trim().strip_prefix("fn "))
        .map(|rest| pascal_case(rest.split(['(', '<']).next().unwrap_or(rest).trim()))
        .collect()
}

#[test]
fn policy_lists_exactly_the_ivschat_trait_operations() {
    let trait_ops = trait_operations();
    assert_eq!(trait_ops.len(), 12, "IvsChat methods: {trait_ops:?}");
    let policy = policy_operations();
    let missing: Vec<_> = trait_ops.difference(&policy).collect();
    let extra: Vec<_> = policy.difference(&trait_ops).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "deploy/iam-policy.json must list exactly the IvsChat trait's operations as \
         ivschat:<Operation>; missing {missing:?}, not called by the operator {extra:?}"
    );
}

/// Operations with at least one call (any outcome) in an emulator stats document.
fn operations_called(stats: &serde_json::Value) -> BTreeMap<String, u64> {
    stats["operations"]
        .as_object()
        .map(|ops| {
            ops.iter()
                .map(|(op, outcomes)| {
                    let n = outcomes
                        .as_object()
                        .map(|o| o.values().filter_map(|v| v.as_u64()).sum())
                        .unwrap_or(0);
                    (op.clone(), n)
                })
                .filter(|(_, n)| *n > 0)
                .collect()
        })
        .unwrap_or_default()
}

fn s3(bucket: &str) -> DestinationConfiguration {
    DestinationConfiguration {
        s3: Some(S3Destination {
            bucket_name: bucket.into(),
        }),
        ..Default::default()
    }
}

fn tags(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[tokio::test]
async fn every_operation_of_a_full_lifecycle_is_in_the_policy() {
    let mut s = Scenario::without_operator("iam-lifecycle", &[]).await;
    let args = ["--drift-poll-interval", "1s", "--resync-period", "3s"];
    // Calls the test itself makes through the SDK, subtracted from the emulator's counts.
    let mut by_test: BTreeMap<&str, u64> = BTreeMap::new();

    // Logging configuration: create, update, tag, untag.
    let lc_spec = |bucket: &str, t: &[(&str, &str)]| ChatLoggingConfigurationSpec {
        destination: s3(bucket),
        tags: tags(t),
        ..Default::default()
    };
    // The first process dies right after CreateLoggingConfiguration, so the next one finds the
    // configuration it created by listing (ListLoggingConfigurations) instead of creating another.
    s.start_operator(|o| {
        o.args(&args).env(
            "IVSCHAT_OPERATOR_FAILPOINT",
            "after-create-logging-configuration",
        )
    });
    s.apply_logging_configuration("audit", lc_spec("audit-1", &[("a", "1")]))
        .await;
    assert!(
        s.operator().wait_exit(TIMEOUT).await,
        "the failpoint did not stop the operator"
    );
    s.start_operator(|o| o.args(&args));
    s.wait_logging_configuration_ready("audit").await;
    s.apply_logging_configuration("audit", lc_spec("audit-2", &[("b", "2")]))
        .await;
    s.wait_logging_configuration_ready("audit").await;

    // Room: create (referencing the configuration), update, tag, untag.
    let room_spec = |length: i32, t: &[(&str, &str)]| ChatRoomSpec {
        maximum_message_length: Some(length),
        logging_configurations: Some(vec![LoggingConfigurationReference {
            name: Some("audit".into()),
            arn: None,
        }]),
        tags: tags(t),
        ..Default::default()
    };
    s.apply_room("lobby", room_spec(300, &[("x", "1")])).await;
    s.wait_room_ready("lobby").await;
    s.apply_room("lobby", room_spec(400, &[("y", "2")])).await;
    let arn = arn_of(&s.wait_room_ready("lobby").await);

    // Drift: a change behind the operator's back is found (ListRooms) and reverted.
    let sdk = s.emulator.sdk().await;
    sdk.update_room()
        .identifier(&arn)
        .maximum_message_length(42)
        .send()
        .await
        .expect("UpdateRoom behind the operator's back");
    *by_test.entry("UpdateRoom").or_default() += 1;
    let polls = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    eventually("the drift to be reverted", TIMEOUT, || {
        let (sdk, arn, polls) = (sdk.clone(), arn.clone(), polls.clone());
        async move {
            polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let room = sdk.get_room().identifier(&arn).send().await.ok()?;
            (room.maximum_message_length() == Some(400)).then_some(())
        }
    })
    .await;
    *by_test.entry("GetRoom").or_default() += polls.load(std::sync::atomic::Ordering::Relaxed);

    // Delete both.
    s.rooms
        .delete("lobby", &DeleteParams::default())
        .await
        .expect("delete room");
    support::wait_for_deletion(&s.rooms, "lobby", TIMEOUT).await;
    s.logging_configurations
        .delete("audit", &DeleteParams::default())
        .await
        .expect("delete logging configuration");
    support::wait_for_deletion(&s.logging_configurations, "audit", TIMEOUT).await;

    let stats = s.emulator.stats().await;
    let mut called = operations_called(&stats);
    for (op, n) in by_test {
        if let Some(count) = called.get_mut(op) {
            *count = count.saturating_sub(n);
        }
    }
    let operator_get_rooms = called.get("GetRoom").copied().unwrap_or(0);
    let operator_ops: BTreeSet<String> = called
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(op, _)| op)
        .collect();
    let policy = policy_operations();
    let not_allowed: Vec<_> = operator_ops.difference(&policy).collect();
    assert!(
        not_allowed.is_empty(),
        "the operator called {not_allowed:?}, which deploy/iam-policy.json does not allow \
         (stats: {stats})"
    );
    // Nothing less either: the lifecycle makes the operator use every allowed action.
    let unused: Vec<_> = policy.difference(&operator_ops).collect();
    assert!(
        unused.is_empty(),
        "deploy/iam-policy.json allows {unused:?}, which the lifecycle never needed \
         (operator GetRoom calls: {operator_get_rooms}); stats: {stats}"
    );
}

/// Operations the integration tests call themselves through the SDK (to look at or disturb
/// the AWS side) and the operator never does; they show up in every emulator's stats.
const TEST_ONLY_OPERATIONS: &[&str] = &["ListTagsForResource"];

#[test]
fn operations_recorded_by_other_integration_tests_are_in_the_policy() {
    let dir = emulator_stats_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "no emulator stats in {} yet (run the other integration tests first)",
            dir.display()
        );
        return;
    };
    let policy = policy_operations();
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(stats) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        for op in operations_called(&stats).into_keys() {
            seen.entry(op).or_default().push(
                path.file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default(),
            );
        }
    }
    let outside: BTreeMap<_, _> = seen
        .iter()
        .filter(|(op, _)| !policy.contains(*op) && !TEST_ONLY_OPERATIONS.contains(&op.as_str()))
        .collect();
    assert!(
        outside.is_empty(),
        "operations in emulator stats that deploy/iam-policy.json does not allow: {outside:?}"
    );
    eprintln!(
        "operations seen across {} recorded emulators' stats: {:?}",
        dir.display(),
        seen.keys().collect::<Vec<_>>()
    );
}
