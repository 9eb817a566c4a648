//! Kubernetes Events (events.k8s.io/v1) on transitions, with Crossplane's reasons.
//! The kube Recorder folds repeats within 6 minutes into one series, so a failing resource
//! does not flood the namespace.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder};

pub const CREATED: &str = "CreatedExternalResource";
pub const UPDATED: &str = "UpdatedExternalResource";
pub const DELETED: &str = "DeletedExternalResource";
pub const RETAINED: &str = "RetainedExternalResource";
pub const ADOPTED: &str = "Adopted";
pub const RECREATED: &str = "Recreated";
pub const CANNOT_CREATE: &str = "CannotCreateExternalResource";
pub const CANNOT_UPDATE: &str = "CannotUpdateExternalResource";
pub const CANNOT_DELETE: &str = "CannotDeleteExternalResource";
pub const CANNOT_OBSERVE: &str = "CannotObserveExternalResource";
pub const CANNOT_RESOLVE: &str = "CannotResolveReferences";

pub async fn publish(
    recorder: &Recorder,
    object: &ObjectReference,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.to_string(),
        note: Some(note.chars().take(1000).collect()),
        action: reason.trim_start_matches("Cannot").to_string(),
        secondary: None,
    };
    if let Err(error) = recorder.publish(&event, object).await {
        tracing::warn!(%error, reason, "could not publish event");
    }
}

pub async fn normal(recorder: &Recorder, object: &ObjectReference, reason: &str, note: String) {
    publish(recorder, object, EventType::Normal, reason, note).await
}

pub async fn warning(recorder: &Recorder, object: &ObjectReference, reason: &str, note: String) {
    publish(recorder, object, EventType::Warning, reason, note).await
}
