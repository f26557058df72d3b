//! Snapshot files `snapshot.<zxid, 16 hex digits>` in the data directory.
//!
//! Layout: `[magic "CORRSNP1"][u64 LE zxid][u32 LE crc32c of body][body]`. The body is opaque
//! here (the core's serialized tree and sessions). A snapshot is written to a temporary file,
//! fsynced, renamed into place, and the directory fsynced, so a crash leaves either the whole
//! snapshot or none of it.

use super::log::list_named;
use super::{io_error, sync_dir, StorageError};
use corral_core::Zxid;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The first eight bytes of every snapshot file.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"CORRSNP1";

/// Bytes before the body: magic, zxid, crc32c.
pub const SNAPSHOT_HEADER_BYTES: usize = 8 + 8 + 4;

/// File name prefix of a snapshot.
const SNAPSHOT_PREFIX: &str = "snapshot.";

/// Suffix of a snapshot still being written.
const TEMP_SUFFIX: &str = ".tmp";

/// Why a snapshot file was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotFault {
    /// The file is shorter than the header.
    #[error("short header: {bytes} bytes")]
    ShortHeader {
        /// The file's length.
        bytes: usize,
    },
    /// The file does not start with the magic.
    #[error("bad magic")]
    BadMagic,
    /// The zxid in the header differs from the one in the file name.
    #[error("header zxid {header} differs from the name's {named}")]
    ZxidMismatch {
        /// The zxid in the header.
        header: Zxid,
        /// The zxid in the file name.
        named: Zxid,
    },
    /// The body does not match its checksum.
    #[error("crc32c mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// The checksum field as stored.
        stored: u32,
        /// The checksum of the body as read.
        computed: u32,
    },
}

/// The path of the snapshot at `zxid` in `dir`.
pub(crate) fn snapshot_path(dir: &Path, zxid: Zxid) -> PathBuf {
    dir.join(format!("{SNAPSHOT_PREFIX}{:016x}", zxid.0 as u64))
}

/// Every snapshot file in `dir`, ascending by zxid (validity not checked).
pub(crate) fn list_snapshots(dir: &Path) -> Result<Vec<(Zxid, PathBuf)>, StorageError> {
    list_named(dir, SNAPSHOT_PREFIX)
}

/// The whole file for a snapshot of `body` at `zxid`.
pub fn encode_snapshot(zxid: Zxid, body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(SNAPSHOT_HEADER_BYTES + body.len());
    bytes.extend_from_slice(SNAPSHOT_MAGIC);
    bytes.extend_from_slice(&zxid.0.to_le_bytes());
    bytes.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// Checks a snapshot file's bytes and returns its body.
pub fn decode_snapshot(mut bytes: Vec<u8>, named: Zxid) -> Result<Vec<u8>, SnapshotFault> {
    let Some(header) = bytes.get(..SNAPSHOT_HEADER_BYTES) else {
        return Err(SnapshotFault::ShortHeader { bytes: bytes.len() });
    };
    if &header[..8] != SNAPSHOT_MAGIC {
        return Err(SnapshotFault::BadMagic);
    }
    let mut zxid = [0u8; 8];
    zxid.copy_from_slice(&header[8..16]);
    let header_zxid = Zxid(i64::from_le_bytes(zxid));
    if header_zxid != named {
        return Err(SnapshotFault::ZxidMismatch {
            header: header_zxid,
            named,
        });
    }
    let stored = u32::from_le_bytes([header[16], header[17], header[18], header[19]]);
    let computed = crc32c::crc32c(&bytes[SNAPSHOT_HEADER_BYTES..]);
    if stored != computed {
        return Err(SnapshotFault::CrcMismatch { stored, computed });
    }
    bytes.drain(..SNAPSHOT_HEADER_BYTES);
    Ok(bytes)
}

/// Writes the snapshot at `zxid` durably: temp file, fsync, rename, directory fsync.
pub(crate) fn write_snapshot(dir: &Path, zxid: Zxid, body: &[u8]) -> Result<(), StorageError> {
    let path = snapshot_path(dir, zxid);
    let mut temp_name = path.clone().into_os_string();
    temp_name.push(TEMP_SUFFIX);
    let temp = PathBuf::from(temp_name);
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&temp)
        .map_err(io_error("create", &temp))?;
    let written = file
        .write_all(&encode_snapshot(zxid, body))
        .and_then(|()| file.sync_all())
        .map_err(io_error("write", &temp));
    drop(file);
    if let Err(error) = written {
        // Best effort: a full disk should not also keep the partial file.
        let _ = fs::remove_file(&temp);
        return Err(error);
    }
    fs::rename(&temp, &path).map_err(io_error("rename", &temp))?;
    sync_dir(dir)?;
    tracing::info!(path = %path.display(), bytes = body.len(), "snapshot written");
    Ok(())
}

/// The newest snapshot in `dir` whose checksum is valid; invalid newer ones are skipped with a
/// warning (they stay on disk for inspection until purged).
pub(crate) fn load_newest_valid(dir: &Path) -> Result<Option<(Zxid, Vec<u8>)>, StorageError> {
    for (zxid, path) in list_snapshots(dir)?.into_iter().rev() {
        let bytes = fs::read(&path).map_err(io_error("read", &path))?;
        match decode_snapshot(bytes, zxid) {
            Ok(body) => {
                tracing::info!(path = %path.display(), zxid = %zxid, "snapshot loaded");
                return Ok(Some((zxid, body)));
            }
            Err(fault) => {
                tracing::warn!(path = %path.display(), reason = %fault, "snapshot unusable, trying an older one");
            }
        }
    }
    Ok(None)
}

/// Removes temporary files left by a snapshot write that a crash interrupted.
pub(crate) fn remove_temp_files(dir: &Path) -> Result<(), StorageError> {
    for entry in fs::read_dir(dir).map_err(io_error("list", dir))? {
        let entry = entry.map_err(io_error("list", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(SNAPSHOT_PREFIX) && name.ends_with(TEMP_SUFFIX) {
            tracing::info!(path = %entry.path().display(), "removing an unfinished snapshot");
            fs::remove_file(entry.path()).map_err(io_error("remove", &entry.path()))?;
        }
    }
    Ok(())
}

/// Removes the snapshot file at `path`.
pub(crate) fn remove_snapshot(path: &Path) -> Result<(), StorageError> {
    fs::remove_file(path).map_err(io_error("remove", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_faults() {
        let bytes = encode_snapshot(Zxid(5), b"tree");
        assert_eq!(
            decode_snapshot(bytes.clone(), Zxid(5)),
            Ok(b"tree".to_vec())
        );
        assert!(matches!(
            decode_snapshot(bytes.clone(), Zxid(6)),
            Err(SnapshotFault::ZxidMismatch { .. })
        ));
        let mut flipped = bytes.clone();
        flipped[SNAPSHOT_HEADER_BYTES + 1] ^= 0x40;
        assert!(matches!(
            decode_snapshot(flipped, Zxid(5)),
            Err(SnapshotFault::CrcMismatch { .. })
        ));
        assert!(matches!(
            decode_snapshot(bytes[..10].to_vec(), Zxid(5)),
            Err(SnapshotFault::ShortHeader { bytes: 10 })
        ));
        let mut magic = bytes;
        magic[0] = b'X';
        assert_eq!(
            decode_snapshot(magic, Zxid(5)),
            Err(SnapshotFault::BadMagic)
        );
    }
}
