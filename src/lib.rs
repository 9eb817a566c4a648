//! ivschat-operator: AWS IVS Chat rooms and logging configurations as Kubernetes resources.
//!
//! Reading order: `main.rs` -> `controller::run` -> `controller::chat_room::reconcile`
//! (observe -> `planning::room::plan_room` -> execute -> status).

pub mod api;
pub mod aws;
pub mod planning;
pub mod runtime;
