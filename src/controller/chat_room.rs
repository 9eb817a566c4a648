//! The ChatRoom reconciler: observe -> plan -> execute -> status.

use std::collections::BTreeSet;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use tracing::{info, instrument};

use crate::api::{ADOPT_ARN_ANNOTATION, ChatRoom, DeletionPolicy};
use crate::aws::{AwsError, IvsChat, Room};
use crate::planning::conditions::{self, Outcome};
use crate::planning::room::{RoomAction, desired_room, observed_status, plan_room};
use crate::planning::tags::{Owner, Ownership, UID_TAG, ownership};

use super::backoff::jittered;
use super::common::{Lifecycle, RegionError, StatusWriter, create_was_attempted, resolve_region};
use super::context::{Context, Error, Result};
use super::events;

/// How soon a room waiting for a logging configuration looks at the cache again.
const REFERENCE_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Both halves of the ChatRoom lifecycle; `common::reconcile` runs them behind the finalizer.
impl<A: IvsChat> Lifecycle<A> for ChatRoom {
    fn apply<'a>(
        room: &'a Self,
        api: &'a Api<Self>,
        ctx: &'a Context<A>,
    ) -> impl Future<Output = Result<Action>> + Send + 'a {
        apply(room, api, ctx)
    }
    fn cleanup<'a>(
        room: &'a Self,
        api: &'a Api<Self>,
        ctx: &'a Context<A>,
    ) -> impl Future<Output = Result<Action>> + Send + 'a {
        cleanup(room, api, ctx)
    }
}

/// The reconcile's view of one room.
struct Reconciler<'a, A> {
    room: &'a ChatRoom,
    ctx: &'a Context<A>,
    status: StatusWriter<'a, ChatRoom, A>,
}

impl<'a, A: IvsChat> Reconciler<'a, A> {
    fn new(room: &'a ChatRoom, api: &'a Api<ChatRoom>, ctx: &'a Context<A>) -> Self {
        Reconciler {
            room,
            ctx,
            status: StatusWriter::new(room, api, ctx),
        }
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
                &self.status.object_ref(),
                events::CANNOT_RESOLVE,
                message.clone(),
            )
            .await;
            self.status
                .finish(&Outcome::ReferenceNotReady { message }, None)
                .await?;
            return Err(Error::Aws(error));
        }
        self.status.aws_failed(error, event).await
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
    let r = Reconciler::new(room, api, ctx);
    let status = room.status.clone().unwrap_or_default();
    let owner = Owner::of(room, &ctx.settings.cluster_name);
    let adopt_arn = room
        .annotations()
        .get(ADOPT_ARN_ANNOTATION)
        .cloned()
        .filter(|a| !a.is_empty());

    // Region: the room's, once it exists; spec.region cannot move it.
    let region = match resolve_region(
        room.spec.region.as_deref(),
        status.region.as_deref(),
        status.arn.as_deref(),
        adopt_arn.as_deref(),
        &ctx.settings.default_region,
    ) {
        Ok(region) => region,
        Err(RegionError::Moved { spec, current }) => {
            let message = format!(
                "spec.region is {spec} but the room lives in {current}; create a new ChatRoom to move it"
            );
            return r
                .status
                .stalled("RegionChanged", message, events::CANNOT_UPDATE, None)
                .await;
        }
        Err(RegionError::InvalidAdoptArn) => {
            let message = format!(
                "{ADOPT_ARN_ANNOTATION} is not a room ARN: {}",
                adopt_arn.unwrap_or_default()
            );
            return r
                .status
                .stalled("InvalidAdoptArn", message, events::CANNOT_CREATE, None)
                .await;
        }
    };

    let arns = match r.resolve_references(&region) {
        Ok(arns) => arns,
        Err(message) => {
            r.status
                .finish(&Outcome::ReferenceNotReady { message }, None)
                .await?;
            // The logging configuration watch wakes us up when it becomes Ready. That watch is
            // not the cache we read it from, so an event can arrive before the cache has the
            // Ready status; a short requeue (no AWS call) closes that gap.
            return Ok(Action::requeue(REFERENCE_RECHECK));
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
                .status
                .stalled("TooManyTags", e.to_string(), events::CANNOT_UPDATE, None)
                .await;
        }
    };

    // Our own create is newer than the cached object: wait for the watch to deliver it
    // (it also triggers us) rather than search AWS for a room we know we made.
    if ctx
        .recent_creates
        .cache_is_behind(&room.uid().unwrap_or_default(), status.arn.as_deref())
    {
        return Ok(Action::requeue(Duration::from_secs(2)));
    }
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
                    return r.status.stalled(
                            "ManagedByAnotherResource",
                            format!("room {adopt} is already managed by ChatRoom {by}; it is not taken over"),
                            events::CANNOT_CREATE, None)
                        .await;
                }
                Ownership::Ours | Ownership::Unowned => {
                    adopted = true;
                    Some(existing)
                }
            },
            Err(e) if e.is_not_found() => {
                return r
                    .status
                    .stalled(
                        "AdoptionTargetNotFound",
                        format!("{ADOPT_ARN_ANNOTATION}: room {adopt} does not exist in {region}"),
                        events::CANNOT_CREATE,
                        None,
                    )
                    .await;
            }
            Err(e) => return r.aws_failed(e, events::CANNOT_OBSERVE).await,
        }
    } else if create_was_attempted(status.arn.as_deref(), status.conditions.as_ref()) {
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
                r.status
                    .finish(
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
                r.status
                    .finish(
                        &Outcome::Available {
                            message: format!("Room {} is ready", created.id),
                        },
                        Some(status),
                    )
                    .await?;
                ctx.recent_creates
                    .record(&room.uid().unwrap_or_default(), &created.arn);
                events::normal(&ctx.recorder, &r.status.object_ref(), reason, note).await;
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
                            &r.status.object_ref(),
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
            &r.status.object_ref(),
            events::ADOPTED,
            format!("Adopted room {}", current.arn),
        )
        .await;
    }
    let mut status = observed_status(room.status.as_ref(), &current, &region);
    // As resolved, in spec order (the order AWS reports carries no meaning).
    status.logging_configuration_arns = (!arns.is_empty()).then(|| arns.clone());
    r.status
        .finish(
            &Outcome::Available {
                message: format!("Room {} is ready", current.id),
            },
            Some(status),
        )
        .await?;
    Ok(Action::requeue(jittered(ctx.settings.resync_period)))
}

#[instrument(skip_all, fields(chatroom = %room.name_any(), namespace = room.namespace().unwrap_or_default()))]
async fn cleanup<A: IvsChat>(
    room: &ChatRoom,
    api: &Api<ChatRoom>,
    ctx: &Context<A>,
) -> Result<Action> {
    let r = Reconciler::new(room, api, ctx);
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
            r.status.release(&region, arn).await?;
        }
        return Ok(Action::await_change());
    }
    let arn = match status.arn.clone() {
        Some(arn) => Some(arn),
        None if create_was_attempted(status.arn.as_deref(), status.conditions.as_ref()) => {
            // Do not leak a room created by an attempt whose result was never recorded.
            let owner = Owner::of(room, &ctx.settings.cluster_name);
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
                    &r.status.object_ref(),
                    events::DELETED,
                    format!("Deleted room {arn}"),
                )
                .await;
            }
            Err(e) if e.is_not_found() => info!(%arn, "room already gone"),
            Err(e) => return r.status.delete_failed(e).await,
        }
        ctx.suspects.clear(&arn);
    }
    Ok(Action::await_change())
}
