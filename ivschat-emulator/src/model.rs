//! Resources (rooms, logging configurations) and their wire representation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::util::iso8601_ms;

pub type Tags = BTreeMap<String, String>;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessageReviewHandler {
    pub uri: String,
    pub fallback_result: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Room {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub create_ms: i64,
    pub update_ms: i64,
    /// Tie-breaker of the `updateTime` ordering; unique within a region.
    pub seq: u64,
    pub maximum_message_rate_per_second: i64,
    pub maximum_message_length: i64,
    pub message_review_handler: Option<MessageReviewHandler>,
    pub tags: Tags,
    pub logging_configuration_identifiers: Vec<String>,
}

impl Room {
    pub fn order_key(&self) -> (i64, u64) {
        (self.update_ms, self.seq)
    }

    /// `GetRoom`/`CreateRoom`/`UpdateRoom` output.
    pub fn to_json(&self) -> Value {
        let mut v = self.summary_json();
        if let Value::Object(o) = &mut v {
            o.insert(
                "maximumMessageRatePerSecond".into(),
                json!(self.maximum_message_rate_per_second),
            );
            o.insert(
                "maximumMessageLength".into(),
                json!(self.maximum_message_length),
            );
        }
        v
    }

    /// `RoomSummary`: no message limits.
    pub fn summary_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("arn".into(), json!(self.arn));
        o.insert("id".into(), json!(self.id));
        o.insert("name".into(), json!(self.name));
        o.insert("createTime".into(), json!(iso8601_ms(self.create_ms)));
        o.insert("updateTime".into(), json!(iso8601_ms(self.update_ms)));
        if let Some(h) = &self.message_review_handler {
            o.insert(
                "messageReviewHandler".into(),
                json!({"uri": h.uri, "fallbackResult": h.fallback_result}),
            );
        }
        o.insert("tags".into(), json!(self.tags));
        if !self.logging_configuration_identifiers.is_empty() {
            o.insert(
                "loggingConfigurationIdentifiers".into(),
                json!(self.logging_configuration_identifiers),
            );
        }
        Value::Object(o)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Destination {
    S3 { bucket_name: String },
    CloudWatchLogs { log_group_name: String },
    Firehose { delivery_stream_name: String },
}

impl Destination {
    /// From a validated `DestinationConfiguration` union.
    pub fn from_json(v: &Value) -> Option<Destination> {
        let field = |outer: &str, inner: &str| {
            v.get(outer)
                .filter(|x| !x.is_null())
                .and_then(|x| x.get(inner))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        if let Some(b) = field("s3", "bucketName") {
            return Some(Destination::S3 { bucket_name: b });
        }
        if let Some(g) = field("cloudWatchLogs", "logGroupName") {
            return Some(Destination::CloudWatchLogs { log_group_name: g });
        }
        field("firehose", "deliveryStreamName").map(|s| Destination::Firehose {
            delivery_stream_name: s,
        })
    }

    pub fn to_json(&self) -> Value {
        match self {
            Destination::S3 { bucket_name } => json!({"s3": {"bucketName": bucket_name}}),
            Destination::CloudWatchLogs { log_group_name } => {
                json!({"cloudWatchLogs": {"logGroupName": log_group_name}})
            }
            Destination::Firehose {
                delivery_stream_name,
            } => json!({"firehose": {"deliveryStreamName": delivery_stream_name}}),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum LcState {
    #[serde(rename = "CREATING")]
    Creating,
    #[serde(rename = "CREATE_FAILED")]
    CreateFailed,
    #[serde(rename = "DELETING")]
    Deleting,
    #[serde(rename = "DELETE_FAILED")]
    DeleteFailed,
    #[serde(rename = "UPDATING")]
    Updating,
    #[serde(rename = "UPDATE_FAILED")]
    UpdateFailed,
    #[serde(rename = "ACTIVE")]
    Active,
}

impl LcState {
    pub fn as_str(self) -> &'static str {
        match self {
            LcState::Creating => "CREATING",
            LcState::CreateFailed => "CREATE_FAILED",
            LcState::Deleting => "DELETING",
            LcState::DeleteFailed => "DELETE_FAILED",
            LcState::Updating => "UPDATING",
            LcState::UpdateFailed => "UPDATE_FAILED",
            LcState::Active => "ACTIVE",
        }
    }

    pub fn parse(s: &str) -> Option<LcState> {
        [
            LcState::Creating,
            LcState::CreateFailed,
            LcState::Deleting,
            LcState::DeleteFailed,
            LcState::Updating,
            LcState::UpdateFailed,
            LcState::Active,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// CREATING, UPDATING and DELETING: the configuration cannot be updated or deleted.
    pub fn is_transitional(self) -> bool {
        matches!(
            self,
            LcState::Creating | LcState::Updating | LcState::Deleting
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoggingConfiguration {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub create_ms: i64,
    pub update_ms: i64,
    pub seq: u64,
    pub destination: Destination,
    pub state: LcState,
    /// Wall-clock ms at which a CREATING/UPDATING configuration becomes ACTIVE or a DELETING one
    /// disappears. `None`: the state is sticky.
    pub transition_at: Option<i64>,
    pub tags: Tags,
}

impl LoggingConfiguration {
    pub fn order_key(&self) -> (i64, u64) {
        (self.update_ms, self.seq)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "arn": self.arn,
            "id": self.id,
            "createTime": iso8601_ms(self.create_ms),
            "updateTime": iso8601_ms(self.update_ms),
            "name": self.name,
            "destinationConfiguration": self.destination.to_json(),
            "state": self.state.as_str(),
            "tags": self.tags,
        })
    }
}
