//! Group commit: [`Storage`] on a dedicated thread.
//!
//! The thread blocks for one command, then drains whatever else is queued (up to
//! [`BATCH_COMMANDS_MAX`]), performs the batch in order, and finishes it with at most one
//! fdatasync for all of the batch's sync requests, answered by one `Persisted`. While an fsync is
//! in flight, new commands queue up and become the next batch, so the number of fsyncs follows
//! the disk's speed, not the request rate.
//!
//! Snapshots are written by a thread of their own (`corral-snapshot`), one at a time, so that
//! encoding and writing a large tree never holds up the log: the storage thread rolls the log
//! where the snapshot was asked for, hands the frozen state over, and goes on committing. A
//! snapshot asked for while another is being written waits (a newer one replaces it). The
//! writer's result comes back to the storage thread, which reports `SnapshotWritten`, or fails
//! like any other command.
//!
//! Once any command fails, the thread stops writing: every later command is answered with
//! `Failed` and nothing is ever reported persisted again. A full disk stops writes cleanly; it
//! never acknowledges.

use super::snapshot::{self, SnapshotBody};
use super::{Storage, StorageError};
use corral_core::txn::Txn;
use corral_core::Zxid;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// The most commands performed between two fsyncs.
pub const BATCH_COMMANDS_MAX: usize = 4096;
/// How often the storage thread, while idle, looks whether a snapshot write has finished.
const SNAPSHOT_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// A request to the storage thread.
#[derive(Debug)]
pub enum StorageCommand {
    /// Write these transactions (zxids increasing); not durable until a `Sync`.
    Append(Vec<Arc<Txn>>),
    /// Write these transactions (possibly none) like an `Append`, then make everything
    /// appended so far durable, at least through `through`. One message rather than an
    /// `Append` and a `Sync`: an idle storage thread woken by the append would otherwise go back
    /// to sleep before the sync arrived and be woken twice for one write.
    Sync {
        /// Transactions to write first (zxids increasing, after those already appended).
        txns: Vec<Arc<Txn>>,
        /// The zxid the requester needs durable.
        through: Zxid,
    },
    /// Write a snapshot of the state at `zxid` (on the snapshot thread).
    Snapshot {
        /// The last zxid the snapshot includes.
        zxid: Zxid,
        /// The state.
        body: SnapshotBody,
    },
    /// Drop every log record above this zxid (ZAB TRUNC).
    TruncateAfter(Zxid),
    /// Replace the whole durable state with this snapshot and an empty log (ZAB SNAP).
    InstallSnapshot {
        /// The snapshot's last zxid.
        zxid: Zxid,
        /// The encoded state.
        bytes: Vec<u8>,
    },
    /// Run autopurge now.
    Purge,
    /// Make everything durable and stop the thread.
    Shutdown,
}

/// A completion from the storage thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageEvent {
    /// Every record through `through` is durable. Monotonic except across `TruncateAfter`.
    Persisted {
        /// The last durable zxid.
        through: Zxid,
    },
    /// The snapshot at `zxid` is durable.
    SnapshotWritten {
        /// Its zxid.
        zxid: Zxid,
    },
    /// Every record above `after` is gone, durably.
    Truncated {
        /// The truncation point.
        after: Zxid,
    },
    /// Storage failed; it accepts nothing more. Carries the first error.
    Failed(String),
}

/// The owner's end of the storage thread.
#[derive(Debug)]
pub struct StorageHandle {
    commands: Sender<StorageCommand>,
    thread: JoinHandle<()>,
    stats: Arc<super::StorageStats>,
}

impl Storage {
    /// Moves storage onto its own thread; returns the handle and the stream of completions.
    pub fn spawn(self) -> Result<(StorageHandle, UnboundedReceiver<StorageEvent>), StorageError> {
        let (commands, receiver) = mpsc::channel();
        let (events, events_receiver) = unbounded_channel();
        let stats = self.stats();
        let thread = std::thread::Builder::new()
            .name("corral-storage".into())
            .spawn(move || Committer::new(self, events).run(receiver))
            .map_err(StorageError::Spawn)?;
        Ok((
            StorageHandle {
                commands,
                thread,
                stats,
            },
            events_receiver,
        ))
    }
}

impl StorageHandle {
    /// Queues a command.
    pub fn send(&self, command: StorageCommand) -> Result<(), StorageError> {
        self.commands
            .send(command)
            .map_err(|_| StorageError::ThreadGone)
    }

    /// Queues an append.
    pub fn append<T: Into<Arc<Txn>>>(&self, txns: Vec<T>) -> Result<(), StorageError> {
        let txns = txns.into_iter().map(Into::into).collect();
        self.send(StorageCommand::Append(txns))
    }

    /// Queues a sync request.
    pub fn sync(&self, through: Zxid) -> Result<(), StorageError> {
        self.send(StorageCommand::Sync {
            txns: Vec::new(),
            through,
        })
    }

    /// Queues a snapshot write.
    pub fn snapshot(&self, zxid: Zxid, body: SnapshotBody) -> Result<(), StorageError> {
        self.send(StorageCommand::Snapshot { zxid, body })
    }

    /// Queues a truncation.
    pub fn truncate_after(&self, zxid: Zxid) -> Result<(), StorageError> {
        self.send(StorageCommand::TruncateAfter(zxid))
    }

    /// Shared counters (fsyncs, bytes written).
    pub fn stats(&self) -> &super::StorageStats {
        &self.stats
    }

    /// Flushes, fsyncs and stops the thread, waiting for it.
    pub fn shutdown(self) -> Result<(), StorageError> {
        // A thread that already exited has flushed; joining tells whether it panicked.
        let _ = self.commands.send(StorageCommand::Shutdown);
        self.thread.join().map_err(|_| StorageError::ThreadPanicked)
    }
}

/// Whether the thread goes on after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Exit,
}

/// The snapshot being written on its own thread.
struct SnapshotWrite {
    zxid: Zxid,
    thread: JoinHandle<()>,
    done: Receiver<Result<(), String>>,
}

/// The thread's state.
struct Committer {
    storage: Storage,
    events: UnboundedSender<StorageEvent>,
    /// The first error; once set, nothing is written any more.
    failed: Option<String>,
    purge_interval: Option<Duration>,
    purge_next: Instant,
    /// The snapshot being written, if any.
    snapshot_writing: Option<SnapshotWrite>,
    /// The snapshot to write next.
    snapshot_next: Option<(Zxid, SnapshotBody)>,
}

impl Committer {
    fn new(storage: Storage, events: UnboundedSender<StorageEvent>) -> Committer {
        let hours = storage.options().purge_interval_hours;
        let purge_interval = (hours > 0).then(|| Duration::from_secs(u64::from(hours) * 3600));
        // As ZooKeeper's DatadirCleanupManager: the first purge runs at startup, then every
        // interval, so a server restarted more often than the interval still purges.
        let purge_next = Instant::now();
        Committer {
            storage,
            events,
            failed: None,
            purge_interval,
            purge_next,
            snapshot_writing: None,
            snapshot_next: None,
        }
    }

    fn run(mut self, receiver: Receiver<StorageCommand>) {
        let mut batch = Vec::new();
        loop {
            let Some(first) = self.wait(&receiver) else {
                // Every handle is gone: flush what was written and stop.
                self.sync_and_report();
                self.finish_snapshots();
                return;
            };
            batch.push(first);
            while batch.len() < BATCH_COMMANDS_MAX {
                match receiver.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            if self.run_batch(batch.drain(..)) == Flow::Exit {
                self.finish_snapshots();
                tracing::info!("storage thread stopped");
                return;
            }
            self.poll_snapshot();
        }
    }

    /// Blocks for the next command, running autopurge when its time comes and noticing a
    /// finished snapshot write.
    fn wait(&mut self, receiver: &Receiver<StorageCommand>) -> Option<StorageCommand> {
        loop {
            self.poll_snapshot();
            let now = Instant::now();
            if let Some(interval) = self.purge_interval {
                if now >= self.purge_next {
                    self.purge_next = now + interval;
                    self.purge();
                    continue;
                }
            }
            let purge_in = self.purge_interval.map(|_| self.purge_next - now);
            let poll_in = self
                .snapshot_writing
                .as_ref()
                .map(|_| SNAPSHOT_POLL_INTERVAL);
            let Some(timeout) = purge_in.into_iter().chain(poll_in).min() else {
                return receiver.recv().ok();
            };
            match receiver.recv_timeout(timeout) {
                Ok(command) => return Some(command),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Queues a snapshot: the log rolls here, so that the snapshot's records end a segment,
    /// and the write starts now or after the one in progress.
    fn request_snapshot(&mut self, zxid: Zxid, body: SnapshotBody) {
        if !self.guard(|storage| {
            storage.roll_log();
            Ok(())
        }) {
            return;
        }
        if let Some((skipped, _)) = self.snapshot_next.replace((zxid, body)) {
            tracing::info!(%skipped, %zxid, "a newer snapshot replaces one not yet started");
        }
        self.start_snapshot();
    }

    /// Starts the next snapshot write, if one waits and none is running.
    fn start_snapshot(&mut self) {
        if self.snapshot_writing.is_some() || self.failed.is_some() {
            return;
        }
        let Some((zxid, body)) = self.snapshot_next.take() else {
            return;
        };
        let dir: PathBuf = self.storage.options().data_dir.clone();
        let (done_tx, done) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("corral-snapshot".into())
            .spawn(move || {
                super::lower_this_thread_priority("corral-snapshot");
                let result = snapshot::write_snapshot(&dir, zxid, &body);
                let _ = done_tx.send(result.map_err(|e| e.to_string()));
            });
        match spawned {
            Ok(thread) => {
                self.snapshot_writing = Some(SnapshotWrite { zxid, thread, done });
            }
            Err(error) => self.fail(StorageError::Spawn(error).to_string()),
        }
    }

    /// Reports a finished snapshot write, and starts the next one.
    fn poll_snapshot(&mut self) {
        let Some(writing) = &self.snapshot_writing else {
            return;
        };
        let result = match writing.done.try_recv() {
            Ok(result) => result,
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => Err("the snapshot thread panicked".to_owned()),
        };
        if let Some(writing) = self.snapshot_writing.take() {
            let _ = writing.thread.join();
            self.report_snapshot(writing.zxid, result);
        }
        self.start_snapshot();
    }

    /// Waits for the snapshot being written, and reports it; the queued one is dropped.
    fn finish_snapshots(&mut self) {
        self.snapshot_next = None;
        let Some(writing) = self.snapshot_writing.take() else {
            return;
        };
        let result = writing
            .done
            .recv()
            .unwrap_or_else(|_| Err("the snapshot thread panicked".to_owned()));
        let _ = writing.thread.join();
        self.report_snapshot(writing.zxid, result);
    }

    fn report_snapshot(&mut self, zxid: Zxid, result: Result<(), String>) {
        match result {
            Ok(()) => self.emit(StorageEvent::SnapshotWritten { zxid }),
            Err(error) => self.fail(format!("snapshot {zxid}: {error}")),
        }
    }

    fn run_batch(&mut self, batch: impl Iterator<Item = StorageCommand>) -> Flow {
        let mut sync_wanted = false;
        for command in batch {
            match command {
                StorageCommand::Append(txns) => {
                    self.guard(|storage| storage.append(&txns));
                }
                StorageCommand::Sync { txns, .. } => {
                    if !txns.is_empty() {
                        self.guard(|storage| storage.append(&txns));
                    }
                    sync_wanted = true;
                }
                StorageCommand::Snapshot { zxid, body } => self.request_snapshot(zxid, body),
                StorageCommand::TruncateAfter(after) => {
                    // Syncs asked before the truncation are answered before it.
                    if std::mem::take(&mut sync_wanted) {
                        self.sync_and_report();
                    }
                    // A snapshot above the truncation point describes undone history: it must
                    // not land after the truncation removed the ones already on disk.
                    if self
                        .snapshot_next
                        .as_ref()
                        .is_some_and(|(zxid, _)| *zxid > after)
                    {
                        self.snapshot_next = None;
                    }
                    let next = self.snapshot_next.take();
                    self.finish_snapshots();
                    self.snapshot_next = next;
                    if self.guard(|storage| storage.truncate_after(after)) {
                        self.emit(StorageEvent::Truncated { after });
                    }
                    self.start_snapshot();
                }
                StorageCommand::InstallSnapshot { zxid, bytes } => {
                    if std::mem::take(&mut sync_wanted) {
                        self.sync_and_report();
                    }
                    // Every snapshot waiting or being written describes the replaced state.
                    self.snapshot_next = None;
                    self.finish_snapshots();
                    self.guard(|storage| storage.install_snapshot(zxid, bytes));
                }
                StorageCommand::Purge => {
                    if let Some(error) = &self.failed {
                        self.emit(StorageEvent::Failed(error.clone()));
                    } else {
                        self.purge();
                    }
                }
                StorageCommand::Shutdown => {
                    // After a failure only pending sync requests are answered (with Failed).
                    if sync_wanted || self.failed.is_none() {
                        self.sync_and_report();
                    }
                    return Flow::Exit;
                }
            }
        }
        if sync_wanted {
            self.sync_and_report();
        }
        Flow::Continue
    }

    /// Runs `operation` unless storage has failed; records and reports a failure. Returns
    /// whether it ran and succeeded.
    fn guard(&mut self, operation: impl FnOnce(&mut Storage) -> Result<(), StorageError>) -> bool {
        if let Some(error) = &self.failed {
            let error = error.clone();
            self.emit(StorageEvent::Failed(error));
            return false;
        }
        match operation(&mut self.storage) {
            Ok(()) => true,
            Err(error) => {
                self.fail(error.to_string());
                false
            }
        }
    }

    /// Records and reports the first failure; storage writes nothing after it.
    fn fail(&mut self, message: String) {
        if self.failed.is_some() {
            return;
        }
        tracing::error!(error = %message, "storage failed; refusing every later command");
        self.failed = Some(message.clone());
        self.snapshot_next = None;
        self.emit(StorageEvent::Failed(message));
    }

    fn sync_and_report(&mut self) {
        let mut through = Zxid::ZERO;
        let synced = self.guard(|storage| {
            through = storage.sync()?;
            Ok(())
        });
        if synced {
            self.emit(StorageEvent::Persisted { through });
        }
    }

    /// Autopurge. A purge that fails leaves extra files behind, which is not a durability
    /// problem, so it is logged and storage goes on.
    fn purge(&mut self) {
        if self.failed.is_some() {
            return;
        }
        let retain = self.storage.options().snap_retain_count;
        match self.storage.purge(retain) {
            Ok(report) => tracing::info!(?report, "autopurge done"),
            Err(error) => tracing::warn!(%error, "autopurge failed"),
        }
    }

    fn emit(&self, event: StorageEvent) {
        // The owner may have gone away during shutdown; there is no one left to tell.
        let _ = self.events.send(event);
    }
}
