//! The data tree: znodes, their `Stat` bookkeeping, the ephemeral, container and TTL indexes, the
//! interned ACL table and a digest of the whole tree.
//!
//! A [`DataTree`] changes only through [`DataTree::apply`], which takes one committed [`Txn`](crate::txn::Txn) and
//! returns what happened ([`Applied`]): one [`OpResult`] per op and the watch events in the order
//! they must be delivered. Applying is a pure function of the tree and the txn, so replicas that
//! apply the same txns hold equal trees and equal [`DataTree::digest`]s. A txn that does not fit
//! the tree (a create of an existing node, a delete of a missing one) never panics: its op reports
//! the ZooKeeper error code and changes nothing; a multi is all-or-nothing.
//!
//! Semantics follow ZooKeeper 3.8's `DataTree`, with the `Stat` kept in its client-visible form
//! (see [`Znode`]).

mod acl_table;
mod apply;
mod digest;
mod error;
mod mutate;
mod path;
mod snapshot;
mod table;
mod validate;
mod znode;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use apply::{Applied, OpResult, TreeEvent, TreeEventKind};
pub use error::TreeError;
pub use path::{is_valid_path, join, name_of, parent_path, ROOT};
pub use snapshot::{
    decode_snapshot, Restored, Snapshot, SnapshotDecoder, SnapshotEncoder, SNAPSHOT_CHUNK_BYTES,
};
pub use znode::Znode;

use crate::ids::{SessionId, Zxid};
use crate::jute::{perms, Acl, Id, Stat};
use crate::txn::NodeKind;
use acl_table::AclTable;
use path::{child_prefix, KeyParts, Parts};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use table::NodeTable;
use znode::{KindTag, Node};

/// `/zookeeper`, ZooKeeper's own subtree.
pub const ZOOKEEPER_PATH: &str = "/zookeeper";
/// `/zookeeper/quota`.
pub const QUOTA_PATH: &str = "/zookeeper/quota";
/// `/zookeeper/config`, readable by anyone, writable by no one (ZOOKEEPER-2014).
pub const CONFIG_PATH: &str = "/zookeeper/config";

/// The largest TTL ZooKeeper accepts (`EphemeralType.TTL.maxValue()`, 2^40 - 1 ms).
pub const TTL_MS_MAX: i64 = (1 << 40) - 1;

/// The replicated data tree. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct DataTree {
    /// Every node, keyed by full path, ordered by `(parent, name)`; clones share its leaves.
    nodes: NodeTable,
    acls: AclTable,
    /// Session -> paths of its ephemerals.
    ephemerals: BTreeMap<SessionId, BTreeSet<Box<str>>>,
    /// Paths of container nodes.
    containers: BTreeSet<Box<str>>,
    /// Path -> TTL in ms, for TTL nodes.
    ttls: BTreeMap<Box<str>, i64>,
    last_zxid: Zxid,
    digest: u64,
}

impl Default for DataTree {
    fn default() -> DataTree {
        DataTree::new()
    }
}

impl DataTree {
    /// A fresh tree as a ZooKeeper 3.8 standalone server starts with: `/`, `/zookeeper`,
    /// `/zookeeper/quota` and `/zookeeper/config`, all with empty data and zero zxids and times.
    /// The visible `cversion` of `/` is -1 and of `/zookeeper` -2 (no child was ever created,
    /// yet they have 1 and 2 children), and `/zookeeper/config` has `aversion` -1 and the ACL
    /// `world:anyone:r`, all as ZooKeeper reports them.
    pub fn new() -> DataTree {
        let mut tree = DataTree {
            nodes: NodeTable::default(),
            acls: AclTable::default(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeMap::new(),
            last_zxid: Zxid::ZERO,
            digest: 0,
        };
        let read_only = [Acl {
            perms: perms::READ,
            id: Id::new("world", "anyone"),
        }];
        let builtins: [(&str, i32, i32, &[Acl]); 4] = [
            (ROOT, 1, 0, &Acl::open_unsafe()),
            (ZOOKEEPER_PATH, 2, 0, &Acl::open_unsafe()),
            (QUOTA_PATH, 0, 0, &Acl::open_unsafe()),
            (CONFIG_PATH, 0, -1, &read_only),
        ];
        for (path, num_children, aversion, acl) in builtins {
            let stat = Stat {
                cversion: -num_children,
                aversion,
                num_children,
                ..Stat::default()
            };
            tree.insert_node(path, &[], stat, KindTag::Persistent, acl, None);
        }
        tree.check_invariants();
        tree
    }

    /// The node at `path`.
    pub fn get(&self, path: &str) -> Option<Znode<'_>> {
        self.node(path).map(Node::view)
    }

    /// The stored node at `path`.
    fn node(&self, path: &str) -> Option<&Node> {
        if !path.starts_with('/') {
            return None;
        }
        self.nodes.get(&Parts::of(path))
    }

    /// The `Stat` of the node at `path`.
    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.node(path).map(Node::stat)
    }

    /// The ACL of the node at `path`.
    pub fn acl(&self, path: &str) -> Option<&[Acl]> {
        self.node(path).map(|n| self.acls.get(n.acl))
    }

    /// The kind of the node at `path`, as it was created.
    pub fn kind(&self, path: &str) -> Option<NodeKind> {
        let node = self.node(path)?;
        Some(self.kind_of(path, node))
    }

    /// The node at `path` with its ACL and kind, found with one lookup (the request path's
    /// common case).
    pub fn view(&self, path: &str) -> Option<(Znode<'_>, Arc<[Acl]>, NodeKind)> {
        let node = self.node(path)?;
        Some((
            node.view(),
            self.acls.shared(node.acl),
            self.kind_of(path, node),
        ))
    }

    fn kind_of(&self, path: &str, node: &Node) -> NodeKind {
        match node.kind() {
            KindTag::Persistent => NodeKind::Persistent,
            KindTag::Ephemeral => NodeKind::Ephemeral {
                owner: SessionId(node.ephemeral_owner()),
            },
            KindTag::Container => NodeKind::Container,
            KindTag::Ttl => NodeKind::Ttl {
                ttl_ms: self.ttls.get(path).copied().unwrap_or(0),
            },
        }
    }

    /// The names of the children of `path`, sorted by bytes.
    pub fn children(&self, path: &str) -> Option<Vec<String>> {
        self.node(path)?;
        Some(self.child_names(path).map(str::to_owned).collect())
    }

    /// The children of `path` (which must exist) as names, in byte order.
    fn child_names<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let prefix = child_prefix(path);
        self.child_nodes(prefix).map(|node| name_of(node.path()))
    }

    /// The children of `path` as full paths.
    fn child_paths<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.child_nodes(child_prefix(path)).map(Node::path)
    }

    /// The nodes whose parent part is `prefix`.
    fn child_nodes<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.nodes
            .iter_after(&Parts(prefix, ""))
            .take_while(move |node| node.key_parts().0 == prefix.as_bytes())
    }

    /// The number of nodes, `/` included. (ZooKeeper's `zk_znode_count` is one more: its table
    /// holds the root under both `""` and `/`.)
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The number of nodes below `path`, `path` excluded (`getAllChildrenNumber`).
    pub fn count_descendants(&self, path: &str) -> Option<usize> {
        self.node(path)?;
        if path == ROOT {
            return Some(self.nodes.len() - 1);
        }
        // An explicit stack, not recursion: depth is bounded only by path length.
        let mut count = 0usize;
        let mut stack: Vec<&str> = vec![path];
        while let Some(next) = stack.pop() {
            for child in self.child_paths(next) {
                count += 1;
                stack.push(child);
            }
        }
        assert!(count < self.nodes.len(), "more descendants than nodes");
        Some(count)
    }

    /// The paths of the ephemerals `session` owns, sorted.
    pub fn ephemerals(&self, session: SessionId) -> Vec<String> {
        self.ephemerals
            .get(&session)
            .map(|set| set.iter().map(|p| p.to_string()).collect())
            .unwrap_or_default()
    }

    /// The sessions that own at least one ephemeral, sorted.
    pub fn ephemeral_sessions(&self) -> Vec<SessionId> {
        self.ephemerals.keys().copied().collect()
    }

    /// The number of ephemeral nodes (`zk_ephemerals_count`).
    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(BTreeSet::len).sum()
    }

    /// The number of distinct ACL lists in use.
    pub fn acl_list_count(&self) -> usize {
        self.acls.live_count()
    }

    /// Sum of path and data lengths over all nodes (`zk_approximate_data_size`). Walks the tree.
    pub fn approximate_data_size(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| (n.path_bytes().len() + n.data().len()) as u64)
            .sum()
    }

    /// The highest zxid applied.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// The digest of the whole tree (paths, data, stats, ACLs, kinds, TTLs); equal on replicas
    /// that applied the same txns, stable across processes and platforms.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// Nodes the server should delete now, sorted: containers that have had a child and have
    /// none left, and childless TTL nodes not modified for longer than their TTL
    /// (`now - mtime > ttl`), as ZooKeeper's `ContainerManager` picks them.
    pub fn expiry_candidates(&self, now_wall_ms: i64) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for path in &self.containers {
            let Some(node) = self.get(path) else { continue };
            if node.stat.num_children == 0 && node.child_creates() > 0 {
                out.push(path.to_string());
            }
        }
        for (path, &ttl_ms) in &self.ttls {
            let Some(node) = self.get(path) else { continue };
            let idle_ms = now_wall_ms.saturating_sub(node.stat.mtime);
            if node.stat.num_children == 0 && ttl_ms != 0 && idle_ms > ttl_ms {
                out.push(path.to_string());
            }
        }
        out.sort();
        out
    }

    /// Panics if an internal invariant is broken: for tests, the simulator and debug builds.
    /// Walks the whole tree and rehashes it.
    pub fn check_invariants(&self) {
        if let Err(why) = self.validate() {
            panic!("data tree invariant broken: {why}");
        }
    }
}
