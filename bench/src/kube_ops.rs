//! Kubernetes side of the benchmark: CRDs, namespaces, ChatRoom creation, readiness tracking,
//! and the pre-populated fleet (objects whose status says a previous operator created them).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use ivschat_operator::api::{ChatRoom, ChatRoomSpec, FINALIZER};

/// Field manager of what the benchmark applies itself.
pub const FIELD_MANAGER: &str = "ivschat-bench";
/// Label on every namespace the benchmark creates.
pub const NAMESPACE_LABEL: &str = "ivschat-bench";

/// Server-side applies the operator's CRDs (the content of `crds/`) and waits until they are
/// Established.
pub async fn install_crds(client: &Client) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    let crds = ivschat_operator::api::all_crds();
    for crd in &crds {
        api.patch(&crd.name_any(), &pp, &Patch::Apply(crd))
            .await
            .with_context(|| format!("applying CRD {}", crd.name_any()))?;
    }
    for crd in &crds {
        let name = crd.name_any();
        let established = await_condition(api.clone(), &name, conditions::is_crd_established());
        tokio::time::timeout(Duration::from_secs(60), established)
            .await
            .with_context(|| format!("CRD {name} not Established within 60s"))??;
    }
    Ok(())
}

pub async fn create_namespace(client: &Client, name: &str) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([(NAMESPACE_LABEL.to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        ..Default::default()
    };
    api.create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

/// Creates, reads and deletes a few ChatRooms (no operator watches this namespace), so the API
/// server has compiled the CRD's schema and validation rules before anything is timed.
pub async fn warm_up(client: &Client, namespace: &str) -> Result<()> {
    create_namespace(client, namespace).await?;
    let api: Api<ChatRoom> = Api::namespaced(client.clone(), namespace);
    let rooms = create_rooms(
        &api,
        (0..8)
            .map(|i| new_room(&room_name("warmup", i), room_spec(i), false))
            .collect(),
        8,
    )
    .await?;
    api.list(&Default::default()).await?;
    for room in rooms {
        api.delete(&room.name_any(), &Default::default()).await?;
    }
    Ok(())
}

/// Name of the i-th benchmark room.
pub fn room_name(prefix: &str, i: usize) -> String {
    format!("{prefix}-{i:05}")
}

/// The spec of the i-th benchmark room: AWS defaults, and user tags on every other room (so
/// creates with tags are covered; they must still be a single CreateRoom).
pub fn room_spec(i: usize) -> ChatRoomSpec {
    ChatRoomSpec {
        tags: i
            .is_multiple_of(2)
            .then(|| [("team".to_string(), "bench".to_string())].into()),
        ..Default::default()
    }
}

pub fn new_room(name: &str, spec: ChatRoomSpec, with_finalizer: bool) -> ChatRoom {
    let mut room = ChatRoom::new(name, spec);
    if with_finalizer {
        room.metadata.finalizers = Some(vec![FINALIZER.to_string()]);
    }
    room
}

/// Creates `rooms` with `parallel` requests in flight; returns the stored objects.
pub async fn create_rooms(
    api: &Api<ChatRoom>,
    rooms: Vec<ChatRoom>,
    parallel: usize,
) -> Result<Vec<ChatRoom>> {
    futures::stream::iter(rooms)
        .map(|room| async move {
            api.create(&PostParams::default(), &room)
                .await
                .with_context(|| format!("creating ChatRoom {}", room.name_any()))
        })
        .buffer_unordered(parallel)
        .try_collect()
        .await
}

/// Ready=True for the object's current generation (what `kubectl wait` users care about).
pub fn is_ready(room: &ChatRoom) -> bool {
    room.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True" && c.observed_generation == room.metadata.generation)
}

/// Watches a namespace and records when each ChatRoom was first seen Ready.
pub struct ReadyTracker {
    ready: Arc<Mutex<HashMap<String, Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ReadyTracker {
    /// Starts the watch and returns once its initial list is done, so no later Ready is missed
    /// or back-dated.
    pub async fn start(api: Api<ChatRoom>) -> Result<ReadyTracker> {
        let ready: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
        let map = ready.clone();
        let task = tokio::spawn(async move {
            let mut synced = Some(synced_tx);
            let mut stream = watcher(api, watcher::Config::default()).boxed();
            while let Some(event) = stream.next().await {
                let room = match event {
                    Ok(watcher::Event::Apply(r)) | Ok(watcher::Event::InitApply(r)) => r,
                    Ok(watcher::Event::InitDone) => {
                        if let Some(tx) = synced.take() {
                            let _ = tx.send(());
                        }
                        continue;
                    }
                    Ok(_) => continue,
                    Err(e) => {
                        eprintln!("bench: watch error (retrying): {e}");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                };
                if is_ready(&room) {
                    let now = Instant::now();
                    map.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(room.name_any())
                        .or_insert(now);
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(60), synced_rx)
            .await
            .context("watch did not sync within 60s")??;
        Ok(ReadyTracker { ready, task })
    }

    pub fn ready_at(&self, name: &str) -> Option<Instant> {
        self.ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .copied()
    }

    pub fn count(&self) -> usize {
        self.ready.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn latest(&self) -> Option<Instant> {
        self.ready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .max()
            .copied()
    }

    /// Waits until `n` rooms are Ready or `timeout` passes; returns how many are.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.count();
            if count >= n || Instant::now() > deadline {
                return count;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ReadyTracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Lists the ChatRooms of a namespace and counts the Ready ones (a cross-check of the tracker).
pub async fn count_ready(api: &Api<ChatRoom>) -> Result<(usize, usize)> {
    let list = api.list(&Default::default()).await?;
    let total = list.items.len();
    let ready = list.items.iter().filter(|r| is_ready(r)).count();
    Ok((total, ready))
}
