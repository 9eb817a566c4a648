//! Per (region, operation) token buckets at the documented TPS quotas.

use std::collections::HashMap;
use std::time::Instant;

use parking_lot::Mutex;

use crate::ops::Operation;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug)]
pub struct RateLimiter {
    enabled: bool,
    scale: f64,
    buckets: Mutex<HashMap<(String, Operation), Bucket>>,
}

impl RateLimiter {
    pub fn new(enabled: bool, scale: f64) -> RateLimiter {
        RateLimiter {
            enabled: enabled && scale > 0.0,
            scale,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Effective TPS of an operation (documented TPS x scale).
    pub fn rate(&self, op: Operation) -> f64 {
        op.tps() * self.scale
    }

    /// The `limit` reported in ThrottlingException.
    pub fn limit(&self, op: Operation) -> i64 {
        self.rate(op).ceil().max(1.0) as i64
    }

    /// Take one token. The bucket holds at most `rate` tokens (burst = one second's worth, at
    /// least one), refilled continuously, so a client pacing at exactly the quota never waits.
    pub fn try_acquire(&self, region: &str, op: Operation) -> bool {
        if !self.enabled {
            return true;
        }
        let rate = self.rate(op);
        let capacity = rate.max(1.0);
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        let key = (region.to_string(), op);
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: capacity,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(capacity);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub fn reset(&self) {
        self.buckets.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_throttle() {
        let rl = RateLimiter::new(true, 1.0);
        for _ in 0..5 {
            assert!(rl.try_acquire("r", Operation::GetRoom));
        }
        assert!(!rl.try_acquire("r", Operation::GetRoom));
        assert!(rl.try_acquire("other", Operation::GetRoom));
        assert!(rl.try_acquire("r", Operation::ListRooms));
        let off = RateLimiter::new(false, 1.0);
        for _ in 0..100 {
            assert!(off.try_acquire("r", Operation::GetRoom));
        }
    }
}
