//! Log segments filled with zeros ahead of need.
//!
//! An fdatasync after appending to a file that grew must also write the file's inode (its size
//! changed); after writing over bytes that already exist it flushes the data alone. Measured on
//! this project's machine (ext4, virtio disk), 100-byte append + fdatasync: 0.14 ms on a
//! growing file, 0.09 ms inside a zeroed one. So a thread of its own writes the next segment
//! full of zeros (and fsyncs it) while the log appends to the current one; the log renames that
//! spare into place when it starts a segment. (ZooKeeper pads its log in 64 MB steps too, with
//! a sparse extension.) If no spare is ready, the log starts an ordinary growing segment and
//! moves to the spare as soon as it is.
//!
//! The first spare is prepared only once the log has taken [`PREPARE_AFTER_BYTES`]: a server
//! that writes little (most test servers) never writes 64 MiB of zeros.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The spare's file name. It is not a segment name (`log.` + 16 hex digits), so listing
/// segments never sees it; a spare left by a crash is removed on open.
pub(crate) const SPARE_NAME: &str = "log.spare";

/// The first spare is prepared once the active segment holds this many bytes (or half a
/// segment, if that is less).
pub(crate) const PREPARE_AFTER_BYTES: u64 = 1 << 20;

/// Zeros are written and flushed in chunks of this size. Writing a whole 64 MiB segment and
/// then syncing it queues ~30 ms of disk work in front of the log's own fsyncs (it made a
/// server's first session handshakes time out in tests where many servers start at once);
/// flushing each chunk as it is written keeps what an fsync of the log can wait behind small.
const ZERO_CHUNK_BYTES: usize = 256 << 10;

/// A preparation under way or finished.
#[derive(Debug)]
struct Job {
    handle: JoinHandle<io::Result<File>>,
    /// Set by the thread when the spare is complete and durable.
    succeeded: Arc<AtomicBool>,
}

/// Where the preparation of spares stands.
#[derive(Debug)]
enum State {
    /// Nothing asked for yet.
    Idle,
    Preparing(Job),
    /// The preparing thread could not be started; the next segment boundary retries. (A
    /// preparation that fails on the disk, e.g. when it is full, ends as a finished `Preparing`
    /// job that is not `ready`, and is retried the same way.)
    Failed,
}

/// Prepares one spare segment at a time in `dir`.
#[derive(Debug)]
pub(crate) struct Preallocator {
    path: PathBuf,
    bytes: u64,
    state: State,
}

impl Preallocator {
    /// Removes any spare a previous run left (it may be partly written); spares of `bytes`
    /// are prepared from the first [`Self::want`] on.
    pub(crate) fn new(dir: &Path, bytes: u64) -> Preallocator {
        let path = dir.join(SPARE_NAME);
        if let Err(e) = fs::remove_file(&path) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "log: cannot remove an old spare segment");
            }
        }
        Preallocator {
            path,
            bytes,
            state: State::Idle,
        }
    }

    /// Starts preparing the first spare, if that has not happened yet.
    pub(crate) fn want(&mut self) {
        if matches!(self.state, State::Idle) {
            self.spawn();
        }
    }

    /// Whether a spare is complete and can be taken without waiting.
    pub(crate) fn ready(&self) -> bool {
        match &self.state {
            State::Preparing(job) => job.succeeded.load(Ordering::Acquire),
            State::Idle | State::Failed => false,
        }
    }

    /// The spare, renamed to `to` and open for writing, if one is ready; starts preparing the
    /// next. The caller makes the directory durable before relying on the new name.
    pub(crate) fn take(&mut self, to: &Path) -> Option<File> {
        let job = match std::mem::replace(&mut self.state, State::Idle) {
            State::Preparing(job) if job.handle.is_finished() => job,
            State::Failed => {
                // Try again now, at a segment boundary, rather than in a loop.
                self.spawn();
                return None;
            }
            state => {
                self.state = state;
                return None;
            }
        };
        let spare = match job.handle.join() {
            Ok(Ok(file)) => Some(file),
            Ok(Err(e)) => {
                tracing::warn!(path = %self.path.display(), error = %e, "log: preparing a spare segment failed; appending to a growing one");
                None
            }
            Err(_) => {
                tracing::error!("log: the thread preparing a spare segment panicked");
                None
            }
        };
        let spare = spare.and_then(|file| match fs::rename(&self.path, to) {
            Ok(()) => Some(file),
            Err(e) => {
                tracing::warn!(from = %self.path.display(), to = %to.display(), error = %e, "log: cannot rename the spare segment");
                None
            }
        });
        self.spawn();
        spare
    }

    fn spawn(&mut self) {
        let (path, bytes) = (self.path.clone(), self.bytes);
        let succeeded = Arc::new(AtomicBool::new(false));
        let done = succeeded.clone();
        let spawned = std::thread::Builder::new()
            .name("corral-log-prealloc".to_owned())
            .spawn(move || {
                super::lower_this_thread_priority("corral-log-prealloc");
                match write_zeros(&path, bytes) {
                    Ok(file) => {
                        done.store(true, Ordering::Release);
                        Ok(file)
                    }
                    Err(e) => {
                        // A full disk must not keep a partial spare occupying the space.
                        let _ = fs::remove_file(&path);
                        Err(e)
                    }
                }
            });
        self.state = match spawned {
            Ok(handle) => State::Preparing(Job { handle, succeeded }),
            Err(e) => {
                tracing::warn!(error = %e, "log: cannot start the thread that prepares spare segments");
                State::Failed
            }
        };
    }
}

/// Creates `path` holding `bytes` zeros, durably, and returns it open for writing.
fn write_zeros(path: &Path, bytes: u64) -> io::Result<File> {
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)?;
    let zeros = vec![0u8; ZERO_CHUNK_BYTES];
    let mut left = bytes;
    while left > 0 {
        let chunk = left.min(ZERO_CHUNK_BYTES as u64) as usize;
        file.write_all(&zeros[..chunk])?;
        file.sync_data()?;
        left -= chunk as u64;
    }
    file.sync_all()?;
    Ok(file)
}
