//! `ChatLoggingConfiguration`: where IVS Chat rooms send their messages and events.
// kube-derive takes one `printcolumn(...)` per column; clippy mistakes the repeated keys for
// duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::chat_room::conditions_schema;
use super::common::{
    DeletionPolicy, REGION_IMMUTABLE_MESSAGE, REGION_IMMUTABLE_RULE, Tags, aws_name_schema,
    region_schema, tags_schema,
};

/// Desired state of an AWS IVS Chat logging configuration. Every field, the destination
/// included, updates the configuration in place.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "ivschat.operators.dev",
    version = "v1alpha1",
    kind = "ChatLoggingConfiguration",
    namespaced,
    status = "ChatLoggingConfigurationStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "ivslogcfg",
    shortname = "chatlogcfg",
    category = "ivschat",
    category = "aws",
    doc = "An AWS IVS Chat logging configuration managed from Kubernetes: a destination (S3 bucket, CloudWatch Logs group or Firehose stream) that ChatRooms reference by name to log their messages and events.",
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
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
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
pub struct ChatLoggingConfigurationSpec {
    /// Name of the logging configuration in AWS: 0 to 128 characters of letters, digits, `-` and
    /// `_`. When omitted, it is named after `metadata.name` (characters outside that set become
    /// `-`, cut at 128). Updates in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "aws_name_schema")]
    pub name: Option<String>,

    /// Where the logs go: exactly one of `s3`, `cloudWatchLogs` or `firehose`. Changing it,
    /// even to another kind of destination, updates the configuration in place.
    pub destination: DestinationConfiguration,

    /// Tags of the logging configuration in AWS. At most 47 (AWS allows 50; the operator adds
    /// 3 ownership tags under `ivschat.operators.dev/`, and its default tags count too). Keys are
    /// 1 to 128 characters and must not start with `aws:`; values are at most 256 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "tags_schema")]
    pub tags: Option<Tags>,

    /// AWS region of the logging configuration, such as `us-east-1`. When omitted the
    /// operator's region is used. Immutable once set. Rooms can only use logging
    /// configurations of their own region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "region_schema")]
    pub region: Option<String>,

    /// What happens to the logging configuration in AWS when this object is deleted: `Delete`
    /// (the default) deletes it, `Retain` keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
}

/// The destination of a logging configuration: exactly one member is set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "[has(self.s3), has(self.cloudWatchLogs), has(self.firehose)].filter(x, x).size() == 1",
    "message": "destination: set exactly one of s3, cloudWatchLogs or firehose",
}]))]
pub struct DestinationConfiguration {
    /// Deliver logs to an Amazon S3 bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Destination>,
    /// Deliver logs to an Amazon CloudWatch Logs log group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_watch_logs: Option<CloudWatchLogsDestination>,
    /// Deliver logs to an Amazon Data Firehose delivery stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firehose: Option<FirehoseDestination>,
}

/// An Amazon S3 destination.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Destination {
    /// Name of the bucket: 3 to 63 characters of lowercase letters, digits, `.` and `-`.
    #[schemars(schema_with = "bucket_name_schema")]
    pub bucket_name: String,
}

/// An Amazon CloudWatch Logs destination.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudWatchLogsDestination {
    /// Name of the log group: 1 to 512 characters of letters, digits, `.`, `-`, `_`, `/` and `#`.
    #[schemars(schema_with = "log_group_name_schema")]
    pub log_group_name: String,
}

/// An Amazon Data Firehose destination.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseDestination {
    /// Name of the delivery stream: 1 to 64 characters of letters, digits, `_`, `.` and `-`.
    #[schemars(schema_with = "delivery_stream_name_schema")]
    pub delivery_stream_name: String,
}

/// Observed state of the logging configuration, written only by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatLoggingConfigurationStatus {
    /// ARN of the logging configuration in AWS. Set right after it is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The configuration's 12-character id (the last part of the ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The state AWS reports: CREATING, CREATE_FAILED, ACTIVE, UPDATING, UPDATE_FAILED,
    /// DELETING or DELETE_FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// AWS region the configuration lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// When the configuration was created in AWS (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    /// When the configuration was last updated in AWS (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    /// The `metadata.generation` the operator last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (ACTIVE and equal to the spec), `Synced` (the last AWS call succeeded) and
    /// `Stalled` (an error that will not fix itself without a change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Option<Vec<Condition>>,
}

fn bucket_name_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "minLength": 3, "maxLength": 63, "pattern": "^[a-z0-9.-]+$" })
}

fn log_group_name_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "minLength": 1, "maxLength": 512, "pattern": "^[.\\-_/#A-Za-z0-9]+$" })
}

fn delivery_stream_name_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[a-zA-Z0-9_.-]+$" })
}
