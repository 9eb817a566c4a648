//! ivschat-operator: AWS IVS Chat rooms and logging configurations as Kubernetes resources.
//!
//! Reading order: `main.rs` -> `controller::run` -> `controller::chat_room::reconcile`
//! -> `chat_room::apply` (observe -> `planning::room::plan_room` -> execute -> status).

pub mod api;
pub mod aws;
pub mod config;
pub mod controller;
pub mod drift;
pub mod planning;
pub mod runtime;
