//! The node table: every znode, ordered by key, in leaves that snapshots share.
//!
//! The table is a two-level B+-tree: an index (`BTreeMap`) from each leaf's first key to the
//! leaf, and leaves that are sorted vectors of at most [`LEAF_ENTRIES_MAX`] nodes behind an
//! `Arc`. Cloning the table copies the index only (one entry per leaf, about 1/60 of the nodes)
//! and shares every leaf; a later change to a shared leaf copies that leaf first
//! (`Arc::make_mut`). That is what makes [`DataTree::freeze`](super::DataTree::freeze) cheap on
//! the node's thread: the adapter encodes the frozen copy elsewhere while the live tree goes on
//! changing, and only the leaves written in the meantime are ever duplicated.
//!
//! Leaves are also denser than `std`'s B-tree nodes for the common insertion patterns: a leaf
//! filling up at one end (sequential nodes, a bulk load) is split where the insertion happens,
//! so the left part stays full, and a table built from a sorted stream (a snapshot) fills every
//! leaf.
//!
//! A leaf's vector has room for what it holds, not for a full leaf: it grows by half as it
//! fills, up to [`LEAF_ENTRIES_MAX`] and never past it, and both parts of a split keep half as
//! much room again as they hold. A load that is nearly but not quite in order
//! (parallel clients each creating every n-th key) leaves many small leaves behind: a late key
//! splits a full leaf that is no longer the one being appended to, and the few nodes split off
//! are all that leaf will ever hold. Sized to their content they cost little; sized for a full
//! leaf (as before 2026-11-25) they made a freshly loaded tree of 1M znodes about 120 MB larger
//! than the same tree restored from a snapshot (28 nodes per leaf against 69).

use super::path::{cmp_parts_encoded, KeyParts, PathKey, SearchKey};
use super::znode::Node;
use std::collections::btree_map;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// The bytes a leaf's vector of nodes is sized to: one of the allocator's size classes
/// (mimalloc has classes of 5 KiB, 6 KiB, 7 KiB, 8 KiB), so that a full leaf wastes almost
/// nothing; 64 nodes of 88 bytes would take 5.5 KiB and be served 6 KiB.
const LEAF_BYTES: usize = 6 << 10;
/// The most nodes in one leaf: 69 of 88 bytes.
pub(crate) const LEAF_ENTRIES_MAX: usize = LEAF_BYTES / std::mem::size_of::<Node>();
/// A leaf this small after a removal is merged with its right neighbour when both fit in one.
const LEAF_ENTRIES_MERGE_BELOW: usize = LEAF_ENTRIES_MAX / 4;
/// An insertion this close to either end of a full leaf splits the leaf right there (a
/// sequential pattern); any other splits it in the middle.
const LEAF_SPLIT_EDGE: usize = LEAF_ENTRIES_MAX / 8;

/// The room a leaf's vector starts with, at least.
const LEAF_ROOM_MIN: usize = 4;

/// The room a leaf of `len` nodes is given when it grows or is split: half as much again.
fn room_for(len: usize) -> usize {
    (len + len / 2).clamp(LEAF_ROOM_MIN, LEAF_ENTRIES_MAX)
}

/// A leaf: sorted, non-empty, at most [`LEAF_ENTRIES_MAX`] nodes, with room for at most that
/// many. (A copy, `Clone`, has room for what it holds.)
///
/// Beside the nodes, a 16-bit fingerprint of each node's key (`prints[i]` for `nodes[i]`): a
/// point lookup scans these (at most 138 bytes) for its own fingerprint and compares one path,
/// where a binary search would touch six or seven nodes and their paths, a cache miss each.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Leaf {
    nodes: Vec<Node>,
    prints: Vec<u16>,
}

impl Leaf {
    /// A leaf of `nodes`, with room for `room` nodes at least.
    fn with(nodes: impl IntoIterator<Item = Node>, room: usize) -> Leaf {
        let room = room.clamp(LEAF_ROOM_MIN, LEAF_ENTRIES_MAX);
        let mut leaf = Leaf {
            nodes: Vec::with_capacity(room),
            prints: Vec::with_capacity(room),
        };
        for node in nodes {
            leaf.prints.push(print_of_node(&node));
            leaf.nodes.push(node);
        }
        assert!(leaf.nodes.len() <= LEAF_ENTRIES_MAX, "leaf over its size");
        leaf
    }

    /// A leaf of `nodes` (sorted, at most a full leaf), keeping their vector and its room.
    fn from_nodes(nodes: Vec<Node>) -> Leaf {
        assert!(nodes.len() <= LEAF_ENTRIES_MAX, "leaf over its size");
        let mut prints = Vec::with_capacity(nodes.capacity().min(LEAF_ENTRIES_MAX));
        prints.extend(nodes.iter().map(print_of_node));
        Leaf { nodes, prints }
    }

    /// The position of the node at `key` (whose fingerprint is `print`).
    fn find(&self, key: &SearchKey, print: u16) -> Option<usize> {
        let bytes = key.as_bytes();
        self.prints
            .iter()
            .enumerate()
            .filter(|(_, p)| **p == print)
            .map(|(i, _)| i)
            .find(|&i| cmp_key(&self.nodes[i], bytes).is_eq())
    }

    /// Inserts `node` at `at` into a leaf that is not full, growing its room by half when it
    /// has none left (up to [`LEAF_ENTRIES_MAX`]).
    fn insert(&mut self, at: usize, node: Node) {
        let len = self.nodes.len();
        assert!(len < LEAF_ENTRIES_MAX, "insert into a full leaf");
        if len == self.nodes.capacity() {
            self.nodes.reserve_exact(room_for(len) - len);
        }
        if len == self.prints.capacity() {
            self.prints.reserve_exact(room_for(len) - len);
        }
        self.prints.insert(at, print_of_node(&node));
        self.nodes.insert(at, node);
    }

    /// Appends the nodes of `other`; both must fit in one leaf.
    fn append(&mut self, other: Leaf) {
        let len = self.nodes.len() + other.nodes.len();
        assert!(len <= LEAF_ENTRIES_MAX, "merged leaf over its size");
        self.nodes
            .reserve_exact(len.saturating_sub(self.nodes.capacity()));
        self.prints
            .reserve_exact(len.saturating_sub(self.prints.capacity()));
        self.nodes.extend(other.nodes);
        self.prints.extend(other.prints);
    }

    fn remove(&mut self, at: usize) -> Node {
        self.prints.remove(at);
        self.nodes.remove(at)
    }

    /// Moves the nodes from `at` on into a new leaf; each part keeps room for half as many
    /// nodes again as it holds (and one more).
    fn split_off(&mut self, at: usize) -> Leaf {
        let moved = self.nodes.len() - at;
        let right = Leaf::with(self.nodes.drain(at..), room_for(moved + 1));
        self.prints.truncate(at);
        let room = room_for(at + 1);
        if self.nodes.capacity() > room {
            self.nodes.shrink_to(room);
            self.prints.shrink_to(room);
        }
        right
    }

    /// The node at `i`, for changing anything but its path.
    fn node_mut(&mut self, i: usize) -> &mut Node {
        &mut self.nodes[i]
    }
}

impl std::ops::Deref for Leaf {
    type Target = [Node];

    fn deref(&self) -> &[Node] {
        &self.nodes
    }
}

/// FNV-1a of an encoded key (see [`SearchKey`]), folded to 16 bits.
fn print_of(encoded: &[u8]) -> u16 {
    print_fold(encoded.iter().fold(PRINT_OFFSET, print_step))
}

/// The fingerprint of a node's key, without building its encoding.
fn print_of_node(node: &Node) -> u16 {
    let (parent, name) = node.key_parts();
    let h = parent.iter().fold(PRINT_OFFSET, print_step);
    let h = print_step(h, &0);
    print_fold(name.iter().fold(h, print_step))
}

const PRINT_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn print_step(h: u64, b: &u8) -> u64 {
    (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
}

fn print_fold(h: u64) -> u16 {
    (h ^ (h >> 16) ^ (h >> 32) ^ (h >> 48)) as u16
}

/// The ordered table of nodes. See the [module docs](self).
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeTable {
    /// Leaf by its first key.
    leaves: BTreeMap<PathKey, Arc<Leaf>>,
    /// Nodes in all leaves.
    len: usize,
}

/// How a node compares with an encoded key (see [`SearchKey`]).
fn cmp_key(node: &Node, key: &[u8]) -> std::cmp::Ordering {
    let (parent, name) = node.key_parts();
    cmp_parts_encoded(parent, name, key)
}

/// How two nodes compare in the table's order: their `(parent, name)` pairs, which order as
/// their encodings do (`path.rs` has the property test), with no encoding built per comparison
/// (a restart compares every node with its predecessor twice).
fn cmp_nodes(a: &Node, b: &Node) -> std::cmp::Ordering {
    a.key_parts().cmp(&b.key_parts())
}

/// The index key of a leaf whose first node is `node`.
fn index_key(node: &Node) -> PathKey {
    PathKey::new(node.path())
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
    fn leaf_for(&self, key: &SearchKey) -> Option<(&PathKey, &Arc<Leaf>)> {
        self.leaves
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(key.as_bytes())))
            .next_back()
    }

    /// The node at `key`.
    pub(crate) fn get(&self, key: &dyn KeyParts) -> Option<&Node> {
        let key = SearchKey::of(key);
        let (_, leaf) = self.leaf_for(&key)?;
        let i = leaf.find(&key, print_of(key.as_bytes()))?;
        Some(&leaf[i])
    }

    /// The node at `key`, for changing it (its leaf is copied first if a snapshot shares it).
    /// The caller must not change its path.
    pub(crate) fn get_mut(&mut self, key: &dyn KeyParts) -> Option<&mut Node> {
        let key = SearchKey::of(key);
        let (_, leaf) = self
            .leaves
            .range_mut::<[u8], _>((Bound::Unbounded, Bound::Included(key.as_bytes())))
            .next_back()?;
        let i = leaf.find(&key, print_of(key.as_bytes()))?;
        Some(Arc::make_mut(leaf).node_mut(i))
    }

    /// Inserts a node; returns the node it replaced (same path), if any.
    pub(crate) fn insert(&mut self, node: Node) -> Option<Node> {
        let key = SearchKey::of(&node);
        let Some((_, shared)) = self
            .leaves
            .range_mut::<[u8], _>((Bound::Unbounded, Bound::Included(key.as_bytes())))
            .next_back()
        else {
            self.insert_first(node);
            return None;
        };
        let leaf = Arc::make_mut(shared);
        let at = match leaf.binary_search_by(|n| cmp_key(n, key.as_bytes())) {
            Ok(i) => return Some(std::mem::replace(leaf.node_mut(i), node)),
            Err(at) => at,
        };
        // The leaf's first key is not above the node's and differs from it.
        assert!(at > 0, "insertion before the first key of its leaf");
        self.len += 1;
        if leaf.len() < LEAF_ENTRIES_MAX {
            leaf.insert(at, node);
            return None;
        }
        let split = split_point(at);
        let mut right = leaf.split_off(split);
        if at < split {
            leaf.insert(at, node);
        } else {
            right.insert(at - split, node);
        }
        assert!(
            !leaf.is_empty() && !right.is_empty(),
            "split left an empty leaf"
        );
        assert!(leaf.len() <= LEAF_ENTRIES_MAX && right.len() <= LEAF_ENTRIES_MAX);
        self.leaves.insert(index_key(&right[0]), Arc::new(right));
        None
    }

    /// Inserts a key below every key in the table (or into an empty table).
    fn insert_first(&mut self, node: Node) {
        self.len += 1;
        let key = index_key(&node);
        match self.leaves.first_entry() {
            Some(first) if first.get().len() < LEAF_ENTRIES_MAX => {
                let mut leaf = first.remove();
                Arc::make_mut(&mut leaf).insert(0, node);
                self.leaves.insert(key, leaf);
            }
            // Empty table, or a full first leaf: the key starts a leaf of its own.
            _ => {
                let leaf = Leaf::with([node], 1);
                self.leaves.insert(key, Arc::new(leaf));
            }
        }
    }

    /// Removes the node at `key`.
    pub(crate) fn remove(&mut self, key: &dyn KeyParts) -> Option<Node> {
        let key = SearchKey::of(key);
        let (first, shared) = self
            .leaves
            .range_mut::<[u8], _>((Bound::Unbounded, Bound::Included(key.as_bytes())))
            .next_back()?;
        let at = shared.find(&key, print_of(key.as_bytes()))?;
        let leaf = Arc::make_mut(shared);
        let node = leaf.remove(at);
        self.len -= 1;
        if at == 0 || leaf.len() < LEAF_ENTRIES_MERGE_BELOW {
            let first = first.clone();
            self.settle(first);
        }
        Some(node)
    }

    /// Re-files the leaf indexed under `first` after a removal: drops it when empty, merges it
    /// into its right neighbour's entries when small and both fit, and re-keys it by its
    /// (possibly new) first key.
    fn settle(&mut self, first: PathKey) {
        let Some(mut leaf) = self.leaves.remove(&first) else {
            panic!("settle: no leaf at {}", first.path());
        };
        if leaf.is_empty() {
            return;
        }
        if leaf.len() < LEAF_ENTRIES_MERGE_BELOW {
            let next = self
                .leaves
                .range::<PathKey, _>((Bound::Excluded(&first), Bound::Unbounded))
                .next()
                .filter(|(_, next)| leaf.len() + next.len() <= LEAF_ENTRIES_MAX)
                .map(|(key, _)| key.clone());
            if let Some(next_key) = next {
                if let Some(next) = self.leaves.remove(&next_key) {
                    let merged = Arc::make_mut(&mut leaf);
                    merged.append(Arc::unwrap_or_clone(next));
                }
            }
        }
        let key = if first.is_key_of(&leaf[0]) {
            first
        } else {
            index_key(&leaf[0])
        };
        self.leaves.insert(key, leaf);
    }

    /// Every node in key order.
    pub(crate) fn iter(&self) -> Iter<'_> {
        Iter {
            current: [].iter(),
            leaves: self
                .leaves
                .range::<PathKey, (Bound<&PathKey>, Bound<&PathKey>)>((
                    Bound::Unbounded,
                    Bound::Unbounded,
                )),
        }
    }

    /// The nodes whose keys are above `lower`, in key order.
    pub(crate) fn iter_after(&self, lower: &dyn KeyParts) -> Iter<'_> {
        let lower = SearchKey::of(lower);
        let Some((first, leaf)) = self.leaf_for(&lower) else {
            return self.iter();
        };
        let start = leaf.partition_point(|n| cmp_key(n, lower.as_bytes()).is_le());
        Iter {
            current: leaf[start..].iter(),
            leaves: self
                .leaves
                .range::<PathKey, _>((Bound::Excluded(first), Bound::Unbounded)),
        }
    }

    /// Checks the table's own invariants: leaves non-empty, within size, sorted, indexed by
    /// their first key, in order, and the count right.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let mut count = 0usize;
        let mut previous: Option<&Node> = None;
        for (first, leaf) in &self.leaves {
            if leaf.is_empty() || leaf.len() > LEAF_ENTRIES_MAX {
                return Err(format!(
                    "leaf at {} has {} entries",
                    first.path(),
                    leaf.len()
                ));
            }
            if leaf.prints.len() != leaf.nodes.len()
                || leaf
                    .nodes
                    .iter()
                    .zip(&leaf.prints)
                    .any(|(n, p)| print_of_node(n) != *p)
            {
                return Err(format!("leaf at {} has stale fingerprints", first.path()));
            }
            if !first.is_key_of(&leaf[0]) {
                return Err(format!("leaf indexed at {} starts elsewhere", first.path()));
            }
            for node in leaf.iter() {
                if previous.is_some_and(|p| cmp_nodes(p, node).is_ge()) {
                    return Err(format!("node table out of order at {}", node.path()));
                }
                previous = Some(node);
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
    current: std::slice::Iter<'a, Node>,
    leaves: btree_map::Range<'a, PathKey, Arc<Leaf>>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Node;

    fn next(&mut self) -> Option<&'a Node> {
        loop {
            if let Some(node) = self.current.next() {
                return Some(node);
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
    open: Vec<Node>,
}

impl TableBuilder {
    /// The last node pushed.
    pub(crate) fn last(&self) -> Option<&Node> {
        match self.open.last() {
            Some(node) => Some(node),
            None => self
                .table
                .leaves
                .last_key_value()
                .and_then(|(_, leaf)| leaf.last()),
        }
    }

    /// Appends a node whose key is above every key pushed so far.
    pub(crate) fn push(&mut self, node: Node) -> Result<(), String> {
        if self
            .last()
            .is_some_and(|last| cmp_nodes(last, &node).is_ge())
        {
            return Err(format!("node {} out of order", node.path()));
        }
        if self.open.len() == LEAF_ENTRIES_MAX {
            self.flush();
        }
        if self.open.capacity() == 0 {
            self.open.reserve_exact(LEAF_ENTRIES_MAX);
        }
        self.open.push(node);
        self.table.len += 1;
        Ok(())
    }

    fn flush(&mut self) {
        // Full (but the last), with room for exactly that.
        let leaf = Leaf::from_nodes(std::mem::take(&mut self.open));
        if let Some(first) = leaf.first() {
            self.table.leaves.insert(index_key(first), Arc::new(leaf));
        }
    }

    /// The node at `key`, among those pushed so far.
    pub(crate) fn get(&self, key: &dyn KeyParts) -> Option<&Node> {
        let search = SearchKey::of(key);
        if let Ok(i) = self
            .open
            .binary_search_by(|n| cmp_key(n, search.as_bytes()))
        {
            return Some(&self.open[i]);
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
    use super::super::znode::KindTag;
    use super::*;
    use crate::jute::Stat;
    use crate::tree::path::Parts;

    fn node(path: &str, tag: u8) -> Node {
        let stat = Stat {
            data_length: 1,
            ..Stat::default()
        };
        let acl = super::super::acl_table::AclId(0);
        Node::new(path, &[tag], &stat, acl, KindTag::Persistent)
    }

    fn key(path: &str) -> PathKey {
        PathKey::new(path)
    }

    fn keys(table: &NodeTable) -> Vec<String> {
        table.iter().map(|n| n.path().to_owned()).collect()
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
                table.insert(node(p, tag)).map(|n| n.data()[0]),
                model.insert(key(p), tag)
            );
        }
        // Ascending and descending runs: the sequential split cases.
        for i in 0..300u32 {
            let up = format!("/q/{i:05}");
            let down = format!("/a/{:05}", 300 - i);
            table.insert(node(&up, 1));
            model.insert(key(&up), 1);
            table.insert(node(&down, 2));
            model.insert(key(&down), 2);
        }
        table.validate().expect("valid after inserts");
        let model_keys: Vec<String> = model.keys().map(|k| k.path()).collect();
        assert_eq!(keys(&table), model_keys);
        assert!(table.leaves.len() > model.len() / LEAF_ENTRIES_MAX);
        // Remove two thirds, first keys of leaves included.
        for (i, p) in model_keys.iter().enumerate() {
            if i % 3 != 0 {
                let removed = table.remove(&Parts::of(p));
                assert_eq!(
                    removed.map(|n| n.path().to_owned()),
                    model.remove_entry(&key(p)).map(|e| e.0.path())
                );
            }
        }
        assert!(table.remove(&Parts::of("/missing")).is_none());
        table.validate().expect("valid after removals");
        assert_eq!(table.len(), model.len());
        for (k, tag) in &model {
            let path = k.path();
            assert_eq!(
                table.get(&Parts::of(&path)).map(|n| n.data()[0]),
                Some(*tag),
                "{path}"
            );
        }
        let after: Vec<String> = table
            .iter_after(&Parts::of("/p1/n0500"))
            .map(|n| n.path().to_owned())
            .collect();
        let expected: Vec<String> = model
            .range::<PathKey, _>((Bound::Excluded(&key("/p1/n0500")), Bound::Unbounded))
            .map(|(k, _)| k.path())
            .collect();
        assert_eq!(after, expected);
        // Removing everything leaves an empty, valid table.
        for k in model.keys() {
            assert!(table.remove(&Parts::of(&k.path())).is_some());
        }
        assert_eq!(table.len(), 0);
        assert!(table.leaves.is_empty());
    }

    #[test]
    fn a_clone_shares_leaves_and_is_not_changed_by_the_original() {
        let mut table = NodeTable::default();
        for i in 0..500 {
            table.insert(node(&format!("/n{i:04}"), 0));
        }
        let frozen = table.clone();
        assert!(Arc::ptr_eq(
            table.leaves.values().next().expect("leaf"),
            frozen.leaves.values().next().expect("leaf")
        ));
        if let Some(n) = table.get_mut(&Parts::of("/n0000")) {
            *n = n.with_data(&[9], &n.stat());
        }
        table.insert(node("/n0000a", 1));
        table.remove(&Parts::of("/n0499"));
        assert_eq!(
            frozen.get(&Parts::of("/n0000")).map(|n| n.data()[0]),
            Some(0)
        );
        assert!(frozen.get(&Parts::of("/n0000a")).is_none());
        assert!(frozen.get(&Parts::of("/n0499")).is_some());
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

    /// Room in all leaves, in nodes.
    fn room(table: &NodeTable) -> usize {
        table
            .leaves
            .values()
            .map(|leaf| leaf.nodes.capacity())
            .sum()
    }

    /// Keys created in order by `clients` sessions, each with `window` requests in flight, arrive
    /// out of order: client c's i-th key is c + i * clients, and the server takes `burst`
    /// requests from one session before the next. The late keys split full leaves the load
    /// has already passed; the small leaves they leave behind must not keep room for more.
    #[test]
    fn a_nearly_sorted_load_keeps_little_room_it_does_not_use() {
        let (clients, burst, keys) = (8usize, 40usize, 20_000usize);
        let mut table = NodeTable::default();
        let mut next: Vec<usize> = (0..clients).collect();
        let mut inserted = 0;
        while inserted < keys {
            for (c, key) in next.iter_mut().enumerate() {
                for _ in 0..burst + c {
                    if *key < keys {
                        table.insert(node(&format!("/load/k{:08}", *key), 0));
                        *key += clients;
                        inserted += 1;
                    }
                }
            }
        }
        table.validate().expect("valid");
        assert_eq!(table.len(), keys);
        assert!(
            room(&table) * 4 <= table.len() * 5,
            "room for {} nodes in {} leaves, {} nodes",
            room(&table),
            table.leaves.len(),
            table.len()
        );
        for leaf in table.leaves.values() {
            assert!(leaf.nodes.capacity() <= LEAF_ENTRIES_MAX);
        }
        // A copy (a leaf a snapshot shares, written to) has room for what it holds.
        let frozen = table.clone();
        let last = format!("/load/k{keys:08}");
        table.insert(node(&last, 0));
        let copied = table.leaves.values().next_back().expect("leaf");
        assert!(!Arc::ptr_eq(
            copied,
            frozen.leaves.values().next_back().expect("leaf")
        ));
        assert!(copied.nodes.capacity() <= 2 * copied.len());
    }

    #[test]
    fn sequential_inserts_and_bulk_builds_fill_their_leaves() {
        let mut table = NodeTable::default();
        table.insert(node("/", 0));
        table.insert(node("/z", 0));
        table.insert(node("/z/b", 0));
        for i in 0..6_400 {
            table.insert(node(&format!("/a/k{i:06}"), 0));
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
        for n in table.iter() {
            builder.push(n.clone()).expect("in order");
        }
        assert!(builder.push(node("/", 0)).is_err(), "out of order accepted");
        assert!(builder.get(&Parts::of("/z/b")).is_some());
        let built = builder.finish();
        built.validate().expect("built valid");
        assert_eq!(built.leaves.len(), minimum);
        assert!(room(&table) <= table.len() + table.len() / 8);
        assert_eq!(room(&built), minimum * LEAF_ENTRIES_MAX);
        assert_eq!(keys(&built), keys(&table));
    }
}
