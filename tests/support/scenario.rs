//! One test scenario: its own namespace, its own emulator and its own operator process, plus
//! builders and waits for the operator's objects.
#![allow(dead_code)]

use std::time::Duration;

use ivschat_operator::api::{
    ChatLoggingConfiguration, ChatLoggingConfigurationSpec, ChatRoom, ChatRoomSpec,
};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};

use super::processes::{Emulator, Operator, OperatorOptions};
use super::{TestNamespace, client, install_crds, test_namespace, wait_for};

pub const TIMEOUT: Duration = Duration::from_secs(60);

pub struct Scenario {
    pub client: Client,
    pub emulator: Emulator,
    pub operator: Option<Operator>,
    pub rooms: Api<ChatRoom>,
    pub logging_configurations: Api<ChatLoggingConfiguration>,
    pub name: String,
    // Last, so the namespace is dumped after the processes printed their logs.
    pub ns: TestNamespace,
}

impl Scenario {
    /// A namespace and an emulator, no operator yet.
    pub async fn without_operator(name: &str, emulator_args: &[&str]) -> Scenario {
        let client = client().await;
        install_crds(&client).await;
        let ns = test_namespace(&client, name).await;
        let emulator = Emulator::start(ns.name(), emulator_args).await;
        Scenario {
            rooms: ns.api(&client),
            logging_configurations: ns.api(&client),
            client,
            emulator,
            operator: None,
            name: name.to_string(),
            ns,
        }
    }

    /// A namespace, an emulator (`emulator_args`) and an operator (`operator_args`).
    pub async fn start(name: &str, emulator_args: &[&str], operator_args: &[&str]) -> Scenario {
        let mut s = Scenario::without_operator(name, emulator_args).await;
        s.start_operator(|o| o.args(operator_args));
        s
    }

    pub fn start_operator(
        &mut self,
        configure: impl FnOnce(OperatorOptions<'_>) -> OperatorOptions<'_>,
    ) {
        let options = configure(OperatorOptions::new(self.ns.name(), &self.emulator));
        let log_name = format!("{}-operator", self.ns.name());
        self.operator = Some(Operator::start(&log_name, options));
    }

    pub fn operator(&mut self) -> &mut Operator {
        self.operator.as_mut().expect("operator started")
    }

    /// Server-side applies a ChatRoom as a user would (`kubectl apply --server-side`).
    pub async fn apply_room(&self, name: &str, spec: ChatRoomSpec) -> ChatRoom {
        self.apply_room_annotated(name, spec, &[]).await
    }

    pub async fn apply_room_annotated(
        &self,
        name: &str,
        spec: ChatRoomSpec,
        annotations: &[(&str, &str)],
    ) -> ChatRoom {
        let mut room = ChatRoom::new(name, spec);
        if !annotations.is_empty() {
            room.metadata.annotations = Some(
                annotations
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            );
        }
        self.rooms
            .patch(
                name,
                &PatchParams::apply("test-user").force(),
                &Patch::Apply(&room),
            )
            .await
            .unwrap_or_else(|e| panic!("applying ChatRoom {name}: {e}"))
    }

    pub async fn apply_logging_configuration(
        &self,
        name: &str,
        spec: ChatLoggingConfigurationSpec,
    ) -> ChatLoggingConfiguration {
        let lc = ChatLoggingConfiguration::new(name, spec);
        self.logging_configurations
            .patch(
                name,
                &PatchParams::apply("test-user").force(),
                &Patch::Apply(&lc),
            )
            .await
            .unwrap_or_else(|e| panic!("applying ChatLoggingConfiguration {name}: {e}"))
    }

    /// Waits until the room is Ready for its current generation.
    pub async fn wait_room_ready(&self, name: &str) -> ChatRoom {
        wait_for(&self.rooms, name, TIMEOUT, |r: &ChatRoom| {
            condition_is(
                r.status.as_ref().and_then(|s| s.conditions.as_ref()),
                r.metadata.generation,
                "Ready",
                "True",
            )
        })
        .await
    }

    pub async fn wait_room(
        &self,
        name: &str,
        predicate: impl Fn(&ChatRoom) -> bool + Send + 'static,
    ) -> ChatRoom {
        wait_for(&self.rooms, name, TIMEOUT, predicate).await
    }

    pub async fn wait_logging_configuration_ready(&self, name: &str) -> ChatLoggingConfiguration {
        wait_for(
            &self.logging_configurations,
            name,
            TIMEOUT,
            |r: &ChatLoggingConfiguration| {
                condition_is(
                    r.status.as_ref().and_then(|s| s.conditions.as_ref()),
                    r.metadata.generation,
                    "Ready",
                    "True",
                )
            },
        )
        .await
    }

    /// Events (events.k8s.io/v1) about `name`, as (reason, note).
    pub async fn events_about(&self, name: &str) -> Vec<(String, String)> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), self.ns.name());
        api.list(&ListParams::default())
            .await
            .expect("list events")
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
            .collect()
    }

    /// Waits until an Event with `reason` exists about `name`; returns its note.
    pub async fn wait_event(&self, name: &str, reason: &str) -> String {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            if let Some((_, note)) = self
                .events_about(name)
                .await
                .into_iter()
                .find(|(r, _)| r == reason)
            {
                return note;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {reason} event about {name}: {:?}",
                self.events_about(name).await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Whether condition `type_` has `status` and was set for `generation`.
pub fn condition_is(
    conditions: Option<&Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>>,
    generation: Option<i64>,
    type_: &str,
    status: &str,
) -> bool {
    conditions
        .and_then(|c| c.iter().find(|c| c.type_ == type_))
        .is_some_and(|c| c.status == status && c.observed_generation == generation)
}

/// The condition `type_` of a room, if any.
pub fn room_condition(
    room: &ChatRoom,
    type_: &str,
) -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    room.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .cloned()
}

pub fn arn_of(room: &ChatRoom) -> String {
    room.status
        .as_ref()
        .and_then(|s| s.arn.clone())
        .unwrap_or_else(|| panic!("{} has no status.arn", room.name_any()))
}

/// Polls `check` until it returns `Some`, for conditions that live outside Kubernetes (the
/// emulator's state); panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
