//! What every reconcile shares.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc;
use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::watch;

use crate::api::{ChatLoggingConfiguration, ChatRoom};
use crate::aws::{AwsError, Tags};
use crate::runtime::metrics::Metrics;

use super::backoff::Backoff;
use super::references::ReferenceIndex;

/// Settings that shape every desired state.
#[derive(Clone, Debug)]
pub struct Settings {
    pub cluster_name: String,
    pub default_region: String,
    pub default_tags: Tags,
    pub resync_period: Duration,
}

/// ARNs whose AWS state may differ from what status says (found by a drift sweep): their next
/// reconcile must read AWS instead of trusting status.
#[derive(Default)]
pub struct Suspects {
    arns: Mutex<HashSet<String>>,
}

impl Suspects {
    pub fn mark(&self, arn: &str) {
        self.arns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(arn.to_string());
    }
    pub fn contains(&self, arn: &str) -> bool {
        self.arns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(arn)
    }
    pub fn clear(&self, arn: &str) {
        self.arns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(arn);
    }
}

/// ARNs this process wrote into a status whose watch event may not have reached the cache
/// yet, by object uid. A reconcile that sees the older cached status (the `Creating` mark
/// without an ARN) waits for the cache instead of mistaking its own create for a crash and
/// searching AWS for it.
#[derive(Default)]
pub struct RecentCreates {
    by_uid: Mutex<std::collections::HashMap<String, String>>,
}

impl RecentCreates {
    pub fn record(&self, uid: &str, arn: &str) {
        self.by_uid
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uid.to_string(), arn.to_string());
    }

    /// Whether the cached status of `uid` is older than what we wrote. Forgets the entry once
    /// the cache has caught up (or the object is gone).
    pub fn cache_is_behind(&self, uid: &str, cached_arn: Option<&str>) -> bool {
        let mut map = self.by_uid.lock().unwrap_or_else(|e| e.into_inner());
        match (map.get(uid), cached_arn) {
            (Some(_), None) => true,
            (Some(_), Some(_)) => {
                map.remove(uid);
                false
            }
            (None, _) => false,
        }
    }

    pub fn forget(&self, uid: &str) {
        self.by_uid
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid);
    }
}

pub struct Context<A> {
    pub client: Client,
    pub aws: Arc<A>,
    pub settings: Settings,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub rooms: Store<ChatRoom>,
    pub logging_configurations: Store<ChatLoggingConfiguration>,
    pub references: Arc<ReferenceIndex>,
    pub suspects: Arc<Suspects>,
    pub recent_creates: RecentCreates,
    pub backoff: Backoff,
    /// True while this process may write (holds the lease, or election is off).
    pub leader: watch::Receiver<bool>,
    /// Asks the logging configuration controller to look at an object again.
    pub logging_configuration_trigger: mpsc::UnboundedSender<ObjectRef<ChatLoggingConfiguration>>,
    /// A test-only failpoint (`IVSCHAT_OPERATOR_FAILPOINT`), see `failpoint`.
    pub failpoint: Option<String>,
}

impl<A> Context<A> {
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Test-only crash injection: with `IVSCHAT_OPERATOR_FAILPOINT=<name>` the process kills
    /// itself with SIGKILL at the named point, exactly like a node failure would. Used by the
    /// crash-safe create test (`after-create-room`); never set in production.
    pub fn failpoint(&self, name: &str) {
        if self.failpoint.as_deref() == Some(name) {
            tracing::error!(failpoint = name, "failpoint reached: killing the process");
            // SAFETY: getpid and kill have no memory-safety preconditions.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}

/// Errors a reconcile returns to the runtime; they trigger a per-object backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("AWS: {0}")]
    Aws(#[from] AwsError),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("object has no namespace")]
    NoNamespace,
    #[error("still referenced by ChatRooms: {0}")]
    InUse(String),
    #[error("waiting for AWS to delete the logging configuration")]
    DeletePending,
    #[error("finalizer: {0}")]
    Finalizer(String),
}

impl Error {
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Aws(_) => "aws",
            Error::Kube(_) => "kubernetes",
            Error::NoNamespace => "invalid",
            Error::InUse(_) | Error::DeletePending => "waiting",
            Error::Finalizer(_) => "finalizer",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_creates_hold_until_the_cache_shows_the_arn() {
        let recent = RecentCreates::default();
        assert!(!recent.cache_is_behind("u", None));
        recent.record("u", "arn:1");
        assert!(recent.cache_is_behind("u", None));
        assert!(!recent.cache_is_behind("u", Some("arn:1")));
        // Caught up: forgotten, so a later crash mark is taken seriously again.
        assert!(!recent.cache_is_behind("u", None));
    }
}
