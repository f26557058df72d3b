//! A simulated disk: appended records stay volatile until an fsync completes; a crash keeps what
//! was synced plus, maybe, a prefix of what was not (the OS may have written it), and may tear
//! the last surviving unsynced record (the log checksum cuts it on recovery).

use corral_core::txn::Txn;
use corral_core::Zxid;

/// One server's disk.
#[derive(Debug, Default)]
pub struct Disk {
    /// Records known durable.
    pub durable: Vec<Txn>,
    /// Records written but not yet covered by a completed fsync.
    pub volatile: Vec<Txn>,
    /// Newest snapshot (written atomically: temp file, fsync, rename).
    pub snapshot: Option<(Zxid, Vec<u8>)>,
    /// Records of `volatile` covered by the fsync in flight.
    pub syncing: Option<usize>,
    /// Another sync was asked for while one was in flight.
    pub sync_wanted: bool,
    /// Completed fsyncs.
    pub fsyncs: u64,
}

impl Disk {
    /// Starts an fsync covering everything written so far; returns how many records it covers,
    /// or `None` if one is already in flight (it will be followed by another).
    pub fn start_sync(&mut self) -> Option<usize> {
        if self.syncing.is_some() {
            self.sync_wanted = true;
            return None;
        }
        self.sync_wanted = false;
        let n = self.volatile.len();
        self.syncing = Some(n);
        Some(n)
    }

    /// The fsync in flight completed: returns the highest durable zxid.
    pub fn finish_sync(&mut self) -> Zxid {
        let n = self.syncing.take().unwrap_or(0).min(self.volatile.len());
        self.durable.extend(self.volatile.drain(..n));
        self.fsyncs += 1;
        self.durable.last().map_or(Zxid::ZERO, |t| t.zxid)
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

    /// What recovery reads: the snapshot and every durable record after it.
    pub fn recover(&self) -> (Option<Vec<u8>>, Vec<Txn>) {
        let after = self.snapshot.as_ref().map_or(Zxid::ZERO, |(z, _)| *z);
        let txns = self
            .durable
            .iter()
            .filter(|t| t.zxid > after)
            .cloned()
            .collect();
        (self.snapshot.as_ref().map(|(_, b)| b.clone()), txns)
    }
}
