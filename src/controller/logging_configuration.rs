//! The ChatLoggingConfiguration reconciler. Same shape as the room's, plus the AWS states:
//! CREATING/UPDATING/DELETING are waited out, *_FAILED stall.

use std::time::Duration;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use tracing::{info, instrument};

use crate::api::{
    ADOPT_ARN_ANNOTATION, ChatLoggingConfiguration, ChatLoggingConfigurationStatus, DeletionPolicy,
};
use crate::aws::{AwsError, IvsChat, LoggingConfiguration, LoggingConfigurationState};
use crate::planning::conditions::{self, Outcome};
use crate::planning::logging_configuration::{
    LoggingConfigurationAction, Plan, desired_logging_configuration,
};
use crate::planning::tags::{Owner, Ownership, UID_TAG as UID_TAG_KEY, ownership};

use super::backoff::jittered;
use super::common::{
    Lifecycle, RegionError, STALLED_RETRY, StatusWriter, WAIT_POLL, create_was_attempted,
    resolve_region,
};
use super::context::{Context, Error, Result};
use super::events;

/// How soon to look again while AWS moves a configuration between states. The client-side
/// rate limiter (3 TPS per operation) bounds the polling of many configurations together.
const TRANSITION_POLL: Duration = WAIT_POLL;

/// Both halves of the lifecycle; `common::reconcile` runs them behind the finalizer.
impl<A: IvsChat> Lifecycle<A> for ChatLoggingConfiguration {
    fn apply<'a>(
        lc: &'a Self,
        api: &'a Api<Self>,
        ctx: &'a Context<A>,
    ) -> impl Future<Output = Result<Action>> + Send + 'a {
        apply(lc, api, ctx)
    }
    fn cleanup<'a>(
        lc: &'a Self,
        api: &'a Api<Self>,
        ctx: &'a Context<A>,
    ) -> impl Future<Output = Result<Action>> + Send + 'a {
        cleanup(lc, api, ctx)
    }
}

/// The reconcile's view of one logging configuration.
struct Reconciler<'a, A> {
    ctx: &'a Context<A>,
    status: StatusWriter<'a, ChatLoggingConfiguration, A>,
}

impl<'a, A: IvsChat> Reconciler<'a, A> {
    fn new(
        lc: &'a ChatLoggingConfiguration,
        api: &'a Api<ChatLoggingConfiguration>,
        ctx: &'a Context<A>,
    ) -> Self {
        Reconciler {
            ctx,
            status: StatusWriter::new(lc, api, ctx),
        }
    }

    /// A configuration this object created before the process died: tagged with its uid.
    async fn find_owned(
        &self,
        region: &str,
        owner: &Owner,
    ) -> Result<Option<LoggingConfiguration>, AwsError> {
        let mut token = None;
        loop {
            let page = self
                .ctx
                .aws
                .list_logging_configurations(region, token)
                .await?;
            if let Some(found) = page
                .logging_configurations
                .into_iter()
                .find(|l| l.tags.get(UID_TAG_KEY) == Some(&owner.uid))
            {
                return Ok(Some(found));
            }
            match page.next_token {
                Some(t) => token = Some(t),
                None => return Ok(None),
            }
        }
    }
}

fn observed_status(
    previous: Option<&ChatLoggingConfigurationStatus>,
    lc: &LoggingConfiguration,
    region: &str,
) -> ChatLoggingConfigurationStatus {
    let mut status = previous.cloned().unwrap_or_default();
    status.arn = Some(lc.arn.clone());
    status.id = Some(lc.id.clone());
    status.state = Some(lc.state.as_str().to_string());
    status.region = Some(region.to_string());
    status.create_time = lc.create_time.clone();
    status.update_time = lc.update_time.clone();
    status
}

#[instrument(skip_all, fields(chatloggingconfiguration = %lc.name_any(), namespace = lc.namespace().unwrap_or_default()))]
async fn apply<A: IvsChat>(
    lc: &ChatLoggingConfiguration,
    api: &Api<ChatLoggingConfiguration>,
    ctx: &Context<A>,
) -> Result<Action> {
    let r = Reconciler::new(lc, api, ctx);
    let status = lc.status.clone().unwrap_or_default();
    let owner = Owner::of(lc, &ctx.settings.cluster_name);
    let adopt_arn = lc
        .annotations()
        .get(ADOPT_ARN_ANNOTATION)
        .cloned()
        .filter(|a| !a.is_empty());
    let region = match resolve_region(
        lc.spec.region.as_deref(),
        status.region.as_deref(),
        status.arn.as_deref(),
        adopt_arn.as_deref(),
        &ctx.settings.default_region,
    ) {
        Ok(region) => region,
        Err(RegionError::Moved { spec, current }) => {
            let message = format!(
                "spec.region is {spec} but the configuration lives in {current}; create a new object to move it"
            );
            return r
                .status
                .stalled("RegionChanged", message, events::CANNOT_UPDATE, None)
                .await;
        }
        // An annotation without a region: the GetLoggingConfiguration below reports it.
        Err(RegionError::InvalidAdoptArn) => ctx.settings.default_region.clone(),
    };
    let desired = match desired_logging_configuration(
        &lc.name_any(),
        &lc.spec,
        &ctx.settings.default_tags,
        &owner,
    ) {
        Ok(d) => d,
        Err(e) => {
            return r
                .status
                .stalled("InvalidSpec", e.to_string(), events::CANNOT_UPDATE, None)
                .await;
        }
    };

    // Observe. Configurations are few (10 per region) so they are always read.
    let mut adopted = false;
    let mut recreated = false;
    let observed = if let Some(arn) = status.arn.as_deref() {
        match ctx.aws.get_logging_configuration(&region, arn).await {
            Ok(found) => Some(found),
            Err(e) if e.is_not_found() => {
                recreated = true;
                None
            }
            Err(e) => return r.status.aws_failed(e, events::CANNOT_OBSERVE).await,
        }
    } else if let Some(adopt) = adopt_arn.as_deref() {
        match ctx.aws.get_logging_configuration(&region, adopt).await {
            Ok(found) => match ownership(&found.tags, &owner) {
                Ownership::Other(by) => {
                    return r.status.stalled(
                            "ManagedByAnotherResource",
                            format!("logging configuration {adopt} is already managed by {by}; it is not taken over"),
                            events::CANNOT_CREATE,
                            None,
                        )
                        .await;
                }
                _ => {
                    adopted = true;
                    Some(found)
                }
            },
            Err(e) if e.is_not_found() => {
                return r.status.stalled(
                        "AdoptionTargetNotFound",
                        format!("{ADOPT_ARN_ANNOTATION}: logging configuration {adopt} does not exist in {region}"),
                        events::CANNOT_CREATE,
                        None,
                    )
                    .await;
            }
            Err(e) => return r.status.aws_failed(e, events::CANNOT_OBSERVE).await,
        }
    } else if create_was_attempted(status.arn.as_deref(), status.conditions.as_ref()) {
        match r.find_owned(&region, &owner).await {
            Ok(found) => found,
            Err(e) => return r.status.aws_failed(e, events::CANNOT_OBSERVE).await,
        }
    } else {
        None
    };

    // An UPDATE_FAILED configuration is retried once per generation: if status already shows
    // the failure for this generation, do not hammer AWS with the same update.
    let failed_generation_retried = status.observed_generation == lc.metadata.generation
        && status.state.as_deref() == Some("UPDATE_FAILED");
    let actions = match crate::planning::logging_configuration::plan_logging_configuration(
        &desired,
        observed.as_ref(),
        failed_generation_retried,
    ) {
        Plan::Act(actions) => actions,
        Plan::Wait(outcome) => {
            let base = observed
                .as_ref()
                .map(|o| observed_status(lc.status.as_ref(), o, &region));
            r.status.finish(&outcome, base).await?;
            return Ok(Action::requeue(TRANSITION_POLL));
        }
        Plan::Stalled(Outcome::Stalled { reason, message }) => {
            let base = observed
                .as_ref()
                .map(|o| observed_status(lc.status.as_ref(), o, &region));
            return r
                .status
                .stalled(&reason, message, events::CANNOT_UPDATE, base)
                .await;
        }
        Plan::Stalled(other) => {
            r.status.finish(&other, None).await?;
            return Ok(Action::requeue(STALLED_RETRY));
        }
    };

    let mut current = observed;
    for action in actions {
        match action {
            LoggingConfigurationAction::Create(input) => {
                r.status
                    .finish(
                        &Outcome::Progressing {
                            reason: "Creating".into(),
                            message: "Creating the logging configuration in AWS".into(),
                        },
                        None,
                    )
                    .await?;
                let created = match ctx.aws.create_logging_configuration(&region, &input).await {
                    Ok(c) => c,
                    Err(e) => return r.status.aws_failed(e, events::CANNOT_CREATE).await,
                };
                ctx.failpoint("after-create-logging-configuration");
                info!(arn = %created.arn, "created logging configuration");
                let status = observed_status(lc.status.as_ref(), &created, &region);
                r.status
                    .finish(
                        &Outcome::Progressing {
                            reason: "Creating".into(),
                            message: format!("Created {}", created.arn),
                        },
                        Some(status),
                    )
                    .await?;
                let (reason, note) = if recreated {
                    (
                        events::RECREATED,
                        format!(
                            "The logging configuration was deleted outside Kubernetes; created {}",
                            created.arn
                        ),
                    )
                } else {
                    (
                        events::CREATED,
                        format!("Created logging configuration {}", created.arn),
                    )
                };
                events::normal(&ctx.recorder, &r.status.object_ref(), reason, note).await;
                current = Some(created);
            }
            LoggingConfigurationAction::Update(update) => {
                let Some(arn) = current.as_ref().map(|c| c.arn.clone()) else {
                    break;
                };
                match ctx
                    .aws
                    .update_logging_configuration(&region, &arn, &update)
                    .await
                {
                    Ok(updated) => {
                        events::normal(
                            &ctx.recorder,
                            &r.status.object_ref(),
                            events::UPDATED,
                            format!("Updated logging configuration {arn}"),
                        )
                        .await;
                        current = Some(updated);
                    }
                    Err(e) => return r.status.aws_failed(e, events::CANNOT_UPDATE).await,
                }
            }
            LoggingConfigurationAction::Tag(tags) => {
                let Some(now) = current.as_mut() else { break };
                if let Err(e) = ctx.aws.tag_resource(&region, &now.arn, &tags).await {
                    return r.status.aws_failed(e, events::CANNOT_UPDATE).await;
                }
                now.tags.extend(tags);
            }
            LoggingConfigurationAction::Untag(keys) => {
                let Some(now) = current.as_mut() else { break };
                if let Err(e) = ctx.aws.untag_resource(&region, &now.arn, &keys).await {
                    return r.status.aws_failed(e, events::CANNOT_UPDATE).await;
                }
                keys.iter().for_each(|k| {
                    now.tags.remove(k);
                });
            }
        }
    }
    let Some(current) = current else {
        return Ok(Action::requeue(TRANSITION_POLL));
    };
    if adopted {
        events::normal(
            &ctx.recorder,
            &r.status.object_ref(),
            events::ADOPTED,
            format!("Adopted logging configuration {}", current.arn),
        )
        .await;
    }
    let status = observed_status(lc.status.as_ref(), &current, &region);
    match &current.state {
        LoggingConfigurationState::Active => {
            r.status
                .finish(
                    &Outcome::Available {
                        message: format!("Logging configuration {} is ACTIVE", current.id),
                    },
                    Some(status),
                )
                .await?;
            Ok(Action::requeue(jittered(ctx.settings.resync_period)))
        }
        state => {
            let reason = crate::planning::logging_configuration::state_reason(state);
            r.status
                .finish(
                    &Outcome::Progressing {
                        reason,
                        message: format!("AWS reports {}", state.as_str()),
                    },
                    Some(status),
                )
                .await?;
            Ok(Action::requeue(TRANSITION_POLL))
        }
    }
}

/// ChatRooms in this namespace that still use the configuration, by name or by ARN.
fn referencing_rooms<A>(lc: &ChatLoggingConfiguration, ctx: &Context<A>) -> Vec<String> {
    let ns = lc.namespace().unwrap_or_default();
    let name = lc.name_any();
    let arn = lc.status.as_ref().and_then(|s| s.arn.clone());
    let mut rooms: Vec<String> = ctx
        .rooms
        .state()
        .iter()
        .filter(|room| room.namespace().as_deref() == Some(ns.as_str()))
        .filter(|room| {
            // A room being deleted still holds the configuration until its own cleanup is done.
            let by_name = room
                .spec
                .logging_configurations
                .iter()
                .flatten()
                .any(|r| r.name.as_deref() == Some(name.as_str()));
            let by_arn = arn.as_ref().is_some_and(|arn| {
                room.status
                    .as_ref()
                    .and_then(|s| s.logging_configuration_arns.as_ref())
                    .is_some_and(|a| a.contains(arn))
            });
            by_name || by_arn
        })
        .map(|room| room.name_any())
        .collect();
    rooms.sort();
    rooms
}

#[instrument(skip_all, fields(chatloggingconfiguration = %lc.name_any(), namespace = lc.namespace().unwrap_or_default()))]
async fn cleanup<A: IvsChat>(
    lc: &ChatLoggingConfiguration,
    api: &Api<ChatLoggingConfiguration>,
    ctx: &Context<A>,
) -> Result<Action> {
    let r = Reconciler::new(lc, api, ctx);
    let status = lc.status.clone().unwrap_or_default();
    let rooms = referencing_rooms(lc, ctx);
    if !rooms.is_empty() {
        let message = format!(
            "Deletion waits until no ChatRoom references it; still referenced by: {}",
            rooms.join(", ")
        );
        r.status
            .finish(
                &Outcome::Progressing {
                    reason: "InUse".into(),
                    message: message.clone(),
                },
                None,
            )
            .await?;
        return Err(Error::InUse(rooms.join(", ")));
    }
    let region = status
        .region
        .clone()
        .or_else(|| lc.spec.region.clone())
        .unwrap_or_else(|| ctx.settings.default_region.clone());
    if lc.spec.deletion_policy == Some(DeletionPolicy::Retain) {
        if let Some(arn) = &status.arn {
            r.status.release(&region, arn).await?;
        }
        release_quota_waiters(lc, ctx);
        return Ok(Action::await_change());
    }
    let arn = match status.arn.clone() {
        Some(arn) => Some(arn),
        None if create_was_attempted(status.arn.as_deref(), status.conditions.as_ref()) => {
            let owner = Owner::of(lc, &ctx.settings.cluster_name);
            r.find_owned(&region, &owner)
                .await
                .map_err(Error::Aws)?
                .map(|f| f.arn)
        }
        None => None,
    };
    let Some(arn) = arn else {
        release_quota_waiters(lc, ctx);
        return Ok(Action::await_change());
    };
    // Delete, then wait until AWS no longer has it (DELETING -> gone).
    match ctx.aws.get_logging_configuration(&region, &arn).await {
        Err(e) if e.is_not_found() => {
            events::normal(
                &ctx.recorder,
                &r.status.object_ref(),
                events::DELETED,
                format!("Deleted logging configuration {arn}"),
            )
            .await;
            release_quota_waiters(lc, ctx);
            return Ok(Action::await_change());
        }
        Err(e) => return Err(Error::Aws(e)),
        Ok(found) if found.state == LoggingConfigurationState::Deleting => {
            let _ = r
                .status
                .finish(
                    &Outcome::Progressing {
                        reason: "Deleting".into(),
                        message: "AWS is deleting the logging configuration".into(),
                    },
                    None,
                )
                .await;
            return Err(Error::DeletePending);
        }
        Ok(_) => {}
    }
    match ctx.aws.delete_logging_configuration(&region, &arn).await {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => return r.status.delete_failed(e).await,
    }
    // Loop back through the GetLoggingConfiguration above until it is gone.
    Err(Error::DeletePending)
}

/// After a configuration is gone, the ones stalled on the 10-per-region quota may fit now.
fn release_quota_waiters<A>(lc: &ChatLoggingConfiguration, ctx: &Context<A>) {
    for other in ctx.logging_configurations.state() {
        let stalled_on_quota = other
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| conditions::find(c, conditions::STALLED))
            .is_some_and(|c| c.status == "True" && c.reason == "ServiceQuotaExceeded");
        if stalled_on_quota && other.uid() != lc.uid() {
            let _ = ctx
                .logging_configuration_trigger
                .unbounded_send(ObjectRef::from_obj(other.as_ref()));
        }
    }
}
