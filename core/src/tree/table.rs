//! The node table: every znode, ordered by key, in leaves that snapshots share.
//!
//! The table is a two-level B+-tree: an index (`BTreeMap`) from each leaf's first key to the
//! leaf, and leaves that are sorted vectors of at most [`LEAF_ENTRIES_MAX`] entries behind an
//! `Arc`. Cloning the table copies the index only (one entry per leaf, about 1/50 of the nodes)
//! and shares every leaf; a later change to a shared leaf copies that leaf first
//! (`Arc::make_mut`). That is what makes [`DataTree::freeze`](super::DataTree::freeze) cheap on
//! the node's thread: the adapter encodes the frozen copy elsewhere while the live tree goes on
//! changing, and only the leaves written in the meantime are ever duplicated.
//!
//! Leaves are also denser than `std`'s B-tree nodes for the common insertion patterns: a leaf
//! filling up at one end (sequential nodes, a bulk load) is split where the insertion happens,
//! so the left part stays full, and a table built from a sorted stream (a snapshot) fills every
//! leaf.

use super::path::{KeyParts, PathKey};
use super::znode::Znode;
use std::collections::btree_map;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// The most entries in one leaf.
pub(crate) const LEAF_ENTRIES_MAX: usize = 64;
/// A leaf this small after a removal is merged with its right neighbour when both fit in one.
const LEAF_ENTRIES_MERGE_BELOW: usize = LEAF_ENTRIES_MAX / 4;
/// An insertion this close to either end of a full leaf splits the leaf right there (a
/// sequential pattern); any other splits it in the middle.
const LEAF_SPLIT_EDGE: usize = LEAF_ENTRIES_MAX / 8;

/// One node and its key.
type Entry = (PathKey, Znode);
/// A leaf: sorted, non-empty, at most [`LEAF_ENTRIES_MAX`] entries.
type Leaf = Vec<Entry>;

/// The ordered table of nodes. See the [module docs](self).
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeTable {
    /// Leaf by its first key.
    leaves: BTreeMap<PathKey, Arc<Leaf>>,
    /// Entries in all leaves.
    len: usize,
}

fn cmp_key(entry: &Entry, key: &dyn KeyParts) -> std::cmp::Ordering {
    (&entry.0 as &dyn KeyParts).cmp(key)
}

/// Where a full leaf is split for an insertion at `at`: entries `..split` stay, the rest move.
fn split_point(at: usize) -> usize {
    if at >= LEAF_ENTRIES_MAX - LEAF_SPLIT_EDGE {
        at
    } else if at <= LEAF_SPLIT_EDGE {
        at.max(1)
    } else {
        LEAF_ENTRIES_MAX / 2
    }
}

impl NodeTable {
    /// The number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The leaf that holds `key` if any leaf does: the last one whose first key is not above it.
    fn leaf_for(&self, key: &dyn KeyParts) -> Option<(&PathKey, &Arc<Leaf>)> {
        self.leaves
            .range::<dyn KeyParts, _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()
    }

    /// The node at `key`.
    pub(crate) fn get(&self, key: &dyn KeyParts) -> Option<&Znode> {
        let (_, leaf) = self.leaf_for(key)?;
        let i = leaf.binary_search_by(|e| cmp_key(e, key)).ok()?;
        Some(&leaf[i].1)
    }

    /// The node at `key`, for changing it (its leaf is copied first if a snapshot shares it).
    pub(crate) fn get_mut(&mut self, key: &dyn KeyParts) -> Option<&mut Znode> {
        let (_, leaf) = self
            .leaves
            .range_mut::<dyn KeyParts, _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()?;
        let i = leaf.binary_search_by(|e| cmp_key(e, key)).ok()?;
        Some(&mut Arc::make_mut(leaf)[i].1)
    }

    /// Inserts a node; returns the node it replaced, if any.
    pub(crate) fn insert(&mut self, key: PathKey, node: Znode) -> Option<Znode> {
        let Some((_, shared)) = self
            .leaves
            .range_mut::<dyn KeyParts, _>((Bound::Unbounded, Bound::Included(&key as _)))
            .next_back()
        else {
            self.insert_first(key, node);
            return None;
        };
        let leaf = Arc::make_mut(shared);
        let at = match leaf.binary_search_by(|e| cmp_key(e, &key)) {
            Ok(i) => return Some(std::mem::replace(&mut leaf[i].1, node)),
            Err(at) => at,
        };
        // The leaf's first key is not above `key` and differs from it.
        assert!(at > 0, "insertion before the first key of its leaf");
        self.len += 1;
        if leaf.len() < LEAF_ENTRIES_MAX {
            leaf.insert(at, (key, node));
            return None;
        }
        let split = split_point(at);
        let mut right = Vec::with_capacity(LEAF_ENTRIES_MAX);
        right.extend(leaf.drain(split..));
        if at < split {
            leaf.insert(at, (key, node));
        } else {
            right.insert(at - split, (key, node));
        }
        assert!(
            !leaf.is_empty() && !right.is_empty(),
            "split left an empty leaf"
        );
        let right_first = right[0].0.clone();
        self.leaves.insert(right_first, Arc::new(right));
        None
    }

    /// Inserts a key below every key in the table (or into an empty table).
    fn insert_first(&mut self, key: PathKey, node: Znode) {
        self.len += 1;
        match self.leaves.first_entry() {
            Some(first) if first.get().len() < LEAF_ENTRIES_MAX => {
                let mut leaf = first.remove();
                Arc::make_mut(&mut leaf).insert(0, (key.clone(), node));
                self.leaves.insert(key, leaf);
            }
            // Empty table, or a full first leaf: the key starts a leaf of its own.
            _ => {
                let mut leaf = Vec::with_capacity(LEAF_ENTRIES_MAX);
                leaf.push((key.clone(), node));
                self.leaves.insert(key, Arc::new(leaf));
            }
        }
    }

    /// Removes the node at `key`, returning it with its key.
    pub(crate) fn remove_entry(&mut self, key: &dyn KeyParts) -> Option<(PathKey, Znode)> {
        let (first, shared) = self
            .leaves
            .range_mut::<dyn KeyParts, _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()?;
        let at = shared.binary_search_by(|e| cmp_key(e, key)).ok()?;
        let leaf = Arc::make_mut(shared);
        let entry = leaf.remove(at);
        self.len -= 1;
        if at == 0 || leaf.len() < LEAF_ENTRIES_MERGE_BELOW {
            // The leaf's index key is `entry.0` when `at == 0`, otherwise a clone is needed.
            let first = if at == 0 {
                entry.0.clone()
            } else {
                first.clone()
            };
            self.settle(first);
        }
        Some(entry)
    }

    /// Re-files the leaf indexed under `first` after a removal: drops it when empty, merges it
    /// into its right neighbour's entries when small and both fit, and re-keys it by its
    /// (possibly new) first key.
    fn settle(&mut self, first: PathKey) {
        let Some(mut leaf) = self.leaves.remove(&first) else {
            panic!("settle: no leaf at {}", first.as_str());
        };
        if leaf.is_empty() {
            return;
        }
        if leaf.len() < LEAF_ENTRIES_MERGE_BELOW {
            let next = self
                .leaves
                .range::<dyn KeyParts, _>((Bound::Excluded(&first as _), Bound::Unbounded))
                .next()
                .filter(|(_, next)| leaf.len() + next.len() <= LEAF_ENTRIES_MAX)
                .map(|(key, _)| key.clone());
            if let Some(next_key) = next {
                if let Some(next) = self.leaves.remove(&next_key) {
                    let merged = Arc::make_mut(&mut leaf);
                    merged.reserve_exact(LEAF_ENTRIES_MAX.saturating_sub(merged.len()));
                    merged.extend(Arc::unwrap_or_clone(next));
                }
            }
        }
        let key = if leaf[0].0 == first {
            first
        } else {
            leaf[0].0.clone()
        };
        self.leaves.insert(key, leaf);
    }

    /// Every node in key order.
    pub(crate) fn iter(&self) -> Iter<'_> {
        Iter {
            current: [].iter(),
            leaves: self
                .leaves
                .range::<dyn KeyParts, _>((Bound::Unbounded, Bound::Unbounded)),
        }
    }

    /// The nodes whose keys are above `lower`, in key order.
    pub(crate) fn iter_after(&self, lower: &dyn KeyParts) -> Iter<'_> {
        let Some((first, leaf)) = self.leaf_for(lower) else {
            return self.iter();
        };
        let start = leaf.partition_point(|e| cmp_key(e, lower).is_le());
        Iter {
            current: leaf[start..].iter(),
            leaves: self
                .leaves
                .range::<dyn KeyParts, _>((Bound::Excluded(first as _), Bound::Unbounded)),
        }
    }

    /// Checks the table's own invariants: leaves non-empty, within size, sorted, indexed by
    /// their first key, in order, and the count right.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let mut count = 0usize;
        let mut previous: Option<&PathKey> = None;
        for (first, leaf) in &self.leaves {
            if leaf.is_empty() || leaf.len() > LEAF_ENTRIES_MAX {
                return Err(format!(
                    "leaf at {} has {} entries",
                    first.as_str(),
                    leaf.len()
                ));
            }
            if leaf[0].0 != *first {
                return Err(format!(
                    "leaf indexed at {} starts elsewhere",
                    first.as_str()
                ));
            }
            for (key, _) in leaf.iter() {
                if previous.is_some_and(|p| p >= key) {
                    return Err(format!("node table out of order at {}", key.as_str()));
                }
                previous = Some(key);
            }
            count += leaf.len();
        }
        if count != self.len {
            return Err(format!("node table counts {} of {count} nodes", self.len));
        }
        Ok(())
    }
}

/// An iterator over the table's nodes in key order.
pub(crate) struct Iter<'a> {
    current: std::slice::Iter<'a, Entry>,
    leaves: btree_map::Range<'a, PathKey, Arc<Leaf>>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a PathKey, &'a Znode);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((key, node)) = self.current.next() {
                return Some((key, node));
            }
            let (_, leaf) = self.leaves.next()?;
            self.current = leaf.iter();
        }
    }
}

/// Builds a table from nodes given in strictly increasing key order, filling every leaf.
#[derive(Debug, Default)]
pub(crate) struct TableBuilder {
    table: NodeTable,
    /// The leaf being filled; it joins the table once full or at the end.
    open: Leaf,
}

impl TableBuilder {
    /// The last key pushed.
    pub(crate) fn last_key(&self) -> Option<&PathKey> {
        match self.open.last() {
            Some((key, _)) => Some(key),
            None => self
                .table
                .leaves
                .last_key_value()
                .and_then(|(_, leaf)| leaf.last())
                .map(|(key, _)| key),
        }
    }

    /// Appends a node whose key is above every key pushed so far.
    pub(crate) fn push(&mut self, key: PathKey, node: Znode) -> Result<(), String> {
        if self.last_key().is_some_and(|last| *last >= key) {
            return Err(format!("node {} out of order", key.as_str()));
        }
        if self.open.len() == LEAF_ENTRIES_MAX {
            self.flush();
        }
        if self.open.capacity() == 0 {
            self.open.reserve_exact(LEAF_ENTRIES_MAX);
        }
        self.open.push((key, node));
        self.table.len += 1;
        Ok(())
    }

    fn flush(&mut self) {
        let leaf = std::mem::take(&mut self.open);
        if let Some((first, _)) = leaf.first() {
            self.table.leaves.insert(first.clone(), Arc::new(leaf));
        }
    }

    /// The node at `key`, among those pushed so far.
    pub(crate) fn get(&self, key: &dyn KeyParts) -> Option<&Znode> {
        if let Ok(i) = self.open.binary_search_by(|e| cmp_key(e, key)) {
            return Some(&self.open[i].1);
        }
        self.table.get(key)
    }

    /// The table.
    pub(crate) fn finish(mut self) -> NodeTable {
        self.flush();
        self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jute::Stat;

    fn node(tag: u8) -> Znode {
        Znode {
            data: vec![tag],
            stat: Stat::default(),
            acl: super::super::acl_table::AclId(0),
            kind: super::super::znode::KindTag::Persistent,
        }
    }

    fn key(path: &str) -> PathKey {
        PathKey::new(path.into())
    }

    fn keys(table: &NodeTable) -> Vec<String> {
        table.iter().map(|(k, _)| k.as_str().to_owned()).collect()
    }

    /// A model (a sorted map) and the table see the same inserts and removals, in orders that
    /// split and merge leaves at both ends and in the middle.
    #[test]
    fn matches_a_sorted_map_through_splits_and_merges() {
        let mut table = NodeTable::default();
        let mut model: BTreeMap<PathKey, u8> = BTreeMap::new();
        let paths: Vec<String> = (0..1_000u32)
            .map(|i| format!("/p{}/n{:04}", i % 3, (i * 7919) % 1_000))
            .collect();
        for (i, p) in paths.iter().enumerate() {
            let tag = i as u8;
            assert_eq!(
                table.insert(key(p), node(tag)).map(|n| n.data[0]),
                model.insert(key(p), tag)
            );
        }
        // Ascending and descending runs: the sequential split cases.
        for i in 0..300u32 {
            let up = format!("/q/{i:05}");
            let down = format!("/a/{:05}", 300 - i);
            table.insert(key(&up), node(1));
            model.insert(key(&up), 1);
            table.insert(key(&down), node(2));
            model.insert(key(&down), 2);
        }
        table.validate().expect("valid after inserts");
        let model_keys: Vec<String> = model.keys().map(|k| k.as_str().to_owned()).collect();
        assert_eq!(keys(&table), model_keys);
        assert!(table.leaves.len() > model.len() / LEAF_ENTRIES_MAX);
        // Remove two thirds, first keys of leaves included.
        for (i, p) in model_keys.iter().enumerate() {
            if i % 3 != 0 {
                let removed = table.remove_entry(&key(p) as &dyn KeyParts);
                assert_eq!(
                    removed.map(|(k, _)| k),
                    model.remove_entry(&key(p)).map(|e| e.0)
                );
            }
        }
        assert!(table
            .remove_entry(&key("/missing") as &dyn KeyParts)
            .is_none());
        table.validate().expect("valid after removals");
        assert_eq!(table.len(), model.len());
        for (k, tag) in &model {
            assert_eq!(
                table.get(k).map(|n| n.data[0]),
                Some(*tag),
                "{}",
                k.as_str()
            );
        }
        let after: Vec<&str> = table
            .iter_after(&key("/p1/n0500") as &dyn KeyParts)
            .map(|(k, _)| k.as_str())
            .collect();
        let expected: Vec<&str> = model
            .range::<PathKey, _>((Bound::Excluded(&key("/p1/n0500")), Bound::Unbounded))
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(after, expected);
        // Removing everything leaves an empty, valid table.
        for k in model.keys() {
            assert!(table.remove_entry(k as &dyn KeyParts).is_some());
        }
        assert_eq!(table.len(), 0);
        assert!(table.leaves.is_empty());
    }

    #[test]
    fn a_clone_shares_leaves_and_is_not_changed_by_the_original() {
        let mut table = NodeTable::default();
        for i in 0..500 {
            table.insert(key(&format!("/n{i:04}")), node(0));
        }
        let frozen = table.clone();
        assert!(Arc::ptr_eq(
            table.leaves.values().next().expect("leaf"),
            frozen.leaves.values().next().expect("leaf")
        ));
        if let Some(n) = table.get_mut(&key("/n0000") as &dyn KeyParts) {
            n.data = vec![9];
        }
        table.insert(key("/n0000a"), node(1));
        table.remove_entry(&key("/n0499") as &dyn KeyParts);
        assert_eq!(
            frozen
                .get(&key("/n0000") as &dyn KeyParts)
                .map(|n| n.data[0]),
            Some(0)
        );
        assert!(frozen.get(&key("/n0000a") as &dyn KeyParts).is_none());
        assert!(frozen.get(&key("/n0499") as &dyn KeyParts).is_some());
        assert_eq!(frozen.len(), 500);
        frozen.validate().expect("frozen valid");
        table.validate().expect("live valid");
        // Only the leaves that were written were copied.
        let shared = table
            .leaves
            .values()
            .filter(|l| frozen.leaves.values().any(|f| Arc::ptr_eq(l, f)))
            .count();
        assert!(
            shared + 3 >= table.leaves.len(),
            "{shared} of {}",
            table.leaves.len()
        );
    }

    #[test]
    fn sequential_inserts_and_bulk_builds_fill_their_leaves() {
        let mut table = NodeTable::default();
        table.insert(key("/"), node(0));
        table.insert(key("/z"), node(0));
        table.insert(key("/z/b"), node(0));
        for i in 0..6_400 {
            table.insert(key(&format!("/a/k{i:06}")), node(0));
        }
        table.validate().expect("valid");
        // About 97% full: at most a few leaves more than the minimum.
        let minimum = table.len().div_ceil(LEAF_ENTRIES_MAX);
        assert!(
            table.leaves.len() <= minimum + minimum / 16,
            "{}",
            table.leaves.len()
        );

        let mut builder = TableBuilder::default();
        for (k, n) in table.iter() {
            builder.push(k.clone(), n.clone()).expect("in order");
        }
        assert!(
            builder.push(key("/"), node(0)).is_err(),
            "out of order accepted"
        );
        assert!(builder.get(&key("/z/b") as &dyn KeyParts).is_some());
        let built = builder.finish();
        built.validate().expect("built valid");
        assert_eq!(built.leaves.len(), minimum);
        assert_eq!(keys(&built), keys(&table));
    }
}
