//! The AWS side, seen through a small trait so the controllers never touch SDK types and unit
//! tests can use an in-process fake. `sdk.rs` is the one real implementation.

mod error;
pub mod rate_limit;
pub mod sdk;
mod types;

use std::future::Future;

pub use error::{AwsError, ErrorClass};
pub use types::*;

/// Every IVS Chat operation the operator calls (the methods of `IvsChat`), by AWS name.
pub const OPERATIONS: &[&str] = &[
    "CreateRoom",
    "GetRoom",
    "UpdateRoom",
    "DeleteRoom",
    "ListRooms",
    "CreateLoggingConfiguration",
    "GetLoggingConfiguration",
    "UpdateLoggingConfiguration",
    "DeleteLoggingConfiguration",
    "ListLoggingConfigurations",
    "TagResource",
    "UntagResource",
];

/// The IVS Chat operations the operator calls. Every method takes the region explicitly:
/// resources can live in different regions. `deploy/iam-policy.json` lists exactly these.
pub trait IvsChat: Send + Sync + 'static {
    fn create_room(
        &self,
        region: &str,
        input: &CreateRoom,
    ) -> impl Future<Output = Result<Room, AwsError>> + Send;
    fn get_room(
        &self,
        region: &str,
        arn: &str,
    ) -> impl Future<Output = Result<Room, AwsError>> + Send;
    fn update_room(
        &self,
        region: &str,
        arn: &str,
        input: &RoomUpdate,
    ) -> impl Future<Output = Result<Room, AwsError>> + Send;
    fn delete_room(
        &self,
        region: &str,
        arn: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// One page of ListRooms, optionally filtered by exact room name.
    fn list_rooms(
        &self,
        region: &str,
        name: Option<&str>,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<RoomPage, AwsError>> + Send;

    fn create_logging_configuration(
        &self,
        region: &str,
        input: &CreateLoggingConfiguration,
    ) -> impl Future<Output = Result<LoggingConfiguration, AwsError>> + Send;
    fn get_logging_configuration(
        &self,
        region: &str,
        arn: &str,
    ) -> impl Future<Output = Result<LoggingConfiguration, AwsError>> + Send;
    fn update_logging_configuration(
        &self,
        region: &str,
        arn: &str,
        input: &LoggingConfigurationUpdate,
    ) -> impl Future<Output = Result<LoggingConfiguration, AwsError>> + Send;
    fn delete_logging_configuration(
        &self,
        region: &str,
        arn: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    fn list_logging_configurations(
        &self,
        region: &str,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<LoggingConfigurationPage, AwsError>> + Send;

    fn tag_resource(
        &self,
        region: &str,
        arn: &str,
        tags: &Tags,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    fn untag_resource(
        &self,
        region: &str,
        arn: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}
