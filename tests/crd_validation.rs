//! The CRDs reject every invalid spec at admission, on the real apiserver, with a message
//! that names the field; valid specs are stored exactly as written (no defaults injected).

mod support;

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

fn room(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "ivschat.operators.dev/v1alpha1", "kind": "ChatRoom", "metadata": {"name": name}, "spec": spec})
}

fn lc(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "ivschat.operators.dev/v1alpha1", "kind": "ChatLoggingConfiguration", "metadata": {"name": name}, "spec": spec})
}

fn s3() -> Value {
    json!({"s3": {"bucketName": "chat-logs"}})
}

const LC_ARN: &str = "arn:aws:ivschat:us-east-1:123456789012:logging-configuration/abcdABCD1234";
const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:review";

fn many_tags(n: usize) -> Value {
    Value::Object((0..n).map(|i| (format!("k{i}"), json!("v"))).collect())
}

/// (case, object, text the apiserver's message must contain to name the field)
fn invalid_cases() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "room name too long",
            room("r1", json!({"name": "a".repeat(129)})),
            "spec.name",
        ),
        (
            "room name pattern",
            room("r2", json!({"name": "has space"})),
            "spec.name",
        ),
        (
            "room name dot",
            room("r3", json!({"name": "a.b"})),
            "spec.name",
        ),
        (
            "length zero",
            room("r4", json!({"maximumMessageLength": 0})),
            "spec.maximumMessageLength",
        ),
        (
            "length over 500",
            room("r5", json!({"maximumMessageLength": 501})),
            "spec.maximumMessageLength",
        ),
        (
            "length not int",
            room("r6", json!({"maximumMessageLength": "big"})),
            "spec.maximumMessageLength",
        ),
        (
            "rate zero",
            room("r7", json!({"maximumMessageRatePerSecond": 0})),
            "spec.maximumMessageRatePerSecond",
        ),
        (
            "rate over 100",
            room("r8", json!({"maximumMessageRatePerSecond": 101})),
            "spec.maximumMessageRatePerSecond",
        ),
        (
            "handler not lambda",
            room(
                "r9",
                json!({"messageReviewHandler": {"uri": "arn:aws:s3:::bucket"}}),
            ),
            "spec.messageReviewHandler.uri",
        ),
        (
            "handler too long",
            room(
                "r10",
                json!({"messageReviewHandler": {"uri": format!("{LAMBDA}{}", "x".repeat(150))}}),
            ),
            "spec.messageReviewHandler.uri",
        ),
        (
            "handler missing uri",
            room(
                "r11",
                json!({"messageReviewHandler": {"fallbackResult": "ALLOW"}}),
            ),
            "spec.messageReviewHandler.uri",
        ),
        (
            "fallback enum",
            room(
                "r12",
                json!({"messageReviewHandler": {"uri": LAMBDA, "fallbackResult": "MAYBE"}}),
            ),
            "spec.messageReviewHandler.fallbackResult",
        ),
        (
            "four logging configurations",
            room(
                "r13",
                json!({"loggingConfigurations": [{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}]}),
            ),
            "spec.loggingConfigurations",
        ),
        (
            "duplicate references",
            room(
                "r14",
                json!({"loggingConfigurations": [{"name": "a"}, {"name": "a"}]}),
            ),
            "spec.loggingConfigurations",
        ),
        (
            "reference with name and arn",
            room(
                "r15",
                json!({"loggingConfigurations": [{"name": "a", "arn": LC_ARN}]}),
            ),
            "spec.loggingConfigurations[0]",
        ),
        (
            "empty reference",
            room("r16", json!({"loggingConfigurations": [{}]})),
            "spec.loggingConfigurations[0]",
        ),
        (
            "reference arn pattern",
            room(
                "r17",
                json!({"loggingConfigurations": [{"arn": "arn:aws:ivschat:us-east-1:1:room/abc"}]}),
            ),
            "spec.loggingConfigurations[0].arn",
        ),
        (
            "reference name pattern",
            room(
                "r18",
                json!({"loggingConfigurations": [{"name": "Not_A_Name"}]}),
            ),
            "spec.loggingConfigurations[0].name",
        ),
        (
            "48 tags",
            room("r19", json!({"tags": many_tags(48)})),
            "spec.tags",
        ),
        (
            "tag key aws:",
            room("r20", json!({"tags": {"aws:owner": "x"}})),
            "spec.tags",
        ),
        (
            "tag key too long",
            room("r21", json!({"tags": {"k".repeat(129): "x"}})),
            "spec.tags",
        ),
        (
            "tag value too long",
            room("r22", json!({"tags": {"k": "v".repeat(257)}})),
            "spec.tags.k",
        ),
        (
            "tag key reserved prefix",
            room("r23", json!({"tags": {"ivschat.operators.dev/uid": "x"}})),
            "spec.tags",
        ),
        (
            "region pattern",
            room("r24", json!({"region": "mars"})),
            "spec.region",
        ),
        (
            "deletion policy enum",
            room("r25", json!({"deletionPolicy": "Orphan"})),
            "spec.deletionPolicy",
        ),
        (
            "unknown field is pruned but wrong type fails",
            room("r26", json!({"tags": ["a"]})),
            "spec.tags",
        ),
        (
            "lc without destination",
            lc("l1", json!({})),
            "spec.destination",
        ),
        (
            "lc empty destination",
            lc("l2", json!({"destination": {}})),
            "spec.destination",
        ),
        (
            "lc two destinations",
            lc(
                "l3",
                json!({"destination": {"s3": {"bucketName": "abc"}, "firehose": {"deliveryStreamName": "x"}}}),
            ),
            "spec.destination",
        ),
        (
            "lc bucket too short",
            lc("l4", json!({"destination": {"s3": {"bucketName": "ab"}}})),
            "spec.destination.s3.bucketName",
        ),
        (
            "lc bucket uppercase",
            lc(
                "l5",
                json!({"destination": {"s3": {"bucketName": "Bucket"}}}),
            ),
            "spec.destination.s3.bucketName",
        ),
        (
            "lc log group pattern",
            lc(
                "l6",
                json!({"destination": {"cloudWatchLogs": {"logGroupName": "bad name!"}}}),
            ),
            "spec.destination.cloudWatchLogs.logGroupName",
        ),
        (
            "lc log group too long",
            lc(
                "l7",
                json!({"destination": {"cloudWatchLogs": {"logGroupName": "a".repeat(513)}}}),
            ),
            "spec.destination.cloudWatchLogs.logGroupName",
        ),
        (
            "lc stream too long",
            lc(
                "l8",
                json!({"destination": {"firehose": {"deliveryStreamName": "a".repeat(65)}}}),
            ),
            "spec.destination.firehose.deliveryStreamName",
        ),
        (
            "lc stream pattern",
            lc(
                "l9",
                json!({"destination": {"firehose": {"deliveryStreamName": "a/b"}}}),
            ),
            "spec.destination.firehose.deliveryStreamName",
        ),
        (
            "lc name pattern",
            lc("l10", json!({"name": "a b", "destination": s3()})),
            "spec.name",
        ),
        (
            "lc tag key aws:",
            lc("l11", json!({"destination": s3(), "tags": {"aws:x": "y"}})),
            "spec.tags",
        ),
        (
            "lc region pattern",
            lc("l12", json!({"destination": s3(), "region": "US-EAST-1"})),
            "spec.region",
        ),
    ]
}

fn valid_cases() -> Vec<Value> {
    vec![
        room("ok-empty", json!({})),
        room(
            "ok-full",
            json!({
                "name": "Main_stage-1",
                "maximumMessageLength": 500,
                "maximumMessageRatePerSecond": 100,
                "messageReviewHandler": {"uri": LAMBDA, "fallbackResult": "DENY"},
                "loggingConfigurations": [{"name": "logs"}, {"arn": LC_ARN}],
                "tags": {"team": "chat", "env": ""},
                "region": "eu-west-1",
                "deletionPolicy": "Retain",
            }),
        ),
        room(
            "ok-min",
            json!({"maximumMessageLength": 1, "maximumMessageRatePerSecond": 1}),
        ),
        room("ok-empty-name", json!({"name": ""})),
        room("ok-empty-uri", json!({"messageReviewHandler": {"uri": ""}})),
        room("ok-47-tags", json!({"tags": many_tags(47)})),
        room(
            "ok-three-refs",
            json!({"loggingConfigurations": [{"name": "a"}, {"name": "b"}, {"arn": LC_ARN}]}),
        ),
        room(
            "ok-gov-region",
            json!({"region": "us-gov-west-1", "deletionPolicy": "Delete"}),
        ),
        lc(
            "ok-s3",
            json!({"destination": {"s3": {"bucketName": "my.chat-logs"}}}),
        ),
        lc(
            "ok-cw",
            json!({"name": "audit", "destination": {"cloudWatchLogs": {"logGroupName": "/aws/ivs/chat#1"}}, "region": "ap-south-1"}),
        ),
        lc(
            "ok-firehose",
            json!({"destination": {"firehose": {"deliveryStreamName": "chat_stream.v1"}}, "tags": {"a": "b"}, "deletionPolicy": "Retain"}),
        ),
    ]
}

fn api_for(client: &kube::Client, ns: &str, obj: &Value) -> Api<DynamicObject> {
    let kind = obj["kind"].as_str().unwrap_or_default();
    let plural = if kind == "ChatRoom" {
        "chatrooms"
    } else {
        "chatloggingconfigurations"
    };
    Api::namespaced_with(
        client.clone(),
        ns,
        &support::operator_api_resource(kind, plural),
    )
}

#[tokio::test]
async fn invalid_specs_are_rejected_with_a_message_naming_the_field() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = support::test_namespace(&client, "crd-invalid").await;
    let cases = invalid_cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (case, obj, field) in cases {
        let api = api_for(&client, ns.name(), &obj);
        let dynamic: DynamicObject = serde_json::from_value(obj.clone()).expect("object");
        match api
            .create(
                &PostParams {
                    dry_run: true,
                    ..Default::default()
                },
                &dynamic,
            )
            .await
        {
            Ok(_) => failures.push(format!("{case}: accepted")),
            Err(kube::Error::Api(status)) => {
                if status.code != 422 || !status.message.contains(field) {
                    failures.push(format!(
                        "{case}: {} {:?} does not name {field}",
                        status.code, status.message
                    ));
                }
            }
            Err(e) => failures.push(format!("{case}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn valid_specs_are_stored_exactly_as_written() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = support::test_namespace(&client, "crd-valid").await;
    let cases = valid_cases();
    assert!(cases.len() >= 10);
    for obj in cases {
        let api = api_for(&client, ns.name(), &obj);
        let dynamic: DynamicObject = serde_json::from_value(obj.clone()).expect("object");
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let stored = api
            .create(&PostParams::default(), &dynamic)
            .await
            .unwrap_or_else(|e| panic!("{name} rejected: {e}"));
        assert_eq!(
            stored.data["spec"], obj["spec"],
            "{name}: the apiserver changed the spec (defaults?)"
        );
        assert!(
            stored.data.get("status").is_none(),
            "{name}: status must not be defaulted"
        );
    }
}

#[tokio::test]
async fn region_is_immutable_once_set() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = support::test_namespace(&client, "crd-region").await;
    for obj in [
        room(
            "regional",
            json!({"region": "us-east-1", "maximumMessageLength": 10}),
        ),
        lc(
            "regional-logs",
            json!({"region": "us-east-1", "destination": s3()}),
        ),
    ] {
        let api = api_for(&client, ns.name(), &obj);
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let pp = PatchParams::apply("test-user").force();
        api.patch(&name, &pp, &Patch::Apply(&obj))
            .await
            .expect("create");
        for (what, spec_change) in [("change", json!("eu-west-1")), ("removal", Value::Null)] {
            let mut changed = obj.clone();
            match &spec_change {
                Value::Null => {
                    changed["spec"]
                        .as_object_mut()
                        .expect("spec")
                        .remove("region");
                }
                v => changed["spec"]["region"] = v.clone(),
            }
            let err = api
                .patch(&name, &pp, &Patch::Apply(&changed))
                .await
                .expect_err(what);
            match err {
                kube::Error::Api(s) => assert!(
                    s.message.contains("spec.region is immutable"),
                    "{what}: {}",
                    s.message
                ),
                other => panic!("{what}: {other}"),
            }
        }
        // Other fields stay mutable.
        let mut ok = obj.clone();
        ok["spec"]["deletionPolicy"] = json!("Retain");
        api.patch(&name, &pp, &Patch::Apply(&ok))
            .await
            .expect("other fields are mutable");
    }
    // Setting a region for the first time is allowed.
    let api = api_for(&client, ns.name(), &room("later", json!({})));
    let pp = PatchParams::apply("test-user").force();
    api.patch("later", &pp, &Patch::Apply(room("later", json!({}))))
        .await
        .expect("create");
    api.patch(
        "later",
        &pp,
        &Patch::Apply(room("later", json!({"region": "us-west-2"}))),
    )
    .await
    .expect("first set");
}

fn kubectl(args: &[&str]) -> String {
    let bin = support::processes::target_dir()
        .parent()
        .map(|t| t.join("control-plane/bin/kubectl"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("target/control-plane/bin/kubectl is missing: run tests/control-plane/up.sh")
        });
    let out = std::process::Command::new(bin)
        .args(args)
        .env("KUBECONFIG", support::kubeconfig_path())
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test]
async fn kubectl_lists_with_columns_and_explains_fields() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = support::test_namespace(&client, "crd-kubectl").await;
    let obj = room("columns", json!({}));
    let api = api_for(&client, ns.name(), &obj);
    api.patch(
        "columns",
        &PatchParams::apply("test-user"),
        &Patch::Apply(&obj),
    )
    .await
    .expect("create");

    let table = kubectl(&["get", "chatrooms", "-n", ns.name()]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "READY", "REASON", "ID", "AGE"], "{table}");
    let wide = kubectl(&["get", "ivsroom", "-n", ns.name(), "-o", "wide"]);
    let header: Vec<&str> = wide
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME", "READY", "REASON", "ID", "AGE", "ARN", "REGION", "MESSAGE"
        ],
        "{wide}"
    );
    let category = kubectl(&["get", "ivschat", "-n", ns.name()]);
    assert!(
        category.contains("chatroom.ivschat.operators.dev/columns"),
        "{category}"
    );

    let explain = kubectl(&["explain", "chatroom.spec.messageReviewHandler"]);
    assert!(
        explain.contains("Lambda function that reviews every message"),
        "{explain}"
    );
    assert!(explain.contains("fallbackResult"), "{explain}");
    let explain = kubectl(&["explain", "chatloggingconfiguration.spec.destination"]);
    assert!(explain.contains("exactly one of"), "{explain}");
}
