//! What makes the operator safe to run: metrics, health, leader election.

pub mod metrics;
