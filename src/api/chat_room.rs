//! `ChatRoom`: one IVS Chat room.
// kube-derive takes one `printcolumn(...)` per column; clippy mistakes the repeated keys for
// duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::common::{
    DeletionPolicy, FallbackResult, REGION_IMMUTABLE_MESSAGE, REGION_IMMUTABLE_RULE, Tags,
    aws_name_schema, region_schema, tags_schema,
};

/// Desired state of an AWS IVS Chat room. Every field is optional and every field updates the
/// room in place: the room keeps its ARN for its whole life.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "ivschat.operators.dev",
    version = "v1alpha1",
    kind = "ChatRoom",
    namespaced,
    status = "ChatRoomStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "ivsroom",
    shortname = "chatroom",
    category = "ivschat",
    category = "aws",
    doc = "An AWS IVS Chat room managed from Kubernetes. The operator creates the room, keeps it equal to the spec, reports its ARN and id in status, and deletes (or retains) it when this object is deleted.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(name = "ID", type_ = "string", json_path = ".status.id"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "ARN",
        type_ = "string",
        json_path = ".status.arn",
        priority = "1"
    ),
    printcolumn(
        name = "Region",
        type_ = "string",
        json_path = ".status.region",
        priority = "1"
    ),
    printcolumn(
        name = "Message",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message",
        priority = "1"
    )
)]
#[x_kube(validation = kube::core::Rule::new(REGION_IMMUTABLE_RULE).message(REGION_IMMUTABLE_MESSAGE).field_path(".region"))]
#[serde(rename_all = "camelCase")]
pub struct ChatRoomSpec {
    /// Name of the room in AWS: 0 to 128 characters of letters, digits, `-` and `_`. Room names
    /// need not be unique. When omitted, the room is named after `metadata.name` (characters
    /// outside that set become `-`, cut at 128). Updates in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "aws_name_schema")]
    pub name: Option<String>,

    /// Maximum number of characters in a single message, 1 to 500. Messages are measured in
    /// Unicode code points. When omitted the operator keeps the room at the AWS default, 500.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 500))]
    pub maximum_message_length: Option<i32>,

    /// Maximum number of messages per second that can be sent to the room by all clients, 1 to
    /// 100. When omitted the operator keeps the room at the AWS default, 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub maximum_message_rate_per_second: Option<i32>,

    /// Lambda function that reviews every message before it is delivered. Remove the field to
    /// remove the handler from the room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_review_handler: Option<MessageReviewHandler>,

    /// Logging configurations the room sends its messages and events to: at most 3, each a
    /// reference by `name` to a ChatLoggingConfiguration in this namespace, or by `arn` to an
    /// existing logging configuration. No duplicates. An empty list or no field detaches all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "logging_configurations_schema")]
    pub logging_configurations: Option<Vec<LoggingConfigurationReference>>,

    /// Tags of the room in AWS. At most 47 (AWS allows 50; the operator adds 3 ownership tags
    /// under `ivschat.operators.dev/`, and the operator's default tags count too). Keys are 1 to 128
    /// characters and must not start with `aws:`; values are at most 256 characters. Tag
    /// changes are applied with TagResource/UntagResource, without touching the room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "tags_schema")]
    pub tags: Option<Tags>,

    /// AWS region of the room, such as `us-east-1`. When omitted the operator's region is used
    /// (and reported in `status.region`). Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "region_schema")]
    pub region: Option<String>,

    /// What happens to the room in AWS when this object is deleted: `Delete` (the default)
    /// deletes it, `Retain` keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// A Lambda function that reviews messages before they are delivered.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageReviewHandler {
    /// ARN of the Lambda function, such as
    /// `arn:aws:lambda:us-east-1:123456789012:function:review`. The function must allow
    /// invocation by `ivschat.amazonaws.com`. At most 170 characters.
    #[schemars(schema_with = "lambda_arn_schema")]
    pub uri: String,

    /// What happens to a message when the handler does not answer within 200 ms or fails:
    /// `ALLOW` (the default) delivers it, `DENY` drops it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_result: Option<FallbackResult>,
}

/// A reference to a logging configuration: exactly one of `name` or `arn`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "has(self.name) != has(self.arn)",
    "message": "loggingConfigurations: each entry needs exactly one of name or arn",
}]))]
pub struct LoggingConfigurationReference {
    /// Name of a ChatLoggingConfiguration in the same namespace. The room waits
    /// (Ready=False, reason ReferenceNotReady) until it is Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_name_schema")]
    pub name: Option<String>,

    /// ARN of an existing IVS Chat logging configuration, such as
    /// `arn:aws:ivschat:us-east-1:123456789012:logging-configuration/abcdABCD1234`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "logging_configuration_arn_schema")]
    pub arn: Option<String>,
}

/// Observed state of the room, written only by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatRoomStatus {
    /// ARN of the room in AWS. Set right after the room is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The room's 12-character id (the last part of the ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// AWS region the room lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// When the room was created in AWS (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    /// When the room was last updated in AWS (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    /// ARNs of the logging configurations attached to the room, in spec order, after resolving
    /// references by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging_configuration_arns: Option<Vec<String>>,
    /// The `metadata.generation` the operator last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (the room matches the spec), `Synced` (the last AWS call succeeded) and `Stalled`
    /// (an error that will not fix itself without a change to the spec or to AWS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
}

fn lambda_arn_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "maxLength": 170,
        "pattern": "^$|^arn:aws:lambda:[a-z0-9-]+:[0-9]{12}:function:.+",
    })
}

fn logging_configuration_arn_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": 128,
        "pattern": "^arn:aws:ivschat:[a-z0-9-]+:[0-9]+:logging-configuration/[a-zA-Z0-9-]+$",
    })
}

/// A DNS subdomain name, the form of every Kubernetes object name.
pub(crate) fn k8s_name_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": 253,
        "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    })
}

fn logging_configurations_schema(generator: &mut SchemaGenerator) -> Schema {
    let item = generator.subschema_for::<LoggingConfigurationReference>();
    json_schema!({
        "type": "array",
        "maxItems": 3,
        "items": item,
        "x-kubernetes-list-type": "atomic",
        "x-kubernetes-validations": [{
            "rule": "self.all(a, self.exists_one(b, a == b))",
            "message": "loggingConfigurations: duplicate references are not allowed",
        }],
    })
}

/// `metav1.Condition` list, keyed by `type` so server-side apply merges by condition type.
pub(crate) fn conditions_schema(generator: &mut SchemaGenerator) -> Schema {
    let item = generator.subschema_for::<Condition>();
    json_schema!({
        "type": "array",
        "items": item,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
    })
}
