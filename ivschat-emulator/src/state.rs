//! In-memory state: one [`RegionState`] per region, each with its rooms, an index of rooms
//! ordered by `updateTime` and its logging configurations.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::model::{LcState, LoggingConfiguration, Room};
use crate::util::random_string;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Store {
    pub regions: BTreeMap<String, RegionState>,
}

impl Store {
    pub fn region(&mut self, region: &str) -> &mut RegionState {
        self.regions.entry(region.to_string()).or_default()
    }

    /// Apply due logging configuration transitions in every region.
    pub fn reap_all(&mut self, now: i64) {
        for r in self.regions.values_mut() {
            r.reap(now);
        }
    }

    pub fn room_count(&self) -> usize {
        self.regions.values().map(|r| r.rooms.len()).sum()
    }

    pub fn lc_count(&self) -> usize {
        self.regions.values().map(|r| r.lcs.len()).sum()
    }

    /// Rebuild the derived indexes after loading from a state file.
    pub fn rebuild(&mut self) {
        for r in self.regions.values_mut() {
            r.room_index = r
                .rooms
                .values()
                .map(|room| (room.order_key(), room.id.clone()))
                .collect();
            r.recompute_next_transition();
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RegionState {
    pub rooms: HashMap<String, Room>,
    /// `(updateTime ms, seq) -> room id`; iterated in reverse for "newest first".
    #[serde(skip)]
    pub room_index: BTreeMap<(i64, u64), String>,
    pub lcs: HashMap<String, LoggingConfiguration>,
    pub seq: u64,
    #[serde(skip)]
    pub next_transition: Option<i64>,
}

impl RegionState {
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn insert_room(&mut self, room: Room) {
        self.room_index.insert(room.order_key(), room.id.clone());
        self.rooms.insert(room.id.clone(), room);
    }

    pub fn remove_room(&mut self, id: &str) -> Option<Room> {
        let room = self.rooms.remove(id)?;
        self.room_index.remove(&room.order_key());
        Some(room)
    }

    /// Bump a room's `updateTime` and move it in the index.
    pub fn touch_room(&mut self, id: &str, now: i64) {
        let seq = self.next_seq();
        if let Some(room) = self.rooms.get_mut(id) {
            self.room_index.remove(&room.order_key());
            room.update_ms = now.max(room.update_ms);
            room.seq = seq;
            self.room_index.insert(room.order_key(), room.id.clone());
        }
    }

    /// Apply due CREATING/UPDATING -> ACTIVE and DELETING -> gone transitions (lazily, on access).
    pub fn reap(&mut self, now: i64) {
        match self.next_transition {
            Some(t) if t <= now => {}
            _ => return,
        }
        let mut gone = Vec::new();
        for lc in self.lcs.values_mut() {
            match lc.transition_at {
                Some(t) if t <= now => {
                    lc.transition_at = None;
                    match lc.state {
                        LcState::Creating | LcState::Updating => lc.state = LcState::Active,
                        LcState::Deleting => gone.push(lc.id.clone()),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        for id in gone {
            self.lcs.remove(&id);
        }
        self.recompute_next_transition();
    }

    pub fn recompute_next_transition(&mut self) {
        self.next_transition = self.lcs.values().filter_map(|lc| lc.transition_at).min();
    }

    pub fn schedule(&mut self, at: i64) {
        self.next_transition = Some(self.next_transition.map_or(at, |t| t.min(at)));
    }
}

/// Opaque pagination token: the position of the last item returned plus a random nonce, so a
/// token never repeats.
pub fn encode_token(kind: char, key: (i64, u64)) -> String {
    let raw = format!("{kind}:{}:{}:{}", key.0, key.1, random_string(8));
    URL_SAFE_NO_PAD.encode(raw.as_bytes())
}

pub fn decode_token(kind: char, token: &str) -> Option<(i64, u64)> {
    let raw = URL_SAFE_NO_PAD.decode(token.as_bytes()).ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let mut parts = raw.split(':');
    let k = parts.next()?;
    if k.len() != 1 || !k.starts_with(kind) {
        return None;
    }
    let ms = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    parts.next()?;
    Some((ms, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let a = encode_token('r', (5, 7));
        let b = encode_token('r', (5, 7));
        assert_ne!(a, b);
        assert_eq!(decode_token('r', &a), Some((5, 7)));
        assert_eq!(decode_token('l', &a), None);
        assert_eq!(decode_token('r', "garbage!"), None);
    }
}
