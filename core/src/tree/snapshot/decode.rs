//! Decoding a snapshot from pieces of any size, straight into a tree, checking every invariant
//! on the way.

use super::{bad, Header, NodeRecord, Restored, RECORD_PREFIX_BYTES, SNAPSHOT_FORMAT};
use crate::ids::SessionId;
use crate::session::Session;
use crate::tree::acl_table::{AclEntry, AclTable};
use crate::tree::mutate::terms_of;
use crate::tree::path::{is_valid_path, key_parts_of, KeyParts, Parts};
use crate::tree::table::TableBuilder;
use crate::tree::znode::{KindTag, Node};
use crate::tree::{DataTree, TreeError, ROOT, TTL_MS_MAX};
use bincode::Options;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

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
                self.node(decode(payload)?)?;
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
    fn node(&mut self, record: NodeRecord<'_>) -> Result<(), String> {
        let NodeRecord {
            path,
            data,
            stat,
            acl,
            kind,
        } = record;
        if !is_valid_path(path) {
            return Err(format!("invalid path {path:?}"));
        }
        let first = self.nodes.last().is_none();
        if first != (path == ROOT) {
            return Err(format!("{path} where the root must come first"));
        }
        if first && kind != KindTag::Persistent {
            return Err("root is not persistent".to_owned());
        }
        if usize::try_from(stat.data_length) != Ok(data.0.len()) {
            return Err(format!("{path}: dataLength {}", stat.data_length));
        }
        let Ok(num_children) = u64::try_from(stat.num_children) else {
            return Err(format!("{path}: numChildren {}", stat.num_children));
        };
        if kind != KindTag::Ephemeral && stat.ephemeral_owner != 0 {
            return Err(format!("{path}: ephemeralOwner on a non-ephemeral"));
        }
        let Some(refs) = self.checks.acl_refs.get_mut(acl.0 as usize) else {
            return Err(format!("{path}: ACL slot {} is not live", acl.0));
        };
        if !self.acls.is_live(acl) {
            return Err(format!("{path}: ACL slot {} is not live", acl.0));
        }
        *refs = refs.saturating_add(1);
        self.checks.num_children = self.checks.num_children.saturating_add(num_children);
        match kind {
            KindTag::Persistent => {}
            KindTag::Ephemeral => {
                let owner = SessionId(stat.ephemeral_owner);
                let paths = self.checks.ephemerals.entry(owner).or_default();
                paths.insert(path.into());
            }
            KindTag::Container => {
                self.checks.containers.insert(path.into());
            }
            KindTag::Ttl => {
                if !self.ttls.contains_key(path) {
                    return Err(format!("TTL node {path} missing from the TTL index"));
                }
                self.checks.ttl_nodes += 1;
            }
        }
        // Every property `Node::new` asserts was checked above.
        let node = Node::new(path, data.0, &stat, acl, kind);
        let terms = terms_of(&self.acls, &self.ttls, &node);
        self.checks.digest = self.checks.digest.wrapping_add(terms);
        self.count_sibling(path, first)?;
        self.nodes.push(node)
    }

    /// Counts `path` in its run of siblings; a new parent part closes the previous run.
    fn count_sibling(&mut self, path: &str, is_root: bool) -> Result<(), String> {
        if is_root {
            // The root heads the run of its own children (parent part "").
            self.checks.run = Some(("".into(), 0));
            return Ok(());
        }
        let (parent_part, _) = key_parts_of(path);
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
        if node.kind() == KindTag::Ephemeral {
            return Err(format!("{parent} is ephemeral and has children"));
        }
        if u64::try_from(node.num_children()) != Ok(count) {
            return Err(format!("{parent}: numChildren {}", node.num_children()));
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
