//! Snapshot files `snapshot.<zxid, 16 hex digits>` in the data directory.
//!
//! Layout: `[magic "CORRSNP1"][u64 LE zxid][u32 LE crc32c of body][body]`. The body is opaque
//! here (the core's encoded tree and sessions). A snapshot is streamed to a temporary file a
//! chunk at a time (the checksum is filled in at the end), fsynced, renamed into place, and the
//! directory fsynced, so a crash leaves either the whole snapshot or none of it. Reading streams
//! too: the body goes chunk by chunk into a [`SnapshotSink`] (the core's decoder, in the
//! server), and is accepted only if the checksum over all of it matches.

use super::log::list_named;
use super::{io_error, sync_dir, StorageError};
use corral_core::tree::{Restored, Snapshot, SnapshotDecoder, SNAPSHOT_CHUNK_BYTES};
use corral_core::Zxid;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The first eight bytes of every snapshot file.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"CORRSNP1";

/// Bytes before the body: magic, zxid, crc32c.
pub const SNAPSHOT_HEADER_BYTES: usize = 8 + 8 + 4;

/// File name prefix of a snapshot.
const SNAPSHOT_PREFIX: &str = "snapshot.";

/// Suffix of a snapshot still being written.
const TEMP_SUFFIX: &str = ".tmp";

/// Bytes read from a snapshot file at a time.
const READ_CHUNK_BYTES: usize = 1 << 20;

/// What a snapshot file's body is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotBody {
    /// Bytes already encoded.
    Bytes(Vec<u8>),
    /// The core's frozen state, encoded while it is written.
    State(Snapshot),
}

impl SnapshotBody {
    /// Hands the body to `write` in chunks.
    fn write_chunks(&self, mut write: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        match self {
            SnapshotBody::Bytes(bytes) => write(bytes),
            SnapshotBody::State(snapshot) => {
                let mut encoder = snapshot.encoder();
                let mut chunk = Vec::with_capacity(2 * SNAPSHOT_CHUNK_BYTES);
                while encoder.next_chunk(&mut chunk) {
                    write(&chunk)?;
                    chunk.clear();
                }
                Ok(())
            }
        }
    }
}

/// Takes a snapshot body as it is read, a chunk at a time, and makes a state of it.
pub trait SnapshotSink {
    /// What a whole body becomes.
    type State;
    /// The next chunk of the body. An error stops the reading: the snapshot is unusable.
    fn feed(&mut self, bytes: &[u8]) -> Result<(), String>;
    /// The end of the body (its checksum matched).
    fn finish(self) -> Result<Self::State, String>;
}

/// Keeps the body's bytes.
impl SnapshotSink for Vec<u8> {
    type State = Vec<u8>;

    fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.extend_from_slice(bytes);
        Ok(())
    }

    fn finish(self) -> Result<Vec<u8>, String> {
        Ok(self)
    }
}

/// Decodes the body straight into the core's tree, never holding the encoded snapshot.
#[derive(Debug)]
pub struct StateSink(SnapshotDecoder);

impl StateSink {
    /// A sink that refuses any record longer than `record_bytes_max`.
    pub fn new(record_bytes_max: usize) -> StateSink {
        StateSink(SnapshotDecoder::new(record_bytes_max))
    }
}

impl SnapshotSink for StateSink {
    type State = Restored;

    fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.0.feed(bytes).map_err(|e| e.to_string())
    }

    fn finish(self) -> Result<Restored, String> {
        self.0.finish().map_err(|e| e.to_string())
    }
}

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
    /// The body does not decode (the sink refused it).
    #[error("undecodable body: {0}")]
    Undecodable(String),
}

/// The path of the snapshot at `zxid` in `dir`.
pub(crate) fn snapshot_path(dir: &Path, zxid: Zxid) -> PathBuf {
    dir.join(format!("{SNAPSHOT_PREFIX}{:016x}", zxid.0 as u64))
}

/// Every snapshot file in `dir`, ascending by zxid (validity not checked).
pub(crate) fn list_snapshots(dir: &Path) -> Result<Vec<(Zxid, PathBuf)>, StorageError> {
    list_named(dir, SNAPSHOT_PREFIX)
}

/// The header of a snapshot at `zxid` whose body has checksum `crc`.
fn header(zxid: Zxid, crc: u32) -> [u8; SNAPSHOT_HEADER_BYTES] {
    let mut header = [0u8; SNAPSHOT_HEADER_BYTES];
    header[..8].copy_from_slice(SNAPSHOT_MAGIC);
    header[8..16].copy_from_slice(&zxid.0.to_le_bytes());
    header[16..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Checks a header against the file's name; returns the stored checksum.
fn check_header(header: &[u8], named: Zxid) -> Result<u32, SnapshotFault> {
    let Some(header) = header.get(..SNAPSHOT_HEADER_BYTES) else {
        return Err(SnapshotFault::ShortHeader {
            bytes: header.len(),
        });
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
    Ok(u32::from_le_bytes([
        header[16], header[17], header[18], header[19],
    ]))
}

/// The whole file for a snapshot of `body` at `zxid`.
pub fn encode_snapshot(zxid: Zxid, body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(SNAPSHOT_HEADER_BYTES + body.len());
    bytes.extend_from_slice(&header(zxid, crc32c::crc32c(body)));
    bytes.extend_from_slice(body);
    bytes
}

/// Checks a snapshot file's bytes and returns its body.
pub fn decode_snapshot(mut bytes: Vec<u8>, named: Zxid) -> Result<Vec<u8>, SnapshotFault> {
    let stored = check_header(&bytes, named)?;
    let computed = crc32c::crc32c(&bytes[SNAPSHOT_HEADER_BYTES..]);
    if stored != computed {
        return Err(SnapshotFault::CrcMismatch { stored, computed });
    }
    bytes.drain(..SNAPSHOT_HEADER_BYTES);
    Ok(bytes)
}

/// Streams the snapshot file at `path` into `sink`. The outer error is the file's (it could
/// not be read); the inner one says why its content is unusable.
fn read_snapshot<S: SnapshotSink>(
    path: &Path,
    named: Zxid,
    mut sink: S,
) -> Result<Result<S::State, SnapshotFault>, StorageError> {
    let mut file = File::open(path).map_err(io_error("open", path))?;
    let mut chunk = vec![0u8; READ_CHUNK_BYTES];
    let head = read_full(&mut file, &mut chunk[..SNAPSHOT_HEADER_BYTES], path)?;
    let stored = match check_header(&chunk[..head], named) {
        Ok(stored) => stored,
        Err(fault) => return Ok(Err(fault)),
    };
    let mut computed = 0u32;
    loop {
        let n = file.read(&mut chunk).map_err(io_error("read", path))?;
        if n == 0 {
            break;
        }
        computed = crc32c::crc32c_append(computed, &chunk[..n]);
        if let Err(why) = sink.feed(&chunk[..n]) {
            return Ok(Err(SnapshotFault::Undecodable(why)));
        }
    }
    if stored != computed {
        return Ok(Err(SnapshotFault::CrcMismatch { stored, computed }));
    }
    Ok(sink.finish().map_err(SnapshotFault::Undecodable))
}

/// Reads until `buf` is full or the file ends; returns how much was read.
fn read_full(file: &mut File, buf: &mut [u8], path: &Path) -> Result<usize, StorageError> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file
            .read(&mut buf[filled..])
            .map_err(io_error("read", path))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// Writes the snapshot at `zxid` durably: streamed to a temp file, checksum filled in, fsync,
/// rename, directory fsync.
pub(crate) fn write_snapshot(
    dir: &Path,
    zxid: Zxid,
    body: &SnapshotBody,
) -> Result<(), StorageError> {
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
    let mut crc = 0u32;
    let mut bytes = 0u64;
    let written = file
        .write_all(&header(zxid, 0))
        .and_then(|()| {
            body.write_chunks(|chunk| {
                crc = crc32c::crc32c_append(crc, chunk);
                bytes += chunk.len() as u64;
                file.write_all(chunk)
            })
        })
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(&header(zxid, crc)))
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
    tracing::info!(path = %path.display(), bytes, "snapshot written");
    Ok(())
}

/// The newest snapshot in `dir` whose checksum is valid and whose body `sink()` accepts;
/// unusable newer ones are skipped with a warning (they stay on disk for inspection until
/// purged).
pub(crate) fn load_newest_valid<S: SnapshotSink>(
    dir: &Path,
    mut sink: impl FnMut() -> S,
) -> Result<Option<(Zxid, S::State)>, StorageError> {
    for (zxid, path) in list_snapshots(dir)?.into_iter().rev() {
        match read_snapshot(&path, zxid, sink())? {
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
