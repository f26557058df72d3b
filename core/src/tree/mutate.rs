//! The primitive changes to the node table. Each keeps the digest, the ACL reference counts and
//! the ephemeral / container / TTL indexes in step with the table; the ZooKeeper semantics
//! (parent stats, events, error codes) are built on top of them in `apply`.

use super::acl_table::AclTable;
use super::digest::{data_term, meta_term};
use super::path::{Parts, PathKey};
use super::znode::{KindTag, Znode};
use super::DataTree;
use crate::ids::SessionId;
use crate::jute::{Acl, Stat};
use std::collections::BTreeMap;

/// A node taken out of the table, with what is needed to put it back.
#[derive(Debug)]
pub(super) struct Removed {
    /// The node as it was.
    pub(super) node: Znode,
    /// Its ACL list (the node's slot may be gone from the table).
    pub(super) acl: Vec<Acl>,
    /// Its TTL, for a TTL node.
    pub(super) ttl_ms: Option<i64>,
}

/// The metadata digest term of `node`, reading the ACL hash and TTL from their tables.
pub(super) fn meta_of(
    acls: &AclTable,
    ttls: &BTreeMap<Box<str>, i64>,
    path: &str,
    node: &Znode,
) -> u64 {
    let ttl_ms = match node.kind {
        KindTag::Ttl => ttls.get(path).copied().unwrap_or(0),
        _ => 0,
    };
    meta_term(
        path,
        &node.stat,
        acls.hash(node.acl),
        node.kind.code(),
        ttl_ms,
    )
}

impl DataTree {
    /// Both digest terms of the node at `path`.
    pub(super) fn node_terms(&self, path: &str, node: &Znode) -> u64 {
        data_term(path, &node.data).wrapping_add(meta_of(&self.acls, &self.ttls, path, node))
    }

    /// Inserts a node that does not exist yet. Does not touch its parent.
    pub(super) fn insert_node(
        &mut self,
        path: &str,
        data: Vec<u8>,
        stat: Stat,
        kind: KindTag,
        acl: &[Acl],
        ttl_ms: Option<i64>,
    ) {
        assert!(self.get(path).is_none(), "insert of existing node {path}");
        assert_eq!(
            stat.data_length as usize,
            data.len(),
            "dataLength of {path}"
        );
        let acl = self.acls.intern(acl);
        let node = Znode {
            data,
            stat,
            acl,
            kind,
        };
        match kind {
            KindTag::Persistent => {}
            KindTag::Ephemeral => {
                let owner = SessionId(stat.ephemeral_owner);
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
        let terms = self.node_terms(path, &node);
        self.digest = self.digest.wrapping_add(terms);
        self.nodes.insert(PathKey::new(path.into()), node);
    }

    /// Removes a node (children are the caller's concern). Does not touch its parent.
    pub(super) fn remove_node(&mut self, path: &str) -> Option<Removed> {
        if !path.starts_with('/') {
            return None;
        }
        let (_, node) = self.nodes.remove_entry(&Parts::of(path))?;
        let terms = self.node_terms(path, &node);
        self.digest = self.digest.wrapping_sub(terms);
        let ttl_ms = match node.kind {
            KindTag::Persistent => None,
            KindTag::Ephemeral => {
                let owner = SessionId(node.stat.ephemeral_owner);
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

    /// Replaces the stat of a node; returns the old one.
    pub(super) fn set_stat(&mut self, path: &str, stat: Stat) -> Option<Stat> {
        let key = Parts::of(path);
        let node = self.nodes.get_mut(&key)?;
        let old_meta = meta_of(&self.acls, &self.ttls, path, node);
        let old = std::mem::replace(&mut node.stat, stat);
        let new_meta = meta_of(&self.acls, &self.ttls, path, node);
        self.digest = self.digest.wrapping_sub(old_meta).wrapping_add(new_meta);
        Some(old)
    }

    /// Replaces the data and stat of a node; returns the old ones.
    pub(super) fn set_data(&mut self, path: &str, data: Vec<u8>, stat: Stat) -> (Vec<u8>, Stat) {
        match self.update_data(path, data, |_| stat) {
            Some((old_data, old_stat, _)) => (old_data, old_stat),
            None => panic!("set_data of missing node {path}"),
        }
    }

    /// Replaces the data of a node and its stat with `stat(old stat)`, in one lookup; returns
    /// the old data, the old stat and the new stat, or `None` when there is no such node.
    pub(super) fn update_data(
        &mut self,
        path: &str,
        data: Vec<u8>,
        stat: impl FnOnce(&Stat) -> Stat,
    ) -> Option<(Vec<u8>, Stat, Stat)> {
        if !path.starts_with('/') {
            return None;
        }
        let key = Parts::of(path);
        let node = self.nodes.get_mut(&key)?;
        let stat = stat(&node.stat);
        assert_eq!(
            stat.data_length as usize,
            data.len(),
            "dataLength of {path}"
        );
        let old_terms =
            data_term(path, &node.data).wrapping_add(meta_of(&self.acls, &self.ttls, path, node));
        let old_data = std::mem::replace(&mut node.data, data);
        let old_stat = std::mem::replace(&mut node.stat, stat);
        let new_terms =
            data_term(path, &node.data).wrapping_add(meta_of(&self.acls, &self.ttls, path, node));
        self.digest = self.digest.wrapping_sub(old_terms).wrapping_add(new_terms);
        Some((old_data, old_stat, stat))
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
        let old_stat = std::mem::replace(&mut node.stat, stat);
        let new_meta = meta_of(&self.acls, &self.ttls, path, node);
        self.digest = self.digest.wrapping_sub(old_meta).wrapping_add(new_meta);
        (old_acl, old_stat)
    }
}
