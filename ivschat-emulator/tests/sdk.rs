//! The real aws-sdk-ivschat client against the emulator over HTTP: every operation's success
//! path and every modeled error.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_ivschat::Client;
use aws_sdk_ivschat::types::{
    ChatTokenCapability, CloudWatchLogsDestinationConfiguration, DestinationConfiguration,
    FallbackResult, FirehoseDestinationConfiguration, LoggingConfigurationState,
    MessageReviewHandler, S3DestinationConfiguration,
};
use common::*;
use ivschat_emulator::Config;
use ivschat_emulator::faults::FaultSpec;
use serde_json::Value;

const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:review";

fn s3(bucket: &str) -> DestinationConfiguration {
    DestinationConfiguration::S3(
        S3DestinationConfiguration::builder()
            .bucket_name(bucket)
            .build()
            .unwrap(),
    )
}

fn is_iso_ms(s: &str) -> bool {
    // 2024-01-02T03:04:05.678Z
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.'
}

struct Fixtures {
    room: String,
    lc: String,
}

/// Call one operation by name. `bad` sends inputs that fail server-side validation.
async fn call_op(c: &Client, op: &str, fx: &Fixtures, bad: bool) -> Result<(), Failure> {
    let room = if bad { "not-an-arn" } else { fx.room.as_str() };
    let lc = if bad { "not-an-arn" } else { fx.lc.as_str() };
    match op {
        "CreateChatToken" => classify(
            c.create_chat_token()
                .room_identifier(room)
                .user_id("u1")
                .send()
                .await,
        )
        .map(drop),
        "CreateLoggingConfiguration" => classify(
            c.create_logging_configuration()
                .destination_configuration(s3(if bad { "X" } else { "my-bucket" }))
                .send()
                .await,
        )
        .map(drop),
        "CreateRoom" => classify(
            c.create_room()
                .name(if bad { "bad name" } else { "ok" })
                .send()
                .await,
        )
        .map(drop),
        "DeleteLoggingConfiguration" => {
            classify(c.delete_logging_configuration().identifier(lc).send().await).map(drop)
        }
        "DeleteMessage" => classify(
            c.delete_message()
                .room_identifier(room)
                .id("abcdefghijkl")
                .send()
                .await,
        )
        .map(drop),
        "DeleteRoom" => classify(c.delete_room().identifier(room).send().await).map(drop),
        "DisconnectUser" => classify(
            c.disconnect_user()
                .room_identifier(room)
                .user_id("u1")
                .send()
                .await,
        )
        .map(drop),
        "GetLoggingConfiguration" => {
            classify(c.get_logging_configuration().identifier(lc).send().await).map(drop)
        }
        "GetRoom" => classify(c.get_room().identifier(room).send().await).map(drop),
        "ListLoggingConfigurations" => classify(
            c.list_logging_configurations()
                .max_results(if bad { 0 } else { 10 })
                .send()
                .await,
        )
        .map(drop),
        "ListRooms" => classify(
            c.list_rooms()
                .max_results(if bad { 51 } else { 10 })
                .send()
                .await,
        )
        .map(drop),
        "ListTagsForResource" => {
            classify(c.list_tags_for_resource().resource_arn(room).send().await).map(drop)
        }
        "SendEvent" => classify(
            c.send_event()
                .room_identifier(room)
                .event_name("evt")
                .send()
                .await,
        )
        .map(drop),
        "TagResource" => classify(
            c.tag_resource()
                .resource_arn(room)
                .tags("k", "v")
                .send()
                .await,
        )
        .map(drop),
        "UntagResource" => classify(
            c.untag_resource()
                .resource_arn(room)
                .tag_keys("k")
                .send()
                .await,
        )
        .map(drop),
        "UpdateLoggingConfiguration" => classify(
            c.update_logging_configuration()
                .identifier(lc)
                .name("renamed")
                .send()
                .await,
        )
        .map(drop),
        "UpdateRoom" => classify(
            c.update_room()
                .identifier(room)
                .maximum_message_length(100)
                .send()
                .await,
        )
        .map(drop),
        other => panic!("unknown operation {other}"),
    }
}

fn model() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/ivschat-service-model.json"
    ))
    .expect("model");
    serde_json::from_str(&text).expect("model json")
}

async fn fixtures(c: &Client) -> Fixtures {
    let lc = c
        .create_logging_configuration()
        .destination_configuration(s3("my-bucket"))
        .send()
        .await
        .unwrap();
    let room = c.create_room().send().await.unwrap();
    Fixtures {
        room: room.arn().unwrap().to_string(),
        lc: lc.arn().unwrap().to_string(),
    }
}

#[tokio::test]
async fn every_operation_succeeds_in_model_order() {
    let (addr, handle) = start(no_quotas()).await;
    let c = client(addr);
    let ops: Vec<String> = model()["operations"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(ops.len(), 17);
    // Deletes last, so the others find their resources.
    let mut ordered: Vec<&String> = ops.iter().filter(|o| !o.starts_with("Delete")).collect();
    ordered.extend(ops.iter().filter(|o| o.starts_with("DeleteMessage")));
    ordered.extend(ops.iter().filter(|o| o.as_str() == "DeleteRoom"));
    ordered.extend(
        ops.iter()
            .filter(|o| o.as_str() == "DeleteLoggingConfiguration"),
    );
    let fx = fixtures(&c).await;
    for op in ordered {
        call_op(&c, op, &fx, false)
            .await
            .unwrap_or_else(|e| panic!("{op} failed: {e:?}"));
    }
    let s = stats(addr).await;
    for op in &ops {
        assert!(
            s["operations"][op]["Success"].as_u64().unwrap_or(0) >= 1,
            "{op} not counted: {s}"
        );
    }
    handle.shutdown().await.unwrap();
}

fn fault_kind(shape: &str) -> Option<&'static str> {
    Some(match shape {
        "AccessDeniedException" => "denied",
        "PendingVerification" => "pending",
        "ResourceNotFoundException" => "notfound",
        "ConflictException" => "conflict",
        "ServiceQuotaExceededException" => "quota",
        "ThrottlingException" => "throttle",
        "InternalServerException" => "internal",
        _ => return None,
    })
}

/// Every modeled error of every operation reaches the SDK as the modeled variant, at the
/// modeled status. ValidationException is provoked with bad input, the others are injected.
#[tokio::test]
async fn every_modeled_error_of_every_operation() {
    let model = model();
    let (addr, handle) = start(no_quotas()).await;
    let c = client(addr);
    let fx = fixtures(&c).await;
    let mut checked = 0;
    for (op, spec) in model["operations"].as_object().unwrap() {
        for err in spec["errors"].as_array().unwrap() {
            let shape = err["shape"].as_str().unwrap();
            let status = model["shapes"][shape]["error"]["httpStatusCode"]
                .as_u64()
                .unwrap() as u16;
            let failure = if shape == "ValidationException" {
                call_op(&c, op, &fx, true).await.expect_err(op)
            } else {
                let kind = fault_kind(shape).expect(shape);
                let fault: FaultSpec = format!("{op}={kind}:1.0").parse().unwrap();
                let (a2, h2) = start(Config {
                    fault: vec![fault],
                    ..no_quotas()
                })
                .await;
                let c2 = client(a2);
                let f = call_op(&c2, op, &fx, false).await.expect_err(op);
                h2.shutdown().await.unwrap();
                f
            };
            assert_eq!(failure.status, status, "{op} {shape}: {failure:?}");
            assert_eq!(failure.code.as_deref(), Some(shape), "{op}: {failure:?}");
            assert_eq!(failure.variant, shape, "{op} not modeled: {failure:?}");
            let body: Value = serde_json::from_str(&failure.body).unwrap();
            assert_eq!(body["__type"], shape);
            for req in model["shapes"][shape]["required"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let member = req.as_str().unwrap();
                assert!(
                    !body[member].is_null(),
                    "{op} {shape} lacks {member}: {body}"
                );
            }
            if shape == "ValidationException" {
                assert_eq!(body["reason"], "FIELD_VALIDATION_FAILED");
                assert!(!body["fieldList"].as_array().unwrap().is_empty());
            }
            checked += 1;
        }
    }
    assert!(checked >= 60, "checked {checked}");
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn room_lifecycle() {
    let (addr, handle) = start(no_quotas()).await;
    let c = client(addr);
    let created = c
        .create_room()
        .name("lobby")
        .tags("team", "a")
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap().to_string();
    let id = created.id().unwrap();
    assert_eq!(id.len(), 12);
    assert!(id.chars().all(|ch| ch.is_ascii_alphanumeric()));
    assert_eq!(arn, room_arn(id));
    assert_eq!(created.maximum_message_length(), Some(500));
    assert_eq!(created.maximum_message_rate_per_second(), Some(10));
    assert!(created.message_review_handler().is_none());
    assert!(created.logging_configuration_identifiers().is_empty());
    assert_eq!(created.tags().unwrap().get("team").unwrap(), "a");

    // Raw timestamps: ISO-8601 strings with milliseconds.
    let raw_get = signed(
        addr,
        "POST",
        "/GetRoom",
        Some(&format!(r#"{{"identifier":"{arn}"}}"#)),
    )
    .await;
    assert_eq!(raw_get.status, 200);
    assert!(raw_get.header("x-amzn-requestid").is_some());
    let j = raw_get.json();
    assert!(is_iso_ms(j["createTime"].as_str().unwrap()), "{j}");
    assert!(is_iso_ms(j["updateTime"].as_str().unwrap()), "{j}");

    let lc = c
        .create_logging_configuration()
        .name("logs")
        .destination_configuration(s3("my-bucket"))
        .send()
        .await
        .unwrap();
    let lc_arn = lc.arn().unwrap().to_string();

    tokio::time::sleep(Duration::from_millis(5)).await;
    let updated = c
        .update_room()
        .identifier(&arn)
        .maximum_message_rate_per_second(50)
        .message_review_handler(MessageReviewHandler::builder().uri(LAMBDA).build())
        .logging_configuration_identifiers(&lc_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.name(), Some("lobby"), "absent name is unchanged");
    assert_eq!(updated.maximum_message_length(), Some(500));
    assert_eq!(updated.maximum_message_rate_per_second(), Some(50));
    let h = updated.message_review_handler().unwrap();
    assert_eq!(h.uri(), Some(LAMBDA));
    assert_eq!(h.fallback_result(), Some(&FallbackResult::Allow));
    assert_eq!(
        updated.logging_configuration_identifiers(),
        std::slice::from_ref(&lc_arn)
    );
    assert_eq!(updated.tags().unwrap().get("team").unwrap(), "a");
    assert!(updated.update_time().unwrap() > created.update_time().unwrap());
    assert_eq!(updated.create_time(), created.create_time());

    // fallbackResult alone keeps the uri.
    let u = c
        .update_room()
        .identifier(&arn)
        .message_review_handler(
            MessageReviewHandler::builder()
                .fallback_result(FallbackResult::Deny)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let h = u.message_review_handler().unwrap();
    assert_eq!(
        (h.uri(), h.fallback_result()),
        (Some(LAMBDA), Some(&FallbackResult::Deny))
    );

    // [] detaches, uri "" removes the handler.
    let cleared = c
        .update_room()
        .identifier(&arn)
        .set_logging_configuration_identifiers(Some(vec![]))
        .message_review_handler(MessageReviewHandler::builder().uri("").build())
        .send()
        .await
        .unwrap();
    assert!(cleared.logging_configuration_identifiers().is_empty());
    assert!(cleared.message_review_handler().is_none());

    let got = c.get_room().identifier(&arn).send().await.unwrap();
    assert_eq!(got.maximum_message_rate_per_second(), Some(50));
    assert_eq!(got.name(), Some("lobby"));

    // Referenced logging configurations must exist.
    let missing = lc_arn.replace(lc.id().unwrap(), "AAAAAAAAAAAA");
    let e = classify(
        c.update_room()
            .identifier(&arn)
            .logging_configuration_identifiers(&missing)
            .send()
            .await,
    )
    .unwrap_err();
    assert_eq!(
        (e.status, e.variant.as_str()),
        (404, "ResourceNotFoundException")
    );
    let e = classify(
        c.create_room()
            .logging_configuration_identifiers(&missing)
            .send()
            .await,
    )
    .unwrap_err();
    assert_eq!(e.status, 404);

    // Delete: 204, then 404 with the id.
    let raw_del = signed(
        addr,
        "POST",
        "/DeleteRoom",
        Some(&format!(r#"{{"identifier":"{arn}"}}"#)),
    )
    .await;
    assert_eq!(raw_del.status, 204);
    assert!(raw_del.body.is_empty());
    let e = classify(c.get_room().identifier(&arn).send().await).unwrap_err();
    assert_eq!(e.status, 404);
    assert_eq!(e.variant, "ResourceNotFoundException");
    let body: Value = serde_json::from_str(&e.body).unwrap();
    assert_eq!(body["resourceId"], id);
    assert_eq!(body["resourceType"], "ROOM");
    let e = classify(c.delete_room().identifier(&arn).send().await).unwrap_err();
    assert_eq!(e.status, 404);

    // Another region is another world.
    let other = client_in(addr, "eu-west-1");
    let r2 = other.create_room().send().await.unwrap();
    assert!(
        r2.arn()
            .unwrap()
            .starts_with("arn:aws:ivschat:eu-west-1:123456789012:room/")
    );
    let e = classify(c.get_room().identifier(r2.arn().unwrap()).send().await).unwrap_err();
    assert_eq!(e.status, 404);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn list_rooms_paging_order_and_filters() {
    let (addr, handle) = start(no_quotas()).await;
    let c = client(addr);
    let lc = c
        .create_logging_configuration()
        .destination_configuration(s3("my-bucket"))
        .send()
        .await
        .unwrap();
    let lc_arn = lc.arn().unwrap().to_string();
    let mut arns = Vec::new();
    for i in 0..120 {
        let mut b = c
            .create_room()
            .name(if i % 3 == 0 { "three" } else { "other" });
        if i % 10 == 0 {
            b = b.message_review_handler(MessageReviewHandler::builder().uri(LAMBDA).build());
        }
        if i % 4 == 0 {
            b = b.logging_configuration_identifiers(&lc_arn);
        }
        arns.push(b.send().await.unwrap().arn().unwrap().to_string());
    }
    // Touch an old room: it becomes the newest.
    c.update_room().identifier(&arns[5]).send().await.unwrap();

    let mut seen = Vec::new();
    let mut tokens = HashSet::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = c
            .list_rooms()
            .max_results(50)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        for r in page.rooms() {
            assert!(is_iso_ms(&r.update_time().unwrap().to_string()) || r.update_time().is_some());
            seen.push((r.arn().unwrap().to_string(), *r.update_time().unwrap()));
        }
        match page.next_token() {
            Some(t) => {
                assert!(tokens.insert(t.to_string()), "token repeated");
                token = Some(t.to_string());
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 120);
    assert_eq!(seen[0].0, arns[5], "updated room first");
    assert!(seen.windows(2).all(|w| w[0].1 >= w[1].1), "newest first");
    let unique: HashSet<_> = seen.iter().map(|s| &s.0).collect();
    assert_eq!(unique.len(), 120);

    // Paginator.
    let pages: Vec<_> = c
        .list_rooms()
        .max_results(7)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(pages.len(), 18);
    assert_eq!(pages.iter().map(|p| p.rooms().len()).sum::<usize>(), 120);

    // Summaries omit the message limits.
    let raw = signed(addr, "POST", "/ListRooms", Some(r#"{"maxResults":1}"#)).await;
    let j = raw.json();
    assert!(j["rooms"][0].get("maximumMessageLength").is_none(), "{j}");
    assert!(j["rooms"][0].get("updateTime").is_some());

    let count = |name: Option<&str>, uri: Option<&str>, l: Option<&str>| {
        let c = c.clone();
        let (name, uri, l) = (
            name.map(str::to_string),
            uri.map(str::to_string),
            l.map(str::to_string),
        );
        async move {
            c.list_rooms()
                .set_name(name)
                .set_message_review_handler_uri(uri)
                .set_logging_configuration_identifier(l)
                .into_paginator()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .unwrap()
                .iter()
                .map(|p| p.rooms().len())
                .sum::<usize>()
        }
    };
    assert_eq!(count(Some("three"), None, None).await, 40);
    assert_eq!(count(None, Some(LAMBDA), None).await, 12);
    assert_eq!(count(None, None, Some(&lc_arn)).await, 30);
    assert_eq!(count(Some("three"), None, Some(&lc_arn)).await, 10);
    assert_eq!(count(Some("three"), Some(LAMBDA), Some(&lc_arn)).await, 2);

    // Unknown filter LC -> 404; bad token -> 400 naming nextToken; empty list is [].
    let e = classify(
        c.list_rooms()
            .logging_configuration_identifier(lc_arn.replace(lc.id().unwrap(), "ZZZZZZZZZZZZ"))
            .send()
            .await,
    )
    .unwrap_err();
    assert_eq!(e.status, 404);
    let e = classify(c.list_rooms().next_token("garbage").send().await).unwrap_err();
    assert_eq!(e.status, 400);
    assert!(e.body.contains("nextToken"));
    let empty = signed(addr, "POST", "/ListRooms", Some(r#"{"name":"nobody"}"#)).await;
    assert_eq!(empty.json()["rooms"], serde_json::json!([]));
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn logging_configuration_lifecycle_and_conflict() {
    let (addr, handle) = start(no_quotas()).await;
    let c = client(addr);
    let a = c
        .create_logging_configuration()
        .name("a")
        .destination_configuration(s3("my-bucket"))
        .tags("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(a.state().unwrap().as_str(), "ACTIVE");
    assert_eq!(a.id().unwrap().len(), 12);
    assert_eq!(a.arn().unwrap(), lc_arn(a.id().unwrap()));
    let b = c
        .create_logging_configuration()
        .destination_configuration(DestinationConfiguration::CloudWatchLogs(
            CloudWatchLogsDestinationConfiguration::builder()
                .log_group_name("/aws/chat#1")
                .build()
                .unwrap(),
        ))
        .send()
        .await
        .unwrap();
    let fh = c
        .create_logging_configuration()
        .destination_configuration(DestinationConfiguration::Firehose(
            FirehoseDestinationConfiguration::builder()
                .delivery_stream_name("stream_1.x")
                .build()
                .unwrap(),
        ))
        .send()
        .await
        .unwrap();
    let got = c
        .get_logging_configuration()
        .identifier(b.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        got.destination_configuration()
            .unwrap()
            .is_cloud_watch_logs()
    );
    assert_eq!(got.state(), Some(&LoggingConfigurationState::Active));

    tokio::time::sleep(Duration::from_millis(5)).await;
    let up = c
        .update_logging_configuration()
        .identifier(a.arn().unwrap())
        .destination_configuration(DestinationConfiguration::Firehose(
            FirehoseDestinationConfiguration::builder()
                .delivery_stream_name("s")
                .build()
                .unwrap(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(up.name(), Some("a"));
    assert!(up.destination_configuration().unwrap().is_firehose());
    assert!(up.update_time().unwrap() > a.update_time().unwrap());

    let list = c.list_logging_configurations().send().await.unwrap();
    let ids: Vec<_> = list
        .logging_configurations()
        .iter()
        .map(|l| l.id().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        vec![
            a.id().unwrap().to_string(),
            fh.id().unwrap().to_string(),
            b.id().unwrap().to_string()
        ]
    );
    let p1 = c
        .list_logging_configurations()
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(p1.logging_configurations().len(), 2);
    let p2 = c
        .list_logging_configurations()
        .max_results(2)
        .next_token(p1.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(p2.logging_configurations().len(), 1);
    assert!(p2.next_token().is_none());

    // In use -> 409 ConflictException.
    let room = c
        .create_room()
        .logging_configuration_identifiers(a.arn().unwrap())
        .send()
        .await
        .unwrap();
    let e = classify(
        c.delete_logging_configuration()
            .identifier(a.arn().unwrap())
            .send()
            .await,
    )
    .unwrap_err();
    assert_eq!((e.status, e.variant.as_str()), (409, "ConflictException"));
    let body: Value = serde_json::from_str(&e.body).unwrap();
    assert_eq!(body["resourceId"], a.id().unwrap());
    c.update_room()
        .identifier(room.arn().unwrap())
        .set_logging_configuration_identifiers(Some(vec![]))
        .send()
        .await
        .unwrap();
    c.delete_logging_configuration()
        .identifier(a.arn().unwrap())
        .send()
        .await
        .unwrap();
    let e = classify(
        c.get_logging_configuration()
            .identifier(a.arn().unwrap())
            .send()
            .await,
    )
    .unwrap_err();
    assert_eq!(e.status, 404);
    handle.shutdown().await.unwrap();
}

async fn admin_state(addr: std::net::SocketAddr, arn: &str, state: &str) -> RawResponse {
    raw(
        addr,
        "POST",
        "/_emulator/logging-configurations/state",
        None,
        Some(&format!(r#"{{"arn":"{arn}","state":"{state}"}}"#)),
    )
    .await
}

#[tokio::test]
async fn logging_configuration_states_with_delay_and_injection() {
    let (addr, handle) = start(Config {
        logging_configuration_delay: 800,
        ..no_quotas()
    })
    .await;
    let c = client(addr);
    let lc = c
        .create_logging_configuration()
        .destination_configuration(s3("my-bucket"))
        .send()
        .await
        .unwrap();
    let arn = lc.arn().unwrap().to_string();
    assert_eq!(lc.state().unwrap().as_str(), "CREATING");
    let state = |c: Client, arn: String| async move {
        c.get_logging_configuration()
            .identifier(arn)
            .send()
            .await
            .map(|o| o.state().cloned())
    };
    assert_eq!(
        state(c.clone(), arn.clone()).await.unwrap(),
        Some(LoggingConfigurationState::Creating)
    );
    // Busy: update/delete conflict.
    let e = classify(
        c.update_logging_configuration()
            .identifier(&arn)
            .name("x")
            .send()
            .await,
    )
    .unwrap_err();
    assert_eq!(e.status, 409);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        state(c.clone(), arn.clone()).await.unwrap(),
        Some(LoggingConfigurationState::Active)
    );
    let up = c
        .update_logging_configuration()
        .identifier(&arn)
        .name("x")
        .send()
        .await
        .unwrap();
    assert_eq!(up.state().unwrap().as_str(), "UPDATING");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        state(c.clone(), arn.clone()).await.unwrap(),
        Some(LoggingConfigurationState::Active)
    );
    c.delete_logging_configuration()
        .identifier(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        state(c.clone(), arn.clone()).await.unwrap(),
        Some(LoggingConfigurationState::Deleting)
    );
    // Deleting again is an idempotent no-op; a room cannot reference it.
    c.delete_logging_configuration()
        .identifier(&arn)
        .send()
        .await
        .unwrap();
    let e = classify(
        c.create_room()
            .logging_configuration_identifiers(&arn)
            .send()
            .await,
    )
    .unwrap_err();
    assert_eq!(e.status, 404);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(state(c.clone(), arn.clone()).await.is_err());
    assert_eq!(stats(addr).await["loggingConfigurations"], 0);

    // Failure states can be forced, and stick.
    let lc = c
        .create_logging_configuration()
        .destination_configuration(s3("my-bucket"))
        .send()
        .await
        .unwrap();
    let arn = lc.arn().unwrap().to_string();
    let r = admin_state(addr, &arn, "CREATE_FAILED").await;
    assert_eq!(r.status, 200, "{}", r.body);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        state(c.clone(), arn.clone()).await.unwrap(),
        Some(LoggingConfigurationState::CreateFailed)
    );
    for s in ["UPDATE_FAILED", "DELETE_FAILED", "ACTIVE"] {
        admin_state(addr, &arn, s).await;
        assert_eq!(
            state(c.clone(), arn.clone())
                .await
                .unwrap()
                .unwrap()
                .as_str(),
            s
        );
    }
    assert_eq!(admin_state(addr, &arn, "BOGUS").await.status, 400);
    assert_eq!(
        admin_state(addr, &lc_arn("AAAAAAAAAAAA"), "ACTIVE")
            .await
            .status,
        404
    );
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn tags_on_rooms_and_logging_configurations() {
    let (addr, handle) = start(no_quotas()).await;
    let c = client(addr);
    let room = c.create_room().tags("a", "1").send().await.unwrap();
    let lc = c
        .create_logging_configuration()
        .destination_configuration(s3("my-bucket"))
        .send()
        .await
        .unwrap();
    for arn in [room.arn().unwrap(), lc.arn().unwrap()] {
        c.tag_resource()
            .resource_arn(arn)
            .tags("b", "2")
            .tags("with space", "x/y")
            .send()
            .await
            .unwrap();
        let t = c
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap();
        assert_eq!(t.tags().get("b").map(String::as_str), Some("2"));
        assert_eq!(t.tags().get("with space").map(String::as_str), Some("x/y"));
        c.untag_resource()
            .resource_arn(arn)
            .tag_keys("b")
            .tag_keys("with space")
            .send()
            .await
            .unwrap();
        let t = c
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap();
        assert!(!t.tags().contains_key("b") && !t.tags().contains_key("with space"));
    }
    let t = c
        .list_tags_for_resource()
        .resource_arn(room.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(t.tags().len(), 1);

    // More than 50 tags in total -> 400 naming tags.
    let mut b = c.tag_resource().resource_arn(room.arn().unwrap());
    for i in 0..50 {
        b = b.tags(format!("k{i}"), "v");
    }
    let e = classify(b.send().await).unwrap_err();
    assert_eq!(e.status, 400);
    assert!(e.body.contains(r#""name":"tags""#), "{}", e.body);

    let e = classify(
        c.list_tags_for_resource()
            .resource_arn(room_arn("AAAAAAAAAAAA"))
            .send()
            .await,
    )
    .unwrap_err();
    assert_eq!(
        (e.status, e.variant.as_str()),
        (404, "ResourceNotFoundException")
    );
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn messaging_operations() {
    let (addr, handle) = start(no_quotas()).await;
    let c = client(addr);
    let room = c.create_room().send().await.unwrap();
    let arn = room.arn().unwrap();
    let t = c
        .create_chat_token()
        .room_identifier(arn)
        .user_id("alice")
        .capabilities(ChatTokenCapability::SendMessage)
        .session_duration_in_minutes(30)
        .attributes("display", "Alice")
        .send()
        .await
        .unwrap();
    assert!(!t.token().unwrap().is_empty());
    let session = t.session_expiration_time().unwrap().secs();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((session - now - 1800).abs() < 5);
    let ev = c
        .send_event()
        .room_identifier(arn)
        .event_name("app:ping")
        .attributes("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(ev.id().unwrap().len(), 12);
    let del = c
        .delete_message()
        .room_identifier(arn)
        .id("abcdefghijkl")
        .reason("spam")
        .send()
        .await
        .unwrap();
    assert_eq!(del.id().unwrap().len(), 12);
    c.disconnect_user()
        .room_identifier(arn)
        .user_id("alice")
        .reason("bye")
        .send()
        .await
        .unwrap();
    let missing = room_arn("AAAAAAAAAAAA");
    let e = classify(
        c.send_event()
            .room_identifier(&missing)
            .event_name("x")
            .send()
            .await,
    )
    .unwrap_err();
    assert_eq!(e.status, 404);
    let e = classify(
        c.create_chat_token()
            .room_identifier(arn)
            .user_id("u")
            .session_duration_in_minutes(181)
            .send()
            .await,
    )
    .unwrap_err();
    assert_eq!(e.status, 400);
    assert!(e.body.contains("sessionDurationInMinutes"));
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let (addr, handle) = start(no_quotas()).await;
    let c = client(addr);
    let e = classify(
        c.create_room()
            .name("bad name!")
            .maximum_message_length(501)
            .send()
            .await,
    )
    .unwrap_err();
    assert_eq!((e.status, e.variant.as_str()), (400, "ValidationException"));
    let body: Value = serde_json::from_str(&e.body).unwrap();
    assert_eq!(body["reason"], "FIELD_VALIDATION_FAILED");
    let names: Vec<&str> = body["fieldList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["name", "maximumMessageLength"]);
    assert!(
        e.message
            .unwrap()
            .starts_with("2 validation errors detected")
    );

    let lc = lc_arn("AAAAAAAAAAAA");
    let e = classify(
        c.create_room()
            .logging_configuration_identifiers(&lc)
            .logging_configuration_identifiers(&lc)
            .logging_configuration_identifiers(&lc)
            .logging_configuration_identifiers(&lc)
            .send()
            .await,
    )
    .unwrap_err();
    assert_eq!(e.status, 400);
    assert!(
        e.body
            .contains(r#""name":"loggingConfigurationIdentifiers""#)
    );

    // Two union members set (sent raw: the SDK cannot build it).
    let r = signed(
        addr,
        "POST",
        "/CreateLoggingConfiguration",
        Some(r#"{"destinationConfiguration":{"s3":{"bucketName":"abc"},"firehose":{"deliveryStreamName":"x"}}}"#),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-amzn-errortype"), Some("ValidationException"));
    assert_eq!(r.json()["fieldList"][0]["name"], "destinationConfiguration");
    let r = signed(addr, "POST", "/CreateRoom", Some("{not json")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["reason"], "OTHER");
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn resource_quotas_answer_402() {
    let (addr, handle) = start(Config {
        max_rooms: 2,
        ..Config::default()
    })
    .await;
    let c = client(addr);
    c.create_room().send().await.unwrap();
    c.create_room().send().await.unwrap();
    let e = classify(c.create_room().send().await).unwrap_err();
    assert_eq!(
        (e.status, e.variant.as_str()),
        (402, "ServiceQuotaExceededException")
    );
    let body: Value = serde_json::from_str(&e.body).unwrap();
    assert_eq!(body["limit"], 2);
    assert_eq!(body["resourceType"], "ROOM");
    // Quotas are per region.
    client_in(addr, "eu-west-1")
        .create_room()
        .send()
        .await
        .unwrap();

    for i in 0..10 {
        // 3 TPS on logging configuration operations: pace at the quota.
        if i > 0 && i % 3 == 0 {
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
        c.create_logging_configuration()
            .destination_configuration(s3("my-bucket"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("lc {i}: {e:?}"));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let e = classify(
        c.create_logging_configuration()
            .destination_configuration(s3("my-bucket"))
            .send()
            .await,
    )
    .unwrap_err();
    assert_eq!(
        (e.status, e.variant.as_str()),
        (402, "ServiceQuotaExceededException")
    );
    assert_eq!(serde_json::from_str::<Value>(&e.body).unwrap()["limit"], 10);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn rate_limits_answer_429() {
    let (addr, handle) = start(Config::default()).await;
    let c = client(addr);
    let room = c.create_room().send().await.unwrap();
    let arn = room.arn().unwrap();
    // Concurrent bursts, so the result does not depend on how fast this machine is.
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (c, arn) = (c.clone(), arn.to_string());
        tasks.push(tokio::spawn(async move {
            classify(c.get_room().identifier(arn).send().await).err()
        }));
    }
    let mut throttled = 0;
    for t in tasks {
        if let Some(e) = t.await.unwrap() {
            assert_eq!(e.status, 429);
            // Not modeled on GetRoom: Unhandled, but with the code (the SDK retries it).
            assert_eq!(e.code.as_deref(), Some("ThrottlingException"));
            let body: Value = serde_json::from_str(&e.body).unwrap();
            assert_eq!(body["limit"], 5);
            throttled += 1;
        }
    }
    assert!(throttled >= 4, "throttled {throttled}");
    // Modeled on SendEvent (100 TPS).
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let (c, arn) = (c.clone(), arn.to_string());
        tasks.push(tokio::spawn(async move {
            classify(
                c.send_event()
                    .room_identifier(arn)
                    .event_name("e")
                    .send()
                    .await,
            )
            .err()
        }));
    }
    let mut modeled = 0;
    for t in tasks {
        if let Some(e) = t.await.unwrap() {
            assert_eq!(e.variant, "ThrottlingException");
            modeled += 1;
        }
    }
    assert!(modeled >= 1);
    let s = stats(addr).await;
    assert_eq!(s["throttled"], throttled + modeled);
    assert_eq!(s["operations"]["GetRoom"]["ThrottlingException"], throttled);

    // Pacing at the quota is never throttled (ListTagsForResource: 10 TPS).
    let start_t = Instant::now();
    for i in 0..25u32 {
        let due = Duration::from_millis(105) * i;
        let now = start_t.elapsed();
        if due > now {
            tokio::time::sleep(due - now).await;
        }
        c.list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("paced call {i} throttled: {e:?}"));
    }
    handle.shutdown().await.unwrap();

    // --rate-scale multiplies the quotas.
    let (addr, handle) = start(Config {
        rate_scale: 4.0,
        ..Config::default()
    })
    .await;
    let c = client(addr);
    let arn = c
        .create_room()
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let mut ok = 0;
    let e = loop {
        match classify(c.get_room().identifier(&arn).send().await) {
            Ok(_) => ok += 1,
            Err(e) => break e,
        }
        assert!(ok < 100, "never throttled");
    };
    assert!(ok >= 19, "only {ok} calls before throttling");
    assert_eq!(serde_json::from_str::<Value>(&e.body).unwrap()["limit"], 20);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn missing_authorization_is_refused_like_aws() {
    let (addr, handle) = start(no_quotas()).await;
    let r = raw(addr, "POST", "/CreateRoom", None, Some("{}")).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("MissingAuthenticationTokenException")
    );
    assert_eq!(
        r.json(),
        serde_json::json!({"message": "Missing Authentication Token"})
    );
    assert!(r.header("x-amzn-requestid").is_some());
    let r = raw(
        addr,
        "GET",
        "/tags/arn%3Aaws%3Aivschat%3Aus-east-1%3A1%3Aroom%2Fx",
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(stats(addr).await["rooms"], 0);

    // Signed but unknown operation -> 400 UNKNOWN_OPERATION.
    let r = signed(addr, "POST", "/CreateChannel", Some("{}")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["reason"], "UNKNOWN_OPERATION");
    let r = signed(addr, "GET", "/CreateRoom", None).await;
    assert_eq!(r.json()["reason"], "UNKNOWN_OPERATION");
    // A path prefix is tolerated.
    let r = signed(addr, "POST", "/some/prefix/CreateRoom", Some("{}")).await;
    assert_eq!(r.status, 200);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn faults_latency_and_seed() {
    // Dropped connection: no response at all.
    let (addr, handle) = start(Config {
        fault: vec!["GetRoom=drop:1.0".parse().unwrap()],
        ..no_quotas()
    })
    .await;
    let c = client(addr);
    let arn = c
        .create_room()
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let e = classify(c.get_room().identifier(&arn).send().await).unwrap_err();
    assert_eq!(e.status, 0, "{e:?}");
    assert_eq!(stats(addr).await["operations"]["GetRoom"]["Dropped"], 1);
    handle.shutdown().await.unwrap();

    // drop-after: the room exists although the client got no answer.
    let (addr, handle) = start(Config {
        fault: vec!["CreateRoom=drop-after:1.0".parse().unwrap()],
        ..no_quotas()
    })
    .await;
    let c = client(addr);
    assert!(classify(c.create_room().send().await).is_err());
    assert_eq!(stats(addr).await["rooms"], 1);
    handle.shutdown().await.unwrap();

    // Same seed, same faults.
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (addr, handle) = start(Config {
            fault: vec![
                "*=throttle:0.3".parse().unwrap(),
                "GetRoom=internal:0.3".parse().unwrap(),
            ],
            seed: Some(42),
            ..no_quotas()
        })
        .await;
        let c = client(addr);
        let mut arn = None;
        while arn.is_none() {
            arn = c
                .create_room()
                .send()
                .await
                .ok()
                .and_then(|r| r.arn().map(str::to_string));
        }
        let arn = arn.unwrap();
        let mut seq = Vec::new();
        for _ in 0..40 {
            seq.push(match classify(c.get_room().identifier(&arn).send().await) {
                Ok(_) => 200,
                Err(e) => e.status,
            });
        }
        assert!(seq.contains(&429) && seq.contains(&500) && seq.contains(&200));
        runs.push(seq);
        handle.shutdown().await.unwrap();
    }
    assert_eq!(runs[0], runs[1]);

    // Latency.
    let (addr, handle) = start(Config {
        latency: vec!["GetRoom=150".parse().unwrap()],
        latency_ms: 20,
        ..no_quotas()
    })
    .await;
    let c = client(addr);
    let t = Instant::now();
    let arn = c
        .create_room()
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let create = t.elapsed();
    let t = Instant::now();
    c.get_room().identifier(&arn).send().await.unwrap();
    let get = t.elapsed();
    assert!(create >= Duration::from_millis(20), "{create:?}");
    assert!(get >= Duration::from_millis(170), "{get:?}");
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn stats_and_reset() {
    let (addr, handle) = start(no_quotas()).await;
    let c = client(addr);
    let arn = c
        .create_room()
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    c.get_room().identifier(&arn).send().await.unwrap();
    let _ = c
        .get_room()
        .identifier(room_arn("AAAAAAAAAAAA"))
        .send()
        .await;
    let s = stats(addr).await;
    assert_eq!(s["operations"]["CreateRoom"]["Success"], 1);
    assert_eq!(s["operations"]["GetRoom"]["Success"], 1);
    assert_eq!(s["operations"]["GetRoom"]["ResourceNotFoundException"], 1);
    assert_eq!(s["rooms"], 1);
    assert_eq!(s["throttled"], 0);
    let r = raw(addr, "POST", "/_emulator/reset-stats", None, None).await;
    assert_eq!(r.status, 200);
    let s = stats(addr).await;
    assert_eq!(s["operations"], serde_json::json!({}));
    assert_eq!(s["rooms"], 1);
    raw(addr, "POST", "/_emulator/reset", None, None).await;
    let s = stats(addr).await;
    assert_eq!(s["rooms"], 0);
    assert!(c.get_room().identifier(&arn).send().await.is_err());
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn state_file_survives_restart() {
    let path = std::env::temp_dir().join(format!(
        "ivschat-emulator-test-{}-{}.json",
        std::process::id(),
        ivschat_emulator::util::new_id()
    ));
    let config = Config {
        state_file: Some(path.clone()),
        logging_configuration_delay: 60_000,
        ..no_quotas()
    };
    let (addr, handle) = start(config.clone()).await;
    let c = client(addr);
    let lc = c
        .create_logging_configuration()
        .destination_configuration(s3("my-bucket"))
        .send()
        .await
        .unwrap();
    let room = c
        .create_room()
        .name("persisted")
        .tags("k", "v")
        .send()
        .await
        .unwrap();
    handle.shutdown().await.unwrap();

    let (addr, handle) = start(config).await;
    let c = client(addr);
    let got = c
        .get_room()
        .identifier(room.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(got.name(), Some("persisted"));
    assert_eq!(got.create_time(), room.create_time());
    let l = c
        .get_logging_configuration()
        .identifier(lc.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(l.state(), Some(&LoggingConfigurationState::Creating));
    assert_eq!(c.list_rooms().send().await.unwrap().rooms().len(), 1);
    handle.shutdown().await.unwrap();
    let _ = std::fs::remove_file(&path);
}
