//! Client-side rate limiting at the IVS Chat quotas, per region and per operation.
//!
//! IVS Chat's rate quotas are per account, per region and per operation, and cannot be raised.
//! Every reconcile shares these limiters, so a burst of 1,000 new ChatRooms is paced at the
//! quota instead of being throttled by AWS (the SDK still retries a ThrottlingException if one
//! slips through, e.g. because another client shares the account).
//!
//! We use `governor` (GCRA, lock-free, well-kept) with a burst of 1: requests leave exactly at
//! the quota rate, and the token bucket on the AWS side keeps its burst as slack for jitter.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Quotas in requests per second, per region, for each operation of a group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimits {
    /// CreateRoom, GetRoom, UpdateRoom, DeleteRoom, ListRooms: 5 TPS each by default.
    pub room: f64,
    /// The five logging configuration operations: 3 TPS each by default.
    pub logging_configuration: f64,
    /// TagResource, UntagResource, ListTagsForResource: 10 TPS each by default.
    pub tags: f64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            room: 5.0,
            logging_configuration: 3.0,
            tags: 10.0,
        }
    }
}

impl RateLimits {
    /// The quota of one operation, `None` when unlimited (a rate of 0 turns limiting off).
    pub fn for_operation(&self, operation: &str) -> Option<f64> {
        let rate = match operation {
            "TagResource" | "UntagResource" | "ListTagsForResource" => self.tags,
            op if op.contains("LoggingConfiguration") => self.logging_configuration,
            _ => self.room,
        };
        (rate > 0.0).then_some(rate)
    }
}

/// The shared limiters, created on first use of a (region, operation).
pub struct RateLimiters {
    limits: RateLimits,
    limiters: Mutex<HashMap<(String, &'static str), Arc<DefaultDirectRateLimiter>>>,
}

impl RateLimiters {
    pub fn new(limits: RateLimits) -> Self {
        RateLimiters {
            limits,
            limiters: Mutex::new(HashMap::new()),
        }
    }

    fn limiter(
        &self,
        region: &str,
        operation: &'static str,
    ) -> Option<Arc<DefaultDirectRateLimiter>> {
        let rate = self.limits.for_operation(operation)?;
        let mut map = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
        let limiter = map
            .entry((region.to_string(), operation))
            .or_insert_with(|| {
                // One request every 1/rate seconds, burst 1.
                let period = Duration::from_secs_f64(1.0 / rate);
                let quota = Quota::with_period(period)
                    .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN));
                Arc::new(RateLimiter::direct(quota))
            });
        Some(limiter.clone())
    }

    /// Waits until a call of `operation` in `region` fits the quota; returns how long it waited.
    pub async fn acquire(&self, region: &str, operation: &'static str) -> Duration {
        let Some(limiter) = self.limiter(region, operation) else {
            return Duration::ZERO;
        };
        let start = Instant::now();
        limiter.until_ready().await;
        start.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_map_to_their_quota_group() {
        let l = RateLimits::default();
        assert_eq!(l.for_operation("CreateRoom"), Some(5.0));
        assert_eq!(l.for_operation("ListRooms"), Some(5.0));
        assert_eq!(l.for_operation("GetLoggingConfiguration"), Some(3.0));
        assert_eq!(l.for_operation("UntagResource"), Some(10.0));
        assert_eq!(RateLimits { room: 0.0, ..l }.for_operation("GetRoom"), None);
    }

    #[tokio::test]
    async fn paces_calls_at_the_quota() {
        let limiters = RateLimiters::new(RateLimits {
            room: 20.0,
            ..Default::default()
        });
        let start = Instant::now();
        for _ in 0..5 {
            limiters.acquire("us-east-1", "GetRoom").await;
        }
        // 5 calls at 20/s with burst 1: the last leaves 4 periods (200 ms) after the first.
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(190),
            "too fast: {elapsed:?}"
        );
        // Another region or operation has its own budget.
        assert!(limiters.acquire("eu-west-1", "GetRoom").await < Duration::from_millis(20));
        assert!(limiters.acquire("us-east-1", "UpdateRoom").await < Duration::from_millis(20));
    }
}
