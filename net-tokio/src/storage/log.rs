//! The transaction log: append-only segment files `log.<first zxid, 16 hex digits>`.
//!
//! Appends go to the newest segment (the active one); a new segment starts when the active one
//! would pass `segment_bytes_max`, or when a roll was asked for, or when the active segment
//! grows as it is written and a preallocated spare is ready (`prealloc.rs`). Nothing here is
//! durable until [`Log::sync`]: that is the group-commit thread's job.
//!
//! Only the newest segment may end in zeros (the unused part of a preallocated file): a segment
//! is cut to its records before the next one starts, and recovery cuts the newest one to its
//! last valid record, so records written after a restart never sit before stale bytes.

use super::prealloc::{Preallocator, PREPARE_AFTER_BYTES};
use super::record::{encode_record, ReadOutcome, RecordFault, RecordReader};
use super::{io_error, sync_dir, StorageError, StorageOptions, StorageStats};
use corral_core::txn::Txn;
use corral_core::Zxid;
use std::borrow::Borrow;
use std::fs::{self, File, OpenOptions};
use std::io::BufReader;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// File name prefix of a log segment.
const SEGMENT_PREFIX: &str = "log.";

/// Appended records are kept in memory until a sync, a new segment, or this many bytes: the
/// group-commit thread appends once per command (often one txn) and syncs once per batch, and
/// one write per record was most of its system calls.
const PENDING_BYTES_MAX: usize = 1 << 20;

/// One segment file, named by the zxid of its first record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    /// The zxid of its first record.
    pub first: Zxid,
    /// Its path.
    pub path: PathBuf,
}

/// The segment being appended to.
#[derive(Debug)]
struct Active {
    file: File,
    /// Bytes of records; the file may be longer (zeros) when preallocated.
    bytes: u64,
    /// Written full of zeros before records went in.
    preallocated: bool,
}

/// What scanning one segment found.
#[derive(Debug)]
struct Scan {
    /// The zxid of the last valid record (or the one passed in).
    last: Option<Zxid>,
    /// Bytes of valid records.
    valid_bytes: u64,
    /// The first bad record, if any.
    fault: Option<RecordFault>,
}

/// The segmented, append-only transaction log.
#[derive(Debug)]
pub(crate) struct Log {
    dir: PathBuf,
    /// Every segment, ascending by first zxid; the active one (if any) is the last.
    segments: Vec<Segment>,
    active: Option<Active>,
    roll_pending: bool,
    /// The zxid of the last record appended (durable or not).
    last_zxid: Option<Zxid>,
    /// Appended bytes not yet covered by an fsync.
    dirty: bool,
    /// A segment was created or removed since the directory was last fsynced.
    dir_dirty: bool,
    segment_bytes_max: u64,
    record_bytes_max: usize,
    /// Encoded records waiting for one write.
    pending: Vec<u8>,
    /// Prepares zeroed segments, when preallocation is on.
    prealloc: Option<Preallocator>,
    stats: Arc<StorageStats>,
}

/// The file name of the segment starting at `first`.
pub(crate) fn segment_name(first: Zxid) -> String {
    format!("{SEGMENT_PREFIX}{:016x}", first.0 as u64)
}

/// Parses `<prefix><16 hex digits>` into a zxid; anything else is not ours.
pub(crate) fn parse_zxid_name(name: &str, prefix: &str) -> Option<Zxid> {
    let hex = name.strip_prefix(prefix)?;
    if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16)
        .ok()
        .map(|value| Zxid(value as i64))
}

/// Every file in `dir` whose name is `<prefix><16 hex digits>`, ascending by zxid.
pub(crate) fn list_named(dir: &Path, prefix: &str) -> Result<Vec<(Zxid, PathBuf)>, StorageError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error("list", dir))? {
        let entry = entry.map_err(io_error("list", dir))?;
        let name = entry.file_name();
        if let Some(zxid) = name.to_str().and_then(|name| parse_zxid_name(name, prefix)) {
            found.push((zxid, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Every log segment in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<Segment>, StorageError> {
    let named = list_named(dir, SEGMENT_PREFIX)?;
    Ok(named
        .into_iter()
        .map(|(first, path)| Segment { first, path })
        .collect())
}

/// Reads one segment, appending to `txns` the records with zxid above `floor` (those below are
/// checked but not decoded); stops at the first bad record. (One vector for all segments: one
/// per segment copied into a total left that much more freed memory behind in the process.)
/// Zeros end the `newest` segment cleanly; in any other they are a fault.
fn scan_segment(
    segment: &Segment,
    newest: bool,
    previous: Option<Zxid>,
    floor: Zxid,
    record_bytes_max: usize,
    txns: &mut Vec<Txn>,
) -> Result<Scan, StorageError> {
    let file = File::open(&segment.path).map_err(io_error("open", &segment.path))?;
    let mut reader =
        RecordReader::new(BufReader::new(file), record_bytes_max, previous).with_floor(floor);
    let mut first = true;
    let fault = loop {
        match reader
            .next_record()
            .map_err(io_error("read", &segment.path))?
        {
            ReadOutcome::End => break None,
            ReadOutcome::Zeroes if newest => break None,
            ReadOutcome::Zeroes => break Some(RecordFault::Zeroes),
            ReadOutcome::Fault(fault) => break Some(fault),
            ReadOutcome::Skipped(zxid) => {
                if first && zxid != segment.first {
                    let named = segment.first;
                    break Some(RecordFault::NameMismatch { zxid, named });
                }
                first = false;
            }
            ReadOutcome::Record(txn) => {
                if first && txn.zxid != segment.first {
                    let (zxid, named) = (txn.zxid, segment.first);
                    break Some(RecordFault::NameMismatch { zxid, named });
                }
                first = false;
                assert!(
                    txn.zxid > floor,
                    "the reader returned a txn below its floor"
                );
                txns.push(txn);
            }
        }
    };
    // A name mismatch is found after the record was read, so the cut goes before it.
    let valid_bytes = match fault {
        Some(RecordFault::NameMismatch { .. }) => 0,
        _ => reader.offset(),
    };
    let last = if valid_bytes == 0 {
        previous
    } else {
        reader.previous()
    };
    Ok(Scan {
        last,
        valid_bytes,
        fault,
    })
}

/// Cuts `path` to `bytes` and makes the cut durable.
fn cut_file(path: &Path, bytes: u64) -> Result<(), StorageError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_error("open", path))?;
    file.set_len(bytes).map_err(io_error("truncate", path))?;
    file.sync_all().map_err(io_error("fsync", path))
}

fn remove_file(path: &Path) -> Result<(), StorageError> {
    fs::remove_file(path).map_err(io_error("remove", path))
}

impl Log {
    /// Opens the log in `dir`, returning it with every valid record whose zxid is above
    /// `snapshot_zxid`.
    ///
    /// Segments that hold only records at or below `snapshot_zxid` are not read (autopurge
    /// removes them). Reading stops at the first bad record: its segment is cut there and every
    /// later segment is removed, since nothing after a bad record can be trusted.
    pub(crate) fn open(
        options: &StorageOptions,
        snapshot_zxid: Zxid,
        stats: Arc<StorageStats>,
    ) -> Result<(Log, Vec<Txn>), StorageError> {
        let dir = options.log_dir.as_path();
        let record_bytes_max = options.record_bytes_max;
        let mut segments = list_segments(dir)?;
        let after_snapshot = Zxid(snapshot_zxid.0.saturating_add(1));
        let start = segments
            .iter()
            .rposition(|s| s.first <= after_snapshot)
            .unwrap_or(0);
        let mut txns = Vec::new();
        let mut last = None;
        let mut active_bytes = 0;
        let mut index = start;
        while index < segments.len() {
            let segment = &segments[index];
            let newest = index + 1 == segments.len();
            let scan = scan_segment(
                segment,
                newest,
                last,
                snapshot_zxid,
                record_bytes_max,
                &mut txns,
            )?;
            last = scan.last;
            active_bytes = scan.valid_bytes;
            if let Some(fault) = scan.fault {
                tracing::warn!(
                    path = %segment.path.display(),
                    offset = scan.valid_bytes,
                    reason = %fault,
                    "log: bad record, cutting the log here"
                );
                cut_file(&segment.path, scan.valid_bytes)?;
                for later in segments.drain(index + 1..) {
                    tracing::warn!(path = %later.path.display(), "log: removing segment after a bad record");
                    remove_file(&later.path)?;
                }
                break;
            }
            index += 1;
        }
        let mut log = Log {
            dir: dir.to_path_buf(),
            segments,
            active: None,
            roll_pending: false,
            last_zxid: last,
            dirty: false,
            dir_dirty: false,
            segment_bytes_max: options.segment_bytes_max,
            record_bytes_max,
            pending: Vec::new(),
            prealloc: None,
            stats,
        };
        log.reopen_last(active_bytes)?;
        sync_dir(&log.dir)?;
        if options.preallocate {
            log.prealloc = Some(Preallocator::new(dir, options.segment_bytes_max));
        }
        Ok((log, txns))
    }

    /// Makes the last segment the active one, cut to its `bytes` of records (what follows
    /// them, zeros or a torn record, goes), or removes it when it holds no record.
    fn reopen_last(&mut self, bytes: u64) -> Result<(), StorageError> {
        self.active = None;
        let Some(last) = self.segments.last() else {
            return Ok(());
        };
        if bytes == 0 {
            remove_file(&last.path)?;
            self.segments.pop();
            self.dir_dirty = true;
            return Ok(());
        }
        let file = OpenOptions::new()
            .write(true)
            .open(&last.path)
            .map_err(io_error("open", &last.path))?;
        let length = file.metadata().map_err(io_error("stat", &last.path))?.len();
        if length > bytes {
            tracing::debug!(path = %last.path.display(), bytes, length, "log: cutting the newest segment after its last record");
            file.set_len(bytes)
                .map_err(io_error("truncate", &last.path))?;
            file.sync_all().map_err(io_error("fsync", &last.path))?;
        }
        self.active = Some(Active {
            file,
            bytes,
            preallocated: false,
        });
        Ok(())
    }

    /// The zxid of the last record appended, durable or not.
    pub(crate) fn last_zxid(&self) -> Option<Zxid> {
        self.last_zxid
    }

    /// The segments, ascending by first zxid.
    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether a preallocated spare segment is ready to be taken.
    pub(crate) fn spare_ready(&self) -> bool {
        self.prealloc.as_ref().is_some_and(|p| p.ready())
    }

    /// Makes the next append start a new segment, unless the active one is preallocated.
    ///
    /// Rolls are asked for after each snapshot, so that purge can drop whole segments the
    /// snapshots cover. A preallocated segment's zeros are already written: cutting it at every
    /// snapshot (every snapCount txns, a few MB) threw most of each 64 MiB spare away and had
    /// the next one zeroed at once, several times the log's own disk traffic and fsyncs slowed
    /// behind it. It rolls when full instead; purge keeps it until a snapshot covers all of it.
    pub(crate) fn roll(&mut self) {
        if !self.active.as_ref().is_some_and(|a| a.preallocated) {
            self.roll_pending = true;
        }
    }

    /// Queues `txns` (zxids strictly increasing, above every earlier record); they are written
    /// by the next [`Log::sync`] at the latest, and durable only after it.
    pub(crate) fn append<T: Borrow<Txn>>(&mut self, txns: &[T]) -> Result<(), StorageError> {
        let mut last = self.last_zxid;
        let mut record = Vec::new();
        // Where this call's records start in `pending` (earlier calls' may precede them).
        let mut mark = self.pending.len();
        for txn in txns {
            let txn: &Txn = txn.borrow();
            if let Some(previous) = last {
                if txn.zxid <= previous {
                    self.pending.truncate(mark);
                    return Err(StorageError::ZxidNotIncreasing {
                        zxid: txn.zxid,
                        previous,
                    });
                }
            }
            record.clear();
            if let Err(error) = encode_record(txn, self.record_bytes_max, &mut record) {
                self.pending.truncate(mark);
                return Err(error);
            }
            if self.must_roll(record.len()) {
                self.flush()?;
                self.start_segment(txn.zxid)?;
                mark = 0;
            }
            self.pending.extend_from_slice(&record);
            last = Some(txn.zxid);
        }
        if self.pending.len() >= PENDING_BYTES_MAX {
            self.flush()?;
        }
        self.last_zxid = last;
        Ok(())
    }

    fn must_roll(&self, record_bytes: usize) -> bool {
        let Some(active) = &self.active else {
            return true;
        };
        let used = active.bytes + self.pending.len() as u64;
        let spare_waits = !active.preallocated && self.spare_ready();
        self.roll_pending
            || (used > 0 && (spare_waits || used + record_bytes as u64 > self.segment_bytes_max))
    }

    /// Writes the pending records to the active segment in one write.
    fn flush(&mut self) -> Result<(), StorageError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let (Some(active), Some(segment)) = (&mut self.active, self.segments.last()) else {
            unreachable!("records are only queued once a segment is active");
        };
        if let Err(error) = active.file.write_all_at(&self.pending, active.bytes) {
            self.pending.clear();
            // Best effort: leave no partial record behind; recovery would cut it anyway.
            let _ = active.file.set_len(active.bytes);
            return Err(io_error("write", &segment.path)(error));
        }
        active.bytes += self.pending.len() as u64;
        self.stats.add_log_bytes(self.pending.len() as u64);
        self.pending.clear();
        self.dirty = true;
        if let Some(prealloc) = &mut self.prealloc {
            if active.bytes >= PREPARE_AFTER_BYTES.min(self.segment_bytes_max / 2) {
                prealloc.want();
            }
        }
        Ok(())
    }

    /// Closes the active segment (durably, cut to its records) and starts `log.<first>`: the
    /// spare if one is ready, else a new empty file.
    fn start_segment(&mut self, first: Zxid) -> Result<(), StorageError> {
        assert!(self.pending.is_empty());
        self.sync_active()?;
        if let (Some(active), Some(segment)) = (self.active.take(), self.segments.last()) {
            if active.preallocated {
                let path = &segment.path;
                let file = &active.file;
                file.set_len(active.bytes)
                    .map_err(io_error("truncate", path))?;
                file.sync_all().map_err(io_error("fsync", path))?;
            }
        }
        let path = self.dir.join(segment_name(first));
        let spare = self.prealloc.as_mut().and_then(|p| p.take(&path));
        let active = match spare {
            Some(file) => Active {
                file,
                bytes: 0,
                preallocated: true,
            },
            None => {
                let file = OpenOptions::new()
                    .create_new(true)
                    .write(true)
                    .open(&path)
                    .map_err(io_error("create", &path))?;
                Active {
                    file,
                    bytes: 0,
                    preallocated: false,
                }
            }
        };
        tracing::debug!(path = %path.display(), preallocated = active.preallocated, "log: new segment");
        self.segments.push(Segment { first, path });
        self.active = Some(active);
        self.roll_pending = false;
        self.dir_dirty = true;
        Ok(())
    }

    fn sync_active(&mut self) -> Result<(), StorageError> {
        if !self.dirty {
            return Ok(());
        }
        let (Some(active), Some(segment)) = (&self.active, self.segments.last()) else {
            unreachable!("the log is dirty only while a segment is active");
        };
        active
            .file
            .sync_data()
            .map_err(io_error("fdatasync", &segment.path))?;
        self.stats.add_log_fsync();
        self.dirty = false;
        Ok(())
    }

    /// Makes every appended record durable; returns the last one's zxid.
    pub(crate) fn sync(&mut self) -> Result<Option<Zxid>, StorageError> {
        self.flush()?;
        self.sync_active()?;
        if self.dir_dirty {
            sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        Ok(self.last_zxid)
    }

    /// Removes every record with zxid above `zxid`, durably.
    pub(crate) fn truncate_after(&mut self, zxid: Zxid) -> Result<(), StorageError> {
        self.sync()?;
        if self.last_zxid.is_none_or(|last| last <= zxid) {
            return Ok(());
        }
        self.active = None;
        self.roll_pending = false;
        self.last_zxid = None;
        let mut bytes = 0;
        while let Some(segment) = self.segments.last() {
            let (cut, last) = if segment.first <= zxid {
                self.cut_point(segment, zxid)?
            } else {
                (0, None)
            };
            if cut > 0 {
                cut_file(&segment.path, cut)?;
                (bytes, self.last_zxid) = (cut, last);
                break;
            }
            tracing::info!(path = %segment.path.display(), after = %zxid, "log: truncating, removing segment");
            remove_file(&segment.path)?;
            self.segments.pop();
        }
        self.dir_dirty = true;
        self.reopen_last(bytes)?;
        self.sync()?;
        Ok(())
    }

    /// The offset just past the last valid record at or below `zxid` in `segment`, and that
    /// record's zxid.
    fn cut_point(
        &self,
        segment: &Segment,
        zxid: Zxid,
    ) -> Result<(u64, Option<Zxid>), StorageError> {
        let file = File::open(&segment.path).map_err(io_error("open", &segment.path))?;
        let mut reader =
            RecordReader::new(BufReader::new(file), self.record_bytes_max, None).with_floor(zxid);
        let mut cut = (0, None);
        loop {
            match reader
                .next_record()
                .map_err(io_error("read", &segment.path))?
            {
                ReadOutcome::Skipped(kept) => cut = (reader.offset(), Some(kept)),
                _ => return Ok(cut),
            }
        }
    }

    /// Removes the segment starting at `first`; it must not be the active one.
    pub(crate) fn remove_segment(&mut self, first: Zxid) -> Result<bool, StorageError> {
        let Some(index) = self.segments.iter().position(|s| s.first == first) else {
            return Ok(false);
        };
        assert!(
            index + 1 < self.segments.len(),
            "the newest segment is never removed"
        );
        let segment = self.segments.remove(index);
        remove_file(&segment.path)?;
        self.dir_dirty = true;
        Ok(true)
    }
}
