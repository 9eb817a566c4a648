//! A pre-populated fleet: N rooms in the emulator and N ChatRooms whose status says a previous
//! operator created them, i.e. what an operator restart over an existing fleet finds.
//!
//! Creating 10,000 rooms through the operator takes 2,000 s at the CreateRoom quota, so the
//! fleet is seeded directly: the ChatRoom objects first (for their uids), then the rooms in a
//! seeding emulator with quotas off (named and tagged exactly as the operator would: ownership
//! tags from `planning::tags`), then the status of each object, written with the operator's own
//! field manager, status shape and conditions. The seeding emulator is stopped (it writes its
//! state file) and the measured emulator starts from that file with quotas on.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};
use aws_sdk_ivschat::primitives::{DateTime, DateTimeFormat};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};

use ivschat_operator::api::{ChatRoom, ChatRoomStatus};
use ivschat_operator::planning::conditions::{Outcome, conditions_for};
use ivschat_operator::planning::naming::aws_name_from_object_name;
use ivschat_operator::planning::tags::{Owner, desired_tags};

use crate::kube_ops::{create_namespace, create_rooms, new_room, room_name, room_spec};
use crate::procs::Emulator;

/// Field manager the operator writes status with (`controller::status::FIELD_MANAGER`).
const OPERATOR_FIELD_MANAGER: &str = "ivschat-operator";
const PARALLEL: usize = 48;

/// Timestamps as the operator's AWS adapter renders them (`aws::sdk::time`).
fn time(t: Option<&DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
}

pub struct SeedReport {
    pub namespace: String,
    pub state_file: PathBuf,
    pub seconds: f64,
}

/// Seeds `n` rooms into `namespace` and into a state file for the emulator.
pub async fn seed(
    client: &Client,
    bin_dir: &Path,
    log_dir: &Path,
    namespace: &str,
    cluster_name: &str,
    n: usize,
) -> Result<SeedReport> {
    let started = Instant::now();
    let state_file = log_dir.join(format!("fleet-{n}-state.json"));
    let _ = std::fs::remove_file(&state_file);
    let seeder = Emulator::start(
        bin_dir,
        log_dir.join(format!("fleet-{n}-seeding-emulator.log")),
        &[
            "--quotas".into(),
            "off".into(),
            "--state-file".into(),
            state_file.display().to_string(),
        ],
    )
    .await?;
    create_namespace(client, namespace).await?;
    let api: Api<ChatRoom> = Api::namespaced(client.clone(), namespace);

    eprintln!("bench: seeding {n} ChatRoom objects in {namespace}");
    let objects = create_rooms(
        &api,
        (0..n)
            .map(|i| new_room(&room_name("room", i), room_spec(i), true))
            .collect(),
        PARALLEL,
    )
    .await?;

    eprintln!("bench: seeding {n} rooms in the emulator (quotas off)");
    let sdk = seeder.sdk().await;
    let now = Time(jiff::Timestamp::now());
    let sdk = &sdk;
    let api = &api;
    let now = &now;
    futures::stream::iter(objects)
        .map(|object| async move {
            let name = object.name_any();
            let owner = Owner {
                cluster: cluster_name.to_string(),
                namespace: object.namespace().unwrap_or_default(),
                name: name.clone(),
                uid: object.uid().unwrap_or_default(),
            };
            let tags = desired_tags(&Default::default(), object.spec.tags.as_ref(), &owner)?;
            let out = sdk
                .create_room()
                .name(aws_name_from_object_name(&name))
                .set_tags(Some(tags.into_iter().collect()))
                .send()
                .await
                .with_context(|| format!("CreateRoom for {name}"))?;
            let arn = out.arn().unwrap_or_default().to_string();
            let id = out.id().unwrap_or_default().to_string();
            let generation = object.metadata.generation;
            let status = ChatRoomStatus {
                arn: Some(arn),
                id: Some(id.clone()),
                region: Some("us-east-1".into()),
                create_time: time(out.create_time()),
                update_time: time(out.update_time()),
                logging_configuration_arns: None,
                observed_generation: generation,
                conditions: Some(conditions_for(
                    None,
                    &Outcome::Available {
                        message: format!("Room {id} is ready"),
                    },
                    generation,
                    now,
                )),
            };
            let patch = serde_json::json!({
                "apiVersion": "ivschat.operators.dev/v1alpha1",
                "kind": "ChatRoom",
                "status": status,
            });
            api.patch_status(
                &name,
                &PatchParams::apply(OPERATOR_FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .with_context(|| format!("status of {name}"))?;
            anyhow::Ok(())
        })
        .buffer_unordered(PARALLEL)
        .try_collect::<Vec<()>>()
        .await?;
    let rooms = seeder.stats().await?.rooms();
    anyhow::ensure!(
        rooms as usize == n,
        "seeding emulator has {rooms} rooms, expected {n}"
    );
    seeder.stop().await;
    anyhow::ensure!(
        state_file.exists(),
        "{} was not written",
        state_file.display()
    );
    Ok(SeedReport {
        namespace: namespace.to_string(),
        state_file,
        seconds: started.elapsed().as_secs_f64(),
    })
}
