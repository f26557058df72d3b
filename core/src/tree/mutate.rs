//! The primitive changes to the node table. Each keeps the digest, the ACL reference counts and
//! the ephemeral / container / TTL indexes in step with the table; the ZooKeeper semantics
//! (parent stats, events, error codes) are built on top of them in `apply`.

use super::acl_table::{AclId, AclTable};
use super::digest::{data_term, meta_term};
use super::path::Parts;
use super::znode::{KindTag, Node};
use super::DataTree;
use crate::ids::SessionId;
use crate::jute::{Acl, Stat};
use std::collections::BTreeMap;

/// A node taken out of the table, with what is needed to put it back.
#[derive(Debug)]
pub(super) struct Removed {
    /// The node as it was (its ACL slot may be gone from the table since).
    pub(super) node: Node,
    /// Its ACL list.
    pub(super) acl: Vec<Acl>,
    /// Its TTL, for a TTL node.
    pub(super) ttl_ms: Option<i64>,
}

/// The metadata digest term of `node` at `path`, reading the ACL hash and TTL from their
/// tables.
pub(super) fn meta_of(
    acls: &AclTable,
    ttls: &BTreeMap<Box<str>, i64>,
    path: &str,
    node: &Node,
) -> u64 {
    let ttl_ms = match node.kind() {
        KindTag::Ttl => ttls.get(path).copied().unwrap_or(0),
        _ => 0,
    };
    meta_term(
        path.as_bytes(),
        &node.stat(),
        acls.hash(node.acl),
        node.kind().code(),
        ttl_ms,
    )
}

/// Both digest terms of `node`.
pub(super) fn terms_of(acls: &AclTable, ttls: &BTreeMap<Box<str>, i64>, node: &Node) -> u64 {
    let path = node.path();
    data_term(path.as_bytes(), node.data()).wrapping_add(meta_of(acls, ttls, path, node))
}

impl DataTree {
    /// Both digest terms of `node`.
    pub(super) fn node_terms(&self, node: &Node) -> u64 {
        terms_of(&self.acls, &self.ttls, node)
    }

    /// Inserts a node that does not exist yet. Does not touch its parent.
    pub(super) fn insert_node(
        &mut self,
        path: &str,
        data: &[u8],
        stat: Stat,
        kind: KindTag,
        acl: &[Acl],
        ttl_ms: Option<i64>,
    ) {
        // The slot is taken by `insert_built`.
        let node = Node::new(path, data, &stat, AclId(0), kind);
        self.insert_built(node, acl, ttl_ms);
    }

    /// Inserts `node` (which does not exist yet) with the ACL list `acl` and, for a TTL node,
    /// its TTL. Does not touch its parent.
    pub(super) fn insert_built(&mut self, mut node: Node, acl: &[Acl], ttl_ms: Option<i64>) {
        let path = node.path();
        assert!(self.node(path).is_none(), "insert of existing node {path}");
        match node.kind() {
            KindTag::Persistent => {}
            KindTag::Ephemeral => {
                let owner = SessionId(node.ephemeral_owner());
                self.ephemerals
                    .entry(owner)
                    .or_default()
                    .insert(path.into());
            }
            KindTag::Container => {
                self.containers.insert(path.into());
            }
            KindTag::Ttl => {
                self.ttls.insert(path.into(), ttl_ms.unwrap_or(0));
            }
        }
        node.acl = self.acls.intern(acl);
        let terms = self.node_terms(&node);
        self.digest = self.digest.wrapping_add(terms);
        let replaced = self.nodes.insert(node);
        assert!(replaced.is_none(), "insert replaced a node");
    }

    /// Removes a node (children are the caller's concern). Does not touch its parent.
    pub(super) fn remove_node(&mut self, path: &str) -> Option<Removed> {
        if !path.starts_with('/') {
            return None;
        }
        let node = self.nodes.remove(&Parts::of(path))?;
        let terms = self.node_terms(&node);
        self.digest = self.digest.wrapping_sub(terms);
        let ttl_ms = match node.kind() {
            KindTag::Persistent => None,
            KindTag::Ephemeral => {
                let owner = SessionId(node.ephemeral_owner());
                if let Some(set) = self.ephemerals.get_mut(&owner) {
                    set.remove(path);
                    if set.is_empty() {
                        self.ephemerals.remove(&owner);
                    }
                }
                None
            }
            KindTag::Container => {
                self.containers.remove(path);
                None
            }
            KindTag::Ttl => self.ttls.remove(path),
        };
        let acl = self.acls.get(node.acl).to_vec();
        self.acls.release(node.acl);
        Some(Removed { node, acl, ttl_ms })
    }

    /// Replaces the stat of a node (its `dataLength` and `ephemeralOwner` cannot change this
    /// way); returns the old one.
    pub(super) fn set_stat(&mut self, path: &str, stat: Stat) -> Option<Stat> {
        let key = Parts::of(path);
        let node = self.nodes.get_mut(&key)?;
        let old_meta = meta_of(&self.acls, &self.ttls, path, node);
        let old = node.stat();
        node.set_stat(&stat);
        let new_meta = meta_of(&self.acls, &self.ttls, path, node);
        self.digest = self.digest.wrapping_sub(old_meta).wrapping_add(new_meta);
        Some(old)
    }

    /// Replaces the data of a node and its stat with `stat(old stat)`, in one lookup; returns
    /// the node as it was and the new stat, or `None` when there is no such node.
    pub(super) fn update_data(
        &mut self,
        path: &str,
        data: &[u8],
        stat: impl FnOnce(&Stat) -> Stat,
    ) -> Option<(Node, Stat)> {
        if !path.starts_with('/') {
            return None;
        }
        let key = Parts::of(path);
        let node = self.nodes.get_mut(&key)?;
        let stat = stat(&node.stat());
        let new = node.with_data(data, &stat);
        let old = std::mem::replace(node, new);
        let old_terms = terms_of(&self.acls, &self.ttls, &old);
        let new_terms = terms_of(&self.acls, &self.ttls, node);
        self.digest = self.digest.wrapping_sub(old_terms).wrapping_add(new_terms);
        Some((old, stat))
    }

    /// Puts back the data and stat of `old`, a node as `update_data` returned it; the node
    /// keeps its current ACL slot.
    pub(super) fn restore_data(&mut self, mut old: Node) {
        let path = old.path();
        let Some(node) = self.nodes.get_mut(&Parts::of(path)) else {
            panic!("restore of missing node {path}");
        };
        old.acl = node.acl;
        let replaced = std::mem::replace(node, old);
        let old_terms = terms_of(&self.acls, &self.ttls, &replaced);
        let new_terms = terms_of(&self.acls, &self.ttls, node);
        self.digest = self.digest.wrapping_sub(old_terms).wrapping_add(new_terms);
    }

    /// Replaces the ACL and stat of a node; returns the old ones.
    pub(super) fn set_acl(&mut self, path: &str, acl: &[Acl], stat: Stat) -> (Vec<Acl>, Stat) {
        let key = Parts::of(path);
        let Some(node) = self.nodes.get_mut(&key) else {
            panic!("set_acl of missing node {path}");
        };
        let old_meta = meta_of(&self.acls, &self.ttls, path, node);
        // Take the new reference before dropping the old, so an unchanged list keeps its slot.
        let new_id = self.acls.intern(acl);
        let old_acl = self.acls.get(node.acl).to_vec();
        self.acls.release(node.acl);
        node.acl = new_id;
        let old_stat = node.stat();
        node.set_stat(&stat);
        let new_meta = meta_of(&self.acls, &self.ttls, path, node);
        self.digest = self.digest.wrapping_sub(old_meta).wrapping_add(new_meta);
        (old_acl, old_stat)
    }
}
