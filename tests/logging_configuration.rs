//! ChatLoggingConfiguration controller and references from ChatRooms, on the real control
//! plane + the emulator over HTTP.

mod support;

use ivschat_operator::api::{
    ChatLoggingConfiguration, ChatLoggingConfigurationSpec, ChatRoom, ChatRoomSpec,
    CloudWatchLogsDestination, DestinationConfiguration, FirehoseDestination,
    LoggingConfigurationReference, S3Destination,
};
use kube::api::DeleteParams;
use serde_json::json;
use support::scenario::{Scenario, TIMEOUT, condition_is, eventually, room_condition};

fn s3(bucket: &str) -> ChatLoggingConfigurationSpec {
    ChatLoggingConfigurationSpec {
        destination: DestinationConfiguration {
            s3: Some(S3Destination {
                bucket_name: bucket.into(),
            }),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn lc_condition(
    lc: &ChatLoggingConfiguration,
    type_: &str,
) -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    lc.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .cloned()
}

fn lc_arn(lc: &ChatLoggingConfiguration) -> String {
    lc.status
        .as_ref()
        .and_then(|s| s.arn.clone())
        .expect("status.arn")
}

fn by_name(names: &[&str]) -> Option<Vec<LoggingConfigurationReference>> {
    Some(
        names
            .iter()
            .map(|n| LoggingConfigurationReference {
                name: Some(n.to_string()),
                arn: None,
            })
            .collect(),
    )
}

#[tokio::test]
async fn ready_only_when_active_and_destinations_switch_in_place() {
    // Every AWS state transition takes 1.5 s, like the real service's asynchronous states.
    let s = Scenario::start("lc-states", &["--logging-configuration-delay", "1500"], &[]).await;
    s.apply_logging_configuration("audit", s3("chat-audit"))
        .await;
    let creating = support::wait_for(
        &s.logging_configurations,
        "audit",
        TIMEOUT,
        |l: &ChatLoggingConfiguration| {
            l.status.as_ref().and_then(|s| s.state.as_deref()) == Some("CREATING")
        },
    )
    .await;
    let ready = lc_condition(&creating, "Ready").expect("Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Creating")
    );

    let lc = s.wait_logging_configuration_ready("audit").await;
    assert_eq!(
        lc.status.as_ref().and_then(|s| s.state.as_deref()),
        Some("ACTIVE")
    );
    let arn = lc_arn(&lc);
    let id = lc.status.as_ref().and_then(|s| s.id.clone()).expect("id");
    assert_eq!(
        arn,
        format!("arn:aws:ivschat:us-east-1:123456789012:logging-configuration/{id}")
    );

    let sdk = s.emulator.sdk().await;
    for (spec, check) in [
        (
            ChatLoggingConfigurationSpec {
                destination: DestinationConfiguration {
                    cloud_watch_logs: Some(CloudWatchLogsDestination {
                        log_group_name: "/ivs/chat".into(),
                    }),
                    ..Default::default()
                },
                ..Default::default()
            },
            "cloudWatchLogs",
        ),
        (
            ChatLoggingConfigurationSpec {
                name: Some("firehose_logs".into()),
                destination: DestinationConfiguration {
                    firehose: Some(FirehoseDestination {
                        delivery_stream_name: "chat-stream".into(),
                    }),
                    ..Default::default()
                },
                ..Default::default()
            },
            "firehose",
        ),
    ] {
        s.apply_logging_configuration("audit", spec).await;
        let updating = support::wait_for(
            &s.logging_configurations,
            "audit",
            TIMEOUT,
            |l: &ChatLoggingConfiguration| {
                l.status.as_ref().and_then(|s| s.state.as_deref()) == Some("UPDATING")
            },
        )
        .await;
        assert_eq!(
            lc_condition(&updating, "Ready").map(|c| c.reason),
            Some("Updating".into())
        );
        let lc = s.wait_logging_configuration_ready("audit").await;
        assert_eq!(lc_arn(&lc), arn, "destination changes must update in place");
        let aws = sdk
            .get_logging_configuration()
            .identifier(&arn)
            .send()
            .await
            .expect("Get");
        let destination = aws.destination_configuration().expect("destination");
        match check {
            "cloudWatchLogs" => assert_eq!(
                destination
                    .as_cloud_watch_logs()
                    .map(|d| d.log_group_name()),
                Ok("/ivs/chat")
            ),
            _ => {
                assert_eq!(
                    destination.as_firehose().map(|d| d.delivery_stream_name()),
                    Ok("chat-stream")
                );
                assert_eq!(aws.name(), Some("firehose_logs"));
            }
        }
    }
    assert_eq!(
        s.emulator
            .calls("CreateLoggingConfiguration", "Success")
            .await,
        1
    );
    assert_eq!(s.emulator.stats().await["throttled"].as_u64(), Some(0));

    // Delete waits for DELETING -> gone.
    s.logging_configurations
        .delete("audit", &DeleteParams::default())
        .await
        .expect("delete");
    support::wait_for_deletion(&s.logging_configurations, "audit", TIMEOUT).await;
    let err = sdk
        .get_logging_configuration()
        .identifier(&arn)
        .send()
        .await
        .expect_err("gone");
    assert_eq!(
        err.as_service_error()
            .map(|e| e.is_resource_not_found_exception()),
        Some(true)
    );
}

#[tokio::test]
async fn room_and_logging_configuration_applied_together_in_any_order() {
    let s = Scenario::start(
        "lc-together",
        &["--logging-configuration-delay", "500"],
        &[],
    )
    .await;
    // The room arrives first, referencing a configuration that does not exist yet.
    s.apply_room(
        "lobby",
        ChatRoomSpec {
            logging_configurations: by_name(&["chat-logs"]),
            ..Default::default()
        },
    )
    .await;
    s.apply_logging_configuration("chat-logs", s3("chat-logs-bucket"))
        .await;
    let room = s.wait_room_ready("lobby").await;
    let lc = s.wait_logging_configuration_ready("chat-logs").await;
    let arn = lc_arn(&lc);
    assert_eq!(
        room.status
            .as_ref()
            .and_then(|s| s.logging_configuration_arns.clone()),
        Some(vec![arn.clone()])
    );
    let aws = s
        .emulator
        .sdk()
        .await
        .get_room()
        .identifier(
            room.status
                .as_ref()
                .and_then(|s| s.arn.clone())
                .expect("arn"),
        )
        .send()
        .await
        .expect("GetRoom");
    assert_eq!(aws.logging_configuration_identifiers(), [arn]);
    // The room was created once, with the configuration attached: it waited instead of failing.
    assert_eq!(s.emulator.all_calls("CreateRoom").await, 1);
    assert_eq!(s.emulator.all_calls("UpdateRoom").await, 0);
}

#[tokio::test]
async fn missing_reference_is_reference_not_ready_until_it_appears() {
    let s = Scenario::start("lc-ref-wait", &[], &[]).await;
    s.apply_room(
        "waiting",
        ChatRoomSpec {
            logging_configurations: by_name(&["later"]),
            ..Default::default()
        },
    )
    .await;
    let room = s
        .wait_room("waiting", |r: &ChatRoom| {
            room_condition(r, "Ready").is_some_and(|c| c.reason == "ReferenceNotReady")
        })
        .await;
    let ready = room_condition(&room, "Ready").expect("Ready");
    assert_eq!(ready.status, "False");
    assert!(ready.message.contains("later"), "{}", ready.message);
    assert_eq!(
        s.emulator.stats().await["rooms"].as_u64(),
        Some(0),
        "no room before its references resolve"
    );
    s.apply_logging_configuration("later", s3("later-bucket"))
        .await;
    s.wait_room_ready("waiting").await;
}

#[tokio::test]
async fn deleting_a_referenced_configuration_waits_for_its_rooms() {
    let s = Scenario::start("lc-in-use", &[], &[]).await;
    s.apply_logging_configuration("shared", s3("shared-bucket"))
        .await;
    s.apply_room(
        "a",
        ChatRoomSpec {
            logging_configurations: by_name(&["shared"]),
            ..Default::default()
        },
    )
    .await;
    s.apply_room(
        "b",
        ChatRoomSpec {
            logging_configurations: by_name(&["shared"]),
            ..Default::default()
        },
    )
    .await;
    s.wait_room_ready("a").await;
    s.wait_room_ready("b").await;
    let arn = lc_arn(&s.wait_logging_configuration_ready("shared").await);

    s.logging_configurations
        .delete("shared", &DeleteParams::default())
        .await
        .expect("delete");
    let held = support::wait_for(
        &s.logging_configurations,
        "shared",
        TIMEOUT,
        |l: &ChatLoggingConfiguration| {
            lc_condition(l, "Ready").is_some_and(|c| c.reason == "InUse")
        },
    )
    .await;
    let message = lc_condition(&held, "Ready").expect("Ready").message;
    assert!(message.contains("a, b"), "{message}");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(s.emulator.all_calls("DeleteLoggingConfiguration").await, 0);

    // Room a lets go; b is deleted: then the configuration goes.
    s.apply_room(
        "a",
        ChatRoomSpec {
            maximum_message_length: Some(400),
            ..Default::default()
        },
    )
    .await;
    s.rooms
        .delete("b", &DeleteParams::default())
        .await
        .expect("delete b");
    support::wait_for_deletion(&s.logging_configurations, "shared", TIMEOUT).await;
    let err = s
        .emulator
        .sdk()
        .await
        .get_logging_configuration()
        .identifier(&arn)
        .send()
        .await
        .expect_err("gone");
    assert_eq!(
        err.as_service_error()
            .map(|e| e.is_resource_not_found_exception()),
        Some(true)
    );
    let room = s.wait_room_ready("a").await;
    assert_eq!(
        room.status
            .as_ref()
            .and_then(|s| s.logging_configuration_arns.clone()),
        None
    );
}

#[tokio::test]
async fn eleventh_configuration_stalls_on_the_quota_until_one_is_deleted() {
    let s = Scenario::start("lc-quota", &["--quotas", "on", "--rate-scale", "100"], &[]).await;
    for i in 0..10 {
        s.apply_logging_configuration(&format!("lc-{i}"), s3(&format!("bucket-{i}")))
            .await;
    }
    for i in 0..10 {
        s.wait_logging_configuration_ready(&format!("lc-{i}")).await;
    }
    s.apply_logging_configuration("lc-10", s3("bucket-10"))
        .await;
    let stalled = support::wait_for(
        &s.logging_configurations,
        "lc-10",
        TIMEOUT,
        |l: &ChatLoggingConfiguration| {
            lc_condition(l, "Stalled").is_some_and(|c| c.status == "True")
        },
    )
    .await;
    let condition = lc_condition(&stalled, "Stalled").expect("Stalled");
    assert_eq!(condition.reason, "ServiceQuotaExceeded");
    assert!(!condition.message.is_empty());

    s.logging_configurations
        .delete("lc-3", &DeleteParams::default())
        .await
        .expect("delete");
    let lc = s.wait_logging_configuration_ready("lc-10").await;
    assert!(lc_condition(&lc, "Stalled").is_none());
    assert_eq!(
        s.emulator.stats().await["loggingConfigurations"].as_u64(),
        Some(10)
    );
}

#[tokio::test]
async fn failed_states_stall_with_the_reason() {
    let s = Scenario::start("lc-failed", &["--logging-configuration-delay", "3000"], &[]).await;
    s.apply_logging_configuration("broken", s3("broken-bucket"))
        .await;
    let creating = support::wait_for(
        &s.logging_configurations,
        "broken",
        TIMEOUT,
        |l: &ChatLoggingConfiguration| l.status.as_ref().and_then(|s| s.arn.as_deref()).is_some(),
    )
    .await;
    let status = s
        .emulator
        .post(
            "/_emulator/logging-configurations/state",
            json!({"arn": lc_arn(&creating), "state": "CREATE_FAILED"}),
        )
        .await;
    assert_eq!(status, 200);
    let lc = support::wait_for(
        &s.logging_configurations,
        "broken",
        TIMEOUT,
        |l: &ChatLoggingConfiguration| {
            lc_condition(l, "Stalled").is_some_and(|c| c.status == "True")
        },
    )
    .await;
    assert_eq!(
        lc_condition(&lc, "Stalled").map(|c| c.reason),
        Some("CreateFailed".into())
    );
    assert_eq!(
        lc.status.as_ref().and_then(|s| s.state.as_deref()),
        Some("CREATE_FAILED")
    );
    // A room referencing it waits.
    s.apply_room(
        "uses-broken",
        ChatRoomSpec {
            logging_configurations: by_name(&["broken"]),
            ..Default::default()
        },
    )
    .await;
    s.wait_room("uses-broken", |r: &ChatRoom| {
        room_condition(r, "Ready").is_some_and(|c| c.reason == "ReferenceNotReady")
    })
    .await;
}

#[tokio::test]
async fn logging_configuration_tags_and_retain() {
    let s = Scenario::start("lc-tags", &[], &[]).await;
    let mut spec = s3("tagged-bucket");
    spec.tags = Some([("a".to_string(), "1".to_string())].into());
    s.apply_logging_configuration("tagged", spec.clone()).await;
    let arn = lc_arn(&s.wait_logging_configuration_ready("tagged").await);
    spec.tags = Some([("b".to_string(), "2".to_string())].into());
    spec.deletion_policy = Some(ivschat_operator::api::DeletionPolicy::Retain);
    s.apply_logging_configuration("tagged", spec).await;
    let lc = s.wait_logging_configuration_ready("tagged").await;
    assert!(condition_is(
        lc.status.as_ref().and_then(|s| s.conditions.as_ref()),
        lc.metadata.generation,
        "Ready",
        "True"
    ));
    let sdk = s.emulator.sdk().await;
    let tags = sdk
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .expect("tags");
    assert_eq!(tags.tags().get("b").map(String::as_str), Some("2"));
    assert!(!tags.tags().contains_key("a"));
    assert_eq!(s.emulator.all_calls("UpdateLoggingConfiguration").await, 0);

    s.logging_configurations
        .delete("tagged", &DeleteParams::default())
        .await
        .expect("delete");
    support::wait_for_deletion(&s.logging_configurations, "tagged", TIMEOUT).await;
    sdk.get_logging_configuration()
        .identifier(&arn)
        .send()
        .await
        .expect("retained");
    eventually(
        "no delete call",
        std::time::Duration::from_secs(1),
        || async { (s.emulator.all_calls("DeleteLoggingConfiguration").await == 0).then_some(()) },
    )
    .await;
}
