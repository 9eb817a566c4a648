//! The ChatRoom reconciler: observe -> plan -> execute -> status.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use tracing::{info, instrument, warn};

use crate::api::{ADOPT_ARN_ANNOTATION, ChatRoom, ChatRoomStatus, DeletionPolicy, FINALIZER};
use crate::aws::{AwsError, ErrorClass, IvsChat, Room};
use crate::planning::conditions::{self, Outcome};
use crate::planning::room::{RoomAction, desired_room, observed_status, plan_room};
use crate::planning::tags::{Owner, Ownership, UID_TAG, ownership};
use crate::runtime::metrics::ActiveWorker;

use super::backoff::jittered;
use super::context::{Context, Error, Result};
use super::events;
use super::status::patch_status_if_changed;

pub const CONTROLLER: &str = "chatroom";

/// Terminal errors are retried after this long even without a change (AWS-side fixes such as
/// a raised quota or a granted permission do not touch the object).
const STALLED_RETRY: Duration = Duration::from_secs(30 * 60);

/// Entry point from the controller runtime.
pub async fn reconcile<A: IvsChat>(room: Arc<ChatRoom>, ctx: Arc<Context<A>>) -> Result<Action> {
    if !ctx.is_leader() {
        // Standbys keep their caches warm and do nothing; becoming leader re-triggers all.
        return Ok(Action::await_change());
    }
    let _worker = ActiveWorker::start(&ctx.metrics, CONTROLLER);
    let started = Instant::now();
    let ns = room.namespace().ok_or(Error::NoNamespace)?;
    let api: Api<ChatRoom> = Api::namespaced(ctx.client.clone(), &ns);
    let uid = room.uid().unwrap_or_default();
    let result = finalizer(&api, FINALIZER, room, |event| async {
        match event {
            FinalizerEvent::Apply(room) => apply(&room, &api, &ctx).await,
            FinalizerEvent::Cleanup(room) => cleanup(&room, &api, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer(other.to_string()),
    });
    let label = match &result {
        Ok(_) => "success",
        Err(_) => "error",
    };
    ctx.metrics
        .observe_reconcile(CONTROLLER, label, started.elapsed());
    if result.is_ok() {
        ctx.backoff.reset(&uid);
    }
    result
}

/// Called by the runtime when `reconcile` fails: per-object exponential backoff with jitter.
pub fn error_policy<A: IvsChat>(
    room: Arc<ChatRoom>,
    error: &Error,
    ctx: Arc<Context<A>>,
) -> Action {
    let delay = ctx.backoff.next_delay(&room.uid().unwrap_or_default());
    warn!(chatroom = %room.name_any(), namespace = room.namespace().unwrap_or_default(), %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

fn owner_of(room: &ChatRoom, cluster: &str) -> Owner {
    Owner {
        cluster: cluster.to_string(),
        namespace: room.namespace().unwrap_or_default(),
        name: room.name_any(),
        uid: room.uid().unwrap_or_default(),
    }
}

/// The region of an IVS Chat ARN (`arn:aws:ivschat:<region>:...`).
fn region_of_arn(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// The reconcile's view of one room, with helpers that write status and Events.
struct Reconciler<'a, A> {
    room: &'a ChatRoom,
    api: &'a Api<ChatRoom>,
    ctx: &'a Context<A>,
    generation: Option<i64>,
    previous: Option<&'a ChatRoomStatus>,
    /// What this reconcile wrote last, so a second identical write is skipped.
    written: std::sync::Mutex<Option<ChatRoomStatus>>,
}

impl<A: IvsChat> Reconciler<'_, A> {
    fn object_ref(&self) -> k8s_openapi::api::core::v1::ObjectReference {
        self.room.object_ref(&())
    }

    /// Writes status with `outcome` (and optionally what we know of the room), if it changed.
    async fn finish(&self, outcome: &Outcome, base: Option<ChatRoomStatus>) -> Result<()> {
        let mut status = base.unwrap_or_else(|| self.previous.cloned().unwrap_or_default());
        status.observed_generation = self.generation;
        status.conditions = Some(conditions::conditions_for(
            self.previous.and_then(|s| s.conditions.as_ref()),
            outcome,
            self.generation,
            &now(),
        ));
        let mut written = self
            .written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let current = written.as_ref().or(self.previous);
        patch_status_if_changed(self.api, &self.room.name_any(), current, &status).await?;
        written = Some(status);
        *self.written.lock().unwrap_or_else(|e| e.into_inner()) = written;
        Ok(())
    }

    /// Stalled: reported, an Event emitted, retried only after a change or a long interval.
    async fn stalled(&self, reason: &str, message: String, event: &str) -> Result<Action> {
        warn!(chatroom = %self.room.name_any(), reason, %message, "stalled");
        events::warning(
            &self.ctx.recorder,
            &self.object_ref(),
            event,
            message.clone(),
        )
        .await;
        self.finish(
            &Outcome::Stalled {
                reason: reason.into(),
                message,
            },
            None,
        )
        .await?;
        Ok(Action::requeue(STALLED_RETRY))
    }

    /// Turns an AWS error into the right status, Event and next step.
    async fn aws_failed(&self, error: AwsError, event: &str) -> Result<Action> {
        let writing = event == events::CANNOT_CREATE || event == events::CANNOT_UPDATE;
        if writing
            && error.is_not_found()
            && self
                .room
                .spec
                .logging_configurations
                .as_ref()
                .is_some_and(|l| !l.is_empty())
        {
            // CreateRoom/UpdateRoom answer 404 when a referenced logging configuration does
            // not exist: that is a reference to wait for, not a broken room.
            let message = format!(
                "a referenced logging configuration does not exist: {}",
                error.message
            );
            events::warning(
                &self.ctx.recorder,
                &self.object_ref(),
                events::CANNOT_RESOLVE,
                message.clone(),
            )
            .await;
            self.finish(&Outcome::ReferenceNotReady { message }, None)
                .await?;
            return Err(Error::Aws(error));
        }
        match error.class {
            ErrorClass::Terminal => {
                self.stalled(&error.reason(), error.message.clone(), event)
                    .await
            }
            ErrorClass::Retryable | ErrorClass::NotFound => {
                events::warning(
                    &self.ctx.recorder,
                    &self.object_ref(),
                    event,
                    error.to_string(),
                )
                .await;
                self.finish(
                    &Outcome::Retrying {
                        reason: error.reason(),
                        message: error.to_string(),
                    },
                    None,
                )
                .await?;
                Err(Error::Aws(error))
            }
        }
    }

    /// Resolves `spec.loggingConfigurations` to ARNs, in spec order. `Err` carries the message
    /// of a ReferenceNotReady condition.
    fn resolve_references(&self, region: &str) -> std::result::Result<Vec<String>, String> {
        let ns = self.room.namespace().unwrap_or_default();
        let refs = self
            .room
            .spec
            .logging_configurations
            .clone()
            .unwrap_or_default();
        let names: BTreeSet<String> = refs.iter().filter_map(|r| r.name.clone()).collect();
        // Dropped references may unblock the deletion of a logging configuration.
        for dropped in self
            .ctx
            .references
            .set(&(ns.clone(), self.room.name_any()), names)
        {
            let _ = self
                .ctx
                .logging_configuration_trigger
                .unbounded_send(ObjectRef::new(&dropped).within(&ns));
        }
        let mut arns = Vec::new();
        let mut waiting = Vec::new();
        for reference in refs {
            match (reference.arn, reference.name) {
                (Some(arn), _) => arns.push(arn),
                (None, Some(name)) => {
                    let found = self
                        .ctx
                        .logging_configurations
                        .get(&ObjectRef::new(&name).within(&ns));
                    match found.as_deref() {
                        None => waiting.push(format!("{name} (not found)")),
                        Some(lc) if lc.metadata.deletion_timestamp.is_some() => {
                            waiting.push(format!("{name} (being deleted)"))
                        }
                        Some(lc) => {
                            let status = lc.status.as_ref();
                            let ready = conditions::is_ready_at(
                                status.and_then(|s| s.conditions.as_ref()),
                                lc.metadata.generation,
                            );
                            match status.and_then(|s| s.arn.clone()) {
                                Some(arn) if ready => {
                                    let lc_region =
                                        status.and_then(|s| s.region.clone()).unwrap_or_default();
                                    if lc_region != region {
                                        waiting.push(format!("{name} (in region {lc_region}, the room is in {region})"));
                                    } else {
                                        arns.push(arn)
                                    }
                                }
                                _ => waiting.push(format!("{name} (not Ready)")),
                            }
                        }
                    }
                }
                (None, None) => {}
            }
        }
        if waiting.is_empty() {
            Ok(arns)
        } else {
            Err(format!(
                "waiting for ChatLoggingConfiguration {}",
                waiting.join(", ")
            ))
        }
    }

    /// Looks for a room this object already created (the process died between CreateRoom and
    /// the status write): same name, tagged with this object's uid.
    async fn find_owned_room(
        &self,
        region: &str,
        name: &str,
        owner: &Owner,
    ) -> Result<Option<Room>, AwsError> {
        let mut token = None;
        loop {
            let page = self.ctx.aws.list_rooms(region, Some(name), token).await?;
            if let Some(summary) = page
                .rooms
                .iter()
                .find(|r| r.tags.get(UID_TAG) == Some(&owner.uid))
            {
                return self.ctx.aws.get_room(region, &summary.arn).await.map(Some);
            }
            match page.next_token {
                Some(t) => token = Some(t),
                None => return Ok(None),
            }
        }
    }
}

/// Whether a status written by a previous reconcile still vouches for the room: Ready for
/// this generation, same region and references, and no drift sweep has doubted it since.
fn status_vouches<A>(room: &ChatRoom, ctx: &Context<A>, region: &str, arns: &[String]) -> bool {
    let Some(status) = room.status.as_ref() else {
        return false;
    };
    let Some(arn) = status.arn.as_deref() else {
        return false;
    };
    conditions::is_ready_at(status.conditions.as_ref(), room.metadata.generation)
        && status.region.as_deref() == Some(region)
        && status
            .logging_configuration_arns
            .clone()
            .unwrap_or_default()
            == arns
        && !ctx.suspects.contains(arn)
}

#[instrument(skip_all, fields(chatroom = %room.name_any(), namespace = room.namespace().unwrap_or_default()))]
async fn apply<A: IvsChat>(
    room: &ChatRoom,
    api: &Api<ChatRoom>,
    ctx: &Context<A>,
) -> Result<Action> {
    let r = Reconciler {
        room,
        api,
        ctx,
        generation: room.metadata.generation,
        previous: room.status.as_ref(),
        written: Default::default(),
    };
    let status = room.status.clone().unwrap_or_default();
    let owner = owner_of(room, &ctx.settings.cluster_name);
    let adopt_arn = room
        .annotations()
        .get(ADOPT_ARN_ANNOTATION)
        .cloned()
        .filter(|a| !a.is_empty());

    // Region: the room's, once it exists; spec.region cannot move it.
    let region = match (&room.spec.region, &status.region, &status.arn, &adopt_arn) {
        (Some(spec), Some(current), Some(_), _) if spec != current => {
            return r
                .stalled(
                    "RegionChanged",
                    format!("spec.region is {spec} but the room lives in {current}; create a new ChatRoom to move it"),
                    events::CANNOT_UPDATE,
                )
                .await;
        }
        (_, Some(current), Some(_), _) => current.clone(),
        (_, _, None, Some(adopt)) => match region_of_arn(adopt) {
            Some(region) => region.to_string(),
            None => {
                return r
                    .stalled(
                        "InvalidAdoptArn",
                        format!("{ADOPT_ARN_ANNOTATION} is not a room ARN: {adopt}"),
                        events::CANNOT_CREATE,
                    )
                    .await;
            }
        },
        (Some(spec), _, _, _) => spec.clone(),
        _ => ctx.settings.default_region.clone(),
    };

    let arns = match r.resolve_references(&region) {
        Ok(arns) => arns,
        Err(message) => {
            r.finish(&Outcome::ReferenceNotReady { message }, None)
                .await?;
            // The logging configuration watch wakes us up when it becomes Ready.
            return Ok(Action::requeue(jittered(ctx.settings.resync_period)));
        }
    };

    let desired = match desired_room(
        &room.name_any(),
        &room.spec,
        arns.clone(),
        &ctx.settings.default_tags,
        &owner,
    ) {
        Ok(d) => d,
        Err(e) => {
            return r
                .stalled("TooManyTags", e.to_string(), events::CANNOT_UPDATE)
                .await;
        }
    };

    // Observe. A status that vouches for the room saves the read: drift is found by sweeps.
    if status_vouches(room, ctx, &region, &arns) {
        return Ok(Action::requeue(jittered(ctx.settings.resync_period)));
    }
    let mut adopted = false;
    let mut recreated = false;
    let observed: Option<Room> = if let Some(arn) = status.arn.as_deref() {
        match ctx.aws.get_room(&region, arn).await {
            Ok(existing) => Some(existing),
            Err(e) if e.is_not_found() => {
                recreated = true;
                None
            }
            Err(e) => return r.aws_failed(e, events::CANNOT_OBSERVE).await,
        }
    } else if let Some(adopt) = adopt_arn.as_deref() {
        match ctx.aws.get_room(&region, adopt).await {
            Ok(existing) => match ownership(&existing.tags, &owner) {
                Ownership::Other(by) => {
                    return r
                        .stalled(
                            "ManagedByAnotherResource",
                            format!("room {adopt} is already managed by ChatRoom {by}; it is not taken over"),
                            events::CANNOT_CREATE,
                        )
                        .await;
                }
                Ownership::Ours | Ownership::Unowned => {
                    adopted = true;
                    Some(existing)
                }
            },
            Err(e) if e.is_not_found() => {
                return r
                    .stalled(
                        "AdoptionTargetNotFound",
                        format!("{ADOPT_ARN_ANNOTATION}: room {adopt} does not exist in {region}"),
                        events::CANNOT_CREATE,
                    )
                    .await;
            }
            Err(e) => return r.aws_failed(e, events::CANNOT_OBSERVE).await,
        }
    } else if create_was_attempted(&status) {
        match r
            .find_owned_room(&region, &desired.fields.name, &owner)
            .await
        {
            Ok(found) => {
                if found.is_some() {
                    info!(
                        "found the room a previous CreateRoom made; adopting it instead of creating another"
                    );
                }
                found
            }
            Err(e) => return r.aws_failed(e, events::CANNOT_OBSERVE).await,
        }
    } else {
        None
    };
    if let Some(existing) = &observed {
        ctx.suspects.clear(&existing.arn);
    }

    // Plan and execute.
    let actions = plan_room(&desired, observed.as_ref());
    let mut current = observed;
    for action in actions {
        match action {
            RoomAction::Create(input) => {
                // Leave a mark before creating: if we die before the ARN is in status, the next
                // reconcile searches for the room by its ownership tag instead of creating twice.
                r.finish(
                    &Outcome::Progressing {
                        reason: "Creating".into(),
                        message: "Creating the room in AWS".into(),
                    },
                    None,
                )
                .await?;
                let created = match ctx.aws.create_room(&region, &input).await {
                    Ok(created) => created,
                    Err(e) => return r.aws_failed(e, events::CANNOT_CREATE).await,
                };
                ctx.failpoint("after-create-room");
                info!(arn = %created.arn, "created room");
                let (reason, note) = if recreated {
                    (
                        events::RECREATED,
                        format!(
                            "The room was deleted outside Kubernetes; created {}",
                            created.arn
                        ),
                    )
                } else {
                    (events::CREATED, format!("Created room {}", created.arn))
                };
                // Status right after create: the ARN must never be lost.
                let mut status = observed_status(room.status.as_ref(), &created, &region);
                status.logging_configuration_arns = (!arns.is_empty()).then(|| arns.clone());
                r.finish(
                    &Outcome::Available {
                        message: format!("Room {} is ready", created.id),
                    },
                    Some(status),
                )
                .await?;
                events::normal(&ctx.recorder, &r.object_ref(), reason, note).await;
                current = Some(created);
            }
            RoomAction::Update(update) => {
                let Some(arn) = current.as_ref().map(|c| c.arn.clone()) else {
                    break;
                };
                match ctx.aws.update_room(&region, &arn, &update).await {
                    Ok(updated) => {
                        events::normal(
                            &ctx.recorder,
                            &r.object_ref(),
                            events::UPDATED,
                            format!("Updated room {arn}"),
                        )
                        .await;
                        current = Some(updated);
                    }
                    Err(e) => return r.aws_failed(e, events::CANNOT_UPDATE).await,
                }
            }
            RoomAction::Tag(tags) => {
                let Some(room_now) = current.as_mut() else {
                    break;
                };
                if let Err(e) = ctx.aws.tag_resource(&region, &room_now.arn, &tags).await {
                    return r.aws_failed(e, events::CANNOT_UPDATE).await;
                }
                room_now.tags.extend(tags);
            }
            RoomAction::Untag(keys) => {
                let Some(room_now) = current.as_mut() else {
                    break;
                };
                if let Err(e) = ctx.aws.untag_resource(&region, &room_now.arn, &keys).await {
                    return r.aws_failed(e, events::CANNOT_UPDATE).await;
                }
                keys.iter().for_each(|k| {
                    room_now.tags.remove(k);
                });
            }
        }
    }
    let Some(current) = current else {
        // Unreachable: a plan for a missing room always creates it.
        return Ok(Action::requeue(Duration::from_secs(1)));
    };
    if adopted {
        events::normal(
            &ctx.recorder,
            &r.object_ref(),
            events::ADOPTED,
            format!("Adopted room {}", current.arn),
        )
        .await;
    }
    let mut status = observed_status(room.status.as_ref(), &current, &region);
    // As resolved, in spec order (the order AWS reports carries no meaning).
    status.logging_configuration_arns = (!arns.is_empty()).then(|| arns.clone());
    r.finish(
        &Outcome::Available {
            message: format!("Room {} is ready", current.id),
        },
        Some(status),
    )
    .await?;
    Ok(Action::requeue(jittered(ctx.settings.resync_period)))
}

/// A `Creating` mark without an ARN means a CreateRoom may have happened without its result
/// being recorded.
fn create_was_attempted(status: &ChatRoomStatus) -> bool {
    status.arn.is_none()
        && status
            .conditions
            .as_ref()
            .and_then(|c| conditions::find(c, conditions::READY))
            .is_some_and(|c| c.reason == "Creating")
}

#[instrument(skip_all, fields(chatroom = %room.name_any(), namespace = room.namespace().unwrap_or_default()))]
async fn cleanup<A: IvsChat>(
    room: &ChatRoom,
    api: &Api<ChatRoom>,
    ctx: &Context<A>,
) -> Result<Action> {
    let r = Reconciler {
        room,
        api,
        ctx,
        generation: room.metadata.generation,
        previous: room.status.as_ref(),
        written: Default::default(),
    };
    let ns = room.namespace().unwrap_or_default();
    for dropped in ctx
        .references
        .set(&(ns.clone(), room.name_any()), BTreeSet::new())
    {
        let _ = ctx
            .logging_configuration_trigger
            .unbounded_send(ObjectRef::new(&dropped).within(&ns));
    }
    let status = room.status.clone().unwrap_or_default();
    let region = status
        .region
        .clone()
        .or_else(|| room.spec.region.clone())
        .unwrap_or_else(|| ctx.settings.default_region.clone());
    if room.spec.deletion_policy == Some(DeletionPolicy::Retain) {
        if let Some(arn) = &status.arn {
            info!(%arn, "deletionPolicy Retain: leaving the room in AWS");
            events::normal(
                &ctx.recorder,
                &r.object_ref(),
                events::RETAINED,
                format!("Kept room {arn} (deletionPolicy: Retain)"),
            )
            .await;
        }
        return Ok(Action::await_change());
    }
    let arn = match status.arn.clone() {
        Some(arn) => Some(arn),
        None if create_was_attempted(&status) => {
            // Do not leak a room created by an attempt whose result was never recorded.
            let owner = owner_of(room, &ctx.settings.cluster_name);
            let name = room.spec.name.clone().unwrap_or_else(|| {
                crate::planning::naming::aws_name_from_object_name(&room.name_any())
            });
            match r.find_owned_room(&region, &name, &owner).await {
                Ok(found) => found.map(|f| f.arn),
                Err(e) => return Err(Error::Aws(e)),
            }
        }
        None => None,
    };
    if let Some(arn) = arn {
        match ctx.aws.delete_room(&region, &arn).await {
            Ok(()) => {
                info!(%arn, "deleted room");
                events::normal(
                    &ctx.recorder,
                    &r.object_ref(),
                    events::DELETED,
                    format!("Deleted room {arn}"),
                )
                .await;
            }
            Err(e) if e.is_not_found() => info!(%arn, "room already gone"),
            Err(e) => {
                events::warning(
                    &ctx.recorder,
                    &r.object_ref(),
                    events::CANNOT_DELETE,
                    e.to_string(),
                )
                .await;
                let outcome = match e.class {
                    ErrorClass::Terminal => Outcome::Stalled {
                        reason: e.reason(),
                        message: e.message.clone(),
                    },
                    _ => Outcome::Retrying {
                        reason: e.reason(),
                        message: e.to_string(),
                    },
                };
                // Best effort: the object is going away; the error itself drives the retry.
                let _ = r.finish(&outcome, None).await;
                return Err(Error::Aws(e));
            }
        }
        ctx.suspects.clear(&arn);
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_comes_from_the_arn() {
        assert_eq!(
            region_of_arn("arn:aws:ivschat:eu-west-1:123456789012:room/abc"),
            Some("eu-west-1")
        );
        assert_eq!(region_of_arn("nonsense"), None);
    }

    #[test]
    fn creating_mark_without_arn_means_create_attempted() {
        let t = Time(jiff::Timestamp::UNIX_EPOCH);
        let creating = Outcome::Progressing {
            reason: "Creating".into(),
            message: String::new(),
        };
        let mut status = ChatRoomStatus {
            conditions: Some(conditions::conditions_for(None, &creating, Some(1), &t)),
            ..Default::default()
        };
        assert!(create_was_attempted(&status));
        status.arn = Some("arn".into());
        assert!(!create_was_attempted(&status));
        assert!(!create_was_attempted(&ChatRoomStatus::default()));
    }
}
