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

const KINDS: [WatchKind; 4] = [
    WatchKind::Data,
    WatchKind::Child,
    WatchKind::Persistent,
    WatchKind::PersistentRecursive,
];

/// All watches held on this server.
#[derive(Debug, Default)]
pub struct WatchManager {
    by_path: [BTreeMap<String, BTreeSet<ConnId>>; 4],
    by_conn: BTreeMap<ConnId, BTreeSet<(WatchKind, String)>>,
}

fn slot(kind: WatchKind) -> usize {
    kind as usize
}

impl WatchManager {
    /// No watches.
    pub fn new() -> WatchManager {
        WatchManager::default()
    }

    /// Registers a watch (idempotent).
    pub fn add(&mut self, conn: ConnId, kind: WatchKind, path: &str) {
        self.by_path[slot(kind)]
            .entry(path.to_owned())
            .or_default()
            .insert(conn);
        self.by_conn
            .entry(conn)
            .or_default()
            .insert((kind, path.to_owned()));
    }

    fn remove_one(&mut self, conn: ConnId, kind: WatchKind, path: &str) -> bool {
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

    /// Kinds that a `checkWatches`/`removeWatches` watcher type names.
    fn kinds_for(watcher_type: i32) -> &'static [WatchKind] {
        match watcher_type {
            watcher_type::CHILDREN => &[WatchKind::Child],
            watcher_type::DATA => &[WatchKind::Data],
            _ => &KINDS,
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
        let one_shot: &[WatchKind] = match event_type {
            event::NODE_CREATED | event::NODE_DATA_CHANGED => &[WatchKind::Data],
            event::NODE_DELETED => &[WatchKind::Data, WatchKind::Child],
            event::NODE_CHILDREN_CHANGED => &[WatchKind::Child],
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
        if let Some(set) = self.by_path[slot(WatchKind::Persistent)].get(path) {
            hit.extend(set.iter().copied());
        }
        if event_type != event::NODE_CHILDREN_CHANGED {
            self.collect_recursive(path, &mut hit);
        }
        hit.into_iter().collect()
    }

    /// Adds the holders of persistent-recursive watches on `path` or any ancestor.
    fn collect_recursive(&self, path: &str, hit: &mut BTreeSet<ConnId>) {
        let map = &self.by_path[slot(WatchKind::PersistentRecursive)];
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
        assert_eq!(w.count(), 2);
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
