//! One log record and the reader that walks a segment record by record.
//!
//! On disk a record is `[u32 LE payload length][u32 LE crc32c of payload][payload]`, where the
//! payload is the bincode 1.3 encoding of a [`Txn`] with fixed-width little-endian integers and no
//! trailing bytes allowed (see [`bincode_options`]). The length is checked against a limit before
//! anything is allocated, and decoding runs under the same byte limit, so a corrupt length can
//! never cause a large allocation. A txn's zxid is its first field, so it is also the payload's
//! first 8 bytes: recovery reads it there to pass over the records a snapshot already covers
//! without decoding them.

use super::StorageError;
use bincode::Options;
use corral_core::txn::Txn;
use corral_core::Zxid;
use std::io::{self, Read};

/// Bytes of the record header: payload length then crc32c, both u32 little endian.
pub const RECORD_HEADER_BYTES: usize = 8;

/// The default of `jute.maxbuffer`: the largest frame a ZooKeeper server accepts.
pub const JUTE_MAXBUFFER_DEFAULT: usize = 0xfffff;

/// Room a record may need beyond the jute frame that carried its request (headers, ACLs, the
/// resolved sequential name).
pub const RECORD_SLACK_BYTES: usize = 1 << 20;

/// The default bound on one record's payload.
pub const RECORD_BYTES_MAX_DEFAULT: usize = JUTE_MAXBUFFER_DEFAULT + RECORD_SLACK_BYTES;

/// The bincode configuration of a record payload: fixed-width little-endian integers, trailing
/// bytes rejected, and at most `bytes_max` bytes read or written.
pub fn bincode_options(bytes_max: usize) -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
        .with_limit(bytes_max as u64)
}

/// Appends the record for `txn` to `out`. On error `out` is left as it was.
pub fn encode_record(
    txn: &Txn,
    record_bytes_max: usize,
    out: &mut Vec<u8>,
) -> Result<(), StorageError> {
    let start = out.len();
    out.extend_from_slice(&[0; RECORD_HEADER_BYTES]);
    // Encoded without bincode's limit, which would walk the txn once more just to size it
    // (a tenth of the log thread's work); the limit is checked on the result instead. A txn
    // is bounded by the client frame that carried it, so nothing large is built on the way.
    let encoded = bincode_options(record_bytes_max)
        .with_no_limit()
        .serialize_into(&mut *out, txn);
    if let Err(source) = encoded {
        out.truncate(start);
        return Err(StorageError::Encode {
            zxid: txn.zxid,
            source,
        });
    }
    let payload = &out[start + RECORD_HEADER_BYTES..];
    if payload.len() > record_bytes_max {
        out.truncate(start);
        return Err(StorageError::RecordTooLarge {
            zxid: txn.zxid,
            record_bytes_max,
        });
    }
    // The limit is validated to fit a u32 (`StorageOptions::validate`).
    let length = payload.len() as u32;
    let crc = crc32c::crc32c(payload);
    out[start..start + 4].copy_from_slice(&length.to_le_bytes());
    out[start + 4..start + RECORD_HEADER_BYTES].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Why reading a segment stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordFault {
    /// The file ends inside a record header (a torn write).
    #[error("short header: {available} of {RECORD_HEADER_BYTES} bytes")]
    ShortHeader {
        /// Header bytes present.
        available: usize,
    },
    /// The length field exceeds the record limit.
    #[error("payload length {length} over the limit {record_bytes_max}")]
    LengthOverLimit {
        /// The length field as stored.
        length: u32,
        /// The configured limit.
        record_bytes_max: usize,
    },
    /// The file ends inside a record payload (a torn write).
    #[error("short payload: {available} of {length} bytes")]
    ShortPayload {
        /// Payload bytes present.
        available: usize,
        /// The length field as stored.
        length: usize,
    },
    /// The payload does not match its checksum.
    #[error("crc32c mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// The checksum field as stored.
        stored: u32,
        /// The checksum of the payload as read.
        computed: u32,
    },
    /// The checksum matched but the payload is not a transaction.
    #[error("undecodable payload: {0}")]
    Undecodable(String),
    /// The record's zxid is not after the previous record's.
    #[error("zxid {zxid} not after the previous {previous}")]
    ZxidNotIncreasing {
        /// The record's zxid.
        zxid: Zxid,
        /// The previous record's zxid.
        previous: Zxid,
    },
    /// The segment's first record does not carry the zxid in the segment's name.
    #[error("first zxid {zxid} differs from the segment name's {named}")]
    NameMismatch {
        /// The first record's zxid.
        zxid: Zxid,
        /// The zxid in the file name.
        named: Zxid,
    },
    /// Zeroes in a segment that has a successor: a segment's zeroed remainder is cut off
    /// before the next segment starts, so these are lost records, not unused space.
    #[error("zeroes where a record should be, in a segment followed by another")]
    Zeroes,
}

/// What [`RecordReader::next_record`] found.
#[derive(Debug)]
pub enum ReadOutcome {
    /// A whole, valid record.
    Record(Txn),
    /// A whole record at or below the reader's floor ([`RecordReader::with_floor`]): its framing,
    /// checksum and zxid order were checked, its payload not decoded (nothing would use it).
    Skipped(Zxid),
    /// The clean end of the file.
    End,
    /// Zero bytes where the next header would be: the unwritten remainder of a preallocated
    /// segment. (A record header is never all zeros: a record holds at least a zxid, so its
    /// length is not 0.) Only the newest segment may end this way; see [`RecordFault::Zeroes`].
    Zeroes,
    /// A bad record at [`RecordReader::offset`]; nothing after it can be trusted.
    Fault(RecordFault),
}

/// Reads records one at a time, checking framing, checksum, decoding and zxid order.
#[derive(Debug)]
pub struct RecordReader<R> {
    inner: R,
    offset: u64,
    record_bytes_max: usize,
    previous: Option<Zxid>,
    /// Records at or below this zxid are not decoded.
    floor: Option<Zxid>,
    payload: Vec<u8>,
}

/// The zxid at the start of a record's payload.
fn peek_zxid(payload: &[u8]) -> Option<Zxid> {
    let bytes = payload.get(..8)?.try_into().ok()?;
    Some(Zxid(i64::from_le_bytes(bytes)))
}

impl<R: Read> RecordReader<R> {
    /// A reader at offset 0 of `inner`; `previous` is the zxid the first record must exceed.
    pub fn new(inner: R, record_bytes_max: usize, previous: Option<Zxid>) -> RecordReader<R> {
        RecordReader {
            inner,
            offset: 0,
            record_bytes_max,
            previous,
            floor: None,
            payload: Vec::new(),
        }
    }

    /// The same reader, returning records with a zxid at or below `floor` as
    /// [`ReadOutcome::Skipped`] without decoding them.
    pub fn with_floor(mut self, floor: Zxid) -> RecordReader<R> {
        self.floor = Some(floor);
        self
    }

    /// The byte offset just past the last valid record: where a cut would go.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The zxid of the last valid record read (or the `previous` given to `new`).
    pub fn previous(&self) -> Option<Zxid> {
        self.previous
    }

    /// Reads the next record. IO errors are returned as errors; damage is a `Fault`.
    pub fn next_record(&mut self) -> io::Result<ReadOutcome> {
        let mut header = [0u8; RECORD_HEADER_BYTES];
        let available = read_full(&mut self.inner, &mut header)?;
        if available == 0 {
            return Ok(ReadOutcome::End);
        }
        if header[..available].iter().all(|&b| b == 0) {
            return Ok(ReadOutcome::Zeroes);
        }
        if available < RECORD_HEADER_BYTES {
            return Ok(ReadOutcome::Fault(RecordFault::ShortHeader { available }));
        }
        let length = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let stored = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if length as usize > self.record_bytes_max {
            let record_bytes_max = self.record_bytes_max;
            return Ok(ReadOutcome::Fault(RecordFault::LengthOverLimit {
                length,
                record_bytes_max,
            }));
        }
        let length = length as usize;
        self.payload.resize(length, 0);
        let available = read_full(&mut self.inner, &mut self.payload)?;
        if available < length {
            return Ok(ReadOutcome::Fault(RecordFault::ShortPayload {
                available,
                length,
            }));
        }
        let computed = crc32c::crc32c(&self.payload);
        if computed != stored {
            return Ok(ReadOutcome::Fault(RecordFault::CrcMismatch {
                stored,
                computed,
            }));
        }
        let Some(zxid) = peek_zxid(&self.payload) else {
            let why = "shorter than a zxid".to_owned();
            return Ok(ReadOutcome::Fault(RecordFault::Undecodable(why)));
        };
        if let Some(previous) = self.previous {
            if zxid <= previous {
                return Ok(ReadOutcome::Fault(RecordFault::ZxidNotIncreasing {
                    zxid,
                    previous,
                }));
            }
        }
        let outcome = if self.floor.is_some_and(|floor| zxid <= floor) {
            ReadOutcome::Skipped(zxid)
        } else {
            match bincode_options(self.record_bytes_max).deserialize::<Txn>(&self.payload) {
                Ok(txn) if txn.zxid == zxid => ReadOutcome::Record(txn),
                Ok(txn) => {
                    let why = format!("zxid {} decoded, {zxid} at the start", txn.zxid);
                    return Ok(ReadOutcome::Fault(RecordFault::Undecodable(why)));
                }
                Err(error) => {
                    let why = error.to_string();
                    return Ok(ReadOutcome::Fault(RecordFault::Undecodable(why)));
                }
            }
        };
        self.previous = Some(zxid);
        self.offset += (RECORD_HEADER_BYTES + length) as u64;
        Ok(outcome)
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::tests::txn;

    fn read_all(bytes: &[u8]) -> (Vec<Txn>, Option<RecordFault>, u64) {
        let mut reader = RecordReader::new(bytes, RECORD_BYTES_MAX_DEFAULT, None);
        let mut txns = Vec::new();
        loop {
            match reader.next_record().expect("reading a slice cannot fail") {
                ReadOutcome::Record(txn) => txns.push(txn),
                ReadOutcome::Skipped(zxid) => panic!("skipped {zxid} without a floor"),
                ReadOutcome::End => return (txns, None, reader.offset()),
                // The reader cannot tell where it is; the log decides (tests below).
                ReadOutcome::Zeroes => return (txns, Some(RecordFault::Zeroes), reader.offset()),
                ReadOutcome::Fault(fault) => return (txns, Some(fault), reader.offset()),
            }
        }
    }

    #[test]
    fn zeros_after_records_are_told_apart_from_a_torn_header() {
        let mut bytes = Vec::new();
        for zxid in 1..=2 {
            encode_record(&txn(zxid), RECORD_BYTES_MAX_DEFAULT, &mut bytes).expect("encode");
        }
        let records = bytes.len() as u64;
        for zeros in [1, 3, RECORD_HEADER_BYTES, 4096] {
            let mut padded = bytes.clone();
            padded.resize(bytes.len() + zeros, 0);
            let (txns, fault, offset) = read_all(&padded);
            assert_eq!(txns, vec![txn(1), txn(2)]);
            assert_eq!(fault, Some(RecordFault::Zeroes), "{zeros} zeros");
            assert_eq!(offset, records);
        }
        // A header that is not all zeros is a torn or damaged record, as before.
        let mut torn = bytes.clone();
        torn.extend_from_slice(&[0, 0, 1]);
        let (_, fault, _) = read_all(&torn);
        assert_eq!(fault, Some(RecordFault::ShortHeader { available: 3 }));
        let mut zero_length = bytes.clone();
        zero_length.extend_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0]);
        let (_, fault, _) = read_all(&zero_length);
        assert!(
            matches!(fault, Some(RecordFault::CrcMismatch { .. })),
            "{fault:?}"
        );
    }

    #[test]
    fn round_trip() {
        let mut bytes = Vec::new();
        for zxid in 1..=3 {
            encode_record(&txn(zxid), RECORD_BYTES_MAX_DEFAULT, &mut bytes).expect("encode");
        }
        let (txns, fault, offset) = read_all(&bytes);
        assert_eq!(txns, vec![txn(1), txn(2), txn(3)]);
        assert_eq!(fault, None);
        assert_eq!(offset, bytes.len() as u64);
    }

    #[test]
    fn records_at_or_below_the_floor_are_checked_but_not_decoded() {
        let mut bytes = Vec::new();
        for zxid in 1..=4 {
            encode_record(&txn(zxid), RECORD_BYTES_MAX_DEFAULT, &mut bytes).expect("encode");
            // The zxid is where the skipping reader looks for it.
            let start = bytes.len() - encode_len(zxid);
            let payload = &bytes[start + RECORD_HEADER_BYTES..];
            assert_eq!(peek_zxid(payload), Some(Zxid(zxid)));
        }
        let mut reader =
            RecordReader::new(&bytes[..], RECORD_BYTES_MAX_DEFAULT, None).with_floor(Zxid(2));
        let mut seen = Vec::new();
        loop {
            match reader.next_record().expect("reading a slice cannot fail") {
                ReadOutcome::Skipped(zxid) => seen.push(format!("skipped {}", zxid.0)),
                ReadOutcome::Record(txn) => seen.push(format!("txn {}", txn.zxid.0)),
                ReadOutcome::End => break,
                ReadOutcome::Zeroes => panic!("zeros in records written back to back"),
                ReadOutcome::Fault(fault) => panic!("{fault}"),
            }
        }
        assert_eq!(seen, ["skipped 1", "skipped 2", "txn 3", "txn 4"]);
        assert_eq!(reader.offset(), bytes.len() as u64);
        assert_eq!(reader.previous(), Some(Zxid(4)));
        // A skipped record still has to be whole, checksummed and in order.
        let mut damaged = bytes.clone();
        damaged[RECORD_HEADER_BYTES + 9] ^= 1;
        let mut reader =
            RecordReader::new(&damaged[..], RECORD_BYTES_MAX_DEFAULT, None).with_floor(Zxid(2));
        let outcome = reader.next_record().expect("reading a slice cannot fail");
        assert!(matches!(
            outcome,
            ReadOutcome::Fault(RecordFault::CrcMismatch { .. })
        ));
        let mut reader = RecordReader::new(&bytes[..], RECORD_BYTES_MAX_DEFAULT, Some(Zxid(1)))
            .with_floor(Zxid(2));
        let outcome = reader.next_record().expect("reading a slice cannot fail");
        assert!(matches!(
            outcome,
            ReadOutcome::Fault(RecordFault::ZxidNotIncreasing { .. })
        ));
    }

    /// The length of the record of `txn(zxid)`.
    fn encode_len(zxid: i64) -> usize {
        let mut bytes = Vec::new();
        encode_record(&txn(zxid), RECORD_BYTES_MAX_DEFAULT, &mut bytes).expect("encode");
        bytes.len()
    }

    #[test]
    fn huge_length_is_a_fault_without_allocation() {
        let mut bytes = vec![0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
        bytes.extend_from_slice(&[1, 2, 3]);
        let (txns, fault, offset) = read_all(&bytes);
        assert!(txns.is_empty());
        assert!(matches!(fault, Some(RecordFault::LengthOverLimit { .. })));
        assert_eq!(offset, 0);
    }

    #[test]
    fn garbage_with_valid_crc_is_undecodable() {
        let payload = [7u8; 5];
        let mut bytes = (payload.len() as u32).to_le_bytes().to_vec();
        bytes.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
        let (_, fault, _) = read_all(&bytes);
        assert!(matches!(fault, Some(RecordFault::Undecodable(_))));
    }

    #[test]
    fn zxid_must_increase() {
        let mut bytes = Vec::new();
        for zxid in [1, 2, 2] {
            encode_record(&txn(zxid), RECORD_BYTES_MAX_DEFAULT, &mut bytes).expect("encode");
        }
        let (txns, fault, _) = read_all(&bytes);
        assert_eq!(txns.len(), 2);
        assert!(matches!(fault, Some(RecordFault::ZxidNotIncreasing { .. })));
    }

    #[test]
    fn oversized_txn_is_refused_on_write() {
        let mut big = txn(1);
        big.op = corral_core::txn::TxnOp::SetData {
            path: "/a".into(),
            data: vec![0; 100],
            version: 1,
        };
        let mut bytes = vec![9];
        let error = encode_record(&big, 64, &mut bytes).expect_err("too large");
        assert!(matches!(error, StorageError::RecordTooLarge { .. }));
        assert_eq!(bytes, vec![9]);
    }
}
