//! Call counters per operation and outcome, for `GET /_emulator/stats`.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use serde_json::{Value, json};

#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    operations: BTreeMap<String, BTreeMap<String, u64>>,
    throttled: u64,
}

impl Stats {
    /// `outcome` is `Success`, an error shape name, or `Dropped`.
    pub fn record(&self, op: &str, outcome: &str) {
        let mut g = self.inner.lock();
        if outcome == "ThrottlingException" {
            g.throttled += 1;
        }
        let per_op = g.operations.entry(op.to_string()).or_default();
        match per_op.get_mut(outcome) {
            Some(n) => *n += 1,
            None => {
                per_op.insert(outcome.to_string(), 1);
            }
        }
    }

    pub fn reset(&self) {
        *self.inner.lock() = Inner::default();
    }

    pub fn to_json(&self, rooms: usize, logging_configurations: usize) -> Value {
        let g = self.inner.lock();
        json!({
            "operations": g.operations,
            "throttled": g.throttled,
            "rooms": rooms,
            "loggingConfigurations": logging_configurations,
        })
    }
}
