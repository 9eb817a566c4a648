//! Leader election with a coordination.k8s.io Lease (kube-lease-manager: server-side apply,
//! tracks kube releases). All replicas watch; only the holder reconciles. Losing the lease
//! ends the process at once, so a deposed leader can never write after the new one started.

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info};

use super::metrics::Metrics;

type LeaseTask =
    JoinHandle<Result<kube_lease_manager::LeaseManager, kube_lease_manager::LeaseManagerError>>;

/// What must be stopped to give the lease up: the lease's receiver, our forwarder, its task.
struct Held {
    lease_rx: watch::Receiver<bool>,
    forward: JoinHandle<()>,
    lease_task: LeaseTask,
}

pub struct Leadership {
    /// True while this process may write.
    pub is_leader: watch::Receiver<bool>,
    held: Option<Held>,
}

impl Leadership {
    /// No election: this process is always the leader.
    pub fn always(metrics: &Metrics, lease_name: &str) -> Self {
        metrics.set_leader(lease_name, true);
        let (_tx, rx) = watch::channel(true);
        // The sender is dropped: a closed channel keeps answering its last value.
        Leadership {
            is_leader: rx,
            held: None,
        }
    }

    pub async fn elect(
        client: Client,
        namespace: &str,
        lease_name: &str,
        identity: &str,
        duration: Duration,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let seconds = duration.as_secs().max(2);
        let manager = LeaseManagerBuilder::new(client, lease_name)
            .with_namespace(namespace)
            .with_identity(identity)
            .with_duration(seconds)
            // Renew when a third of the lease is left.
            .with_grace((seconds / 3).max(1))
            .with_field_manager("ivschat-operator")
            .build()
            .await?;
        let (mut lease_rx, lease_task) = manager.watch().await;
        let (tx, rx) = watch::channel(false);
        let name = lease_name.to_string();
        let mut forward_rx = lease_rx.clone();
        let forward = tokio::spawn(async move {
            let mut was_leader = false;
            loop {
                let now = *forward_rx.borrow_and_update();
                metrics.set_leader(&name, now);
                if now && !was_leader {
                    info!(lease = %name, "became leader");
                }
                if was_leader && !now {
                    error!(lease = %name, "lost the leader lease; exiting so that only the new leader writes");
                    std::process::exit(1);
                }
                was_leader = now;
                let _ = tx.send(now);
                if forward_rx.changed().await.is_err() {
                    return;
                }
            }
        });
        lease_rx.mark_unchanged();
        Ok(Leadership {
            is_leader: rx,
            held: Some(Held {
                lease_rx,
                forward,
                lease_task,
            }),
        })
    }

    /// Releases the lease so a standby takes over without waiting for it to expire.
    pub async fn release(mut self) {
        if let Some(Held {
            lease_rx,
            forward,
            lease_task,
        }) = self.held.take()
        {
            // Stop watching first, so giving the lease up is not mistaken for losing it.
            forward.abort();
            drop(lease_rx);
            drop(self.is_leader);
            match tokio::time::timeout(Duration::from_secs(5), lease_task).await {
                Ok(Ok(Ok(_))) => info!("released the leader lease"),
                Ok(Ok(Err(error))) => error!(%error, "could not release the leader lease"),
                Ok(Err(error)) => error!(%error, "lease task failed"),
                Err(_) => error!("timed out releasing the leader lease"),
            }
        }
    }
}
