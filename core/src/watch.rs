//! The watch manager: which connection watches what, and who is told when the tree changes.
//!
//! Watches are local to the server a client is connected to, and belong to the connection: a
//! client that reconnects elsewhere re-registers them with `setWatches`.

use crate::ids::ConnId;
use crate::jute::{event, watcher_type};
use std::collections::{BTreeMap, BTreeSet};

/// The kinds of watch a connection can hold on a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WatchKind {
    /// One-shot data watch (getData, exists on an existing or missing node).
    Data,
    /// One-shot child watch (getChildren).
    Child,
    /// Persistent watch on one node: data, create, delete and child events.
    Persistent,
    /// Persistent watch on a node and all its descendants: data, create and delete events.
    PersistentRecursive,
}

/// Where watches are kept. ZooKeeper registers a persistent watch in both its data-watch and
/// child-watch tables, and `removeWatches` of one type removes only that half, so Corral keeps the
/// two halves apart too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Data = 0,
    Child = 1,
    PersistentData = 2,
    PersistentChild = 3,
    RecursiveData = 4,
    RecursiveChild = 5,
}

const SLOTS: [Slot; 6] = [
    Slot::Data,
    Slot::Child,
    Slot::PersistentData,
    Slot::PersistentChild,
    Slot::RecursiveData,
    Slot::RecursiveChild,
];

fn slots_of(kind: WatchKind) -> &'static [Slot] {
    match kind {
        WatchKind::Data => &[Slot::Data],
        WatchKind::Child => &[Slot::Child],
        WatchKind::Persistent => &[Slot::PersistentData, Slot::PersistentChild],
        WatchKind::PersistentRecursive => &[Slot::RecursiveData, Slot::RecursiveChild],
    }
}

/// All watches held on this server.
#[derive(Debug, Default)]
pub struct WatchManager {
    by_path: [BTreeMap<String, BTreeSet<ConnId>>; 6],
    by_conn: BTreeMap<ConnId, BTreeSet<(Slot, String)>>,
}

fn slot(s: Slot) -> usize {
    s as usize
}

impl WatchManager {
    /// No watches.
    pub fn new() -> WatchManager {
        WatchManager::default()
    }

    /// Registers a watch (idempotent).
    pub fn add(&mut self, conn: ConnId, kind: WatchKind, path: &str) {
        for s in slots_of(kind) {
            self.by_path[slot(*s)]
                .entry(path.to_owned())
                .or_default()
                .insert(conn);
            self.by_conn
                .entry(conn)
                .or_default()
                .insert((*s, path.to_owned()));
        }
    }

    fn remove_one(&mut self, conn: ConnId, kind: Slot, path: &str) -> bool {
        let map = &mut self.by_path[slot(kind)];
        let Some(set) = map.get_mut(path) else {
            return false;
        };
        let had = set.remove(&conn);
        if set.is_empty() {
            map.remove(path);
        }
        if let Some(mine) = self.by_conn.get_mut(&conn) {
            mine.remove(&(kind, path.to_owned()));
            if mine.is_empty() {
                self.by_conn.remove(&conn);
            }
        }
        had
    }

    /// True for the watcher types `checkWatches`/`removeWatches` accept (1, 2, 3).
    pub fn valid_watcher_type(watcher_type: i32) -> bool {
        matches!(
            watcher_type,
            watcher_type::CHILDREN | watcher_type::DATA | watcher_type::ANY
        )
    }

    /// Tables that a `checkWatches`/`removeWatches` watcher type names.
    fn kinds_for(watcher_type: i32) -> &'static [Slot] {
        match watcher_type {
            watcher_type::CHILDREN => &[Slot::Child, Slot::PersistentChild, Slot::RecursiveChild],
            watcher_type::DATA => &[Slot::Data, Slot::PersistentData, Slot::RecursiveData],
            watcher_type::ANY => &SLOTS,
            _ => &[],
        }
    }

    /// True when `conn` holds a watch of `watcher_type` on `path` (checkWatches).
    pub fn has(&self, conn: ConnId, watcher_type: i32, path: &str) -> bool {
        Self::kinds_for(watcher_type).iter().any(|k| {
            self.by_path[slot(*k)]
                .get(path)
                .is_some_and(|s| s.contains(&conn))
        })
    }

    /// Removes `conn`'s watches of `watcher_type` on `path` (removeWatches); false if none.
    pub fn remove(&mut self, conn: ConnId, watcher_type: i32, path: &str) -> bool {
        let mut any = false;
        for k in Self::kinds_for(watcher_type) {
            any |= self.remove_one(conn, *k, path);
        }
        any
    }

    /// Drops every watch of a closed connection.
    pub fn remove_conn(&mut self, conn: ConnId) {
        let Some(mine) = self.by_conn.remove(&conn) else {
            return;
        };
        for (kind, path) in mine {
            let map = &mut self.by_path[slot(kind)];
            if let Some(set) = map.get_mut(&path) {
                set.remove(&conn);
                if set.is_empty() {
                    map.remove(&path);
                }
            }
        }
    }

    /// Total number of watches, for 4lw reports.
    pub fn count(&self) -> usize {
        self.by_conn.values().map(BTreeSet::len).sum()
    }

    /// Watches per path of every kind, for `wchp`-style reports.
    pub fn paths(&self) -> BTreeMap<&str, usize> {
        let mut out = BTreeMap::new();
        for map in &self.by_path {
            for (p, set) in map {
                *out.entry(p.as_str()).or_insert(0) += set.len();
            }
        }
        out
    }

    /// Connections holding watches, with how many each.
    pub fn conns(&self) -> impl Iterator<Item = (ConnId, usize)> + '_ {
        self.by_conn.iter().map(|(c, s)| (*c, s.len()))
    }

    /// Fires the watches an event of `event_type` on `path` triggers and returns the connections
    /// to notify, each once, in connection order. One-shot watches are consumed.
    pub fn trigger(&mut self, path: &str, event_type: i32) -> Vec<ConnId> {
        let mut hit = BTreeSet::new();
        let one_shot: &[Slot] = match event_type {
            event::NODE_CREATED | event::NODE_DATA_CHANGED => &[Slot::Data],
            event::NODE_DELETED => &[Slot::Data, Slot::Child],
            event::NODE_CHILDREN_CHANGED => &[Slot::Child],
            _ => &[],
        };
        for kind in one_shot {
            if let Some(set) = self.by_path[slot(*kind)].remove(path) {
                for conn in set {
                    if let Some(mine) = self.by_conn.get_mut(&conn) {
                        mine.remove(&(*kind, path.to_owned()));
                        if mine.is_empty() {
                            self.by_conn.remove(&conn);
                        }
                    }
                    hit.insert(conn);
                }
            }
        }
        let persistent: &[Slot] = match event_type {
            event::NODE_CHILDREN_CHANGED => &[Slot::PersistentChild],
            event::NODE_DELETED => &[Slot::PersistentData, Slot::PersistentChild],
            _ => &[Slot::PersistentData],
        };
        for s in persistent {
            if let Some(set) = self.by_path[slot(*s)].get(path) {
                hit.extend(set.iter().copied());
            }
        }
        if event_type != event::NODE_CHILDREN_CHANGED {
            self.collect_recursive(path, &mut hit);
        }
        hit.into_iter().collect()
    }

    /// Adds the holders of persistent-recursive watches on `path` or any ancestor.
    fn collect_recursive(&self, path: &str, hit: &mut BTreeSet<ConnId>) {
        let map = &self.by_path[slot(Slot::RecursiveData)];
        if map.is_empty() {
            return;
        }
        let mut at = Some(path);
        while let Some(p) = at {
            if let Some(set) = map.get(p) {
                hit.extend(set.iter().copied());
            }
            at = crate::tree::parent_path(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ConnId = ConnId(1);
    const B: ConnId = ConnId(2);

    #[test]
    fn one_shot_watches_fire_once() {
        let mut w = WatchManager::new();
        w.add(A, WatchKind::Data, "/x");
        w.add(B, WatchKind::Child, "/x");
        assert_eq!(w.trigger("/x", event::NODE_DATA_CHANGED), vec![A]);
        assert!(w.trigger("/x", event::NODE_DATA_CHANGED).is_empty());
        assert_eq!(w.trigger("/x", event::NODE_CHILDREN_CHANGED), vec![B]);
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn delete_fires_data_and_child_watches_once_per_conn() {
        let mut w = WatchManager::new();
        w.add(A, WatchKind::Data, "/x");
        w.add(A, WatchKind::Child, "/x");
        w.add(B, WatchKind::Child, "/x");
        assert_eq!(w.trigger("/x", event::NODE_DELETED), vec![A, B]);
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn persistent_watches_stay_and_recursive_ones_skip_child_events() {
        let mut w = WatchManager::new();
        w.add(A, WatchKind::Persistent, "/p");
        w.add(B, WatchKind::PersistentRecursive, "/p");
        assert_eq!(w.trigger("/p", event::NODE_DATA_CHANGED), vec![A, B]);
        assert_eq!(w.trigger("/p", event::NODE_CHILDREN_CHANGED), vec![A]);
        assert_eq!(w.trigger("/p/q/r", event::NODE_CREATED), vec![B]);
        assert!(w.trigger("/pq", event::NODE_CREATED).is_empty());
        assert_eq!(w.count(), 4, "two halves per persistent watch");
    }

    #[test]
    fn removing_one_half_of_a_persistent_watch_keeps_the_other() {
        let mut w = WatchManager::new();
        w.add(A, WatchKind::PersistentRecursive, "/r");
        assert!(w.has(A, watcher_type::DATA, "/r") && w.has(A, watcher_type::CHILDREN, "/r"));
        assert!(w.remove(A, watcher_type::CHILDREN, "/r"));
        assert_eq!(w.trigger("/r/x", event::NODE_CREATED), vec![A]);
        assert!(w.remove(A, watcher_type::DATA, "/r"));
        assert!(w.trigger("/r/x", event::NODE_CREATED).is_empty());
        assert!(!WatchManager::valid_watcher_type(9));
    }

    #[test]
    fn check_remove_and_conn_cleanup() {
        let mut w = WatchManager::new();
        w.add(A, WatchKind::Data, "/x");
        w.add(A, WatchKind::Child, "/y");
        assert!(w.has(A, watcher_type::DATA, "/x"));
        assert!(!w.has(A, watcher_type::CHILDREN, "/x"));
        assert!(w.has(A, watcher_type::ANY, "/y"));
        assert!(!w.remove(A, watcher_type::CHILDREN, "/x"));
        assert!(w.remove(A, watcher_type::DATA, "/x"));
        w.remove_conn(A);
        assert_eq!(w.count(), 0);
        assert!(w.trigger("/y", event::NODE_CHILDREN_CHANGED).is_empty());
    }
}
