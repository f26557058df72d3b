//! Snapshots of the tree (bincode) and the full invariant check that guards loading one.
//!
//! A snapshot holds the node table, the ACL slots, the TTLs, the last zxid and the digest. The
//! ephemeral and container indexes are rebuilt from the nodes; the loaded tree must then pass
//! [`DataTree::validate`], which also recomputes the digest and compares it with the stored one,
//! so a snapshot that decodes but describes a different or inconsistent tree is refused.

use super::acl_table::{AclEntry, AclTable};
use super::path::{is_valid_path, parent_path, PathKey};
use super::znode::{KindTag, Znode};
use super::{DataTree, TreeError, TTL_MS_MAX};
use crate::ids::{SessionId, Zxid};
use bincode::Options;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The snapshot format version this code writes and reads.
const SNAPSHOT_FORMAT: u32 = 1;

/// What a snapshot holds, borrowed for writing.
#[derive(Serialize)]
struct SnapshotOut<'a> {
    format: u32,
    last_zxid: Zxid,
    digest: u64,
    acls: &'a [AclEntry],
    ttls: &'a BTreeMap<Box<str>, i64>,
    nodes: &'a BTreeMap<PathKey, Znode>,
}

/// What a snapshot holds, owned for reading.
#[derive(Deserialize)]
struct SnapshotIn {
    format: u32,
    last_zxid: Zxid,
    digest: u64,
    acls: Vec<AclEntry>,
    ttls: BTreeMap<Box<str>, i64>,
    nodes: BTreeMap<PathKey, Znode>,
}

fn bad(why: impl Into<String>) -> TreeError {
    TreeError::Snapshot(why.into())
}

impl DataTree {
    /// The whole tree as bytes (bincode, varint encoding).
    pub fn to_snapshot(&self) -> Vec<u8> {
        let out = SnapshotOut {
            format: SNAPSHOT_FORMAT,
            last_zxid: self.last_zxid,
            digest: self.digest,
            acls: self.acls.entries(),
            ttls: &self.ttls,
            nodes: &self.nodes,
        };
        bincode::DefaultOptions::new()
            .serialize(&out)
            .expect("an in-memory tree always serializes")
    }

    /// A tree from [`DataTree::to_snapshot`] bytes. Total: any bytes yield a tree that passes
    /// every invariant or an error, never a panic, and no allocation beyond the input's size.
    pub fn from_snapshot(bytes: &[u8]) -> Result<DataTree, TreeError> {
        let snap: SnapshotIn = bincode::DefaultOptions::new()
            .with_limit(bytes.len() as u64)
            .reject_trailing_bytes()
            .deserialize(bytes)
            .map_err(|e| bad(e.to_string()))?;
        if snap.format != SNAPSHOT_FORMAT {
            return Err(bad(format!("unknown format {}", snap.format)));
        }
        let mut tree = DataTree {
            nodes: snap.nodes,
            acls: AclTable::from_entries(snap.acls).map_err(bad)?,
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: snap.ttls,
            last_zxid: snap.last_zxid,
            digest: 0,
        };
        tree.rebuild_indexes();
        tree.digest = tree.recompute_digest();
        tree.validate().map_err(bad)?;
        if tree.digest != snap.digest {
            return Err(bad("digest does not match the nodes"));
        }
        Ok(tree)
    }

    /// Rebuilds the ephemeral and container indexes from the nodes.
    fn rebuild_indexes(&mut self) {
        self.ephemerals.clear();
        self.containers.clear();
        for (key, node) in &self.nodes {
            match node.kind {
                KindTag::Ephemeral => {
                    let owner = SessionId(node.stat.ephemeral_owner);
                    let set = self.ephemerals.entry(owner).or_default();
                    set.insert(key.as_str().into());
                }
                KindTag::Container => {
                    self.containers.insert(key.as_str().into());
                }
                KindTag::Persistent | KindTag::Ttl => {}
            }
        }
    }

    /// The digest computed from scratch.
    fn recompute_digest(&self) -> u64 {
        self.nodes.iter().fold(0u64, |sum, (key, node)| {
            sum.wrapping_add(self.node_terms(key.as_str(), node))
        })
    }

    /// Checks every invariant of the tree; the error says which one failed.
    pub(super) fn validate(&self) -> Result<(), String> {
        let Some(root) = self.get(super::ROOT) else {
            return Err("no root".to_owned());
        };
        if root.kind != KindTag::Persistent {
            return Err("root is not persistent".to_owned());
        }
        let mut acl_refs = vec![0u32; self.acls.ref_counts().len()];
        for (key, node) in &self.nodes {
            self.validate_node(key.as_str(), node)?;
            if let Some(refs) = acl_refs.get_mut(node.acl.0 as usize) {
                *refs += 1;
            }
        }
        if acl_refs != self.acls.ref_counts() {
            return Err("ACL reference counts do not match the nodes".to_owned());
        }
        self.validate_indexes()?;
        if self.recompute_digest() != self.digest {
            return Err("digest out of step with the nodes".to_owned());
        }
        Ok(())
    }

    /// Checks one node against its parent, children, ACL slot and kind.
    fn validate_node(&self, path: &str, node: &Znode) -> Result<(), String> {
        if !is_valid_path(path) {
            return Err(format!("invalid path {path:?}"));
        }
        if let Some(parent) = parent_path(path) {
            match self.get(parent) {
                None => return Err(format!("{path} has no parent")),
                Some(p) if p.kind == KindTag::Ephemeral => {
                    return Err(format!("{path} is the child of an ephemeral"))
                }
                Some(_) => {}
            }
        }
        if usize::try_from(node.stat.data_length) != Ok(node.data.len()) {
            return Err(format!("{path}: dataLength {}", node.stat.data_length));
        }
        let children = self.child_paths(path).count();
        if usize::try_from(node.stat.num_children) != Ok(children) {
            return Err(format!("{path}: numChildren {}", node.stat.num_children));
        }
        if !self.acls.is_live(node.acl) {
            return Err(format!("{path}: ACL slot {} is not live", node.acl.0));
        }
        if node.kind != KindTag::Ephemeral && node.stat.ephemeral_owner != 0 {
            return Err(format!("{path}: ephemeralOwner on a non-ephemeral"));
        }
        Ok(())
    }

    /// Checks the ephemeral, container and TTL indexes against the nodes.
    fn validate_indexes(&self) -> Result<(), String> {
        let mut ephemerals = 0usize;
        for (session, paths) in &self.ephemerals {
            if paths.is_empty() {
                return Err(format!("empty ephemeral set for {session}"));
            }
            for path in paths {
                let owner = self.get(path).filter(|n| n.kind == KindTag::Ephemeral);
                if owner.map(|n| n.stat.ephemeral_owner) != Some(session.0) {
                    return Err(format!("ephemeral index: {path} under {session}"));
                }
            }
            ephemerals += paths.len();
        }
        let mut containers = 0usize;
        let mut ttls = 0usize;
        for node in self.nodes.values() {
            match node.kind {
                KindTag::Ephemeral => ephemerals = ephemerals.wrapping_sub(1),
                KindTag::Container => containers += 1,
                KindTag::Ttl => ttls += 1,
                KindTag::Persistent => {}
            }
        }
        if ephemerals != 0 || containers != self.containers.len() || ttls != self.ttls.len() {
            return Err("index sizes do not match the nodes".to_owned());
        }
        for path in &self.containers {
            if !self.get(path).is_some_and(Znode::is_container) {
                return Err(format!("container index: {path}"));
            }
        }
        for (path, &ttl_ms) in &self.ttls {
            let is_ttl = self.get(path).is_some_and(Znode::is_ttl);
            if !is_ttl || ttl_ms <= 0 || ttl_ms > TTL_MS_MAX {
                return Err(format!("TTL index: {path} {ttl_ms}"));
            }
        }
        Ok(())
    }
}
