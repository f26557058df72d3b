//! Snapshots: a frozen copy of the tree and the session table, encoded as a stream of records
//! off the node's thread, and decoded node by node straight into a new tree.
//!
//! [`Snapshot::new`] costs the node's thread a copy of the node table's index (one entry per
//! leaf, see `table`), the ACL slots, the TTLs and the sessions: never the nodes. Encoding
//! ([`Snapshot::encoder`]) then runs wherever the adapter likes, a chunk at a time, while the
//! live tree changes (a changed leaf is copied, the frozen one stays as it was).
//!
//! # Format, version 2
//!
//! A sequence of records `[u32 LE payload length][payload]`, each payload one bincode value
//! (`DefaultOptions`: varint integers, little endian), in this order:
//!
//! 1. the header: format (2), last zxid, digest, and the counts of each record kind below;
//! 2. every ACL slot (`AclEntry`: list and reference count), in slot order;
//! 3. every TTL `(path, ttl_ms)`, in path order;
//! 4. every session `(id, timeout, password)`, in id order;
//! 5. every node `(path, data, stat, acl slot, kind)`, in the table's `(parent, name)` order,
//!    `/` first; the `Stat` whole as clients see it (so `dataLength` and `ephemeralOwner` are
//!    written although the tree derives them, and the decoder checks that they agree).
//!
//! Nothing may follow the last node. The decoder ([`SnapshotDecoder`]) accepts the bytes in
//! pieces of any size, never holds more than one record besides the tree it builds, refuses a
//! record above its length limit before allocating it, and checks in the same pass everything
//! [`DataTree::check_invariants`] checks: order, valid paths, parents present and not
//! ephemeral, `numChildren` and `dataLength`, live ACL slots and their reference counts, kinds,
//! the TTL index, and the digest. A corrupt snapshot is an error, never a panic or a wrong tree.
//! (The file around it, with its checksum, is the adapter's: see docs/storage.md.)

mod decode;
#[cfg(test)]
mod tests;

pub use decode::SnapshotDecoder;

use super::acl_table::{AclEntry, AclId};
use super::table::NodeTable;
use super::znode::{KindTag, Node};
use super::{DataTree, TreeError};
use crate::ids::{SessionId, Zxid};
use crate::jute::Stat;
use crate::session::Session;
use bincode::Options;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The snapshot format version this code writes and reads.
const SNAPSHOT_FORMAT: u32 = 2;
/// Bytes of a record's length prefix.
const RECORD_PREFIX_BYTES: usize = 4;
/// [`SnapshotEncoder::next_chunk`] stops adding records once a chunk has this many bytes.
pub const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;

/// The first record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    format: u32,
    zxid: Zxid,
    digest: u64,
    acl_slots: u64,
    ttls: u64,
    sessions: u64,
    nodes: u64,
}

fn bad(why: impl Into<String>) -> TreeError {
    TreeError::Snapshot(why.into())
}

/// One node's record. The layout (a path, then the fields of the `Znode` struct that first
/// wrote format 2: data, `Stat`, ACL slot, kind) is kept byte for byte; the path and data are
/// borrowed from the record, so that decoding allocates once per node, for the node itself.
#[derive(Debug, Serialize, Deserialize)]
struct NodeRecord<'a> {
    path: &'a str,
    #[serde(borrow)]
    data: Bytes<'a>,
    stat: Stat,
    acl: AclId,
    kind: KindTag,
}

impl<'a> NodeRecord<'a> {
    fn of(node: &'a Node) -> NodeRecord<'a> {
        NodeRecord {
            path: node.path(),
            data: Bytes(node.data()),
            stat: node.stat(),
            acl: node.acl,
            kind: node.kind(),
        }
    }
}

/// Bytes written as bincode writes a `Vec<u8>` (a length, then the bytes) and read back
/// without a copy.
#[derive(Debug)]
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Bytes<'a>, D::Error> {
        <&'a [u8]>::deserialize(deserializer).map(Bytes)
    }
}

/// What a snapshot holds, frozen.
struct Frozen {
    nodes: NodeTable,
    acls: Vec<AclEntry>,
    ttls: BTreeMap<Box<str>, i64>,
    sessions: Vec<(SessionId, Session)>,
    last_zxid: Zxid,
    digest: u64,
}

/// A frozen copy of the tree and the sessions, cheap to take and to clone, encoded with
/// [`Snapshot::encoder`] (or [`Snapshot::to_bytes`]) on any thread. See the [module docs](self).
#[derive(Clone)]
pub struct Snapshot(Arc<Frozen>);

impl Snapshot {
    /// Freezes `tree` together with the replicated session table.
    pub fn new(tree: &DataTree, sessions: Vec<(SessionId, Session)>) -> Snapshot {
        Snapshot(Arc::new(Frozen {
            nodes: tree.nodes.clone(),
            acls: tree.acls.entries().to_vec(),
            ttls: tree.ttls.clone(),
            sessions,
            last_zxid: tree.last_zxid,
            digest: tree.digest,
        }))
    }

    /// The last zxid the snapshot contains.
    pub fn zxid(&self) -> Zxid {
        self.0.last_zxid
    }

    /// The number of nodes.
    pub fn node_count(&self) -> usize {
        self.0.nodes.len()
    }

    /// The tree digest at the snapshot's zxid.
    pub fn digest(&self) -> u64 {
        self.0.digest
    }

    /// An encoder that produces the snapshot's bytes a chunk at a time.
    pub fn encoder(&self) -> SnapshotEncoder<'_> {
        SnapshotEncoder {
            frozen: &self.0,
            header_done: false,
            nodes: self.0.nodes.iter(),
        }
    }

    /// The whole encoding in one buffer (for shipping a state to a peer, and for tests).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = self.encoder();
        while encoder.next_chunk(&mut out) {}
        out
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("zxid", &self.0.last_zxid)
            .field("nodes", &self.0.nodes.len())
            .field("sessions", &self.0.sessions.len())
            .field("digest", &format_args!("{:#018x}", self.0.digest))
            .finish()
    }
}

/// Two snapshots are equal when they encode to the same bytes.
impl PartialEq for Snapshot {
    fn eq(&self, other: &Snapshot) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.to_bytes() == other.to_bytes()
    }
}

impl Eq for Snapshot {}

/// Appends one record: the length prefix, then the bincode payload.
fn push_record<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let at = out.len();
    out.extend_from_slice(&[0; RECORD_PREFIX_BYTES]);
    bincode::DefaultOptions::new()
        .serialize_into(&mut *out, value)
        .expect("an in-memory record always serializes");
    let len = out.len() - at - RECORD_PREFIX_BYTES;
    let len = u32::try_from(len).expect("a snapshot record fits in 4 GiB");
    out[at..at + RECORD_PREFIX_BYTES].copy_from_slice(&len.to_le_bytes());
}

/// Encodes a [`Snapshot`] a chunk at a time.
pub struct SnapshotEncoder<'a> {
    frozen: &'a Frozen,
    header_done: bool,
    nodes: super::table::Iter<'a>,
}

impl SnapshotEncoder<'_> {
    /// Appends the next records to `out`, stopping once it has grown by about
    /// [`SNAPSHOT_CHUNK_BYTES`]. Returns false, appending nothing, when everything is encoded.
    pub fn next_chunk(&mut self, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        if !self.header_done {
            self.header_done = true;
            self.push_header(out);
        }
        while out.len() - start < SNAPSHOT_CHUNK_BYTES {
            let Some(node) = self.nodes.next() else {
                break;
            };
            push_record(out, &NodeRecord::of(node));
        }
        out.len() > start
    }

    fn push_header(&self, out: &mut Vec<u8>) {
        let f = self.frozen;
        let header = Header {
            format: SNAPSHOT_FORMAT,
            zxid: f.last_zxid,
            digest: f.digest,
            acl_slots: f.acls.len() as u64,
            ttls: f.ttls.len() as u64,
            sessions: f.sessions.len() as u64,
            nodes: f.nodes.len() as u64,
        };
        push_record(out, &header);
        for entry in &f.acls {
            push_record(out, entry);
        }
        for (path, ttl_ms) in &f.ttls {
            push_record(out, &(&**path, *ttl_ms));
        }
        for (id, session) in &f.sessions {
            push_record(out, &(id, session));
        }
    }
}

/// A decoded snapshot: the tree, ready to use, and the sessions.
#[derive(Debug)]
pub struct Restored {
    /// The tree at the snapshot's zxid (`tree.last_zxid()`).
    pub tree: DataTree,
    /// The replicated session table.
    pub sessions: Vec<(SessionId, Session)>,
}

/// Decodes a whole snapshot held in memory.
pub fn decode_snapshot(bytes: &[u8]) -> Result<Restored, TreeError> {
    let mut decoder = SnapshotDecoder::new(bytes.len());
    decoder.feed(bytes)?;
    decoder.finish()
}
