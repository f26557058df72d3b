//! The prepared-but-uncommitted changes, by path.
//!
//! Every write looks its path up here before the tree, and nearly every write adds an entry
//! that its commit removes again, so the map is keyed by a hash of the path: a lookup compares
//! `u64`s on the way down and the path bytes once at the end, instead of comparing paths at
//! every level. Paths whose hashes collide share a bucket. The hash is fixed (FNV-1a), so the
//! overlay behaves the same on every run; nothing iterates it in an order that reaches an
//! output unsorted.

use std::collections::{btree_map, BTreeMap};
use std::sync::Arc;

/// Paths by hash; a bucket holds every path with that hash (nearly always one).
#[derive(Debug)]
pub(super) struct Overlay<V> {
    buckets: BTreeMap<u64, Vec<(Arc<str>, V)>>,
}

impl<V> Default for Overlay<V> {
    fn default() -> Self {
        Overlay {
            buckets: BTreeMap::new(),
        }
    }
}

/// FNV-1a over the path's bytes.
pub(super) fn path_hash(path: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    path.bytes()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

impl<V> Overlay<V> {
    /// The entry for `path`.
    pub(super) fn get(&self, path: &str) -> Option<&V> {
        let bucket = self.buckets.get(&path_hash(path))?;
        bucket.iter().find(|(p, _)| **p == *path).map(|(_, v)| v)
    }

    /// Sets the entry for `path`; returns the path's shared key and the entry it replaced.
    pub(super) fn insert(&mut self, path: &str, value: V) -> (Arc<str>, Option<V>) {
        let bucket = self.buckets.entry(path_hash(path)).or_default();
        if let Some((key, slot)) = bucket.iter_mut().find(|(p, _)| **p == *path) {
            return (Arc::clone(key), Some(std::mem::replace(slot, value)));
        }
        let key: Arc<str> = Arc::from(path);
        bucket.push((Arc::clone(&key), value));
        (key, None)
    }

    /// Puts back what `insert` replaced: `old`, or no entry at all.
    pub(super) fn restore(&mut self, key: Arc<str>, old: Option<V>) {
        match old {
            Some(v) => {
                self.insert(&key, v);
            }
            None => self.remove_if(&key, |_| true),
        }
    }

    /// Removes the entry for `path` if `doomed` says so.
    pub(super) fn remove_if(&mut self, path: &str, doomed: impl FnOnce(&V) -> bool) {
        let btree_map::Entry::Occupied(mut entry) = self.buckets.entry(path_hash(path)) else {
            return;
        };
        let bucket = entry.get_mut();
        let Some(i) = bucket.iter().position(|(p, _)| **p == *path) else {
            return;
        };
        if !doomed(&bucket[i].1) {
            return;
        }
        bucket.swap_remove(i);
        if bucket.is_empty() {
            entry.remove();
        }
    }

    /// Every entry, in no meaningful order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &V)> {
        self.buckets
            .values()
            .flat_map(|bucket| bucket.iter().map(|(p, v)| (p, v)))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.values().map(Vec::len).sum()
    }

    #[cfg(test)]
    fn insert_with_hash(&mut self, hash: u64, path: &str, value: V) {
        self.buckets
            .entry(hash)
            .or_default()
            .push((Arc::from(path), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_share_a_hash_keep_their_own_entries() {
        let mut overlay = Overlay::default();
        let h = path_hash("/a");
        overlay.insert("/a", 1);
        // A forced collision: "/b" filed under "/a"'s hash, as a real collision would be.
        overlay.insert_with_hash(h, "/b", 2);
        assert_eq!(overlay.get("/a"), Some(&1));
        let (_, old) = overlay.insert("/a", 3);
        assert_eq!(old, Some(1));
        overlay.remove_if("/a", |v| *v == 3);
        assert_eq!(overlay.get("/a"), None);
        assert_eq!(overlay.len(), 1);
        assert!(overlay.buckets[&h]
            .iter()
            .any(|(p, v)| &**p == "/b" && *v == 2));
    }

    #[test]
    fn remove_if_keeps_what_it_is_told_to_keep_and_restore_undoes_insert() {
        let mut overlay = Overlay::default();
        let (key, old) = overlay.insert("/x", 10);
        assert!(old.is_none());
        overlay.remove_if("/x", |v| *v > 10);
        assert_eq!(overlay.get("/x"), Some(&10));
        let (key2, old) = overlay.insert("/x", 11);
        assert!(Arc::ptr_eq(&key, &key2), "the path is allocated once");
        overlay.restore(key2, old);
        assert_eq!(overlay.get("/x"), Some(&10));
        overlay.restore(key, None);
        assert_eq!(overlay.get("/x"), None);
        assert_eq!(overlay.len(), 0);
        assert!(overlay.buckets.is_empty());
    }
}
