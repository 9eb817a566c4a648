//! The manifests in `examples/` (what `make demo` and the README apply) are valid, become Ready,
//! and produce exactly the AWS resources they describe.
//!
//! Every object of `examples/*.yaml` is server-side applied, as `kubectl apply` would, into
//! this test's namespace (the Namespace object itself is skipped), against a real control plane,
//! the emulator and the operator binary.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use ivschat_operator::api::{
    ChatLoggingConfiguration, ChatLoggingConfigurationSpec, ChatRoom, ChatRoomSpec,
    DestinationConfiguration, FallbackResult,
};
use ivschat_operator::planning::naming::aws_name_from_object_name;
use ivschat_operator::planning::tags::{CLUSTER_TAG, OWNER_TAG, UID_TAG};
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use support::scenario::Scenario;
use support::{FIELD_MANAGER, operator_api_resource};

/// The namespace every example lives in (`examples/00-namespace.yaml`).
const EXAMPLES_NAMESPACE: &str = "ivschat-demo";

/// One object of `examples/`, with the file it came from.
struct Example {
    file: String,
    object: serde_json::Value,
}

impl Example {
    fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }
    fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }
}

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Every object of `examples/*.yaml`, in the order `kubectl apply -f examples/` applies them.
fn read_examples() -> Vec<Example> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("examples/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut examples = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read example");
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for object in docs.into_iter().filter(|d| !d.is_null()) {
            examples.push(Example {
                file: path
                    .file_name()
                    .map(|f| f.to_string_lossy().to_string())
                    .unwrap_or_default(),
                object,
            });
        }
    }
    examples
}

#[test]
fn examples_are_consistent() {
    let examples = read_examples();
    let count = |kind: &str| examples.iter().filter(|e| e.kind() == kind).count();
    assert_eq!(
        count("Namespace"),
        1,
        "examples/ defines its namespace once"
    );
    assert!(
        count("ChatRoom") >= 1 && count("ChatLoggingConfiguration") >= 1,
        "examples/ shows both kinds"
    );
    let namespace_file = examples
        .iter()
        .position(|e| e.kind() == "Namespace")
        .expect("namespace");
    for (i, e) in examples.iter().enumerate() {
        match e.kind() {
            "Namespace" => assert_eq!(e.name(), EXAMPLES_NAMESPACE),
            "ChatRoom" | "ChatLoggingConfiguration" => {
                assert_eq!(
                    e.object["apiVersion"],
                    "ivschat.operators.dev/v1alpha1",
                    "{}: {}",
                    e.file,
                    e.name()
                );
                assert_eq!(
                    e.object["metadata"]["namespace"],
                    EXAMPLES_NAMESPACE,
                    "{}: {} must live in {EXAMPLES_NAMESPACE}",
                    e.file,
                    e.name()
                );
                assert!(
                    i > namespace_file,
                    "{}: {} comes before its Namespace in `kubectl apply -f examples/` order",
                    e.file,
                    e.name()
                );
            }
            other => panic!("{}: unexpected kind {other}", e.file),
        }
    }
    // Rooms reference logging configurations of the examples by name.
    let configurations: Vec<&str> = examples
        .iter()
        .filter(|e| e.kind() == "ChatLoggingConfiguration")
        .map(Example::name)
        .collect();
    for room in examples.iter().filter(|e| e.kind() == "ChatRoom") {
        let spec: ChatRoomSpec =
            serde_json::from_value(room.object["spec"].clone()).expect("ChatRoom spec");
        for reference in spec.logging_configurations.iter().flatten() {
            if let Some(name) = &reference.name {
                assert!(
                    configurations.contains(&name.as_str()),
                    "ChatRoom {} references {name}, which examples/ does not define",
                    room.name()
                );
            }
        }
    }
}

fn expected_tags(user: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
    user.cloned().unwrap_or_default()
}

/// Asserts that `actual` holds every user tag and the ownership tags of `ns/name`.
fn assert_tags(
    what: &str,
    actual: &std::collections::HashMap<String, String>,
    user: Option<&BTreeMap<String, String>>,
    ns: &str,
    name: &str,
    uid: &str,
) {
    for (k, v) in expected_tags(user) {
        assert_eq!(actual.get(&k), Some(&v), "{what}: tag {k} in {actual:?}");
    }
    assert_eq!(
        actual.get(CLUSTER_TAG).map(String::as_str),
        Some("test"),
        "{what}"
    );
    assert_eq!(
        actual.get(OWNER_TAG),
        Some(&format!("{ns}/{name}")),
        "{what}"
    );
    assert_eq!(actual.get(UID_TAG).map(String::as_str), Some(uid), "{what}");
    let user_count = user.map_or(0, BTreeMap::len);
    assert_eq!(
        actual.len(),
        user_count + 3,
        "{what}: only the user's and the ownership tags: {actual:?}"
    );
}

#[tokio::test]
async fn every_example_becomes_ready_with_the_values_it_describes() {
    let examples = read_examples();
    // As in `make demo`: logging configurations spend a moment in CREATING.
    let s = Scenario::start(
        "examples",
        &["--logging-configuration-delay", "1000"],
        &["--drift-poll-interval", "5s"],
    )
    .await;
    let ns = s.ns.name().to_string();

    for e in examples.iter().filter(|e| e.kind() != "Namespace") {
        let plural = match e.kind() {
            "ChatRoom" => "chatrooms",
            "ChatLoggingConfiguration" => "chatloggingconfigurations",
            other => panic!("{}: unexpected kind {other}", e.file),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(
            s.client.clone(),
            &ns,
            &operator_api_resource(e.kind(), plural),
        );
        let mut object = e.object.clone();
        object["metadata"]["namespace"] = serde_json::Value::String(ns.clone());
        api.patch(
            e.name(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await
        .unwrap_or_else(|err| panic!("{}: applying {} {}: {err}", e.file, e.kind(), e.name()));
    }

    let sdk = s.emulator.sdk().await;
    let mut arn_of_configuration: BTreeMap<String, String> = BTreeMap::new();
    for e in examples
        .iter()
        .filter(|e| e.kind() == "ChatLoggingConfiguration")
    {
        let spec: ChatLoggingConfigurationSpec =
            serde_json::from_value(e.object["spec"].clone()).expect("spec");
        let lc: ChatLoggingConfiguration = s.wait_logging_configuration_ready(e.name()).await;
        let status = lc.status.clone().expect("status");
        let arn = status.arn.clone().expect("arn");
        assert_eq!(status.state.as_deref(), Some("ACTIVE"), "{}", e.name());
        let aws = sdk
            .get_logging_configuration()
            .identifier(&arn)
            .send()
            .await
            .expect("GetLoggingConfiguration");
        assert_eq!(
            aws.name(),
            Some(
                spec.name
                    .clone()
                    .unwrap_or_else(|| aws_name_from_object_name(e.name()))
                    .as_str()
            ),
            "{}",
            e.name()
        );
        let destination = aws.destination_configuration().expect("destination");
        match &spec.destination {
            DestinationConfiguration {
                s3: Some(s3),
                cloud_watch_logs: None,
                firehose: None,
            } => assert_eq!(
                destination.as_s3().map(|d| d.bucket_name()).ok(),
                Some(s3.bucket_name.as_str())
            ),
            DestinationConfiguration {
                s3: None,
                cloud_watch_logs: Some(cw),
                firehose: None,
            } => assert_eq!(
                destination
                    .as_cloud_watch_logs()
                    .map(|d| d.log_group_name())
                    .ok(),
                Some(cw.log_group_name.as_str())
            ),
            DestinationConfiguration {
                s3: None,
                cloud_watch_logs: None,
                firehose: Some(fh),
            } => assert_eq!(
                destination
                    .as_firehose()
                    .map(|d| d.delivery_stream_name())
                    .ok(),
                Some(fh.delivery_stream_name.as_str())
            ),
            other => panic!("{}: destination {other:?}", e.name()),
        }
        assert_tags(
            e.name(),
            aws.tags().expect("tags"),
            spec.tags.as_ref(),
            &ns,
            e.name(),
            &lc.uid().expect("uid"),
        );
        arn_of_configuration.insert(e.name().to_string(), arn);
    }

    for e in examples.iter().filter(|e| e.kind() == "ChatRoom") {
        let spec: ChatRoomSpec = serde_json::from_value(e.object["spec"].clone()).expect("spec");
        let room: ChatRoom = s.wait_room_ready(e.name()).await;
        let status = room.status.clone().expect("status");
        let arn = status.arn.clone().expect("arn");
        let aws = sdk
            .get_room()
            .identifier(&arn)
            .send()
            .await
            .expect("GetRoom");
        assert_eq!(
            aws.name(),
            Some(
                spec.name
                    .clone()
                    .unwrap_or_else(|| aws_name_from_object_name(e.name()))
                    .as_str()
            ),
            "{}",
            e.name()
        );
        assert_eq!(
            aws.maximum_message_length(),
            Some(spec.maximum_message_length.unwrap_or(500)),
            "{}",
            e.name()
        );
        assert_eq!(
            aws.maximum_message_rate_per_second(),
            Some(spec.maximum_message_rate_per_second.unwrap_or(10)),
            "{}",
            e.name()
        );
        match &spec.message_review_handler {
            Some(handler) => {
                let got = aws.message_review_handler().expect("handler");
                assert_eq!(got.uri(), Some(handler.uri.as_str()), "{}", e.name());
                assert_eq!(
                    got.fallback_result().map(|f| f.as_str()),
                    Some(
                        handler
                            .fallback_result
                            .unwrap_or(FallbackResult::Allow)
                            .as_aws_str()
                    ),
                    "{}",
                    e.name()
                );
            }
            None => assert!(
                aws.message_review_handler()
                    .and_then(|h| h.uri())
                    .is_none_or(str::is_empty),
                "{}",
                e.name()
            ),
        }
        let wanted: Vec<String> = spec
            .logging_configurations
            .iter()
            .flatten()
            .map(|r| match (&r.name, &r.arn) {
                (Some(name), _) => arn_of_configuration
                    .get(name)
                    .unwrap_or_else(|| panic!("{}: unknown reference {name}", e.name()))
                    .clone(),
                (None, Some(arn)) => arn.clone(),
                (None, None) => panic!("{}: empty reference", e.name()),
            })
            .collect();
        assert_eq!(
            status
                .logging_configuration_arns
                .clone()
                .unwrap_or_default(),
            wanted,
            "{}: status.loggingConfigurationArns, in spec order",
            e.name()
        );
        let mut attached: Vec<String> = aws.logging_configuration_identifiers().to_vec();
        attached.sort();
        let mut wanted_sorted = wanted.clone();
        wanted_sorted.sort();
        assert_eq!(attached, wanted_sorted, "{}: attached in AWS", e.name());
        assert_tags(
            e.name(),
            aws.tags().expect("tags"),
            spec.tags.as_ref(),
            &ns,
            e.name(),
            &room.uid().expect("uid"),
        );
    }
}
