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
//! 5. every node `(path, znode)`, in the table's `(parent, name)` order, `/` first.
//!
//! Nothing may follow the last node. The decoder ([`SnapshotDecoder`]) accepts the bytes in
//! pieces of any size, never holds more than one record besides the tree it builds, refuses a
//! record above its length limit before allocating it, and checks in the same pass everything
//! [`DataTree::check_invariants`] checks: order, valid paths, parents present and not
//! ephemeral, `numChildren` and `dataLength`, live ACL slots and their reference counts, kinds,
//! the TTL index, and the digest. A corrupt snapshot is an error, never a panic or a wrong tree.
//! (The file around it, with its checksum, is the adapter's: see docs/storage.md.)

use super::acl_table::{AclEntry, AclTable};
use super::digest::data_term;
use super::mutate::meta_of;
use super::path::{is_valid_path, KeyParts, Parts, PathKey};
use super::table::{NodeTable, TableBuilder};
use super::znode::{KindTag, Znode};
use super::{DataTree, TreeError, ROOT, TTL_MS_MAX};
use crate::ids::{SessionId, Zxid};
use crate::session::Session;
use bincode::Options;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
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
            let Some((key, node)) = self.nodes.next() else {
                break;
            };
            push_record(out, &(key.as_str(), node));
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

/// Which records come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Header,
    Acls { left: u64 },
    Ttls { left: u64 },
    Sessions { left: u64 },
    Nodes { left: u64 },
    Done,
}

/// What the node records have shown so far, for the checks that span nodes.
#[derive(Debug, Default)]
struct NodeChecks {
    digest: u64,
    /// References seen per ACL slot.
    acl_refs: Vec<u32>,
    /// Sum of every node's `numChildren`.
    num_children: u64,
    /// TTL nodes seen (each found in the TTL index).
    ttl_nodes: u64,
    /// The parent part of the current run of siblings and how many nodes are in it.
    run: Option<(Box<str>, u64)>,
    ephemerals: BTreeMap<SessionId, BTreeSet<Box<str>>>,
    containers: BTreeSet<Box<str>>,
}

/// Decodes a snapshot from pieces of any size, straight into a tree. See the
/// [module docs](self). Once it has failed, it keeps returning the same error.
#[derive(Debug)]
pub struct SnapshotDecoder {
    record_bytes_max: usize,
    /// The start of a record split across pieces.
    pending: Vec<u8>,
    failed: Option<TreeError>,
    stage: Stage,
    header: Option<Header>,
    acl_entries: Vec<AclEntry>,
    acls: AclTable,
    ttls: BTreeMap<Box<str>, i64>,
    sessions: Vec<(SessionId, Session)>,
    nodes: TableBuilder,
    checks: NodeChecks,
}

impl SnapshotDecoder {
    /// A decoder that refuses any record longer than `record_bytes_max`.
    pub fn new(record_bytes_max: usize) -> SnapshotDecoder {
        SnapshotDecoder {
            record_bytes_max,
            pending: Vec::new(),
            failed: None,
            stage: Stage::Header,
            header: None,
            acl_entries: Vec::new(),
            acls: AclTable::default(),
            ttls: BTreeMap::new(),
            sessions: Vec::new(),
            nodes: TableBuilder::default(),
            checks: NodeChecks::default(),
        }
    }

    /// Takes the next piece of the encoding.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), TreeError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let fed = self.feed_inner(bytes);
        if let Err(why) = fed {
            let error = bad(why);
            self.failed = Some(error.clone());
            return Err(error);
        }
        Ok(())
    }

    fn feed_inner(&mut self, mut bytes: &[u8]) -> Result<(), String> {
        while !bytes.is_empty() {
            if self.pending.is_empty() {
                // Whole records straight from the input, without copying them.
                match self.record_len(bytes)? {
                    Some(len) if bytes.len() >= RECORD_PREFIX_BYTES + len => {
                        let (record, rest) = bytes.split_at(RECORD_PREFIX_BYTES + len);
                        self.record(&record[RECORD_PREFIX_BYTES..])?;
                        bytes = rest;
                        continue;
                    }
                    _ => {}
                }
            }
            // Complete the record that straddles pieces.
            let want = match self.record_len(&self.pending)? {
                Some(len) => RECORD_PREFIX_BYTES + len,
                None => RECORD_PREFIX_BYTES,
            };
            let take = (want - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if let Some(len) = self.record_len(&self.pending)? {
                if self.pending.len() == RECORD_PREFIX_BYTES + len {
                    let record = std::mem::take(&mut self.pending);
                    self.record(&record[RECORD_PREFIX_BYTES..])?;
                    self.pending = record;
                    self.pending.clear();
                }
            }
        }
        Ok(())
    }

    /// The payload length announced at the start of `bytes`, once the prefix is there.
    fn record_len(&self, bytes: &[u8]) -> Result<Option<usize>, String> {
        let Some(prefix) = bytes.get(..RECORD_PREFIX_BYTES) else {
            return Ok(None);
        };
        let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        if len > self.record_bytes_max {
            return Err(format!(
                "a record of {len} bytes, above the limit of {}",
                self.record_bytes_max
            ));
        }
        Ok(Some(len))
    }

    /// One record's payload.
    fn record(&mut self, payload: &[u8]) -> Result<(), String> {
        match self.stage {
            Stage::Header => {
                let header: Header = decode(payload)?;
                if header.format != SNAPSHOT_FORMAT {
                    return Err(format!("unknown format {}", header.format));
                }
                self.stage = Stage::Acls {
                    left: header.acl_slots,
                };
                self.header = Some(header);
            }
            Stage::Acls { left } => {
                self.acl_entries.push(decode(payload)?);
                self.stage = Stage::Acls { left: left - 1 };
            }
            Stage::Ttls { left } => {
                let (path, ttl_ms): (Box<str>, i64) = decode(payload)?;
                if !is_valid_path(&path) || ttl_ms <= 0 || ttl_ms > TTL_MS_MAX {
                    return Err(format!("TTL index: {path} {ttl_ms}"));
                }
                if self
                    .ttls
                    .last_key_value()
                    .is_some_and(|(last, _)| *last >= path)
                {
                    return Err(format!("TTL index out of order at {path}"));
                }
                self.ttls.insert(path, ttl_ms);
                self.stage = Stage::Ttls { left: left - 1 };
            }
            Stage::Sessions { left } => {
                self.sessions.push(decode(payload)?);
                self.stage = Stage::Sessions { left: left - 1 };
            }
            Stage::Nodes { left } => {
                let (path, node): (Box<str>, Znode) = decode(payload)?;
                self.node(path, node)?;
                self.stage = Stage::Nodes { left: left - 1 };
            }
            Stage::Done => return Err("a record after the last node".to_owned()),
        }
        self.skip_finished_stages()
    }

    /// Moves past every stage with nothing left, building the ACL table on the way to the
    /// nodes (their digest terms need it).
    fn skip_finished_stages(&mut self) -> Result<(), String> {
        let Some(header) = &self.header else {
            return Ok(());
        };
        let (ttls, sessions, nodes) = (header.ttls, header.sessions, header.nodes);
        loop {
            self.stage = match self.stage {
                Stage::Acls { left: 0 } => {
                    self.acls = AclTable::from_entries(std::mem::take(&mut self.acl_entries))?;
                    self.checks.acl_refs = vec![0; self.acls.ref_counts().len()];
                    Stage::Ttls { left: ttls }
                }
                Stage::Ttls { left: 0 } => Stage::Sessions { left: sessions },
                Stage::Sessions { left: 0 } => Stage::Nodes { left: nodes },
                Stage::Nodes { left: 0 } => Stage::Done,
                _ => return Ok(()),
            };
        }
    }

    /// One node: checked on its own, counted for the checks that span nodes, then appended.
    fn node(&mut self, path: Box<str>, node: Znode) -> Result<(), String> {
        if !is_valid_path(&path) {
            return Err(format!("invalid path {path:?}"));
        }
        let first = self.nodes.last_key().is_none();
        if first != (&*path == ROOT) {
            return Err(format!("{path} where the root must come first"));
        }
        if first && node.kind != KindTag::Persistent {
            return Err("root is not persistent".to_owned());
        }
        let stat = &node.stat;
        if usize::try_from(stat.data_length) != Ok(node.data.len()) {
            return Err(format!("{path}: dataLength {}", stat.data_length));
        }
        let Ok(num_children) = u64::try_from(stat.num_children) else {
            return Err(format!("{path}: numChildren {}", stat.num_children));
        };
        if node.kind != KindTag::Ephemeral && stat.ephemeral_owner != 0 {
            return Err(format!("{path}: ephemeralOwner on a non-ephemeral"));
        }
        let Some(refs) = self.checks.acl_refs.get_mut(node.acl.0 as usize) else {
            return Err(format!("{path}: ACL slot {} is not live", node.acl.0));
        };
        if !self.acls.is_live(node.acl) {
            return Err(format!("{path}: ACL slot {} is not live", node.acl.0));
        }
        *refs = refs.saturating_add(1);
        self.checks.num_children = self.checks.num_children.saturating_add(num_children);
        match node.kind {
            KindTag::Persistent => {}
            KindTag::Ephemeral => {
                let owner = SessionId(stat.ephemeral_owner);
                let paths = self.checks.ephemerals.entry(owner).or_default();
                paths.insert(path.clone());
            }
            KindTag::Container => {
                self.checks.containers.insert(path.clone());
            }
            KindTag::Ttl => {
                if !self.ttls.contains_key(&path) {
                    return Err(format!("TTL node {path} missing from the TTL index"));
                }
                self.checks.ttl_nodes += 1;
            }
        }
        let terms = data_term(&path, &node.data)
            .wrapping_add(meta_of(&self.acls, &self.ttls, &path, &node));
        self.checks.digest = self.checks.digest.wrapping_add(terms);
        let key = PathKey::new(path);
        self.count_sibling(&key, first)?;
        self.nodes.push(key, node)
    }

    /// Counts `key` in its run of siblings; a new parent part closes the previous run.
    fn count_sibling(&mut self, key: &PathKey, is_root: bool) -> Result<(), String> {
        if is_root {
            // The root heads the run of its own children (parent part "").
            self.checks.run = Some(("".into(), 0));
            return Ok(());
        }
        let (parent_part, _) = key.key_parts();
        if let Some((part, count)) = &mut self.checks.run {
            if **part == *parent_part {
                *count += 1;
                return Ok(());
            }
        }
        self.close_run()?;
        self.checks.run = Some((parent_part.into(), 1));
        Ok(())
    }

    /// Checks the parent of the current run of siblings: present (it sorts before its
    /// children, so it is already decoded), not ephemeral, with that many children.
    fn close_run(&mut self) -> Result<(), String> {
        let Some((part, count)) = self.checks.run.take() else {
            return Ok(());
        };
        let parent = if part.is_empty() { ROOT } else { &*part };
        let Some(node) = self.nodes.get(&Parts::of(parent) as &dyn KeyParts) else {
            return Err(format!("the children of {parent} have no parent"));
        };
        if node.kind == KindTag::Ephemeral {
            return Err(format!("{parent} is ephemeral and has children"));
        }
        if u64::try_from(node.stat.num_children) != Ok(count) {
            return Err(format!("{parent}: numChildren {}", node.stat.num_children));
        }
        Ok(())
    }

    /// The tree, once every record has arrived and every check across nodes passes.
    pub fn finish(mut self) -> Result<Restored, TreeError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        self.finish_inner().map_err(bad)
    }

    fn finish_inner(mut self) -> Result<Restored, String> {
        if self.stage != Stage::Done || !self.pending.is_empty() {
            return Err("the snapshot ends early".to_owned());
        }
        let Some(header) = self.header.take() else {
            return Err("no header".to_owned());
        };
        self.close_run()?;
        let nodes = self.nodes.finish();
        let checks = self.checks;
        // Every node but the root is the child of exactly one run's parent, whose numChildren
        // matched its run: a total of n - 1 leaves every other node with none.
        if checks.num_children != (nodes.len() as u64).saturating_sub(1) {
            return Err("numChildren does not add up to the nodes".to_owned());
        }
        if checks.acl_refs != self.acls.ref_counts() {
            return Err("ACL reference counts do not match the nodes".to_owned());
        }
        if checks.ttl_nodes != self.ttls.len() as u64 {
            return Err("TTL index sizes do not match the nodes".to_owned());
        }
        if checks.digest != header.digest {
            return Err("digest does not match the nodes".to_owned());
        }
        let tree = DataTree {
            nodes,
            acls: self.acls,
            ephemerals: checks.ephemerals,
            containers: checks.containers,
            ttls: self.ttls,
            last_zxid: header.zxid,
            digest: checks.digest,
        };
        // The streaming checks above must imply the full check; debug builds make sure.
        #[cfg(debug_assertions)]
        if let Err(why) = tree.validate() {
            panic!("a snapshot passed the decoder's checks but not validate: {why}");
        }
        Ok(Restored {
            tree,
            sessions: self.sessions,
        })
    }
}

/// One record's payload as a `T`, bounded by its own length, with nothing left over.
fn decode<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, String> {
    bincode::DefaultOptions::new()
        .with_limit(payload.len() as u64)
        .reject_trailing_bytes()
        .deserialize(payload)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{create, dump, txn};
    use super::*;
    use crate::txn::{NodeKind, TxnOp};

    /// A tree over several leaves: three parents of 700 children, ephemerals, a container, a
    /// TTL node, and a node with its own ACL.
    fn big_tree() -> DataTree {
        let mut tree = DataTree::new();
        let mut zxid = 0;
        let mut apply = |tree: &mut DataTree, path: &str, kind: NodeKind| {
            zxid += 1;
            let op = create(tree, path, path.as_bytes(), kind);
            tree.apply(&txn(zxid, 1, op));
        };
        for parent in ["/a", "/b", "/c"] {
            apply(&mut tree, parent, NodeKind::Persistent);
            for i in 0..700 {
                apply(
                    &mut tree,
                    &format!("{parent}/n{i:04}"),
                    NodeKind::Persistent,
                );
            }
        }
        let owner = SessionId(7);
        apply(&mut tree, "/b/n0001/e", NodeKind::Ephemeral { owner });
        apply(&mut tree, "/box", NodeKind::Container);
        apply(&mut tree, "/t", NodeKind::Ttl { ttl_ms: 500 });
        tree.check_invariants();
        tree
    }

    fn sessions() -> Vec<(SessionId, Session)> {
        let session = |timeout_ms| Session {
            timeout_ms,
            password: vec![1; 16],
        };
        vec![(SessionId(7), session(4000)), (SessionId(9), session(6000))]
    }

    fn decode_in_pieces(bytes: &[u8], piece: usize) -> Result<Restored, TreeError> {
        let mut decoder = SnapshotDecoder::new(1 << 20);
        for chunk in bytes.chunks(piece) {
            decoder.feed(chunk)?;
        }
        decoder.finish()
    }

    #[test]
    fn a_big_tree_round_trips_in_pieces_of_any_size() {
        let tree = big_tree();
        let snapshot = Snapshot::new(&tree, sessions());
        let mut encoder = snapshot.encoder();
        let mut chunks = 0;
        let mut bytes = Vec::new();
        while encoder.next_chunk(&mut bytes) {
            chunks += 1;
        }
        assert!(chunks >= 1 && !encoder.next_chunk(&mut bytes));
        assert_eq!(bytes, snapshot.to_bytes());
        for piece in [1, 7, 4096, bytes.len()] {
            let restored = decode_in_pieces(&bytes, piece).expect("decodes");
            assert_eq!(restored.tree.digest(), tree.digest(), "piece {piece}");
            assert_eq!(restored.tree.last_zxid(), tree.last_zxid());
            assert_eq!(restored.sessions, sessions());
            assert_eq!(restored.tree.ephemerals(SessionId(7)), ["/b/n0001/e"]);
            assert_eq!(
                restored.tree.expiry_candidates(i64::MAX),
                tree.expiry_candidates(i64::MAX)
            );
            assert_eq!(dump(&restored.tree), dump(&tree));
            restored.tree.check_invariants();
        }
    }

    #[test]
    fn a_frozen_snapshot_does_not_see_later_changes() {
        let mut tree = big_tree();
        let before = dump(&tree);
        let snapshot = Snapshot::new(&tree, Vec::new());
        let zxid = tree.last_zxid().0;
        for (i, path) in ["/a/n0000", "/b/n0350", "/c/n0699"].iter().enumerate() {
            let set = TxnOp::SetData {
                path: (*path).to_owned(),
                data: b"changed".to_vec(),
                version: -1,
            };
            tree.apply(&txn(zxid + 1 + i as i64, 1, set));
        }
        let delete = TxnOp::Delete {
            path: "/a/n0001".to_owned(),
        };
        tree.apply(&txn(zxid + 10, 1, delete));
        let op = create(&tree, "/a/n0001x", b"new", NodeKind::Persistent);
        tree.apply(&txn(zxid + 11, 1, op));
        assert_ne!(dump(&tree), before);
        let restored = decode_snapshot(&snapshot.to_bytes()).expect("decodes");
        assert_eq!(dump(&restored.tree), before);
        assert_eq!(snapshot.zxid(), Zxid(zxid));
    }

    #[test]
    fn a_record_above_the_limit_is_refused_and_the_error_sticks() {
        let mut decoder = SnapshotDecoder::new(64);
        let error = decoder
            .feed(&[0xff, 0xff, 0xff, 0x7f])
            .expect_err("refused");
        assert!(error.to_string().contains("above the limit"), "{error}");
        let good = Snapshot::new(&DataTree::new(), Vec::new()).to_bytes();
        assert_eq!(decoder.feed(&good), Err(error.clone()));
        assert_eq!(decoder.finish().map(|_| ()), Err(error));
    }

    /// Encodes `nodes` as a snapshot with a correct digest, so that only the structural checks
    /// can refuse it.
    fn encode_raw(tree: &DataTree, nodes: &[(String, Znode)]) -> Vec<u8> {
        let digest = nodes.iter().fold(0u64, |sum, (path, node)| {
            let terms = data_term(path, &node.data)
                .wrapping_add(meta_of(&tree.acls, &tree.ttls, path, node));
            sum.wrapping_add(terms)
        });
        let header = Header {
            format: SNAPSHOT_FORMAT,
            zxid: tree.last_zxid,
            digest,
            acl_slots: tree.acls.entries().len() as u64,
            ttls: tree.ttls.len() as u64,
            sessions: 0,
            nodes: nodes.len() as u64,
        };
        let mut out = Vec::new();
        push_record(&mut out, &header);
        for entry in tree.acls.entries() {
            push_record(&mut out, entry);
        }
        for (path, ttl_ms) in &tree.ttls {
            push_record(&mut out, &(&**path, *ttl_ms));
        }
        for (path, node) in nodes {
            push_record(&mut out, &(path.as_str(), node));
        }
        out
    }

    #[test]
    fn structural_lies_with_a_matching_digest_are_refused() {
        let tree = big_tree();
        let nodes: Vec<(String, Znode)> = tree
            .nodes
            .iter()
            .map(|(key, node)| (key.as_str().to_owned(), node.clone()))
            .collect();
        let index = |path: &str| nodes.iter().position(|(p, _)| p == path).expect("node");
        decode_snapshot(&encode_raw(&tree, &nodes)).expect("the honest encoding decodes");
        type Lie = Box<dyn Fn(&mut Vec<(String, Znode)>)>;
        let (a, b, leaf) = (index("/a"), index("/b"), index("/c/n0005"));
        let lies: Vec<(&str, Lie)> = vec![
            (
                "children moved between parents",
                Box::new(move |n| {
                    n[a].1.stat.num_children += 1;
                    n[b].1.stat.num_children -= 1;
                }),
            ),
            (
                "a leaf claims a child",
                Box::new(move |n| {
                    n[leaf].1.stat.num_children += 1;
                    n[a].1.stat.num_children -= 1;
                }),
            ),
            (
                "a parent missing",
                Box::new(move |n| {
                    n[0].1.stat.num_children -= 1;
                    n.remove(a);
                }),
            ),
            ("out of order", Box::new(move |n| n.swap(leaf, leaf + 1))),
            (
                "another ACL slot",
                Box::new(move |n| n[leaf].1.acl = n[index_of(n, "/zookeeper/config")].1.acl),
            ),
            (
                "an owner on a persistent node",
                Box::new(move |n| n[leaf].1.stat.ephemeral_owner = 7),
            ),
            (
                "the child of an ephemeral",
                Box::new(move |n| {
                    let e = index_of(n, "/b/n0001/e");
                    n[e].1.stat.num_children = 1;
                    let mut child = n[leaf].1.clone();
                    child.stat.num_children = 0;
                    n.push(("/b/n0001/e/x".to_owned(), child));
                    n.sort_by_key(|(path, _)| PathKey::new(path.as_str().into()));
                }),
            ),
            (
                "a TTL node without its TTL",
                Box::new(move |n| {
                    let t = index_of(n, "/t");
                    n[t].1.kind = KindTag::Persistent;
                }),
            ),
        ];
        for (what, lie) in lies {
            let mut told = nodes.clone();
            lie(&mut told);
            assert!(
                decode_snapshot(&encode_raw(&tree, &told)).is_err(),
                "accepted: {what}"
            );
        }
    }

    fn index_of(nodes: &[(String, Znode)], path: &str) -> usize {
        nodes.iter().position(|(p, _)| p == path).expect("node")
    }
}
