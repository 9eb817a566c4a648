//! Per-object exponential backoff with jitter.
//!
//! kube-runtime's `error_policy` is never told about successes, so it cannot back off per
//! object by itself (kube-rs/kube#1916). We keep failure counts by object uid: reconcile
//! success clears them, each error doubles the delay up to a cap, and full jitter spreads
//! retries of many objects that failed together (e.g. during an AWS outage).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;

pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The ceiling of the next delay for `key` after one more failure.
    pub fn next_ceiling(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(20));
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The next delay for `key`: half the ceiling plus up to half again at random, so the
    /// delay still grows but objects that failed together do not retry together.
    pub fn next_delay(&self, key: &str) -> Duration {
        let ceiling = self.next_ceiling(key);
        let half = ceiling / 2;
        half + half.mul_f64(rand::rng().random::<f64>())
    }

    pub fn reset(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// `period` plus up to 10% at random, so resyncs of objects created together spread out.
pub fn jittered(period: Duration) -> Duration {
    period + period.mul_f64(rand::rng().random::<f64>() * 0.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(10));
        let ceilings: Vec<u64> = (0..6).map(|_| b.next_ceiling("a").as_secs()).collect();
        assert_eq!(ceilings, vec![1, 2, 4, 8, 10, 10]);
        assert_eq!(b.next_ceiling("other").as_secs(), 1);
        b.reset("a");
        assert_eq!(b.next_ceiling("a").as_secs(), 1);
    }

    #[test]
    fn delay_is_jittered_within_bounds() {
        let b = Backoff::new(Duration::from_secs(8), Duration::from_secs(60));
        for _ in 0..50 {
            b.reset("x");
            let d = b.next_delay("x");
            assert!(
                d >= Duration::from_secs(4) && d <= Duration::from_secs(8),
                "{d:?}"
            );
        }
        let j = jittered(Duration::from_secs(100));
        assert!(j >= Duration::from_secs(100) && j <= Duration::from_secs(110));
    }
}
