//! Fault injection and added latency per operation, reproducible with a seed.

use std::str::FromStr;

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::ops::Operation;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// 429 ThrottlingException.
    Throttle,
    /// 500 InternalServerException.
    Internal,
    /// Close the connection without a response, before the operation runs.
    Drop,
    /// Run the operation, then close the connection without a response.
    DropAfter,
    /// 409 ConflictException.
    Conflict,
    /// 402 ServiceQuotaExceededException.
    Quota,
    /// 403 AccessDeniedException.
    Denied,
    /// 403 PendingVerification.
    Pending,
    /// 404 ResourceNotFoundException.
    NotFound,
    /// 500 with no error type at all.
    Untyped,
}

impl FromStr for FaultKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "throttle" => FaultKind::Throttle,
            "internal" => FaultKind::Internal,
            "drop" => FaultKind::Drop,
            "drop-after" => FaultKind::DropAfter,
            "conflict" => FaultKind::Conflict,
            "quota" => FaultKind::Quota,
            "denied" => FaultKind::Denied,
            "pending" => FaultKind::Pending,
            "notfound" => FaultKind::NotFound,
            "untyped" => FaultKind::Untyped,
            other => {
                return Err(format!(
                    "unknown fault kind {other:?} (throttle|internal|drop|drop-after|conflict|quota|denied|pending|notfound|untyped)"
                ));
            }
        })
    }
}

fn parse_op(s: &str) -> Result<Option<Operation>, String> {
    if s == "*" {
        return Ok(None);
    }
    Operation::from_name(s)
        .map(Some)
        .ok_or_else(|| format!("unknown operation {s:?}"))
}

/// `OP=KIND:PROB`, OP may be `*`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub op: Option<Operation>,
    pub kind: FaultKind,
    pub probability: f64,
}

impl FromStr for FaultSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (op, rest) = s
            .split_once('=')
            .ok_or_else(|| format!("expected OP=KIND:PROB, got {s:?}"))?;
        let (kind, prob) = rest
            .split_once(':')
            .ok_or_else(|| format!("expected OP=KIND:PROB, got {s:?}"))?;
        let probability: f64 = prob
            .parse()
            .map_err(|_| format!("bad probability {prob:?}"))?;
        if !(0.0..=1.0).contains(&probability) {
            return Err(format!("probability {probability} not in [0, 1]"));
        }
        Ok(FaultSpec {
            op: parse_op(op.trim())?,
            kind: kind.trim().parse()?,
            probability,
        })
    }
}

/// `OP=MS`, OP may be `*`.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySpec {
    pub op: Option<Operation>,
    pub ms: u64,
}

impl FromStr for LatencySpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (op, ms) = s
            .split_once('=')
            .ok_or_else(|| format!("expected OP=MS, got {s:?}"))?;
        Ok(LatencySpec {
            op: parse_op(op.trim())?,
            ms: ms
                .trim()
                .parse()
                .map_err(|_| format!("bad milliseconds {ms:?}"))?,
        })
    }
}

/// One RNG stream per operation, derived from the seed, so a sequence of calls to one operation
/// sees the same faults on every run regardless of traffic to other operations.
#[derive(Debug)]
pub struct Faults {
    seed: u64,
    specs: Vec<FaultSpec>,
    latency_ms: u64,
    latency: Vec<LatencySpec>,
    rngs: Mutex<Vec<StdRng>>,
}

fn streams(seed: u64) -> Vec<StdRng> {
    Operation::ALL
        .iter()
        .map(|op| {
            StdRng::seed_from_u64(
                seed ^ ((op.index() as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            )
        })
        .collect()
}

impl Faults {
    pub fn new(
        seed: u64,
        specs: Vec<FaultSpec>,
        latency_ms: u64,
        latency: Vec<LatencySpec>,
    ) -> Faults {
        Faults {
            seed,
            specs,
            latency_ms,
            latency,
            rngs: Mutex::new(streams(seed)),
        }
    }

    /// Decide whether this call of `op` gets a fault. Specs are tried in order; the first hit wins.
    pub fn decide(&self, op: Operation) -> Option<FaultKind> {
        let matching: Vec<&FaultSpec> = self
            .specs
            .iter()
            .filter(|f| f.op.is_none_or(|o| o == op))
            .collect();
        if matching.is_empty() {
            return None;
        }
        let mut rngs = self.rngs.lock();
        let rng = rngs.get_mut(op.index())?;
        for f in matching {
            let roll: f64 = rng.random();
            if roll < f.probability {
                return Some(f.kind);
            }
        }
        None
    }

    /// Added latency: `--latency-ms` plus every matching `--latency OP=MS`.
    pub fn latency_ms(&self, op: Operation) -> u64 {
        self.latency_ms
            + self
                .latency
                .iter()
                .filter(|l| l.op.is_none_or(|o| o == op))
                .map(|l| l.ms)
                .sum::<u64>()
    }

    /// Restart the RNG streams from the seed (done by `POST /_emulator/reset`).
    pub fn reset(&self) {
        *self.rngs.lock() = streams(self.seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_reproduce() {
        let f: FaultSpec = "CreateRoom=throttle:0.5".parse().unwrap();
        assert_eq!(f.op, Some(Operation::CreateRoom));
        assert!("*=drop:0.1".parse::<FaultSpec>().unwrap().op.is_none());
        assert!("Nope=drop:0.1".parse::<FaultSpec>().is_err());
        assert!("*=boom:0.1".parse::<FaultSpec>().is_err());
        let a = Faults::new(7, vec![f.clone()], 0, vec![]);
        let b = Faults::new(7, vec![f], 0, vec![]);
        let sa: Vec<_> = (0..50).map(|_| a.decide(Operation::CreateRoom)).collect();
        let sb: Vec<_> = (0..50).map(|_| b.decide(Operation::CreateRoom)).collect();
        assert_eq!(sa, sb);
        assert!(sa.iter().any(Option::is_some) && sa.iter().any(Option::is_none));
        assert_eq!(a.decide(Operation::GetRoom), None);
    }
}
