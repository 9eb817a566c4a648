//! Wiring: watches, the two controllers, drift detection, leadership and shutdown.
//!
//! The reconcile path: `run` -> `chat_room::reconcile` -> `chat_room::apply`
//! (observe -> `planning::room::plan_room` -> execute -> status).

pub mod backoff;
pub mod chat_room;
pub mod common;
pub mod context;
pub mod events;
pub mod logging_configuration;
pub mod references;
pub mod status;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use futures::channel::mpsc;
use futures::{FutureExt, Stream, StreamExt};
use kube::api::Api;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::api::{ChatLoggingConfiguration, ChatRoom};
use crate::aws::rate_limit::{RateLimiters, RateLimits};
use crate::aws::sdk::SdkIvsChat;
use crate::config::RunArgs;
use crate::drift::DriftDetector;
use crate::planning::conditions;
use crate::runtime::leader::Leadership;
use crate::runtime::metrics::{Metrics, ResourceLabels};
use crate::runtime::server::{ServerState, serve};

use self::backoff::Backoff;
use self::context::{Context, Settings, Suspects};
use self::references::ReferenceIndex;

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Watch, keep a lean cache (no managedFields or last-applied annotations: at 10,000 rooms
/// they would be most of the memory), and yield the objects that changed.
fn cached_watch<K>(
    api: Api<K>,
) -> (
    Store<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(|obj: &mut K| {
            obj.meta_mut().managed_fields = None;
            if let Some(annotations) = obj.meta_mut().annotations.as_mut() {
                annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
            }
        })
        .reflect(writer)
        .touched_objects();
    (reader, stream)
}

/// Fires once each time this process becomes leader, so every object is looked at again.
fn on_becoming_leader(rx: watch::Receiver<bool>) -> impl Stream<Item = ()> + Send + 'static {
    futures::stream::unfold((rx, false), |(mut rx, mut was)| async move {
        loop {
            let now = *rx.borrow_and_update();
            let became = now && !was;
            was = now;
            if became {
                return Some(((), (rx, was)));
            }
            rx.changed().await.ok()?;
        }
    })
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => futures::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}

/// Runs the operator until SIGTERM.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("connecting to Kubernetes (KUBECONFIG or in-cluster)")?;
    let aws_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let default_region = args
        .region
        .clone()
        .or_else(|| aws_config.region().map(|r| r.to_string()))
        .context("no AWS region: set --region or AWS_REGION")?;
    let metrics = Arc::new(Metrics::with_series(
        &[
            <ChatRoom as common::Managed>::CONTROLLER,
            <ChatLoggingConfiguration as common::Managed>::CONTROLLER,
        ],
        crate::aws::OPERATIONS,
    ));
    let limits = RateLimits {
        room: args.room_rate_limit,
        logging_configuration: args.logging_configuration_rate_limit,
        tags: args.tag_rate_limit,
    };
    let aws = Arc::new(SdkIvsChat::new(
        aws_config,
        RateLimiters::new(limits),
        metrics.clone(),
    ));

    let ready = Arc::new(AtomicBool::new(false));
    let addr = serve(
        args.metrics_addr,
        ServerState {
            metrics: metrics.clone(),
            ready: ready.clone(),
        },
    )
    .await?;
    info!(%addr, "serving /metrics, /healthz and /readyz");

    let identity = std::env::var("POD_NAME").unwrap_or_else(|_| {
        format!(
            "{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "ivschat-operator".into()),
            std::process::id()
        )
    });
    let leadership = if args.leader_election {
        let namespace = args
            .leader_election_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .or_else(|| {
                std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
                    .ok()
            })
            .unwrap_or_else(|| "default".into());
        Leadership::elect(
            client.clone(),
            namespace.trim(),
            &args.lease_name,
            &identity,
            args.lease_duration,
            metrics.clone(),
        )
        .await
        .context("setting up leader election")?
    } else {
        Leadership::always(&metrics, &args.lease_name)
    };

    let ns = args.watch_namespace.as_deref();
    let (rooms, room_stream) = cached_watch(api::<ChatRoom>(&client, ns));
    let (logging_configurations, lc_stream) =
        cached_watch(api::<ChatLoggingConfiguration>(&client, ns));
    let (lc_trigger_tx, lc_trigger_rx) = mpsc::unbounded();
    let (room_trigger_tx, room_trigger_rx) = mpsc::unbounded();
    let references = Arc::new(ReferenceIndex::default());

    let ctx = Arc::new(Context {
        client: client.clone(),
        aws,
        settings: Settings {
            cluster_name: args.cluster_name.clone(),
            default_region,
            default_tags: args.default_tags.clone(),
            resync_period: args.resync_period,
        },
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "ivschat-operator".into(),
                instance: Some(identity.clone()),
            },
        ),
        metrics: metrics.clone(),
        rooms: rooms.clone(),
        logging_configurations: logging_configurations.clone(),
        references: references.clone(),
        suspects: Arc::new(Suspects::default()),
        recent_creates: Default::default(),
        backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(300)),
        leader: leadership.is_leader.clone(),
        logging_configuration_trigger: lc_trigger_tx,
        failpoint: std::env::var("IVSCHAT_OPERATOR_FAILPOINT")
            .ok()
            .filter(|f| !f.is_empty()),
    });

    // Ready once both caches have synced.
    {
        let (rooms, lcs, ready) = (rooms.clone(), logging_configurations.clone(), ready.clone());
        tokio::spawn(async move {
            // Poll with a timeout: the store's readiness future keeps only one waker, and the
            // controller waits on the same store, so a lone waiter could sleep forever.
            for store_ready in [
                Box::pin(async { wait_ready(&rooms).await })
                    as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
                Box::pin(async { wait_ready(&lcs).await }),
            ] {
                store_ready.await;
            }
            ready.store(true, Ordering::Release);
            info!("watch caches synced");
        });
    }
    tokio::spawn(report_resources(
        rooms.clone(),
        logging_configurations.clone(),
        metrics.clone(),
    ));
    tokio::spawn(
        DriftDetector {
            ctx: ctx.clone(),
            trigger: room_trigger_tx,
            resync_period: args.resync_period,
            poll_interval: args.drift_poll_interval,
            list_quota: args.room_rate_limit,
        }
        .run(),
    );

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let shutdown = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    // No debounce: our own status writes are skipped when unchanged, so they cannot loop, and
    // each debounce would add its delay to every create (finalizer pass + create pass).
    let controller_config = ControllerConfig::default().concurrency(args.concurrency);

    let index = references.clone();
    let room_cache = rooms.clone();
    let room_controller = Controller::for_stream(room_stream, rooms)
        .with_config(controller_config.clone())
        // A logging configuration that changes (e.g. becomes Ready) wakes the rooms using it.
        .watches(
            api::<ChatLoggingConfiguration>(&client, ns),
            watcher::Config::default(),
            move |lc| {
                // The index knows rooms already reconciled; the cache also has rooms whose
                // first reconcile has not run yet. Logging configurations change rarely.
                let ns = lc.namespace().unwrap_or_default();
                let name = lc.name_any();
                let mut rooms: std::collections::BTreeSet<String> = index
                    .rooms_referencing(&(ns.clone(), name.clone()))
                    .into_iter()
                    .collect();
                rooms.extend(
                    room_cache
                        .state()
                        .iter()
                        .filter(|r| r.namespace().as_deref() == Some(ns.as_str()))
                        .filter(|r| {
                            r.spec
                                .logging_configurations
                                .iter()
                                .flatten()
                                .any(|l| l.name.as_deref() == Some(name.as_str()))
                        })
                        .map(|r| r.name_any()),
                );
                rooms
                    .into_iter()
                    .map(move |room| ObjectRef::<ChatRoom>::new(&room).within(&ns))
            },
        )
        .reconcile_on(room_trigger_rx)
        .reconcile_all_on(on_becoming_leader(leadership.is_leader.clone()))
        .graceful_shutdown_on(shutdown(shutdown_rx.clone()))
        .run(common::reconcile, common::error_policy, ctx.clone())
        .for_each(|result| async move {
            if let Err(error) = result {
                warn!(%error, "chatroom controller");
            }
        });
    let lc_controller = Controller::for_stream(lc_stream, logging_configurations)
        .with_config(controller_config)
        .reconcile_on(lc_trigger_rx)
        .reconcile_all_on(on_becoming_leader(leadership.is_leader.clone()))
        .graceful_shutdown_on(shutdown(shutdown_rx))
        .run(common::reconcile, common::error_policy, ctx.clone())
        .for_each(|result| async move {
            if let Err(error) = result {
                warn!(%error, "chatloggingconfiguration controller");
            }
        });

    let controllers = futures::future::join(room_controller, lc_controller).shared();
    tokio::select! {
        _ = controllers.clone() => {
            warn!("controllers stopped on their own");
        }
        _ = shutdown_signal() => {
            info!(timeout = ?args.shutdown_timeout, "shutting down: finishing in-flight reconciles");
            let _ = shutdown_tx.send(true);
            if tokio::time::timeout(args.shutdown_timeout, controllers).await.is_err() {
                warn!("in-flight reconciles did not finish in time");
            }
        }
    }
    drop(ctx);
    leadership.release().await;
    info!("stopped");
    Ok(())
}

async fn wait_ready<K: Resource<DynamicType = ()> + Clone + 'static>(store: &Store<K>) {
    loop {
        if let Ok(Ok(())) =
            tokio::time::timeout(Duration::from_millis(250), store.wait_until_ready()).await
        {
            return;
        }
    }
}

/// Keeps `ivschat_operator_resources{kind,ready}` current.
async fn report_resources(
    rooms: Store<ChatRoom>,
    lcs: Store<ChatLoggingConfiguration>,
    metrics: Arc<Metrics>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tick.tick().await;
        let count = |kind: &str, readiness: Vec<Option<bool>>| {
            for (label, want) in [
                ("true", Some(true)),
                ("false", Some(false)),
                ("unknown", None),
            ] {
                let n = readiness.iter().filter(|r| **r == want).count();
                metrics
                    .resources
                    .get_or_create(&ResourceLabels {
                        kind: kind.into(),
                        ready: label.into(),
                    })
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        };
        let ready_of =
            |c: Option<&Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>>| {
                c.and_then(|c| conditions::find(c, conditions::READY))
                    .map(|c| c.status == "True")
            };
        count(
            "ChatRoom",
            rooms
                .state()
                .iter()
                .map(|r| ready_of(r.status.as_ref().and_then(|s| s.conditions.as_ref())))
                .collect(),
        );
        count(
            "ChatLoggingConfiguration",
            lcs.state()
                .iter()
                .map(|r| ready_of(r.status.as_ref().and_then(|s| s.conditions.as_ref())))
                .collect(),
        );
    }
}
