//! ChatRoom controller behaviour on the real control plane + the emulator over HTTP.
//! Each test has its own namespace, emulator and operator process.

mod support;

use std::collections::BTreeMap;

use ivschat_operator::api::{
    ADOPT_ARN_ANNOTATION, ChatRoom, ChatRoomSpec, DeletionPolicy, FallbackResult,
    LoggingConfigurationReference, MessageReviewHandler,
};
use kube::ResourceExt;
use kube::api::DeleteParams;
use support::scenario::{Scenario, TIMEOUT, arn_of, condition_is, eventually, room_condition};

const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:review";

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Creates a logging configuration directly in the emulator (by ARN references).
async fn emulator_logging_configuration(s: &Scenario, bucket: &str) -> String {
    let sdk = s.emulator.sdk().await;
    let out = sdk
        .create_logging_configuration()
        .destination_configuration(aws_sdk_ivschat::types::DestinationConfiguration::S3(
            aws_sdk_ivschat::types::S3DestinationConfiguration::builder()
                .bucket_name(bucket)
                .build()
                .expect("s3"),
        ))
        .send()
        .await
        .expect("CreateLoggingConfiguration");
    out.arn().expect("arn").to_string()
}

fn by_arn(arns: &[&str]) -> Option<Vec<LoggingConfigurationReference>> {
    Some(
        arns.iter()
            .map(|a| LoggingConfigurationReference {
                arn: Some(a.to_string()),
                name: None,
            })
            .collect(),
    )
}

#[tokio::test]
async fn create_reaches_ready_with_arn_id_and_aws_defaults() {
    let s = Scenario::start("room-create", &[], &[]).await;
    s.apply_room(
        "lobby",
        ChatRoomSpec {
            tags: Some(tags(&[("team", "chat")])),
            ..Default::default()
        },
    )
    .await;
    let room = s.wait_room_ready("lobby").await;
    let status = room.status.clone().expect("status");
    let arn = arn_of(&room);
    let id = status.id.clone().expect("id");
    assert_eq!(id.len(), 12, "{id}");
    assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(
        arn,
        format!("arn:aws:ivschat:us-east-1:123456789012:room/{id}")
    );
    assert_eq!(status.region.as_deref(), Some("us-east-1"));
    assert!(status.create_time.is_some() && status.update_time.is_some());
    assert_eq!(status.observed_generation, room.metadata.generation);
    assert!(
        room.finalizers()
            .contains(&"ivschat.operators.dev/cleanup".to_string())
    );
    let synced = room_condition(&room, "Synced").expect("Synced");
    assert_eq!(
        (synced.status.as_str(), synced.reason.as_str()),
        ("True", "ReconcileSuccess")
    );

    let aws = s
        .emulator
        .sdk()
        .await
        .get_room()
        .identifier(&arn)
        .send()
        .await
        .expect("GetRoom");
    assert_eq!(aws.name(), Some("lobby"));
    assert_eq!(aws.maximum_message_length(), Some(500));
    assert_eq!(aws.maximum_message_rate_per_second(), Some(10));
    assert!(
        aws.message_review_handler()
            .is_none_or(|h| h.uri().unwrap_or_default().is_empty())
    );
    let aws_tags = aws.tags().cloned().unwrap_or_default();
    assert_eq!(aws_tags.get("team").map(String::as_str), Some("chat"));
    assert_eq!(
        aws_tags
            .get("ivschat.operators.dev/cluster")
            .map(String::as_str),
        Some("test")
    );
    assert_eq!(
        aws_tags
            .get("ivschat.operators.dev/uid")
            .map(String::as_str),
        room.uid().as_deref()
    );
    let note = s.wait_event("lobby", "CreatedExternalResource").await;
    assert!(note.contains(&arn), "{note}");

    // Exactly one CreateRoom and no other room call for a create (the test's own GetRoom aside).
    assert_eq!(s.emulator.all_calls("CreateRoom").await, 1);
    assert_eq!(s.emulator.all_calls("UpdateRoom").await, 0);
    assert_eq!(s.emulator.all_calls("GetRoom").await, 1);
}

#[tokio::test]
async fn every_field_updates_in_place_and_the_arn_never_changes() {
    let s = Scenario::start("room-update", &[], &[]).await;
    let a = emulator_logging_configuration(&s, "bucket-a").await;
    let b = emulator_logging_configuration(&s, "bucket-b").await;
    let c = emulator_logging_configuration(&s, "bucket-c").await;
    let sdk = s.emulator.sdk().await;

    let mut spec = ChatRoomSpec {
        logging_configurations: by_arn(&[&a]),
        ..Default::default()
    };
    s.apply_room("stage", spec.clone()).await;
    let arn = arn_of(&s.wait_room_ready("stage").await);

    spec.name = Some("main_stage".into());
    spec.maximum_message_length = Some(123);
    spec.maximum_message_rate_per_second = Some(55);
    spec.message_review_handler = Some(MessageReviewHandler {
        uri: LAMBDA.into(),
        fallback_result: Some(FallbackResult::Deny),
    });
    spec.logging_configurations = by_arn(&[&a, &b]);
    s.apply_room("stage", spec.clone()).await;
    let room = s.wait_room_ready("stage").await;
    assert_eq!(arn_of(&room), arn);
    let aws = sdk
        .get_room()
        .identifier(&arn)
        .send()
        .await
        .expect("GetRoom");
    assert_eq!(aws.name(), Some("main_stage"));
    assert_eq!(aws.maximum_message_length(), Some(123));
    assert_eq!(aws.maximum_message_rate_per_second(), Some(55));
    let handler = aws.message_review_handler().expect("handler");
    assert_eq!(handler.uri(), Some(LAMBDA));
    assert_eq!(handler.fallback_result().map(|f| f.as_str()), Some("DENY"));
    assert_eq!(
        aws.logging_configuration_identifiers(),
        [a.clone(), b.clone()]
    );
    assert_eq!(
        room.status
            .as_ref()
            .and_then(|s| s.logging_configuration_arns.clone()),
        Some(vec![a.clone(), b.clone()])
    );

    // Removing the handler clears it in AWS; [a,b] -> [c].
    spec.message_review_handler = None;
    spec.logging_configurations = by_arn(&[&c]);
    s.apply_room("stage", spec.clone()).await;
    s.wait_room_ready("stage").await;
    let aws = sdk
        .get_room()
        .identifier(&arn)
        .send()
        .await
        .expect("GetRoom");
    assert!(
        aws.message_review_handler()
            .is_none_or(|h| h.uri().unwrap_or_default().is_empty()),
        "{aws:?}"
    );
    assert_eq!(
        aws.logging_configuration_identifiers(),
        std::slice::from_ref(&c)
    );

    // [c] -> [].
    spec.logging_configurations = None;
    s.apply_room("stage", spec.clone()).await;
    let room = s.wait_room_ready("stage").await;
    let aws = sdk
        .get_room()
        .identifier(&arn)
        .send()
        .await
        .expect("GetRoom");
    assert!(aws.logging_configuration_identifiers().is_empty());
    assert_eq!(
        room.status
            .as_ref()
            .and_then(|s| s.logging_configuration_arns.clone()),
        None
    );
    assert_eq!(arn_of(&room), arn);
    assert_eq!(
        s.emulator.all_calls("CreateRoom").await,
        1,
        "updates must never recreate the room"
    );
    assert!(s.emulator.calls("UpdateRoom", "Success").await >= 3);
    s.wait_event("stage", "UpdatedExternalResource").await;
}

#[tokio::test]
async fn tag_changes_use_tag_operations_without_update_room() {
    let s = Scenario::start(
        "room-tags",
        &[],
        &["--default-tags", "costcenter=42,team=default"],
    )
    .await;
    s.apply_room(
        "tagged",
        ChatRoomSpec {
            tags: Some(tags(&[("keep", "1"), ("drop", "x")])),
            ..Default::default()
        },
    )
    .await;
    let arn = arn_of(&s.wait_room_ready("tagged").await);
    s.apply_room(
        "tagged",
        ChatRoomSpec {
            tags: Some(tags(&[("keep", "2"), ("new", "y"), ("team", "chat")])),
            ..Default::default()
        },
    )
    .await;
    s.wait_room_ready("tagged").await;
    let listed = s
        .emulator
        .sdk()
        .await
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .expect("ListTags");
    let mut user: Vec<(String, String)> = listed
        .tags()
        .iter()
        .filter(|(k, _)| !k.starts_with("ivschat.operators.dev/"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    user.sort();
    // Default tags merged under the resource's own tags: the resource's `team` wins.
    assert_eq!(
        user,
        vec![
            ("costcenter".to_string(), "42".to_string()),
            ("keep".into(), "2".into()),
            ("new".into(), "y".into()),
            ("team".into(), "chat".into())
        ]
    );
    assert_eq!(s.emulator.all_calls("UpdateRoom").await, 0);
    assert_eq!(s.emulator.calls("TagResource", "Success").await, 1);
    assert_eq!(s.emulator.calls("UntagResource", "Success").await, 1);
}

#[tokio::test]
async fn room_deleted_behind_the_operators_back_is_recreated() {
    let s = Scenario::start("room-recreate", &[], &["--resync-period", "2s"]).await;
    s.apply_room("fragile", ChatRoomSpec::default()).await;
    let old = arn_of(&s.wait_room_ready("fragile").await);
    s.emulator
        .sdk()
        .await
        .delete_room()
        .identifier(&old)
        .send()
        .await
        .expect("DeleteRoom");
    let room = s
        .wait_room("fragile", move |r: &ChatRoom| {
            r.status
                .as_ref()
                .and_then(|s| s.arn.as_deref())
                .is_some_and(|a| a != old)
                && condition_is(
                    r.status.as_ref().and_then(|s| s.conditions.as_ref()),
                    r.metadata.generation,
                    "Ready",
                    "True",
                )
        })
        .await;
    let new = arn_of(&room);
    s.emulator
        .sdk()
        .await
        .get_room()
        .identifier(&new)
        .send()
        .await
        .expect("the new room exists");
    let note = s.wait_event("fragile", "Recreated").await;
    assert!(note.contains(&new), "{note}");
}

#[tokio::test]
async fn room_changed_behind_the_operators_back_is_reverted() {
    let s = Scenario::start("room-drift", &[], &["--drift-poll-interval", "1s"]).await;
    s.apply_room(
        "steady",
        ChatRoomSpec {
            maximum_message_length: Some(300),
            ..Default::default()
        },
    )
    .await;
    let arn = arn_of(&s.wait_room_ready("steady").await);
    let sdk = s.emulator.sdk().await;
    sdk.update_room()
        .identifier(&arn)
        .maximum_message_length(42)
        .send()
        .await
        .expect("UpdateRoom");
    eventually(
        "the operator to revert maximumMessageLength to 300",
        TIMEOUT,
        || {
            let sdk = sdk.clone();
            let arn = arn.clone();
            async move {
                let room = sdk.get_room().identifier(&arn).send().await.ok()?;
                (room.maximum_message_length() == Some(300)).then_some(())
            }
        },
    )
    .await;
    // Reverted in place, not recreated.
    assert_eq!(arn_of(&s.wait_room_ready("steady").await), arn);
    assert_eq!(s.emulator.all_calls("CreateRoom").await, 1);
}

#[tokio::test]
async fn delete_removes_the_room_and_retain_keeps_it() {
    let s = Scenario::start("room-delete", &[], &[]).await;
    s.apply_room("doomed", ChatRoomSpec::default()).await;
    s.apply_room(
        "kept",
        ChatRoomSpec {
            deletion_policy: Some(DeletionPolicy::Retain),
            ..Default::default()
        },
    )
    .await;
    let doomed = arn_of(&s.wait_room_ready("doomed").await);
    let kept = arn_of(&s.wait_room_ready("kept").await);
    for name in ["doomed", "kept"] {
        s.rooms
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete");
    }
    for name in ["doomed", "kept"] {
        support::wait_for_deletion(&s.rooms, name, TIMEOUT).await;
    }
    let sdk = s.emulator.sdk().await;
    let gone = sdk
        .get_room()
        .identifier(&doomed)
        .send()
        .await
        .expect_err("deleted room");
    assert_eq!(
        gone.as_service_error()
            .map(|e| e.is_resource_not_found_exception()),
        Some(true)
    );
    sdk.get_room()
        .identifier(&kept)
        .send()
        .await
        .expect("retained room still exists");
    // Retained rooms lose their ownership tags, so a new object can adopt them.
    let tags = sdk
        .list_tags_for_resource()
        .resource_arn(&kept)
        .send()
        .await
        .expect("ListTags");
    assert!(
        !tags
            .tags()
            .keys()
            .any(|k| k.starts_with("ivschat.operators.dev/")),
        "{:?}",
        tags.tags()
    );
    s.apply_room_annotated(
        "heir",
        ChatRoomSpec::default(),
        &[(ADOPT_ARN_ANNOTATION, &kept)],
    )
    .await;
    assert_eq!(arn_of(&s.wait_room_ready("heir").await), kept);
    s.wait_event("kept", "RetainedExternalResource").await;
    assert_eq!(s.emulator.calls("DeleteRoom", "Success").await, 1);
}

#[tokio::test]
async fn delete_when_the_room_is_already_gone_succeeds() {
    let s = Scenario::start("room-delete-gone", &[], &[]).await;
    s.apply_room("ghost", ChatRoomSpec::default()).await;
    let arn = arn_of(&s.wait_room_ready("ghost").await);
    s.emulator
        .sdk()
        .await
        .delete_room()
        .identifier(&arn)
        .send()
        .await
        .expect("DeleteRoom");
    s.rooms
        .delete("ghost", &DeleteParams::default())
        .await
        .expect("delete");
    support::wait_for_deletion(&s.rooms, "ghost", TIMEOUT).await;
    assert_eq!(
        s.emulator
            .calls("DeleteRoom", "ResourceNotFoundException")
            .await,
        1
    );
}

#[tokio::test]
async fn deleting_the_namespace_deletes_its_rooms() {
    let s = Scenario::start("room-ns-delete", &[], &[]).await;
    s.apply_room("one", ChatRoomSpec::default()).await;
    s.apply_room("two", ChatRoomSpec::default()).await;
    s.wait_room_ready("one").await;
    s.wait_room_ready("two").await;
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(s.client.clone());
    namespaces
        .delete(s.ns.name(), &DeleteParams::default())
        .await
        .expect("delete namespace");
    eventually("the emulator to have no rooms", TIMEOUT, || async {
        (s.emulator.stats().await["rooms"].as_u64() == Some(0)).then_some(())
    })
    .await;
    support::wait_for_state(&namespaces, s.ns.name(), TIMEOUT, |n| n.is_none()).await;
}

#[tokio::test]
async fn adoption_takes_over_an_existing_room_and_refuses_bad_targets() {
    let s = Scenario::start("room-adopt", &[], &[]).await;
    let sdk = s.emulator.sdk().await;
    let existing = sdk
        .create_room()
        .name("legacy")
        .maximum_message_length(100)
        .send()
        .await
        .expect("CreateRoom");
    let arn = existing.arn().expect("arn").to_string();

    s.apply_room_annotated(
        "legacy",
        ChatRoomSpec {
            maximum_message_length: Some(300),
            ..Default::default()
        },
        &[(ADOPT_ARN_ANNOTATION, &arn)],
    )
    .await;
    let room = s.wait_room_ready("legacy").await;
    assert_eq!(arn_of(&room), arn);
    let aws = sdk
        .get_room()
        .identifier(&arn)
        .send()
        .await
        .expect("GetRoom");
    assert_eq!(aws.maximum_message_length(), Some(300));
    assert_eq!(
        aws.tags()
            .and_then(|t| t.get("ivschat.operators.dev/uid"))
            .map(String::as_str),
        room.uid().as_deref()
    );
    s.wait_event("legacy", "Adopted").await;
    assert_eq!(
        s.emulator.calls("CreateRoom", "Success").await,
        1,
        "only the test's own CreateRoom"
    );

    // A second ChatRoom may not take over a room another one manages.
    s.apply_room_annotated(
        "thief",
        ChatRoomSpec::default(),
        &[(ADOPT_ARN_ANNOTATION, &arn)],
    )
    .await;
    let thief = s
        .wait_room("thief", |r: &ChatRoom| {
            room_condition(r, "Stalled").is_some_and(|c| c.status == "True")
        })
        .await;
    let stalled = room_condition(&thief, "Stalled").expect("Stalled");
    assert_eq!(stalled.reason, "ManagedByAnotherResource");
    assert!(
        stalled.message.contains(&format!("{}/legacy", s.ns.name())),
        "{}",
        stalled.message
    );

    // An ARN that does not exist.
    let missing = "arn:aws:ivschat:us-east-1:123456789012:room/AAAAAAAAAAAA";
    s.apply_room_annotated(
        "nowhere",
        ChatRoomSpec::default(),
        &[(ADOPT_ARN_ANNOTATION, missing)],
    )
    .await;
    let nowhere = s
        .wait_room("nowhere", |r: &ChatRoom| {
            room_condition(r, "Stalled").is_some_and(|c| c.status == "True")
        })
        .await;
    let stalled = room_condition(&nowhere, "Stalled").expect("Stalled");
    assert_eq!(stalled.reason, "AdoptionTargetNotFound");
    assert!(stalled.message.contains(missing));
    assert_eq!(
        room_condition(&nowhere, "Ready").map(|c| c.status),
        Some("False".into())
    );
    assert_eq!(
        s.emulator.calls("CreateRoom", "Success").await,
        1,
        "a failed adoption never creates"
    );
}

#[tokio::test]
async fn unchanged_room_at_resync_costs_no_aws_writes_and_no_status_patch() {
    let s = Scenario::start(
        "room-idle",
        &[],
        &["--resync-period", "2s", "--drift-poll-interval", "1s"],
    )
    .await;
    s.apply_room(
        "idle",
        ChatRoomSpec {
            tags: Some(tags(&[("a", "b")])),
            ..Default::default()
        },
    )
    .await;
    let room = s.wait_room_ready("idle").await;
    let version = room.resource_version();
    let writes = [
        "CreateRoom",
        "UpdateRoom",
        "DeleteRoom",
        "TagResource",
        "UntagResource",
    ];
    let mut before = Vec::new();
    for op in writes {
        before.push(s.emulator.all_calls(op).await);
    }
    let gets_before = s.emulator.all_calls("GetRoom").await;
    let reconciles = |m: &str| -> u64 {
        m.lines()
            .find(|l| l.starts_with("controller_runtime_reconcile_total{controller=\"chatroom\",result=\"success\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64)
            .unwrap_or(0)
    };
    let reconciles_before = reconciles(&s.operator.as_ref().expect("operator").metrics().await);
    let lists_before = s.emulator.all_calls("ListRooms").await;
    // Wait for at least three drift checks and three resync reconciles to have happened.
    eventually("three drift sweeps", TIMEOUT, || async {
        (s.emulator.all_calls("ListRooms").await >= lists_before + 3).then_some(())
    })
    .await;
    eventually("three resync reconciles", TIMEOUT, || async {
        let now = reconciles(&s.operator.as_ref().expect("operator").metrics().await);
        (now >= reconciles_before + 3).then_some(())
    })
    .await;
    let mut after = Vec::new();
    for op in writes {
        after.push(s.emulator.all_calls(op).await);
    }
    assert_eq!(before, after, "AWS writes at resync: {writes:?}");
    assert_eq!(
        s.emulator.all_calls("GetRoom").await,
        gets_before,
        "no GetRoom for a room in sync"
    );
    let room = s.rooms.get("idle").await.expect("get");
    assert_eq!(
        room.resource_version(),
        version,
        "status was patched although nothing changed"
    );
}

#[tokio::test]
async fn crash_between_create_room_and_status_write_leaves_exactly_one_room() {
    let mut s = Scenario::without_operator("room-crash", &[]).await;
    s.start_operator(|o| o.env("IVSCHAT_OPERATOR_FAILPOINT", "after-create-room"));
    s.apply_room("phoenix", ChatRoomSpec::default()).await;
    assert!(
        s.operator().wait_exit(TIMEOUT).await,
        "the failpoint did not kill the operator"
    );
    assert_eq!(s.emulator.calls("CreateRoom", "Success").await, 1);
    let room = s.rooms.get("phoenix").await.expect("get");
    assert!(
        room.status.as_ref().and_then(|s| s.arn.clone()).is_none(),
        "the ARN must not have been written"
    );

    s.start_operator(|o| o);
    let room = s.wait_room_ready("phoenix").await;
    assert_eq!(
        s.emulator.calls("CreateRoom", "Success").await,
        1,
        "a second room was created"
    );
    assert_eq!(s.emulator.stats().await["rooms"].as_u64(), Some(1));
    let listed = s
        .emulator
        .sdk()
        .await
        .list_rooms()
        .send()
        .await
        .expect("ListRooms");
    assert_eq!(
        listed.rooms().first().and_then(|r| r.arn()),
        Some(arn_of(&room).as_str())
    );
}

#[tokio::test]
async fn terminal_aws_errors_stall_with_the_aws_message() {
    let s = Scenario::start(
        "room-quota",
        &["--quotas", "on", "--rate-scale", "100", "--max-rooms", "0"],
        &[],
    )
    .await;
    s.apply_room("overflow", ChatRoomSpec::default()).await;
    let room = s
        .wait_room("overflow", |r: &ChatRoom| {
            room_condition(r, "Stalled").is_some_and(|c| c.status == "True")
        })
        .await;
    let stalled = room_condition(&room, "Stalled").expect("Stalled");
    assert_eq!(stalled.reason, "ServiceQuotaExceeded");
    assert!(!stalled.message.is_empty());
    assert_eq!(
        room_condition(&room, "Ready").map(|c| c.status),
        Some("False".into())
    );
    assert_eq!(
        room_condition(&room, "Synced").map(|c| c.status),
        Some("False".into())
    );
    s.wait_event("overflow", "CannotCreateExternalResource")
        .await;
    // No hot loop: one attempt, then it waits for a change.
    let calls = s.emulator.all_calls("CreateRoom").await;
    assert!(calls <= 2, "{calls} CreateRoom calls for a terminal error");
}

#[tokio::test]
async fn retryable_aws_errors_set_synced_false_and_back_off() {
    let s = Scenario::start("room-5xx", &["--fault", "CreateRoom=internal:1.0"], &[]).await;
    s.apply_room("flaky", ChatRoomSpec::default()).await;
    let room = s
        .wait_room("flaky", |r: &ChatRoom| {
            room_condition(r, "Synced").is_some_and(|c| c.status == "False")
        })
        .await;
    let synced = room_condition(&room, "Synced").expect("Synced");
    assert_eq!(synced.reason, "InternalServer");
    assert!(
        room_condition(&room, "Stalled").is_none(),
        "a retryable error must not stall"
    );
    s.wait_event("flaky", "CannotCreateExternalResource").await;
}

#[tokio::test]
async fn missing_logging_configuration_arn_is_reference_not_ready() {
    let s = Scenario::start("room-missing-ref", &[], &[]).await;
    let missing = "arn:aws:ivschat:us-east-1:123456789012:logging-configuration/ZZZZZZZZZZZZ";
    s.apply_room(
        "orphan",
        ChatRoomSpec {
            logging_configurations: by_arn(&[missing]),
            ..Default::default()
        },
    )
    .await;
    let room = s
        .wait_room("orphan", |r: &ChatRoom| {
            room_condition(r, "Ready").is_some_and(|c| c.reason == "ReferenceNotReady")
        })
        .await;
    assert_eq!(
        room_condition(&room, "Ready").map(|c| c.status),
        Some("False".into())
    );
    assert_eq!(s.emulator.stats().await["rooms"].as_u64(), Some(0));
}
