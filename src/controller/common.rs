//! What both reconcilers share: the reconcile wrapper (leadership, metrics, finalizer,
//! backoff) and the status writer (conditions, Events, terminal vs retryable errors).

use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Error as FinalizerError, Event as FinalizerEvent, finalizer};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::warn;

use crate::api::FINALIZER;
use crate::aws::{AwsError, ErrorClass, IvsChat};
use crate::planning::conditions::{self, Outcome};
use crate::planning::tags::OWNERSHIP_TAGS;
use crate::runtime::metrics::ActiveWorker;

use super::context::{Context, Error, Result};
use super::events;
use super::status::{WithConditions, patch_status_if_changed};

/// Terminal errors are retried after this long even without a change (AWS-side fixes such as
/// a raised quota or a granted permission do not touch the object).
pub const STALLED_RETRY: Duration = Duration::from_secs(30 * 60);

/// How soon to look again while waiting on AWS or on other objects; not an error, so the
/// delay does not grow.
pub const WAIT_POLL: Duration = Duration::from_secs(2);

/// A kind this operator manages.
pub trait Managed:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Serialize
    + Debug
    + Send
    + Sync
    + 'static
{
    type Status: WithConditions + Serialize + Default + Send + Sync;
    /// The `controller` label of the metrics.
    const CONTROLLER: &'static str;
    fn status(&self) -> Option<&Self::Status>;
}

impl Managed for crate::api::ChatRoom {
    type Status = crate::api::ChatRoomStatus;
    const CONTROLLER: &'static str = "chatroom";
    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
}

impl Managed for crate::api::ChatLoggingConfiguration {
    type Status = crate::api::ChatLoggingConfigurationStatus;
    const CONTROLLER: &'static str = "chatloggingconfiguration";
    fn status(&self) -> Option<&Self::Status> {
        self.status.as_ref()
    }
}

/// The two halves of a resource's lifecycle behind the finalizer.
pub trait Lifecycle<A: IvsChat>: Managed {
    /// Make AWS match the spec.
    fn apply<'a>(
        obj: &'a Self,
        api: &'a Api<Self>,
        ctx: &'a Context<A>,
    ) -> impl Future<Output = Result<Action>> + Send + 'a;
    /// Delete (or retain) the AWS resource; the finalizer is removed when this succeeds.
    fn cleanup<'a>(
        obj: &'a Self,
        api: &'a Api<Self>,
        ctx: &'a Context<A>,
    ) -> impl Future<Output = Result<Action>> + Send + 'a;
}

/// Entry point from the controller runtime, for both kinds.
pub async fn reconcile<K: Lifecycle<A>, A: IvsChat>(
    obj: Arc<K>,
    ctx: Arc<Context<A>>,
) -> Result<Action> {
    if !ctx.is_leader() {
        // Standbys keep their caches warm and do nothing; becoming leader re-triggers all.
        return Ok(Action::await_change());
    }
    let _worker = ActiveWorker::start(&ctx.metrics, K::CONTROLLER);
    let started = Instant::now();
    let ns = obj.namespace().ok_or(Error::NoNamespace)?;
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let uid = obj.uid().unwrap_or_default();
    // The finalizer helper adds the finalizer before the first Apply (so before any AWS
    // create) and removes it only after Cleanup succeeded.
    let result = finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            FinalizerEvent::Apply(obj) => K::apply(&obj, &api, &ctx).await,
            FinalizerEvent::Cleanup(obj) => K::cleanup(&obj, &api, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        FinalizerError::ApplyFailed(e) | FinalizerError::CleanupFailed(e) => e,
        other => Error::Finalizer(other.to_string()),
    });
    let label = if result.is_ok() { "success" } else { "error" };
    ctx.metrics
        .observe_reconcile(K::CONTROLLER, label, started.elapsed());
    if result.is_ok() {
        ctx.backoff.reset(&uid);
    }
    result
}

/// Called by the runtime when `reconcile` fails: per-object exponential backoff with jitter,
/// except for waits (on rooms or on AWS), which poll gently without growing.
pub fn error_policy<K: Managed, A: IvsChat>(
    obj: Arc<K>,
    error: &Error,
    ctx: Arc<Context<A>>,
) -> Action {
    if matches!(error, Error::InUse(_) | Error::DeletePending) {
        return Action::requeue(WAIT_POLL);
    }
    let delay = ctx.backoff.next_delay(&obj.uid().unwrap_or_default());
    warn!(
        controller = K::CONTROLLER,
        name = %obj.name_any(),
        namespace = obj.namespace().unwrap_or_default(),
        %error,
        retry_in = ?delay,
        "reconcile failed"
    );
    Action::requeue(delay)
}

/// The region of an IVS Chat ARN (`arn:aws:ivschat:<region>:...`).
pub fn region_of_arn(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// Why a region could not be decided.
#[derive(Debug, PartialEq, Eq)]
pub enum RegionError {
    /// `spec.region` names another region than the one the resource lives in.
    Moved { spec: String, current: String },
    /// The adoption annotation is not an IVS Chat ARN (no region in it).
    InvalidAdoptArn,
}

/// The region a resource is managed in: the one it lives in once it exists (`spec.region`
/// cannot move it), else the adopted ARN's, else `spec.region`, else the operator's default.
pub fn resolve_region(
    spec: Option<&str>,
    status_region: Option<&str>,
    status_arn: Option<&str>,
    adopt_arn: Option<&str>,
    default: &str,
) -> std::result::Result<String, RegionError> {
    match (spec, status_region, status_arn, adopt_arn) {
        (Some(spec), Some(current), Some(_), _) if spec != current => Err(RegionError::Moved {
            spec: spec.to_string(),
            current: current.to_string(),
        }),
        (_, Some(current), Some(_), _) => Ok(current.to_string()),
        (_, _, None, Some(adopt)) => region_of_arn(adopt)
            .map(str::to_string)
            .ok_or(RegionError::InvalidAdoptArn),
        (Some(spec), _, _, _) => Ok(spec.to_string()),
        _ => Ok(default.to_string()),
    }
}

/// A `Creating` mark without an ARN means a create may have happened without its result
/// being recorded (the process died in between): look for an owned resource before creating.
pub fn create_was_attempted(arn: Option<&str>, conditions: Option<&Vec<Condition>>) -> bool {
    arn.is_none()
        && conditions
            .and_then(|c| conditions::find(c, conditions::READY))
            .is_some_and(|c| c.reason == "Creating")
}

/// Writes one object's status and Events during a reconcile.
pub struct StatusWriter<'a, K: Managed, A> {
    pub obj: &'a K,
    pub api: &'a Api<K>,
    pub ctx: &'a Context<A>,
    /// What this reconcile wrote last, so a second identical write is skipped.
    written: Mutex<Option<K::Status>>,
}

impl<'a, K: Managed, A: IvsChat> StatusWriter<'a, K, A> {
    pub fn new(obj: &'a K, api: &'a Api<K>, ctx: &'a Context<A>) -> Self {
        StatusWriter {
            obj,
            api,
            ctx,
            written: Mutex::new(None),
        }
    }

    pub fn object_ref(&self) -> ObjectReference {
        self.obj.object_ref(&())
    }

    /// Writes status with `outcome` (on top of `base`, else the current status), if it changed.
    pub async fn finish(&self, outcome: &Outcome, base: Option<K::Status>) -> Result<()> {
        let previous = self.obj.status();
        let generation = self.obj.meta().generation;
        let mut status = base.unwrap_or_else(|| previous.cloned().unwrap_or_default());
        *status.observed_generation_mut() = generation;
        *status.conditions_mut() = Some(conditions::conditions_for(
            previous.and_then(|s| s.conditions()),
            outcome,
            generation,
            &Time(jiff::Timestamp::now()),
        ));
        let last = self
            .written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        patch_status_if_changed(
            self.api,
            &self.obj.name_any(),
            last.as_ref().or(previous),
            &status,
        )
        .await?;
        *self.written.lock().unwrap_or_else(|e| e.into_inner()) = Some(status);
        Ok(())
    }

    /// Stalled: reported, an Event emitted, retried only after a change or a long interval.
    pub async fn stalled(
        &self,
        reason: &str,
        message: String,
        event: &str,
        base: Option<K::Status>,
    ) -> Result<Action> {
        warn!(controller = K::CONTROLLER, name = %self.obj.name_any(), reason, %message, "stalled");
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
            base,
        )
        .await?;
        Ok(Action::requeue(STALLED_RETRY))
    }

    /// Turns an AWS error into the right status, Event and next step: terminal errors stall,
    /// retryable ones set Synced=False and return the error so the runtime backs off.
    pub async fn aws_failed(&self, error: AwsError, event: &str) -> Result<Action> {
        match error.class {
            ErrorClass::Terminal => {
                self.stalled(&error.reason(), error.message.clone(), event, None)
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

    /// `deletionPolicy: Retain`: keep the AWS resource but drop our ownership tags, so that a
    /// new object (in another namespace or cluster) can adopt it later.
    pub async fn release(&self, region: &str, arn: &str) -> Result<()> {
        let keys: Vec<String> = OWNERSHIP_TAGS.iter().map(|k| k.to_string()).collect();
        match self.ctx.aws.untag_resource(region, arn, &keys).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return self.delete_failed(e).await.map(|_| ()),
        }
        events::normal(
            &self.ctx.recorder,
            &self.object_ref(),
            events::RETAINED,
            format!("Kept {arn} (deletionPolicy: Retain) and removed its ownership tags"),
        )
        .await;
        Ok(())
    }

    /// A failed delete: reported (best effort, the object is going away) and retried.
    pub async fn delete_failed(&self, error: AwsError) -> Result<Action> {
        events::warning(
            &self.ctx.recorder,
            &self.object_ref(),
            events::CANNOT_DELETE,
            error.to_string(),
        )
        .await;
        let outcome = match error.class {
            ErrorClass::Terminal => Outcome::Stalled {
                reason: error.reason(),
                message: error.message.clone(),
            },
            _ => Outcome::Retrying {
                reason: error.reason(),
                message: error.to_string(),
            },
        };
        let _ = self.finish(&outcome, None).await;
        Err(Error::Aws(error))
    }
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
    fn region_is_the_existing_one_then_adopted_then_spec_then_default() {
        let arn = Some("arn:aws:ivschat:eu-west-1:1:room/x");
        assert_eq!(
            resolve_region(Some("us-west-2"), Some("us-west-2"), arn, None, "d"),
            Ok("us-west-2".into())
        );
        assert_eq!(
            resolve_region(None, Some("eu-west-1"), arn, None, "d"),
            Ok("eu-west-1".into())
        );
        assert_eq!(
            resolve_region(Some("us-west-2"), Some("eu-west-1"), arn, None, "d"),
            Err(RegionError::Moved {
                spec: "us-west-2".into(),
                current: "eu-west-1".into()
            })
        );
        assert_eq!(
            resolve_region(Some("us-west-2"), None, None, arn, "d"),
            Ok("eu-west-1".into())
        );
        assert_eq!(
            resolve_region(None, None, None, Some("bad"), "d"),
            Err(RegionError::InvalidAdoptArn)
        );
        assert_eq!(
            resolve_region(Some("us-west-2"), None, None, None, "d"),
            Ok("us-west-2".into())
        );
        assert_eq!(resolve_region(None, None, None, None, "d"), Ok("d".into()));
    }

    #[test]
    fn creating_mark_without_arn_means_create_attempted() {
        let t = Time(jiff::Timestamp::UNIX_EPOCH);
        let creating = Outcome::Progressing {
            reason: "Creating".into(),
            message: String::new(),
        };
        let c = conditions::conditions_for(None, &creating, Some(1), &t);
        assert!(create_was_attempted(None, Some(&c)));
        assert!(!create_was_attempted(Some("arn"), Some(&c)));
        assert!(!create_was_attempted(None, None));
        let ok = conditions::conditions_for(
            None,
            &Outcome::Available {
                message: String::new(),
            },
            Some(1),
            &t,
        );
        assert!(!create_was_attempted(None, Some(&ok)));
    }
}
