//! Installing a leader's snapshot on a learner (ZAB SNAP): the whole durable state is replaced,
//! crash-safely.
//!
//! 1. a marker `install.<zxid>` is made durable in the data directory;
//! 2. the snapshot is written (temporary file, fsync, rename, directory fsync);
//! 3. every log segment is removed, and every snapshot above the new one (a replaced history);
//! 4. the marker is removed.
//!
//! Recovery finishes an interrupted install: a marker whose snapshot exists means steps 3-4 are
//! redone; a marker without its snapshot means the install never happened, and the old state
//! stands. Without the marker, a crash between 2 and 3 would replay log records of a replaced
//! history on top of the new snapshot.

use super::snapshot::{self, SnapshotBody};
use super::{io_error, sync_dir, Storage, StorageError, StorageOptions};
use corral_core::Zxid;
use std::fs;
use std::path::{Path, PathBuf};

const MARKER_PREFIX: &str = "install.";

fn marker_path(dir: &Path, zxid: Zxid) -> PathBuf {
    dir.join(format!("{MARKER_PREFIX}{:016x}", zxid.0 as u64))
}

impl Storage {
    /// Replaces the durable state with the snapshot `bytes` at `zxid` and an empty log.
    pub fn install_snapshot(&mut self, zxid: Zxid, bytes: Vec<u8>) -> Result<(), StorageError> {
        let dir = self.options.data_dir.clone();
        let marker = marker_path(&dir, zxid);
        let file = fs::File::create(&marker).map_err(io_error("create", &marker))?;
        file.sync_all().map_err(io_error("fsync", &marker))?;
        sync_dir(&dir)?;
        snapshot::write_snapshot(&dir, zxid, &SnapshotBody::Bytes(bytes))?;
        self.log.truncate_after(Zxid::ZERO)?;
        remove_snapshots_above(&dir, zxid)?;
        fs::remove_file(&marker).map_err(io_error("remove", &marker))?;
        sync_dir(&dir)?;
        tracing::info!(%zxid, "installed a leader's snapshot; the log starts over");
        Ok(())
    }
}

fn remove_snapshots_above(dir: &Path, zxid: Zxid) -> Result<(), StorageError> {
    for (z, path) in snapshot::list_snapshots(dir)? {
        if z > zxid {
            snapshot::remove_snapshot(&path)?;
        }
    }
    Ok(())
}

/// Completes (or forgets) an install that a crash interrupted; run before anything is read.
pub(crate) fn finish_interrupted(options: &StorageOptions) -> Result<(), StorageError> {
    let dir = &options.data_dir;
    let entries = fs::read_dir(dir).map_err(io_error("read", dir))?;
    let mut markers = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_error("read", dir))?;
        let name = entry.file_name();
        let Some(hex) = name.to_str().and_then(|n| n.strip_prefix(MARKER_PREFIX)) else {
            continue;
        };
        if let Ok(z) = u64::from_str_radix(hex, 16) {
            markers.push((Zxid(z as i64), entry.path()));
        }
    }
    markers.sort();
    for (zxid, marker) in markers {
        if snapshot::snapshot_path(dir, zxid).exists() {
            tracing::warn!(%zxid, "finishing a snapshot install interrupted by a crash");
            for segment in super::log::list_segments(&options.log_dir)? {
                fs::remove_file(&segment.path).map_err(io_error("remove", &segment.path))?;
            }
            sync_dir(&options.log_dir)?;
            remove_snapshots_above(dir, zxid)?;
        } else {
            tracing::warn!(%zxid, "a snapshot install never completed; keeping the old state");
        }
        fs::remove_file(&marker).map_err(io_error("remove", &marker))?;
        sync_dir(dir)?;
    }
    Ok(())
}
