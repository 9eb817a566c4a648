//! The pure planning core: desired spec + observed AWS state -> AWS actions and the new status.
//!
//! Nothing here does I/O or reads a clock (the caller passes `now`), so every decision the
//! operator makes is unit-tested without Kubernetes or AWS.

pub mod conditions;
pub mod logging_configuration;
pub mod naming;
pub mod room;
pub mod tags;

pub use conditions::{Outcome, conditions_for};
