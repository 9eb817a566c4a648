//! Plain data for what IVS Chat returns and accepts; no SDK types.

use std::collections::BTreeMap;

/// Tags of an AWS resource.
pub type Tags = BTreeMap<String, String>;

/// A message review handler as AWS reports it. A handler with an empty `uri` is no handler.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReviewHandler {
    pub uri: String,
    /// `ALLOW` or `DENY`.
    pub fallback_result: String,
}

/// A room as GetRoom, CreateRoom and UpdateRoom return it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Room {
    pub arn: String,
    pub id: String,
    pub name: String,
    pub maximum_message_length: i32,
    pub maximum_message_rate_per_second: i32,
    pub message_review_handler: Option<ReviewHandler>,
    pub logging_configuration_arns: Vec<String>,
    pub tags: Tags,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
}

/// A room as ListRooms returns it: without the two message limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomSummary {
    pub arn: String,
    pub id: String,
    pub name: String,
    pub message_review_handler: Option<ReviewHandler>,
    pub logging_configuration_arns: Vec<String>,
    pub tags: Tags,
    pub update_time: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoomPage {
    pub rooms: Vec<RoomSummary>,
    pub next_token: Option<String>,
}

/// Every field of a room the operator manages, with AWS defaults already applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomFields {
    pub name: String,
    pub maximum_message_length: i32,
    pub maximum_message_rate_per_second: i32,
    pub message_review_handler: Option<ReviewHandler>,
    pub logging_configuration_arns: Vec<String>,
}

/// Input of CreateRoom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRoom {
    pub fields: RoomFields,
    pub tags: Tags,
}

/// Input of UpdateRoom: `None` leaves a field unchanged. A handler with an empty `uri` removes
/// the handler; an empty list detaches every logging configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoomUpdate {
    pub name: Option<String>,
    pub maximum_message_length: Option<i32>,
    pub maximum_message_rate_per_second: Option<i32>,
    pub message_review_handler: Option<ReviewHandler>,
    pub logging_configuration_arns: Option<Vec<String>>,
}

impl RoomUpdate {
    pub fn is_empty(&self) -> bool {
        self == &RoomUpdate::default()
    }
}

/// A logging destination: exactly one of the three kinds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Destination {
    S3 { bucket_name: String },
    CloudWatchLogs { log_group_name: String },
    Firehose { delivery_stream_name: String },
}

/// The state of a logging configuration as AWS reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoggingConfigurationState {
    Creating,
    CreateFailed,
    Active,
    Updating,
    UpdateFailed,
    Deleting,
    DeleteFailed,
    Unknown(String),
}

impl LoggingConfigurationState {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Creating => "CREATING",
            Self::CreateFailed => "CREATE_FAILED",
            Self::Active => "ACTIVE",
            Self::Updating => "UPDATING",
            Self::UpdateFailed => "UPDATE_FAILED",
            Self::Deleting => "DELETING",
            Self::DeleteFailed => "DELETE_FAILED",
            Self::Unknown(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "CREATING" => Self::Creating,
            "CREATE_FAILED" => Self::CreateFailed,
            "ACTIVE" => Self::Active,
            "UPDATING" => Self::Updating,
            "UPDATE_FAILED" => Self::UpdateFailed,
            "DELETING" => Self::Deleting,
            "DELETE_FAILED" => Self::DeleteFailed,
            other => Self::Unknown(other.to_string()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggingConfiguration {
    pub arn: String,
    pub id: String,
    pub name: String,
    pub destination: Option<Destination>,
    pub state: LoggingConfigurationState,
    pub tags: Tags,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoggingConfigurationPage {
    pub logging_configurations: Vec<LoggingConfiguration>,
    pub next_token: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateLoggingConfiguration {
    pub name: String,
    pub destination: Destination,
    pub tags: Tags,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoggingConfigurationUpdate {
    pub name: Option<String>,
    pub destination: Option<Destination>,
}

impl LoggingConfigurationUpdate {
    pub fn is_empty(&self) -> bool {
        self == &LoggingConfigurationUpdate::default()
    }
}

/// The id is the last segment of an IVS Chat ARN.
pub fn id_from_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
