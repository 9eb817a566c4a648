//! Planning for `ChatLoggingConfiguration`.

use crate::api::{ChatLoggingConfigurationSpec, DestinationConfiguration};
use crate::aws::{
    CreateLoggingConfiguration, Destination, LoggingConfiguration, LoggingConfigurationState,
    LoggingConfigurationUpdate, Tags,
};

use super::conditions::Outcome;
use super::naming::aws_name_from_object_name;
use super::tags::{Owner, TooManyTags, desired_tags, tag_delta};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredLoggingConfiguration {
    pub name: String,
    pub destination: Destination,
    pub tags: Tags,
}

/// The spec's destination, if exactly one member is set (the CRD schema guarantees it).
pub fn destination(spec: &DestinationConfiguration) -> Option<Destination> {
    match (&spec.s3, &spec.cloud_watch_logs, &spec.firehose) {
        (Some(s3), None, None) => Some(Destination::S3 {
            bucket_name: s3.bucket_name.clone(),
        }),
        (None, Some(cw), None) => Some(Destination::CloudWatchLogs {
            log_group_name: cw.log_group_name.clone(),
        }),
        (None, None, Some(f)) => Some(Destination::Firehose {
            delivery_stream_name: f.delivery_stream_name.clone(),
        }),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error(transparent)]
    TooManyTags(#[from] TooManyTags),
    #[error("spec.destination: set exactly one of s3, cloudWatchLogs or firehose")]
    Destination,
}

pub fn desired_logging_configuration(
    object_name: &str,
    spec: &ChatLoggingConfigurationSpec,
    default_tags: &Tags,
    owner: &Owner,
) -> Result<DesiredLoggingConfiguration, SpecError> {
    Ok(DesiredLoggingConfiguration {
        name: spec
            .name
            .clone()
            .unwrap_or_else(|| aws_name_from_object_name(object_name)),
        destination: destination(&spec.destination).ok_or(SpecError::Destination)?,
        tags: desired_tags(default_tags, spec.tags.as_ref(), owner)?,
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoggingConfigurationAction {
    Create(CreateLoggingConfiguration),
    Update(LoggingConfigurationUpdate),
    Tag(Tags),
    Untag(Vec<String>),
}

/// What to do about the configuration given its AWS state. AWS refuses updates while it is
/// CREATING/UPDATING, and a *_FAILED state needs a spec change (or a delete) to move on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    Act(Vec<LoggingConfigurationAction>),
    /// Wait for AWS to finish a transition, then look again.
    Wait(Outcome),
    /// Stop until something changes.
    Stalled(Outcome),
}

pub fn plan_logging_configuration(
    desired: &DesiredLoggingConfiguration,
    observed: Option<&LoggingConfiguration>,
    failed_generation_retried: bool,
) -> Plan {
    let Some(observed) = observed else {
        return Plan::Act(vec![LoggingConfigurationAction::Create(
            CreateLoggingConfiguration {
                name: desired.name.clone(),
                destination: desired.destination.clone(),
                tags: desired.tags.clone(),
            },
        )]);
    };
    let mut update = LoggingConfigurationUpdate::default();
    if observed.name != desired.name {
        update.name = Some(desired.name.clone());
    }
    if observed.destination.as_ref() != Some(&desired.destination) {
        update.destination = Some(desired.destination.clone());
    }
    let (to_set, to_remove) = tag_delta(&desired.tags, &observed.tags);
    let mut actions = Vec::new();
    match &observed.state {
        LoggingConfigurationState::Creating => {
            return Plan::Wait(Outcome::Progressing {
                reason: "Creating".into(),
                message: "AWS is creating the logging configuration".into(),
            });
        }
        LoggingConfigurationState::Updating => {
            return Plan::Wait(Outcome::Progressing {
                reason: "Updating".into(),
                message: "AWS is updating the logging configuration".into(),
            });
        }
        LoggingConfigurationState::Deleting => {
            return Plan::Wait(Outcome::Progressing {
                reason: "Deleting".into(),
                message: "AWS is deleting the logging configuration".into(),
            });
        }
        LoggingConfigurationState::CreateFailed | LoggingConfigurationState::DeleteFailed => {
            return Plan::Stalled(Outcome::Stalled {
                reason: state_reason(&observed.state),
                message: format!(
                    "AWS reports the logging configuration as {}; check the destination's permissions, then delete and recreate this object",
                    observed.state.as_str()
                ),
            });
        }
        LoggingConfigurationState::UpdateFailed
            if update.is_empty() || failed_generation_retried =>
        {
            return Plan::Stalled(Outcome::Stalled {
                reason: state_reason(&observed.state),
                message: "AWS reports the logging configuration as UPDATE_FAILED; check the destination's permissions, then change the spec to retry".into(),
            });
        }
        _ => {}
    }
    if !update.is_empty() {
        actions.push(LoggingConfigurationAction::Update(update));
    }
    if !to_set.is_empty() {
        actions.push(LoggingConfigurationAction::Tag(to_set));
    }
    if !to_remove.is_empty() {
        actions.push(LoggingConfigurationAction::Untag(to_remove));
    }
    Plan::Act(actions)
}

/// `CREATE_FAILED` -> `CreateFailed`.
pub fn state_reason(state: &LoggingConfigurationState) -> String {
    state
        .as_str()
        .split('_')
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &cs.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CloudWatchLogsDestination, S3Destination};

    fn owner() -> Owner {
        Owner {
            cluster: "c".into(),
            namespace: "ns".into(),
            name: "logs".into(),
            uid: "u".into(),
        }
    }

    fn spec_s3(bucket: &str) -> ChatLoggingConfigurationSpec {
        ChatLoggingConfigurationSpec {
            destination: DestinationConfiguration {
                s3: Some(S3Destination {
                    bucket_name: bucket.into(),
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn observed(
        d: &DesiredLoggingConfiguration,
        state: LoggingConfigurationState,
    ) -> LoggingConfiguration {
        LoggingConfiguration {
            arn: "arn:aws:ivschat:us-east-1:123456789012:logging-configuration/abcdabcdabcd".into(),
            id: "abcdabcdabcd".into(),
            name: d.name.clone(),
            destination: Some(d.destination.clone()),
            state,
            tags: d.tags.clone(),
            create_time: None,
            update_time: None,
        }
    }

    #[test]
    fn creates_when_missing() {
        let d = desired_logging_configuration("logs", &spec_s3("bucket"), &Tags::new(), &owner())
            .expect("valid");
        assert!(
            matches!(plan_logging_configuration(&d, None, false), Plan::Act(a) if matches!(a.as_slice(), [LoggingConfigurationAction::Create(_)]))
        );
    }

    #[test]
    fn active_and_equal_needs_nothing() {
        let d = desired_logging_configuration("logs", &spec_s3("bucket"), &Tags::new(), &owner())
            .expect("valid");
        assert_eq!(
            plan_logging_configuration(
                &d,
                Some(&observed(&d, LoggingConfigurationState::Active)),
                false
            ),
            Plan::Act(vec![])
        );
    }

    #[test]
    fn switching_destination_kind_updates_in_place() {
        let before =
            desired_logging_configuration("logs", &spec_s3("bucket"), &Tags::new(), &owner())
                .expect("valid");
        let spec = ChatLoggingConfigurationSpec {
            destination: DestinationConfiguration {
                cloud_watch_logs: Some(CloudWatchLogsDestination {
                    log_group_name: "/ivs/chat".into(),
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let after =
            desired_logging_configuration("logs", &spec, &Tags::new(), &owner()).expect("valid");
        let plan = plan_logging_configuration(
            &after,
            Some(&observed(&before, LoggingConfigurationState::Active)),
            false,
        );
        assert_eq!(
            plan,
            Plan::Act(vec![LoggingConfigurationAction::Update(
                LoggingConfigurationUpdate {
                    name: None,
                    destination: Some(Destination::CloudWatchLogs {
                        log_group_name: "/ivs/chat".into()
                    }),
                }
            )])
        );
    }

    #[test]
    fn transitional_states_wait_and_failed_states_stall() {
        let d = desired_logging_configuration("logs", &spec_s3("bucket"), &Tags::new(), &owner())
            .expect("valid");
        for (state, reason) in [
            (LoggingConfigurationState::Creating, "Creating"),
            (LoggingConfigurationState::Updating, "Updating"),
        ] {
            match plan_logging_configuration(&d, Some(&observed(&d, state)), false) {
                Plan::Wait(Outcome::Progressing { reason: r, .. }) => assert_eq!(r, reason),
                other => panic!("{other:?}"),
            }
        }
        match plan_logging_configuration(
            &d,
            Some(&observed(&d, LoggingConfigurationState::CreateFailed)),
            false,
        ) {
            Plan::Stalled(Outcome::Stalled { reason, .. }) => assert_eq!(reason, "CreateFailed"),
            other => panic!("{other:?}"),
        }
        // UPDATE_FAILED with a new spec is retried once, then stalls.
        let changed =
            desired_logging_configuration("logs", &spec_s3("other-bucket"), &Tags::new(), &owner())
                .expect("valid");
        let failed = observed(&d, LoggingConfigurationState::UpdateFailed);
        assert!(matches!(
            plan_logging_configuration(&changed, Some(&failed), false),
            Plan::Act(_)
        ));
        assert!(matches!(
            plan_logging_configuration(&changed, Some(&failed), true),
            Plan::Stalled(_)
        ));
    }

    #[test]
    fn destination_requires_exactly_one() {
        let spec = ChatLoggingConfigurationSpec::default();
        assert_eq!(
            desired_logging_configuration("x", &spec, &Tags::new(), &owner()),
            Err(SpecError::Destination)
        );
    }
}
