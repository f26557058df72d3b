//! One znode: its data, its client-visible `Stat`, an interned ACL and its kind.

use super::acl_table::AclId;
use crate::jute::Stat;
use serde::{Deserialize, Serialize};

/// What kind of node, in one byte. The TTL of a TTL node lives in the tree's TTL index, so the
/// common node does not pay for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum KindTag {
    /// Stays until deleted.
    Persistent,
    /// Owned by the session in `stat.ephemeral_owner`.
    Ephemeral,
    /// Deleted by the server once it has had a child and has none left.
    Container,
    /// Deleted by the server once childless and unmodified for its TTL.
    Ttl,
}

impl KindTag {
    /// The byte that goes into the digest.
    pub(crate) fn code(self) -> u8 {
        match self {
            KindTag::Persistent => 0,
            KindTag::Ephemeral => 1,
            KindTag::Container => 2,
            KindTag::Ttl => 3,
        }
    }
}

/// A znode.
///
/// `stat` is exactly the `Stat` ZooKeeper 3.8 sends to clients for this node (its
/// `DataNode.copyStat`), so it can go into a reply unchanged:
/// - `cversion` counts child creations *and* deletions (ZooKeeper stores creations only and
///   reports `2 * creations - numChildren`); see [`Znode::child_creates`] for the stored counter;
/// - `ephemeral_owner` is the owning session for an ephemeral node and 0 for every other kind,
///   containers and TTL nodes included (ZooKeeper hides their internal encodings from clients).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Znode {
    /// The node's data.
    pub data: Vec<u8>,
    /// The node's metadata as clients see it.
    pub stat: Stat,
    pub(crate) acl: AclId,
    pub(crate) kind: KindTag,
}

impl Znode {
    /// The number of children ever created under this node: ZooKeeper's stored `cversion`, which
    /// is also the suffix (`%010d`) the next sequential child gets. Derived from the visible
    /// `cversion` as `(cversion + numChildren) / 2`, exact while fewer than 2^31 children were
    /// ever created.
    pub fn child_creates(&self) -> i32 {
        let sum = i64::from(self.stat.cversion) + i64::from(self.stat.num_children);
        (sum.div_euclid(2)) as i32
    }

    /// Whether this node is ephemeral (owned by `stat.ephemeral_owner`).
    pub fn is_ephemeral(&self) -> bool {
        self.kind == KindTag::Ephemeral
    }

    /// Whether this node is a container.
    pub fn is_container(&self) -> bool {
        self.kind == KindTag::Container
    }

    /// Whether this node is a TTL node.
    pub fn is_ttl(&self) -> bool {
        self.kind == KindTag::Ttl
    }
}
