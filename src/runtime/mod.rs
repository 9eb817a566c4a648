//! What makes the operator safe to run: metrics, health, leader election.

pub mod leader;
pub mod metrics;
pub mod server;
