//! Status writes: server-side apply of the whole status, and only when it changed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "ivschat-operator";

/// Statuses that carry conditions and `observedGeneration`.
pub trait WithConditions: Clone + PartialEq {
    fn conditions(&self) -> Option<&Vec<Condition>>;
    fn conditions_mut(&mut self) -> &mut Option<Vec<Condition>>;
    fn observed_generation_mut(&mut self) -> &mut Option<i64>;
}

macro_rules! with_conditions {
    ($status:ty) => {
        impl WithConditions for $status {
            fn conditions(&self) -> Option<&Vec<Condition>> {
                self.conditions.as_ref()
            }
            fn conditions_mut(&mut self) -> &mut Option<Vec<Condition>> {
                &mut self.conditions
            }
            fn observed_generation_mut(&mut self) -> &mut Option<i64> {
                &mut self.observed_generation
            }
        }
    };
}

with_conditions!(crate::api::ChatRoomStatus);
with_conditions!(crate::api::ChatLoggingConfigurationStatus);

/// Whether two statuses say the same, ignoring `lastTransitionTime`.
pub fn same_status<S: WithConditions>(a: Option<&S>, b: &S) -> bool {
    let Some(a) = a else { return false };
    let normalize = |s: &S| {
        let mut s = s.clone();
        let epoch = Time(jiff::Timestamp::UNIX_EPOCH);
        if let Some(conditions) = s.conditions_mut() {
            conditions
                .iter_mut()
                .for_each(|c| c.last_transition_time = epoch.clone());
            conditions.sort_by(|x, y| x.type_.cmp(&y.type_));
        }
        s
    };
    normalize(a) == normalize(b)
}

/// Writes `status` unless it equals `current`; returns whether it wrote.
pub async fn patch_status_if_changed<K, S>(
    api: &Api<K>,
    name: &str,
    current: Option<&S>,
    status: &S,
) -> kube::Result<bool>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: WithConditions + Serialize,
{
    if same_status(current, status) {
        return Ok(false);
    }
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ChatRoomStatus;
    use crate::planning::{Outcome, conditions_for};

    #[test]
    fn equal_statuses_differing_only_in_transition_time_need_no_patch() {
        let t1 = Time(jiff::Timestamp::from_second(1).expect("ts"));
        let t2 = Time(jiff::Timestamp::from_second(2).expect("ts"));
        let ok = Outcome::Available {
            message: "ok".into(),
        };
        let a = ChatRoomStatus {
            arn: Some("a".into()),
            conditions: Some(conditions_for(None, &ok, Some(1), &t1)),
            ..Default::default()
        };
        let b = ChatRoomStatus {
            conditions: Some(conditions_for(None, &ok, Some(1), &t2)),
            ..a.clone()
        };
        assert!(same_status(Some(&a), &b));
        let c = ChatRoomStatus {
            arn: Some("other".into()),
            ..b.clone()
        };
        assert!(!same_status(Some(&a), &c));
        assert!(!same_status(None, &a));
    }
}
