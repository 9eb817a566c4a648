//! The real `IvsChat`: aws-sdk-ivschat, configured by the standard AWS chain
//! (`AWS_REGION`, `AWS_ENDPOINT_URL_IVSCHAT`, IRSA, EKS Pod Identity, ...), with client-side rate
//! limiting and metrics on every call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_ivschat::Client;
use aws_sdk_ivschat::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ivschat::primitives::{DateTime, DateTimeFormat};
use aws_sdk_ivschat::types as sdk;

use super::rate_limit::RateLimiters;
use super::*;
use crate::runtime::metrics::Metrics;

pub struct SdkIvsChat {
    base: aws_config::SdkConfig,
    clients: Mutex<HashMap<String, Client>>,
    limiters: RateLimiters,
    metrics: Arc<Metrics>,
}

impl SdkIvsChat {
    pub fn new(base: aws_config::SdkConfig, limiters: RateLimiters, metrics: Arc<Metrics>) -> Self {
        SdkIvsChat {
            base,
            clients: Mutex::new(HashMap::new()),
            limiters,
            metrics,
        }
    }

    /// One client per region, sharing credentials, endpoint and HTTP connections.
    fn client(&self, region: &str) -> Client {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let conf = aws_sdk_ivschat::config::Builder::from(&self.base)
                    .region(aws_config::Region::new(region.to_string()))
                    .build();
                Client::from_conf(conf)
            })
            .clone()
    }

    async fn before(&self, region: &str, operation: &'static str) -> Client {
        let waited = self.limiters.acquire(region, operation).await;
        self.metrics.observe_rate_limit_wait(operation, waited);
        self.client(region)
    }

    fn after<T, E>(
        &self,
        operation: &'static str,
        result: Result<T, SdkError<E, HttpResponse>>,
    ) -> Result<T, AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let result = result.map_err(|e| classify(operation, e));
        let outcome = match &result {
            Ok(_) => "success",
            Err(e) => e.code.as_str(),
        };
        self.metrics.observe_aws_call(operation, outcome);
        result
    }
}

type HttpResponse = aws_sdk_ivschat::config::http::HttpResponse;

fn classify<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let e = service.err();
            AwsError::from_code(
                operation,
                e.code().unwrap_or("UnknownError"),
                e.message().unwrap_or(""),
                Some(status),
            )
        }
        SdkError::ConstructionFailure(_) => AwsError::from_code(
            operation,
            "InvalidRequest",
            aws_sdk_ivschat::error::DisplayErrorContext(&err).to_string(),
            Some(400),
        ),
        _ => AwsError::transport(
            operation,
            aws_sdk_ivschat::error::DisplayErrorContext(&err).to_string(),
        ),
    }
}

fn time(t: Option<&DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
}

fn tags(t: Option<&HashMap<String, String>>) -> Tags {
    t.map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn handler(h: Option<&sdk::MessageReviewHandler>) -> Option<ReviewHandler> {
    h.and_then(|h| {
        let uri = h.uri().unwrap_or_default();
        (!uri.is_empty()).then(|| ReviewHandler {
            uri: uri.to_string(),
            fallback_result: h
                .fallback_result()
                .map(|f| f.as_str().to_string())
                .unwrap_or_else(|| "ALLOW".into()),
        })
    })
}

fn sdk_handler(h: &ReviewHandler) -> sdk::MessageReviewHandler {
    sdk::MessageReviewHandler::builder()
        .uri(&h.uri)
        .fallback_result(sdk::FallbackResult::from(h.fallback_result.as_str()))
        .build()
}

/// Create, Get and Update return the same fields under different types.
macro_rules! room_from {
    ($out:expr) => {{
        let out = $out;
        let arn = out.arn().unwrap_or_default().to_string();
        Room {
            id: out
                .id()
                .map(str::to_string)
                .unwrap_or_else(|| id_from_arn(&arn).to_string()),
            arn,
            name: out.name().unwrap_or_default().to_string(),
            maximum_message_length: out.maximum_message_length().unwrap_or(500),
            maximum_message_rate_per_second: out.maximum_message_rate_per_second().unwrap_or(10),
            message_review_handler: handler(out.message_review_handler()),
            logging_configuration_arns: out.logging_configuration_identifiers().to_vec(),
            tags: tags(out.tags()),
            create_time: time(out.create_time()),
            update_time: time(out.update_time()),
        }
    }};
}

macro_rules! logging_configuration_from {
    ($out:expr) => {{
        let out = $out;
        let arn = out.arn().unwrap_or_default().to_string();
        LoggingConfiguration {
            id: out
                .id()
                .map(str::to_string)
                .unwrap_or_else(|| id_from_arn(&arn).to_string()),
            arn,
            name: out.name().unwrap_or_default().to_string(),
            destination: out.destination_configuration().and_then(destination),
            state: out
                .state()
                .map(|s| LoggingConfigurationState::parse(s.as_str()))
                .unwrap_or(LoggingConfigurationState::Unknown("missing".into())),
            tags: tags(out.tags()),
            create_time: time(out.create_time()),
            update_time: time(out.update_time()),
        }
    }};
}

fn destination(d: &sdk::DestinationConfiguration) -> Option<Destination> {
    match d {
        sdk::DestinationConfiguration::S3(s3) => Some(Destination::S3 {
            bucket_name: s3.bucket_name().to_string(),
        }),
        sdk::DestinationConfiguration::CloudWatchLogs(cw) => Some(Destination::CloudWatchLogs {
            log_group_name: cw.log_group_name().to_string(),
        }),
        sdk::DestinationConfiguration::Firehose(f) => Some(Destination::Firehose {
            delivery_stream_name: f.delivery_stream_name().to_string(),
        }),
        _ => None,
    }
}

fn sdk_destination(d: &Destination) -> Result<sdk::DestinationConfiguration, AwsError> {
    let invalid = |e: aws_sdk_ivschat::error::BuildError| {
        AwsError::from_code("Build", "InvalidRequest", e.to_string(), Some(400))
    };
    Ok(match d {
        Destination::S3 { bucket_name } => sdk::DestinationConfiguration::S3(
            sdk::S3DestinationConfiguration::builder()
                .bucket_name(bucket_name)
                .build()
                .map_err(invalid)?,
        ),
        Destination::CloudWatchLogs { log_group_name } => {
            sdk::DestinationConfiguration::CloudWatchLogs(
                sdk::CloudWatchLogsDestinationConfiguration::builder()
                    .log_group_name(log_group_name)
                    .build()
                    .map_err(invalid)?,
            )
        }
        Destination::Firehose {
            delivery_stream_name,
        } => sdk::DestinationConfiguration::Firehose(
            sdk::FirehoseDestinationConfiguration::builder()
                .delivery_stream_name(delivery_stream_name)
                .build()
                .map_err(invalid)?,
        ),
    })
}

fn hash_tags(t: &Tags) -> HashMap<String, String> {
    t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl IvsChat for SdkIvsChat {
    async fn create_room(&self, region: &str, input: &CreateRoom) -> Result<Room, AwsError> {
        const OP: &str = "CreateRoom";
        let f = &input.fields;
        let mut req = self
            .before(region, OP)
            .await
            .create_room()
            .name(&f.name)
            .maximum_message_length(f.maximum_message_length)
            .maximum_message_rate_per_second(f.maximum_message_rate_per_second)
            .set_tags(Some(hash_tags(&input.tags)));
        if let Some(h) = &f.message_review_handler {
            req = req.message_review_handler(sdk_handler(h));
        }
        if !f.logging_configuration_arns.is_empty() {
            req = req
                .set_logging_configuration_identifiers(Some(f.logging_configuration_arns.clone()));
        }
        self.after(OP, req.send().await).map(|o| room_from!(o))
    }

    async fn get_room(&self, region: &str, arn: &str) -> Result<Room, AwsError> {
        const OP: &str = "GetRoom";
        let out = self
            .before(region, OP)
            .await
            .get_room()
            .identifier(arn)
            .send()
            .await;
        self.after(OP, out).map(|o| room_from!(o))
    }

    async fn update_room(
        &self,
        region: &str,
        arn: &str,
        input: &RoomUpdate,
    ) -> Result<Room, AwsError> {
        const OP: &str = "UpdateRoom";
        let req = self
            .before(region, OP)
            .await
            .update_room()
            .identifier(arn)
            .set_name(input.name.clone())
            .set_maximum_message_length(input.maximum_message_length)
            .set_maximum_message_rate_per_second(input.maximum_message_rate_per_second)
            .set_message_review_handler(input.message_review_handler.as_ref().map(sdk_handler))
            .set_logging_configuration_identifiers(input.logging_configuration_arns.clone());
        self.after(OP, req.send().await).map(|o| room_from!(o))
    }

    async fn delete_room(&self, region: &str, arn: &str) -> Result<(), AwsError> {
        const OP: &str = "DeleteRoom";
        let out = self
            .before(region, OP)
            .await
            .delete_room()
            .identifier(arn)
            .send()
            .await;
        self.after(OP, out).map(|_| ())
    }

    async fn list_rooms(
        &self,
        region: &str,
        name: Option<&str>,
        next_token: Option<String>,
    ) -> Result<RoomPage, AwsError> {
        const OP: &str = "ListRooms";
        let out = self
            .before(region, OP)
            .await
            .list_rooms()
            .set_name(name.map(str::to_string))
            .set_next_token(next_token)
            .max_results(50)
            .send()
            .await;
        self.after(OP, out).map(|o| RoomPage {
            rooms: o
                .rooms()
                .iter()
                .map(|s| {
                    let arn = s.arn().unwrap_or_default().to_string();
                    RoomSummary {
                        id: s
                            .id()
                            .map(str::to_string)
                            .unwrap_or_else(|| id_from_arn(&arn).to_string()),
                        arn,
                        name: s.name().unwrap_or_default().to_string(),
                        message_review_handler: handler(s.message_review_handler()),
                        logging_configuration_arns: s.logging_configuration_identifiers().to_vec(),
                        tags: tags(s.tags()),
                        update_time: time(s.update_time()),
                    }
                })
                .collect(),
            next_token: o.next_token().filter(|t| !t.is_empty()).map(str::to_string),
        })
    }

    async fn create_logging_configuration(
        &self,
        region: &str,
        input: &CreateLoggingConfiguration,
    ) -> Result<LoggingConfiguration, AwsError> {
        const OP: &str = "CreateLoggingConfiguration";
        let req = self
            .before(region, OP)
            .await
            .create_logging_configuration()
            .name(&input.name)
            .destination_configuration(sdk_destination(&input.destination)?)
            .set_tags(Some(hash_tags(&input.tags)));
        self.after(OP, req.send().await)
            .map(|o| logging_configuration_from!(o))
    }

    async fn get_logging_configuration(
        &self,
        region: &str,
        arn: &str,
    ) -> Result<LoggingConfiguration, AwsError> {
        const OP: &str = "GetLoggingConfiguration";
        let out = self
            .before(region, OP)
            .await
            .get_logging_configuration()
            .identifier(arn)
            .send()
            .await;
        self.after(OP, out).map(|o| logging_configuration_from!(o))
    }

    async fn update_logging_configuration(
        &self,
        region: &str,
        arn: &str,
        input: &LoggingConfigurationUpdate,
    ) -> Result<LoggingConfiguration, AwsError> {
        const OP: &str = "UpdateLoggingConfiguration";
        let destination = input
            .destination
            .as_ref()
            .map(sdk_destination)
            .transpose()?;
        let req = self
            .before(region, OP)
            .await
            .update_logging_configuration()
            .identifier(arn)
            .set_name(input.name.clone())
            .set_destination_configuration(destination);
        self.after(OP, req.send().await)
            .map(|o| logging_configuration_from!(o))
    }

    async fn delete_logging_configuration(&self, region: &str, arn: &str) -> Result<(), AwsError> {
        const OP: &str = "DeleteLoggingConfiguration";
        let out = self
            .before(region, OP)
            .await
            .delete_logging_configuration()
            .identifier(arn)
            .send()
            .await;
        self.after(OP, out).map(|_| ())
    }

    async fn list_logging_configurations(
        &self,
        region: &str,
        next_token: Option<String>,
    ) -> Result<LoggingConfigurationPage, AwsError> {
        const OP: &str = "ListLoggingConfigurations";
        let out = self
            .before(region, OP)
            .await
            .list_logging_configurations()
            .set_next_token(next_token)
            .max_results(50)
            .send()
            .await;
        self.after(OP, out).map(|o| LoggingConfigurationPage {
            logging_configurations: o
                .logging_configurations()
                .iter()
                .map(|s| logging_configuration_from!(s))
                .collect(),
            next_token: o.next_token().filter(|t| !t.is_empty()).map(str::to_string),
        })
    }

    async fn tag_resource(&self, region: &str, arn: &str, tags: &Tags) -> Result<(), AwsError> {
        const OP: &str = "TagResource";
        let out = self
            .before(region, OP)
            .await
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(hash_tags(tags)))
            .send()
            .await;
        self.after(OP, out).map(|_| ())
    }

    async fn untag_resource(
        &self,
        region: &str,
        arn: &str,
        keys: &[String],
    ) -> Result<(), AwsError> {
        const OP: &str = "UntagResource";
        let out = self
            .before(region, OP)
            .await
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await;
        self.after(OP, out).map(|_| ())
    }
}
