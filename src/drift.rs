//! Drift detection that fits in the IVS Chat quotas.
//!
//! Reading every room with GetRoom on each resync does not scale: at 10,000 rooms and a
//! 10-minute period that is 16.7 GetRoom/s against a quota of 5. Instead:
//!
//! * a **sweep** every resync period pages through ListRooms (50 rooms per call, with tags and
//!   `updateTime`), paced at half the ListRooms quota so reconciles keep the other half;
//! * a **head poll** every `--drift-poll-interval` reads only the first page: ListRooms sorts by
//!   `updateTime`, newest first, so a room edited behind our back shows up there within seconds.
//!
//! A room is *suspect* when its summary differs from the spec or its `updateTime` differs from
//! the one in status (the two message limits are not in summaries; an unchanged `updateTime`
//! proves they did not change). Only suspects are read with GetRoom, by their reconcile. A room
//! in status but absent from a complete sweep was deleted and is recreated.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use tracing::{debug, info, warn};

use crate::api::ChatRoom;
use crate::aws::{AwsError, IvsChat, RoomSummary};
use crate::controller::backoff::jittered;
use crate::controller::context::Context;
use crate::planning::room::{desired_room, summary_matches};
use crate::planning::tags::{CLUSTER_TAG, Owner};

/// The share of the ListRooms quota a sweep may use.
const SWEEP_SHARE_OF_QUOTA: f64 = 0.5;

pub struct DriftDetector<A> {
    pub ctx: Arc<Context<A>>,
    pub trigger: mpsc::UnboundedSender<ObjectRef<ChatRoom>>,
    pub resync_period: Duration,
    pub poll_interval: Duration,
    /// ListRooms quota per region (requests per second); 0 means unlimited.
    pub list_quota: f64,
}

/// What one pass learned.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub pages: usize,
    pub rooms_seen: usize,
    pub suspects: usize,
    pub missing: usize,
}

impl<A: IvsChat> DriftDetector<A> {
    pub async fn run(self) {
        let mut next_sweep = tokio::time::Instant::now() + jittered(self.resync_period);
        let mut poll = tokio::time::interval(self.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next_sweep) => {
                    if self.ctx.is_leader() {
                        match self.sweep(false).await {
                            Ok(report) => info!(?report, "drift sweep done"),
                            Err(error) => warn!(%error, "drift sweep failed; next one at the next period"),
                        }
                    }
                    next_sweep = tokio::time::Instant::now() + jittered(self.resync_period);
                }
                _ = poll.tick() => {
                    if self.ctx.is_leader() && self.poll_interval < self.resync_period {
                        match self.sweep(true).await {
                            Ok(report) => debug!(?report, "drift head poll done"),
                            Err(error) => debug!(%error, "drift head poll failed"),
                        }
                    }
                }
            }
        }
    }

    /// Rooms of the store, by ARN, with what their status says.
    fn managed_rooms(&self) -> HashMap<String, Arc<ChatRoom>> {
        self.ctx
            .rooms
            .state()
            .into_iter()
            .filter(|r| r.metadata.deletion_timestamp.is_none())
            .filter_map(|r| {
                r.status
                    .as_ref()
                    .and_then(|s| s.arn.clone())
                    .map(|arn| (arn, r.clone()))
            })
            .collect()
    }

    fn is_drifted(&self, room: &ChatRoom, summary: &RoomSummary) -> bool {
        let Some(status) = room.status.as_ref() else {
            return false;
        };
        if status.update_time != summary.update_time {
            return true;
        }
        let owner = Owner::of(room, &self.ctx.settings.cluster_name);
        let arns = status
            .logging_configuration_arns
            .clone()
            .unwrap_or_default();
        match desired_room(
            &room.name_any(),
            &room.spec,
            arns,
            &self.ctx.settings.default_tags,
            &owner,
        ) {
            Ok(desired) => !summary_matches(&desired, summary),
            Err(_) => false,
        }
    }

    /// One pass over every region in use. `head_only` reads just the first page of each.
    pub async fn sweep(&self, head_only: bool) -> Result<SweepReport, AwsError> {
        let managed = self.managed_rooms();
        let mut regions: BTreeSet<String> = managed
            .values()
            .filter_map(|r| r.status.as_ref().and_then(|s| s.region.clone()))
            .collect();
        regions.insert(self.ctx.settings.default_region.clone());
        let pace = (self.list_quota > 0.0)
            .then(|| Duration::from_secs_f64(1.0 / (self.list_quota * SWEEP_SHARE_OF_QUOTA)));
        let mut report = SweepReport::default();
        let mut seen: HashSet<String> = HashSet::new();
        for region in &regions {
            let mut token = None;
            loop {
                let page = self.ctx.aws.list_rooms(region, None, token).await?;
                report.pages += 1;
                for summary in &page.rooms {
                    report.rooms_seen += 1;
                    seen.insert(summary.arn.clone());
                    if summary.tags.get(CLUSTER_TAG) != Some(&self.ctx.settings.cluster_name) {
                        continue;
                    }
                    let Some(room) = managed.get(&summary.arn) else {
                        continue;
                    };
                    if self.is_drifted(room, summary) && !self.ctx.suspects.contains(&summary.arn) {
                        report.suspects += 1;
                        self.ctx.suspects.mark(&summary.arn);
                        let _ = self
                            .trigger
                            .unbounded_send(ObjectRef::from_obj(room.as_ref()));
                    }
                }
                match page.next_token {
                    Some(t) if !head_only => token = Some(t),
                    _ => break,
                }
                if let Some(pace) = pace {
                    tokio::time::sleep(pace).await;
                }
            }
        }
        if !head_only {
            // Present in status, absent from a complete listing: deleted behind our back.
            // (Rooms created during the sweep may be missed by it; their status is newer
            // than the sweep's start, and a false suspect only costs one GetRoom.)
            for (arn, room) in &managed {
                let in_swept_region = room
                    .status
                    .as_ref()
                    .and_then(|s| s.region.as_ref())
                    .is_some_and(|r| regions.contains(r));
                if in_swept_region && !seen.contains(arn) && !self.ctx.suspects.contains(arn) {
                    report.missing += 1;
                    self.ctx.suspects.mark(arn);
                    let _ = self
                        .trigger
                        .unbounded_send(ObjectRef::from_obj(room.as_ref()));
                }
            }
        }
        Ok(report)
    }
}
