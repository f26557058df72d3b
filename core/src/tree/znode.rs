//! One znode: how the node table stores it ([`Node`], path included) and what callers see of it
//! ([`Znode`], a view with the client-visible `Stat`).

use super::acl_table::AclId;
use super::path::KeyParts;
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

/// Bytes of the owner at the end of an ephemeral's block.
const OWNER_BYTES: usize = 8;

/// A znode as the node table stores it: one entry of a leaf, its path included.
///
/// Memory is the point of this layout (a million znodes of 100 bytes is a common size): the
/// path, the data and, for an ephemeral, its owner share one exactly sized heap block
/// `[path][data][owner: i64 LE]`, so a node costs one allocation; `dataLength` is the data's
/// length and `ephemeralOwner` is read from the block (0 for every other kind), so neither is
/// stored. What remains inline is 88 bytes, against 128 for a key and a `Znode` with a `Vec`
/// and a full `Stat` before. Nothing here changes a node's path: the table's order depends
/// on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// `[path][data][owner]`.
    bytes: Box<[u8]>,
    /// The path's length (where the data starts).
    path_end: u32,
    /// Byte index of the path's last `/` (a valid path has one).
    split: u32,
    czxid: i64,
    mzxid: i64,
    pzxid: i64,
    ctime: i64,
    mtime: i64,
    version: i32,
    cversion: i32,
    aversion: i32,
    num_children: i32,
    pub(crate) acl: AclId,
    /// Never changes: an ephemeral's block has room for its owner, any other's has none.
    kind: KindTag,
}

impl Node {
    /// A node at `path` (valid: it starts with `/`) with `data` and `stat`. `stat.dataLength`
    /// must be `data`'s length, and `stat.ephemeralOwner` 0 unless `kind` is ephemeral.
    pub(crate) fn new(path: &str, data: &[u8], stat: &Stat, acl: AclId, kind: KindTag) -> Node {
        assert!(path.starts_with('/'), "node path {path:?} is not absolute");
        let owner_bytes = if kind == KindTag::Ephemeral {
            OWNER_BYTES
        } else {
            0
        };
        let mut bytes = Vec::with_capacity(path.len() + data.len() + owner_bytes);
        bytes.extend_from_slice(path.as_bytes());
        bytes.extend_from_slice(data);
        if owner_bytes > 0 {
            bytes.extend_from_slice(&stat.ephemeral_owner.to_le_bytes());
        } else {
            assert_eq!(stat.ephemeral_owner, 0, "ephemeralOwner on a non-ephemeral");
        }
        let path_end = u32::try_from(path.len()).expect("a path shorter than 4 GiB");
        let split = path.rfind('/').map_or(0, |i| i as u32);
        let mut node = Node {
            bytes: bytes.into_boxed_slice(),
            path_end,
            split,
            czxid: 0,
            mzxid: 0,
            pzxid: 0,
            ctime: 0,
            mtime: 0,
            version: 0,
            cversion: 0,
            aversion: 0,
            num_children: 0,
            acl,
            kind,
        };
        node.set_stat(stat);
        node
    }

    /// The same node with other data and stat (a setData): a new block, the path and owner
    /// carried over.
    pub(crate) fn with_data(&self, data: &[u8], stat: &Stat) -> Node {
        Node::new(self.path(), data, stat, self.acl, self.kind)
    }

    /// The full path as bytes.
    pub(crate) fn path_bytes(&self) -> &[u8] {
        &self.bytes[..self.path_end as usize]
    }

    /// The full path.
    pub(crate) fn path(&self) -> &str {
        // Built from a `&str` and never changed, so this cannot fail.
        std::str::from_utf8(self.path_bytes()).expect("a node's path is UTF-8")
    }

    /// The data.
    pub(crate) fn data(&self) -> &[u8] {
        &self.bytes[self.path_end as usize..self.bytes.len() - self.owner_bytes()]
    }

    fn owner_bytes(&self) -> usize {
        match self.kind {
            KindTag::Ephemeral => OWNER_BYTES,
            _ => 0,
        }
    }

    /// The owning session of an ephemeral, 0 for any other kind.
    pub(crate) fn ephemeral_owner(&self) -> i64 {
        if self.kind != KindTag::Ephemeral {
            return 0;
        }
        // An ephemeral's block always ends with its owner (see `new`).
        let tail = self.bytes.len().saturating_sub(OWNER_BYTES);
        self.bytes[tail..].try_into().map_or(0, i64::from_le_bytes)
    }

    /// The node's kind.
    pub(crate) fn kind(&self) -> KindTag {
        self.kind
    }

    /// The number of children.
    pub(crate) fn num_children(&self) -> i32 {
        self.num_children
    }

    /// The `Stat` clients see, built from what is stored.
    pub(crate) fn stat(&self) -> Stat {
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion,
            aversion: self.aversion,
            ephemeral_owner: self.ephemeral_owner(),
            data_length: self.data().len() as i32,
            num_children: self.num_children,
            pzxid: self.pzxid,
        }
    }

    /// Replaces the stored stat. The derived fields (`dataLength`, `ephemeralOwner`) must agree
    /// with the node: they cannot change this way.
    pub(crate) fn set_stat(&mut self, stat: &Stat) {
        assert_eq!(
            usize::try_from(stat.data_length).ok(),
            Some(self.data().len()),
            "dataLength of {}",
            self.path()
        );
        assert_eq!(
            stat.ephemeral_owner,
            self.ephemeral_owner(),
            "ephemeralOwner of {}",
            self.path()
        );
        self.czxid = stat.czxid;
        self.mzxid = stat.mzxid;
        self.pzxid = stat.pzxid;
        self.ctime = stat.ctime;
        self.mtime = stat.mtime;
        self.version = stat.version;
        self.cversion = stat.cversion;
        self.aversion = stat.aversion;
        self.num_children = stat.num_children;
    }

    /// The view callers get.
    pub(crate) fn view(&self) -> Znode<'_> {
        Znode {
            data: self.data(),
            stat: self.stat(),
            kind: self.kind,
        }
    }
}

impl KeyParts for Node {
    fn key_parts(&self) -> (&[u8], &[u8]) {
        let split = self.split as usize;
        (
            &self.bytes[..split],
            &self.bytes[split + 1..self.path_end as usize],
        )
    }
}

/// A znode as callers see it: its data and its `Stat`.
///
/// `stat` is exactly the `Stat` ZooKeeper 3.8 sends to clients for this node (its
/// `DataNode.copyStat`), so it can go into a reply unchanged:
/// - `cversion` counts child creations *and* deletions (ZooKeeper stores creations only and
///   reports `2 * creations - numChildren`); see [`Znode::child_creates`] for the stored counter;
/// - `ephemeral_owner` is the owning session for an ephemeral node and 0 for every other kind,
///   containers and TTL nodes included (ZooKeeper hides their internal encodings from clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Znode<'a> {
    /// The node's data.
    pub data: &'a [u8],
    /// The node's metadata as clients see it.
    pub stat: Stat,
    pub(crate) kind: KindTag,
}

impl Znode<'_> {
    /// The number of children ever created under this node: ZooKeeper's stored `cversion`, which
    /// is also the suffix (`%010d`) the next sequential child gets. Derived from the visible
    /// `cversion` as `(cversion + numChildren) / 2`, exact while fewer than 2^31 children were
    /// ever created.
    pub fn child_creates(self) -> i32 {
        let sum = i64::from(self.stat.cversion) + i64::from(self.stat.num_children);
        (sum.div_euclid(2)) as i32
    }

    /// Whether this node is ephemeral (owned by `stat.ephemeral_owner`).
    pub fn is_ephemeral(self) -> bool {
        self.kind == KindTag::Ephemeral
    }

    /// Whether this node is a container.
    pub fn is_container(self) -> bool {
        self.kind == KindTag::Container
    }

    /// Whether this node is a TTL node.
    pub fn is_ttl(self) -> bool {
        self.kind == KindTag::Ttl
    }
}
