//! Types and schema fragments shared by both kinds.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Tags the operator adds to every AWS resource it creates, to find and prove ownership
/// (crash-safe create and adoption). They count against the AWS limit of 50 tags.
pub const OWNERSHIP_TAG_COUNT: usize = 3;
/// The AWS limit on tags per resource.
pub const AWS_MAX_TAGS: usize = 50;
/// How many tags a user may set in `spec.tags`: the AWS limit minus the ownership tags.
pub const MAX_USER_TAGS: usize = AWS_MAX_TAGS - OWNERSHIP_TAG_COUNT;

/// What happens to the AWS resource when the Kubernetes object is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the AWS resource, then release the Kubernetes object.
    #[default]
    Delete,
    /// Keep the AWS resource, remove the operator's ownership tags from it (so another object
    /// can adopt it) and release the Kubernetes object.
    Retain,
}

/// What IVS Chat does with a message when the review handler does not answer within 200 ms
/// or fails.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FallbackResult {
    /// Deliver the message.
    #[default]
    Allow,
    /// Drop the message.
    Deny,
}

impl FallbackResult {
    pub fn as_aws_str(self) -> &'static str {
        match self {
            FallbackResult::Allow => "ALLOW",
            FallbackResult::Deny => "DENY",
        }
    }
}

/// Schema of `spec.name` for both kinds (`RoomName` / `LoggingConfigurationName` in the model).
pub fn aws_name_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "maxLength": 128,
        "pattern": "^[a-zA-Z0-9_-]*$",
    })
}

/// Schema of `spec.region`: an AWS region code such as `us-east-1` or `us-gov-west-1`.
pub fn region_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "minLength": 9,
        "maxLength": 32,
        "pattern": "^[a-z]{2}(-[a-z]+)+-[0-9]+$",
    })
}

/// Schema of `spec.tags`. Key rules that OpenAPI cannot express on map keys are CEL rules; every
/// rule has a message naming the field, and `maxProperties` bounds the CEL cost.
pub fn tags_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "maxProperties": MAX_USER_TAGS,
        "additionalProperties": { "type": "string", "maxLength": 256 },
        "x-kubernetes-validations": [
            {
                "rule": "self.all(k, size(k) >= 1 && size(k) <= 128)",
                "message": "tags: every key must be 1 to 128 characters long",
            },
            {
                "rule": "self.all(k, !k.startsWith('aws:'))",
                "message": "tags: keys must not start with 'aws:' (reserved by AWS)",
            },
            {
                "rule": "self.all(k, !k.startsWith('ivschat.operators.dev/'))",
                "message": "tags: keys must not start with 'ivschat.operators.dev/' (reserved for the operator's ownership tags)",
            },
        ],
    })
}

/// User tags of a resource, as written in `spec.tags`.
pub type Tags = BTreeMap<String, String>;

/// CEL rule shared by both kinds: `spec.region` can be set once and never changed or removed,
/// since moving a resource between regions would mean a different resource.
pub const REGION_IMMUTABLE_RULE: &str =
    "!has(oldSelf.region) || (has(self.region) && self.region == oldSelf.region)";
pub const REGION_IMMUTABLE_MESSAGE: &str =
    "spec.region is immutable once set: create a new resource to move to another region";
