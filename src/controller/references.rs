//! Which ChatRooms reference which ChatLoggingConfigurations by name.
//!
//! A room that waits for a logging configuration must reconcile as soon as the configuration
//! becomes Ready, and a configuration being deleted must be looked at again when its last
//! room lets go of it. The index is filled by room reconciles and read by the watch mappers,
//! so neither side polls.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// `(namespace, name)` of an object.
pub type Key = (String, String);

#[derive(Default)]
pub struct ReferenceIndex {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_room: HashMap<Key, BTreeSet<String>>,
    by_logging_configuration: HashMap<Key, BTreeSet<String>>,
}

impl ReferenceIndex {
    /// Records that `room` now references exactly `names` (in the room's namespace); returns the
    /// names it no longer references.
    pub fn set(&self, room: &Key, names: BTreeSet<String>) -> Vec<String> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let old = inner.by_room.remove(room).unwrap_or_default();
        for name in old.difference(&names) {
            let key = (room.0.clone(), name.clone());
            if let Some(rooms) = inner.by_logging_configuration.get_mut(&key) {
                rooms.remove(&room.1);
                if rooms.is_empty() {
                    inner.by_logging_configuration.remove(&key);
                }
            }
        }
        for name in &names {
            inner
                .by_logging_configuration
                .entry((room.0.clone(), name.clone()))
                .or_default()
                .insert(room.1.clone());
        }
        let dropped = old.difference(&names).cloned().collect();
        if !names.is_empty() {
            inner.by_room.insert(room.clone(), names);
        }
        dropped
    }

    /// Rooms (names, in the configuration's namespace) that reference a logging configuration.
    pub fn rooms_referencing(&self, logging_configuration: &Key) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .by_logging_configuration
            .get(logging_configuration)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ns: &str, n: &str) -> Key {
        (ns.into(), n.into())
    }

    #[test]
    fn tracks_and_releases_references() {
        let index = ReferenceIndex::default();
        assert!(
            index
                .set(
                    &key("ns", "room-a"),
                    BTreeSet::from(["logs".into(), "audit".into()])
                )
                .is_empty()
        );
        index.set(&key("ns", "room-b"), BTreeSet::from(["logs".into()]));
        assert_eq!(
            index.rooms_referencing(&key("ns", "logs")),
            vec!["room-a", "room-b"]
        );
        assert!(index.rooms_referencing(&key("other", "logs")).is_empty());
        assert_eq!(
            index.set(&key("ns", "room-a"), BTreeSet::from(["logs".into()])),
            vec!["audit".to_string()]
        );
        assert!(index.rooms_referencing(&key("ns", "audit")).is_empty());
        assert_eq!(
            index.set(&key("ns", "room-b"), BTreeSet::new()),
            vec!["logs".to_string()]
        );
        assert_eq!(index.rooms_referencing(&key("ns", "logs")), vec!["room-a"]);
    }
}
