//! Durable storage: the transaction log, snapshots, recovery, autopurge and group commit.
//!
//! [`Storage`] is the synchronous part: open (recover), append, sync, snapshot, truncate, purge.
//! [`Storage::spawn`] moves it onto a dedicated thread that performs the core's storage outputs
//! with group commit: everything queued is written, then one fdatasync covers every pending
//! sync request, and one [`StorageEvent::Persisted`] reports how far the log is durable.
//!
//! On disk, in `log_dir`: segments `log.<first zxid as 16 hex digits>` of records
//! `[u32 LE length][u32 LE crc32c][bincode Txn]`, the newest possibly followed by zeros (it was
//! preallocated), and `log.spare`, the next segment being zeroed; in `data_dir`:
//! `snapshot.<zxid as 16 hex>` files `[b"CORRSNP1"][u64 LE zxid][u32 LE crc32c][body]`.

mod commit;
mod install;
mod log;
mod prealloc;
mod purge;
mod record;
mod snapshot;

pub use commit::{StorageCommand, StorageEvent, StorageHandle, BATCH_COMMANDS_MAX};
pub use purge::{PurgeReport, SNAP_RETAIN_COUNT_MIN};
pub use record::{
    bincode_options, encode_record, ReadOutcome, RecordFault, RecordReader, JUTE_MAXBUFFER_DEFAULT,
    RECORD_BYTES_MAX_DEFAULT, RECORD_HEADER_BYTES, RECORD_SLACK_BYTES,
};
pub use snapshot::{
    decode_snapshot, encode_snapshot, SnapshotBody, SnapshotFault, SnapshotSink, StateSink,
    SNAPSHOT_MAGIC,
};

use corral_core::txn::Txn;
use corral_core::Zxid;
use std::borrow::Borrow;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The nice value of the background threads (snapshot writer, log preallocation): the lowest
/// priority. They have no deadline, while the node thread and the log's fsyncs are on every
/// request's path; on a machine with few cores a snapshot encoding at equal priority takes the
/// core a request would have run on.
const BACKGROUND_NICE: i32 = 19;

/// Lowers the calling thread's scheduling priority to [`BACKGROUND_NICE`]. On Linux the nice
/// value is per thread and `setpriority(PRIO_PROCESS, 0)` changes the caller's only. A failure
/// (a platform without it, a sandbox refusing it) costs latency, not correctness: logged, and
/// the thread goes on.
fn lower_this_thread_priority(thread: &str) {
    if let Err(error) = rustix::process::setpriority_process(None, BACKGROUND_NICE) {
        tracing::debug!(thread, %error, "cannot lower the thread's priority");
    }
}

/// The default size at which the log starts a new segment.
pub const SEGMENT_BYTES_MAX_DEFAULT: u64 = 64 << 20;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A file or directory operation failed (disk full, permissions, IO error).
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done: "write", "fdatasync", "rename", ...
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A transaction could not be encoded (caller misuse: should not happen for a valid Txn).
    #[error("encoding txn {zxid}: {source}")]
    Encode {
        /// The transaction's zxid.
        zxid: Zxid,
        /// bincode's error.
        #[source]
        source: bincode::Error,
    },
    /// A transaction encodes to more than `record_bytes_max` (caller misuse).
    #[error("txn {zxid} encodes to more than {record_bytes_max} bytes")]
    RecordTooLarge {
        /// The transaction's zxid.
        zxid: Zxid,
        /// The configured limit.
        record_bytes_max: usize,
    },
    /// An appended zxid is not above the log's last one (caller misuse).
    #[error("append of zxid {zxid} after {previous}: zxids must increase")]
    ZxidNotIncreasing {
        /// The zxid appended.
        zxid: Zxid,
        /// The log's last zxid.
        previous: Zxid,
    },
    /// The options are out of range (caller misuse).
    #[error("invalid storage options: {0}")]
    InvalidOptions(&'static str),
    /// The storage thread could not be started.
    #[error("starting the storage thread: {0}")]
    Spawn(#[source] io::Error),
    /// The storage thread has exited; nothing more can be sent to it.
    #[error("the storage thread has exited")]
    ThreadGone,
    /// The storage thread panicked.
    #[error("the storage thread panicked")]
    ThreadPanicked,
}

/// Builds the mapper from an `io::Error` to [`StorageError::Io`].
pub(crate) fn io_error(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StorageError {
    let path = path.to_path_buf();
    move |source| StorageError::Io { op, path, source }
}

/// Makes a directory's entries (creations, renames, removals) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    let file = File::open(dir).map_err(io_error("open", dir))?;
    file.sync_all().map_err(io_error("fsync", dir))
}

/// Where and how storage keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageOptions {
    /// Snapshots live here (ZooKeeper's `dataDir`).
    pub data_dir: PathBuf,
    /// Log segments live here (ZooKeeper's `dataLogDir`; often the same as `data_dir`).
    pub log_dir: PathBuf,
    /// A segment is closed and a new one started before it would pass this size.
    pub segment_bytes_max: u64,
    /// Whether segments are written full of zeros (on a thread of their own) before records go
    /// in, so an fsync does not also write the file's size; see `prealloc.rs`. Off makes the
    /// segment boundaries depend only on what was appended (the storage tests rely on that).
    pub preallocate: bool,
    /// Autopurge keeps this many snapshots (at least [`SNAP_RETAIN_COUNT_MIN`]).
    pub snap_retain_count: usize,
    /// Autopurge runs every this many hours on the storage thread; 0 turns it off.
    pub purge_interval_hours: u32,
    /// The largest record payload written or accepted on recovery.
    pub record_bytes_max: usize,
}

impl StorageOptions {
    /// Options with the defaults, keeping both snapshots and log in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> StorageOptions {
        let data_dir = data_dir.into();
        StorageOptions {
            log_dir: data_dir.clone(),
            data_dir,
            segment_bytes_max: SEGMENT_BYTES_MAX_DEFAULT,
            preallocate: true,
            snap_retain_count: SNAP_RETAIN_COUNT_MIN,
            purge_interval_hours: 0,
            record_bytes_max: RECORD_BYTES_MAX_DEFAULT,
        }
    }

    /// Checks the ranges the storage code relies on.
    pub fn validate(&self) -> Result<(), StorageError> {
        if self.segment_bytes_max == 0 {
            return Err(StorageError::InvalidOptions(
                "segment_bytes_max must be positive",
            ));
        }
        if self.record_bytes_max == 0 || self.record_bytes_max > u32::MAX as usize {
            return Err(StorageError::InvalidOptions(
                "record_bytes_max must be in 1..=u32::MAX",
            ));
        }
        if self.snap_retain_count < SNAP_RETAIN_COUNT_MIN {
            return Err(StorageError::InvalidOptions(
                "snap_retain_count must be at least 3",
            ));
        }
        Ok(())
    }
}

/// What recovery found on disk: `S` is what the snapshot's body became (its bytes, for
/// [`Storage::open`]; the decoded state, for [`Storage::open_with`] and a [`StateSink`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered<S = Vec<u8>> {
    /// The newest snapshot with a valid checksum and body: its zxid and state.
    pub snapshot: Option<(Zxid, S)>,
    /// Every valid log transaction after the snapshot's zxid, in zxid order.
    pub txns: Vec<Txn>,
}

impl<S> Default for Recovered<S> {
    fn default() -> Recovered<S> {
        Recovered {
            snapshot: None,
            txns: Vec::new(),
        }
    }
}

/// Counters shared with the storage thread, readable from any thread.
#[derive(Debug, Default)]
pub struct StorageStats {
    log_fsyncs: AtomicU64,
    log_bytes: AtomicU64,
}

impl StorageStats {
    /// fdatasync calls made on log segments since open.
    pub fn log_fsyncs(&self) -> u64 {
        self.log_fsyncs.load(Ordering::Relaxed)
    }

    /// Bytes written to the log since open.
    pub fn log_bytes(&self) -> u64 {
        self.log_bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn add_log_fsync(&self) {
        self.log_fsyncs.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_log_bytes(&self, bytes: u64) {
        self.log_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Fault injection for tests: shared switches the storage code consults.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct TestHooks {
    /// Every append fails as if the disk were full.
    pub fail_writes: std::sync::atomic::AtomicBool,
    /// Each sync sleeps this long first, as a slow disk would.
    pub sync_delay_ms: AtomicU64,
}

/// The log and snapshots of one server, used from one thread at a time.
#[derive(Debug)]
pub struct Storage {
    options: StorageOptions,
    log: log::Log,
    stats: Arc<StorageStats>,
    #[cfg(test)]
    hooks: Arc<TestHooks>,
}

impl Storage {
    /// Opens (creating directories if needed) and recovers: the newest valid snapshot's bytes,
    /// and every log transaction after it. A damaged log tail is cut, with a warning.
    pub fn open(options: StorageOptions) -> Result<(Storage, Recovered), StorageError> {
        Storage::open_with(options, Vec::new)
    }

    /// As [`Storage::open`], with each snapshot's body streamed into a sink from `sink()` as it
    /// is read; a snapshot whose sink refuses it is skipped like a corrupt one.
    pub fn open_with<S: SnapshotSink>(
        options: StorageOptions,
        sink: impl FnMut() -> S,
    ) -> Result<(Storage, Recovered<S::State>), StorageError> {
        options.validate()?;
        for dir in [&options.data_dir, &options.log_dir] {
            fs::create_dir_all(dir).map_err(io_error("create", dir))?;
        }
        snapshot::remove_temp_files(&options.data_dir)?;
        install::finish_interrupted(&options)?;
        let snapshot = snapshot::load_newest_valid(&options.data_dir, sink)?;
        let snapshot_zxid = snapshot.as_ref().map_or(Zxid::ZERO, |(zxid, _)| *zxid);
        let stats = Arc::new(StorageStats::default());
        let (log, txns) = log::Log::open(&options, snapshot_zxid, stats.clone())?;
        tracing::info!(
            snapshot = %snapshot_zxid,
            txns = txns.len(),
            last = %log.last_zxid().unwrap_or(Zxid::ZERO),
            "storage recovered"
        );
        let storage = Storage {
            options,
            log,
            stats,
            #[cfg(test)]
            hooks: Arc::default(),
        };
        Ok((storage, Recovered { snapshot, txns }))
    }

    /// The options it was opened with.
    pub fn options(&self) -> &StorageOptions {
        &self.options
    }

    /// Shared counters.
    pub fn stats(&self) -> Arc<StorageStats> {
        self.stats.clone()
    }

    /// The zxid of the last record appended (durable or not), or `Zxid::ZERO` for an empty log.
    pub fn last_zxid(&self) -> Zxid {
        self.log.last_zxid().unwrap_or(Zxid::ZERO)
    }

    /// Writes `txns` to the log (zxids strictly increasing); durable only after [`Self::sync`].
    pub fn append<T: Borrow<Txn>>(&mut self, txns: &[T]) -> Result<(), StorageError> {
        #[cfg(test)]
        if self.hooks.fail_writes.load(Ordering::Relaxed) {
            let source = io::Error::from_raw_os_error(28); // ENOSPC
            return Err(StorageError::Io {
                op: "write",
                path: self.options.log_dir.clone(),
                source,
            });
        }
        self.log.append(txns)
    }

    /// Makes everything appended durable (one fdatasync at most) and returns the last zxid.
    pub fn sync(&mut self) -> Result<Zxid, StorageError> {
        #[cfg(test)]
        {
            let delay_ms = self.hooks.sync_delay_ms.load(Ordering::Relaxed);
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        }
        Ok(self.log.sync()?.unwrap_or(Zxid::ZERO))
    }

    /// Starts a new log segment with the next append, unless the active one is preallocated
    /// (see `Log::roll`).
    pub fn roll_log(&mut self) {
        self.log.roll();
    }

    /// Writes the snapshot at `zxid` durably, then rolls the log (if its segment grows as it is
    /// written) so that purge can later drop the segments it covers. (The storage thread writes
    /// snapshots on a thread of their own instead, see `commit`.)
    pub fn write_snapshot(&mut self, zxid: Zxid, body: &SnapshotBody) -> Result<(), StorageError> {
        snapshot::write_snapshot(&self.options.data_dir, zxid, body)?;
        self.log.roll();
        Ok(())
    }

    /// Drops every log record with zxid above `zxid`, and every snapshot above it (they describe
    /// a history that is being undone), durably.
    pub fn truncate_after(&mut self, zxid: Zxid) -> Result<(), StorageError> {
        self.log.truncate_after(zxid)?;
        let mut removed = false;
        for (snapshot_zxid, path) in snapshot::list_snapshots(&self.options.data_dir)? {
            if snapshot_zxid > zxid {
                tracing::info!(path = %path.display(), after = %zxid, "truncating: removing snapshot");
                snapshot::remove_snapshot(&path)?;
                removed = true;
            }
        }
        if removed {
            sync_dir(&self.options.data_dir)?;
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn hooks(&self) -> Arc<TestHooks> {
        self.hooks.clone()
    }
}

#[cfg(test)]
mod prealloc_tests;
#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod priority_tests {
    use super::*;

    #[test]
    fn lowering_a_threads_priority_leaves_the_others_alone() {
        let before = rustix::process::getpriority_process(None).expect("getpriority");
        let lowered = std::thread::spawn(|| {
            lower_this_thread_priority("test");
            rustix::process::getpriority_process(None).expect("getpriority")
        })
        .join()
        .expect("thread");
        assert_eq!(lowered, BACKGROUND_NICE);
        // The node thread must keep its priority: on Linux the nice value is per thread.
        let after = rustix::process::getpriority_process(None).expect("getpriority");
        assert_eq!(after, before);
    }
}
