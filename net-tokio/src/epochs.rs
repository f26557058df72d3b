//! ZAB's two durable epochs, kept beside the log as ZooKeeper keeps them: the files
//! `acceptedEpoch` and `currentEpoch` in the data directory, each one decimal number.

use corral_core::{Epoch, Epochs};
use std::io::Write;
use std::path::Path;

const ACCEPTED: &str = "acceptedEpoch";
const CURRENT: &str = "currentEpoch";

/// Why the epochs could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum EpochsError {
    /// A file exists but does not hold a number.
    #[error("{file}: not an epoch number: {text:?}")]
    Malformed {
        /// Which file.
        file: &'static str,
        /// What it holds.
        text: String,
    },
    /// Reading or writing failed.
    #[error("{file}: {source}")]
    Io {
        /// Which file.
        file: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

fn read_one(dir: &Path, file: &'static str) -> Result<Epoch, EpochsError> {
    match std::fs::read_to_string(dir.join(file)) {
        Ok(text) => text
            .trim()
            .parse::<u32>()
            .map(Epoch)
            .map_err(|_| EpochsError::Malformed { file, text }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Epoch(0)),
        Err(source) => Err(EpochsError::Io { file, source }),
    }
}

/// Reads both epochs; a missing file is epoch 0 (a new server).
pub fn read(dir: &Path) -> Result<Epochs, EpochsError> {
    Ok(Epochs {
        accepted: read_one(dir, ACCEPTED)?,
        current: read_one(dir, CURRENT)?,
    })
}

fn write_one(dir: &Path, file: &'static str, epoch: Epoch) -> Result<(), EpochsError> {
    let io = |source| EpochsError::Io { file, source };
    let tmp = dir.join(format!("{file}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    writeln!(f, "{}", epoch.0).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, dir.join(file)).map_err(io)?;
    Ok(())
}

/// Writes both epochs durably (temporary file, fsync, rename, directory fsync).
pub fn write(dir: &Path, epochs: Epochs) -> Result<(), EpochsError> {
    write_one(dir, ACCEPTED, epochs.accepted)?;
    write_one(dir, CURRENT, epochs.current)?;
    let d = std::fs::File::open(dir).map_err(|source| EpochsError::Io {
        file: CURRENT,
        source,
    })?;
    d.sync_all().map_err(|source| EpochsError::Io {
        file: CURRENT,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_round_trip_and_default_to_zero() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read(dir.path()).expect("read"), Epochs::default());
        let e = Epochs {
            accepted: Epoch(7),
            current: Epoch(6),
        };
        write(dir.path(), e).expect("write");
        assert_eq!(read(dir.path()).expect("read"), e);
        std::fs::write(dir.path().join(CURRENT), "x\n").expect("corrupt");
        assert!(matches!(
            read(dir.path()),
            Err(EpochsError::Malformed { .. })
        ));
    }
}
