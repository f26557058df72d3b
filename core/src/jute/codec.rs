//! Jute primitive encoding: big-endian integers, length-prefixed buffers, strings and vectors.
//!
//! Decoding is total: every byte string yields a value or a [`JuteError`], never a panic, and no
//! allocation is larger than the bytes actually present in the input.

use thiserror::Error;

/// Why a jute record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JuteError {
    /// The input ended before the record did.
    #[error("record truncated: needed {needed} more bytes at offset {offset}")]
    Truncated {
        /// Byte offset where the read started.
        offset: usize,
        /// Bytes still needed.
        needed: usize,
    },
    /// A length prefix was negative (other than -1 for null) or larger than the input.
    #[error("invalid length {length} at offset {offset}")]
    BadLength {
        /// Byte offset of the length prefix.
        offset: usize,
        /// The length read.
        length: i32,
    },
    /// A string was not valid UTF-8.
    #[error("string at offset {offset} is not valid UTF-8")]
    BadUtf8 {
        /// Byte offset of the string's length prefix.
        offset: usize,
    },
    /// A field held a value outside its domain (an unknown enum value, say).
    #[error("invalid value for {field}: {value}")]
    BadValue {
        /// Which field.
        field: &'static str,
        /// The value read.
        value: i64,
    },
}

/// Reads jute primitives from a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`, positioned at the start.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, offset: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    /// Current offset from the start.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Consumes and returns every unread byte.
    pub fn take_rest(&mut self) -> &'a [u8] {
        let rest = &self.bytes[self.offset..];
        self.offset = self.bytes.len();
        rest
    }

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        &self.bytes[self.offset..]
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], JuteError> {
        if self.remaining() < n {
            return Err(JuteError::Truncated {
                offset: self.offset,
                needed: n - self.remaining(),
            });
        }
        let out = &self.bytes[self.offset..self.offset + n];
        self.offset += n;
        Ok(out)
    }

    /// Reads a big-endian `int`.
    pub fn read_i32(&mut self) -> Result<i32, JuteError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a big-endian `long`.
    pub fn read_i64(&mut self) -> Result<i64, JuteError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// Reads a `boolean` (one byte, non-zero is true).
    pub fn read_bool(&mut self) -> Result<bool, JuteError> {
        Ok(self.take(1)?[0] != 0)
    }

    /// Reads a length prefix; `None` for -1 (null). Fails when the length exceeds the input.
    fn read_len(&mut self) -> Result<Option<usize>, JuteError> {
        let offset = self.offset;
        let length = self.read_i32()?;
        if length == -1 {
            return Ok(None);
        }
        if length < 0 || length as usize > self.remaining() {
            return Err(JuteError::BadLength { offset, length });
        }
        Ok(Some(length as usize))
    }

    /// Reads a `buffer`; null decodes as empty.
    pub fn read_buffer(&mut self) -> Result<Vec<u8>, JuteError> {
        Ok(self.read_buffer_opt()?.unwrap_or_default())
    }

    /// Reads a `buffer`, keeping null apart from empty.
    pub fn read_buffer_opt(&mut self) -> Result<Option<Vec<u8>>, JuteError> {
        match self.read_len()? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take(n)?.to_vec())),
        }
    }

    /// Reads a `ustring`; null decodes as empty.
    pub fn read_string(&mut self) -> Result<String, JuteError> {
        Ok(self.read_string_opt()?.unwrap_or_default())
    }

    /// Reads a `ustring`, keeping null apart from empty.
    pub fn read_string_opt(&mut self) -> Result<Option<String>, JuteError> {
        let offset = self.offset;
        match self.read_len()? {
            None => Ok(None),
            Some(n) => {
                let b = self.take(n)?;
                match std::str::from_utf8(b) {
                    Ok(s) => Ok(Some(s.to_owned())),
                    Err(_) => Err(JuteError::BadUtf8 { offset }),
                }
            }
        }
    }

    /// Reads a `vector<T>` with `item` for each element; null decodes as empty.
    ///
    /// Every element takes at least one byte, so a count larger than the remaining input is
    /// rejected before anything is allocated.
    pub fn read_vec<T>(
        &mut self,
        mut item: impl FnMut(&mut Reader<'a>) -> Result<T, JuteError>,
    ) -> Result<Vec<T>, JuteError> {
        let Some(n) = self.read_len()? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    /// Reads a `vector<ustring>`.
    pub fn read_string_vec(&mut self) -> Result<Vec<String>, JuteError> {
        self.read_vec(|r| r.read_string())
    }
}

/// The initial capacity of a [`Writer::framed`] buffer.
pub const FRAME_CAPACITY_DEFAULT: usize = 128;

/// Writes jute primitives into a growable buffer.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer { buf: Vec::new() }
    }

    /// A writer that starts with a 4-byte placeholder for a frame length; see [`Writer::finish_frame`].
    ///
    /// It starts with room for [`FRAME_CAPACITY_DEFAULT`] bytes: most frames (replies with a
    /// `Stat`, notifications, small requests) fit, so they are written with one allocation
    /// instead of growing 4 → 8 → … → 128.
    pub fn framed() -> Self {
        let mut buf = Vec::with_capacity(FRAME_CAPACITY_DEFAULT);
        buf.extend_from_slice(&[0; 4]);
        Writer { buf }
    }

    /// Fills in the frame length written by [`Writer::framed`] and returns the frame.
    pub fn finish_frame(mut self) -> Vec<u8> {
        let len = (self.buf.len() - 4) as i32;
        self.buf[..4].copy_from_slice(&len.to_be_bytes());
        self.buf
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Number of bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Writes bytes as they are, with no length prefix.
    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Writes a big-endian `int`.
    pub fn write_i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes a big-endian `long`.
    pub fn write_i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Writes a `boolean`.
    pub fn write_bool(&mut self, v: bool) {
        self.buf.push(v as u8);
    }

    /// Writes a `buffer`.
    pub fn write_buffer(&mut self, v: &[u8]) {
        self.write_i32(v.len() as i32);
        self.buf.extend_from_slice(v);
    }

    /// Writes a `buffer` that may be null.
    pub fn write_buffer_opt(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.write_i32(-1),
            Some(b) => self.write_buffer(b),
        }
    }

    /// Writes a `ustring`.
    pub fn write_string(&mut self, v: &str) {
        self.write_buffer(v.as_bytes());
    }

    /// Writes a `ustring` that may be null.
    pub fn write_string_opt(&mut self, v: Option<&str>) {
        self.write_buffer_opt(v.map(str::as_bytes));
    }

    /// Writes a `vector<T>` with `item` for each element.
    pub fn write_vec<T>(&mut self, v: &[T], mut item: impl FnMut(&mut Writer, &T)) {
        self.write_i32(v.len() as i32);
        for x in v {
            item(self, x);
        }
    }

    /// Writes a `vector<ustring>`.
    pub fn write_string_vec(&mut self, v: &[String]) {
        self.write_vec(v, |w, s| w.write_string(s));
    }
}

/// A jute record: something with a fixed field layout in zookeeper.jute.
pub trait Record: Sized {
    /// Reads the record's fields in order.
    fn read(r: &mut Reader<'_>) -> Result<Self, JuteError>;
    /// Writes the record's fields in order.
    fn write(&self, w: &mut Writer);

    /// Encodes the record alone (no frame length).
    fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write(&mut w);
        w.into_bytes()
    }

    /// Encodes the record as a whole frame (4-byte big-endian length, then the record).
    fn to_frame(&self) -> Vec<u8> {
        let mut w = Writer::framed();
        self.write(&mut w);
        w.finish_frame()
    }

    /// Decodes a record from the start of `bytes`; trailing bytes are ignored, as ZooKeeper does.
    fn from_bytes(bytes: &[u8]) -> Result<Self, JuteError> {
        Self::read(&mut Reader::new(bytes))
    }
}
