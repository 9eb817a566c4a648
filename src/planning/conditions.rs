//! Conditions, computed from the outcome of a reconcile.
//!
//! Conditions are deterministic: `lastTransitionTime` moves only when a condition's status
//! flips, so an unchanged outcome produces an identical status and no patch (our own status
//! patches would otherwise re-trigger us forever).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub const READY: &str = "Ready";
pub const SYNCED: &str = "Synced";
pub const STALLED: &str = "Stalled";

/// How a reconcile ended, in terms a user reads in `kubectl get`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The AWS resource matches the spec.
    Available { message: String },
    /// Work in progress that needs no action from anyone (e.g. `Creating`, `Updating`, `Deleting`).
    Progressing { reason: String, message: String },
    /// A referenced ChatLoggingConfiguration is missing or not Ready yet.
    ReferenceNotReady { message: String },
    /// A retryable error; the operator backs off and retries.
    Retrying { reason: String, message: String },
    /// An error that will not fix itself: the spec (or something in AWS) must change.
    Stalled { reason: String, message: String },
}

fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        observed_generation: generation,
        last_transition_time: now.clone(),
    }
}

/// Finds a condition by type.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the object was Ready for its current generation.
pub fn is_ready_at(conditions: Option<&Vec<Condition>>, generation: Option<i64>) -> bool {
    conditions
        .and_then(|c| find(c, READY))
        .is_some_and(|c| c.status == "True" && c.observed_generation == generation)
}

/// The conditions after a reconcile with `outcome`, given the previous ones.
pub fn conditions_for(
    previous: Option<&Vec<Condition>>,
    outcome: &Outcome,
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    let previous = previous.map(Vec::as_slice).unwrap_or_default();
    let mut next = Vec::new();
    let c = |t, s, r: &str, m: &str| condition(t, s, r, m, generation, now);
    match outcome {
        Outcome::Available { message } => {
            next.push(c(READY, true, "Available", message));
            next.push(c(
                SYNCED,
                true,
                "ReconcileSuccess",
                "The last AWS calls succeeded",
            ));
        }
        Outcome::Progressing { reason, message } => {
            next.push(c(READY, false, reason, message));
            next.push(c(
                SYNCED,
                true,
                "ReconcileSuccess",
                "The last AWS calls succeeded",
            ));
        }
        Outcome::ReferenceNotReady { message } => {
            next.push(c(READY, false, "ReferenceNotReady", message));
            next.push(c(
                SYNCED,
                true,
                "ReconcileSuccess",
                "Waiting for references; no AWS call failed",
            ));
        }
        Outcome::Retrying { reason, message } => {
            // A transient error while checking an in-sync resource does not make it unready;
            // one while applying a new generation does.
            match find(previous, READY) {
                Some(ready)
                    if ready.status == "True" && ready.observed_generation == generation =>
                {
                    next.push(ready.clone())
                }
                _ => next.push(c(READY, false, reason, message)),
            }
            next.push(c(SYNCED, false, reason, message));
        }
        Outcome::Stalled { reason, message } => {
            next.push(c(READY, false, reason, message));
            next.push(c(SYNCED, false, reason, message));
            next.push(c(STALLED, true, reason, message));
        }
    }
    // Keep lastTransitionTime unless the status flipped.
    for cond in &mut next {
        if let Some(old) = find(previous, &cond.type_)
            && old.status == cond.status
        {
            cond.last_transition_time = old.last_transition_time.clone();
        }
    }
    next
}

/// Whether two condition lists say the same, ignoring `lastTransitionTime`.
pub fn same_conditions(a: Option<&Vec<Condition>>, b: Option<&Vec<Condition>>) -> bool {
    let strip = |c: Option<&Vec<Condition>>| -> Vec<(String, String, String, String, Option<i64>)> {
        let mut v: Vec<_> = c
            .map(|c| {
                c.iter()
                    .map(|c| {
                        (
                            c.type_.clone(),
                            c.status.clone(),
                            c.reason.clone(),
                            c.message.clone(),
                            c.observed_generation,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(secs).expect("valid"))
    }

    #[test]
    fn available_sets_ready_and_synced_and_no_stalled() {
        let c = conditions_for(
            None,
            &Outcome::Available {
                message: "ok".into(),
            },
            Some(3),
            &t(1),
        );
        assert_eq!(find(&c, READY).map(|c| c.status.as_str()), Some("True"));
        assert_eq!(find(&c, SYNCED).map(|c| c.status.as_str()), Some("True"));
        assert!(find(&c, STALLED).is_none());
        assert!(c.iter().all(|c| c.observed_generation == Some(3)));
    }

    #[test]
    fn transition_time_moves_only_on_flip() {
        let first = conditions_for(
            None,
            &Outcome::Available {
                message: "ok".into(),
            },
            Some(1),
            &t(1),
        );
        let again = conditions_for(
            Some(&first),
            &Outcome::Available {
                message: "ok".into(),
            },
            Some(1),
            &t(50),
        );
        assert_eq!(first, again);
        let stalled = Outcome::Stalled {
            reason: "Validation".into(),
            message: "bad".into(),
        };
        let broken = conditions_for(Some(&again), &stalled, Some(2), &t(60));
        assert_eq!(
            find(&broken, READY).map(|c| c.last_transition_time.clone()),
            Some(t(60))
        );
        assert_eq!(
            find(&broken, STALLED).map(|c| c.reason.as_str()),
            Some("Validation")
        );
    }

    #[test]
    fn transient_error_keeps_ready_of_same_generation() {
        let ready = conditions_for(
            None,
            &Outcome::Available {
                message: "ok".into(),
            },
            Some(1),
            &t(1),
        );
        let retry = Outcome::Retrying {
            reason: "Throttling".into(),
            message: "slow down".into(),
        };
        let c = conditions_for(Some(&ready), &retry, Some(1), &t(2));
        assert_eq!(find(&c, READY).map(|c| c.status.as_str()), Some("True"));
        assert_eq!(
            find(&c, SYNCED).map(|c| c.reason.as_str()),
            Some("Throttling")
        );
        let c = conditions_for(Some(&ready), &retry, Some(2), &t(2));
        assert_eq!(find(&c, READY).map(|c| c.status.as_str()), Some("False"));
    }

    #[test]
    fn comparison_ignores_transition_time() {
        let a = conditions_for(
            None,
            &Outcome::Available {
                message: "ok".into(),
            },
            Some(1),
            &t(1),
        );
        let b = conditions_for(
            None,
            &Outcome::Available {
                message: "ok".into(),
            },
            Some(1),
            &t(2),
        );
        assert!(same_conditions(Some(&a), Some(&b)));
        let c = conditions_for(
            None,
            &Outcome::Available {
                message: "ok".into(),
            },
            Some(2),
            &t(2),
        );
        assert!(!same_conditions(Some(&a), Some(&c)));
        assert!(is_ready_at(Some(&a), Some(1)));
        assert!(!is_ready_at(Some(&a), Some(2)));
    }
}
