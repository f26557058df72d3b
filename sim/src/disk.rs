//! A simulated disk: appended records stay volatile until an fsync completes; a crash keeps what
//! was synced plus, maybe, a prefix of what was not (the OS may have written it), and may tear
//! the last surviving unsynced record (the log checksum cuts it on recovery). The epochs file
//! and snapshots are written synchronously and atomically (temp file, fsync, rename).

use corral_core::node::Epochs;
use corral_core::tree::Snapshot;
use corral_core::txn::Txn;
use corral_core::Zxid;

/// A snapshot on the simulated disk: the node's frozen copy (encoded only when a restart reads
/// it, which keeps the codec in every restart without paying for it at every snapshot), or the
/// bytes a learner installed.
#[derive(Clone)]
pub enum StoredSnapshot {
    /// As `Output::Snapshot` gave it.
    Frozen(Snapshot),
    /// As `Output::InstallSnapshot` gave it.
    Bytes(Vec<u8>),
}

impl std::fmt::Debug for StoredSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoredSnapshot::Frozen(_) => f.write_str("Frozen"),
            StoredSnapshot::Bytes(b) => write!(f, "Bytes({})", b.len()),
        }
    }
}

/// One server's disk.
#[derive(Debug, Default)]
pub struct Disk {
    /// Records known durable.
    pub durable: Vec<Txn>,
    /// Records written but not yet covered by a completed fsync.
    pub volatile: Vec<Txn>,
    /// Newest snapshot.
    pub snapshot: Option<(Zxid, StoredSnapshot)>,
    /// ZAB's accepted and current epochs.
    pub epochs: Epochs,
    /// Records of `volatile` covered by the fsync in flight, and that fsync's number.
    pub syncing: Option<(usize, u64)>,
    /// Another sync was asked for while one was in flight.
    pub sync_wanted: bool,
    /// Number of the last fsync started (a completion for another number is stale).
    pub sync_number: u64,
    /// Completed fsyncs.
    pub fsyncs: u64,
}

impl Disk {
    /// Starts an fsync covering everything written so far; returns its number, or `None` if
    /// one is already in flight (it will be followed by another).
    pub fn start_sync(&mut self) -> Option<u64> {
        if self.syncing.is_some() {
            self.sync_wanted = true;
            return None;
        }
        self.sync_wanted = false;
        self.sync_number += 1;
        self.syncing = Some((self.volatile.len(), self.sync_number));
        Some(self.sync_number)
    }

    /// The fsync numbered `number` completed: returns the highest durable zxid, or `None` if
    /// that fsync was abandoned (a snapshot install replaced the log meanwhile).
    pub fn finish_sync(&mut self, number: u64) -> Option<Zxid> {
        let (n, current) = self.syncing?;
        if current != number {
            return None;
        }
        self.syncing = None;
        let n = n.min(self.volatile.len());
        self.durable.extend(self.volatile.drain(..n));
        self.fsyncs += 1;
        Some(self.durable_through())
    }

    /// The highest zxid that survives a crash.
    pub fn durable_through(&self) -> Zxid {
        let log = self.durable.last().map(|t| t.zxid);
        let snap = self.snapshot.as_ref().map(|(z, _)| *z);
        log.max(snap).unwrap_or(Zxid::ZERO)
    }

    /// A learner installs its leader's snapshot: it replaces the state and the whole log.
    pub fn install_snapshot(&mut self, zxid: Zxid, bytes: Vec<u8>) {
        self.snapshot = Some((zxid, StoredSnapshot::Bytes(bytes)));
        self.durable.clear();
        self.volatile.clear();
        self.syncing = None;
        self.sync_wanted = false;
    }

    /// A crash: `survive` unsynced records reach the platter, and if `torn` the last of them
    /// is torn (its checksum fails and recovery cuts it).
    pub fn crash(&mut self, survive: usize, torn: bool) {
        let mut kept: Vec<Txn> = self.volatile.drain(..).take(survive).collect();
        if torn {
            kept.pop();
        }
        self.durable.extend(kept);
        self.syncing = None;
        self.sync_wanted = false;
    }

    /// The logged record with `zxid`, durable or not.
    pub fn find(&self, zxid: Zxid) -> Option<&Txn> {
        [&self.volatile, &self.durable].into_iter().find_map(|log| {
            log.binary_search_by_key(&zxid, |t| t.zxid)
                .ok()
                .map(|i| &log[i])
        })
    }

    /// What recovery reads: the snapshot and every durable record after it.
    pub fn recover(&self) -> (Option<Vec<u8>>, Vec<Txn>) {
        let after = self.snapshot.as_ref().map_or(Zxid::ZERO, |(z, _)| *z);
        let txns = self
            .durable
            .iter()
            .filter(|t| t.zxid > after)
            .cloned()
            .collect();
        let bytes = self.snapshot.as_ref().map(|(_, s)| match s {
            StoredSnapshot::Frozen(snapshot) => snapshot.to_bytes(),
            StoredSnapshot::Bytes(bytes) => bytes.clone(),
        });
        (bytes, txns)
    }
}
