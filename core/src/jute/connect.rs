//! Session handshake and framing records: `ConnectRequest`, `ConnectResponse`, the request and
//! reply headers, watch notifications and the header that frames each op of a multi.

use super::codec::{JuteError, Reader, Record, Writer};

/// `RequestHeader`: precedes every request record after the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestHeader {
    /// Client-chosen request id, echoed in the reply (negative values are reserved, see `xid`).
    pub xid: i32,
    /// The request's opcode (`op::*`).
    pub opcode: i32,
}

impl Record for RequestHeader {
    fn read(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(RequestHeader {
            xid: r.read_i32()?,
            opcode: r.read_i32()?,
        })
    }
    fn write(&self, w: &mut Writer) {
        w.write_i32(self.xid);
        w.write_i32(self.opcode);
    }
}

/// `ReplyHeader`: precedes every reply and notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplyHeader {
    /// The xid of the request answered (-1 for a notification, -2 for a ping).
    pub xid: i32,
    /// The last zxid the server had applied when it replied.
    pub zxid: i64,
    /// `err::OK`, or the error code; a reply with an error carries no body.
    pub err: i32,
}

impl Record for ReplyHeader {
    fn read(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(ReplyHeader {
            xid: r.read_i32()?,
            zxid: r.read_i64()?,
            err: r.read_i32()?,
        })
    }
    fn write(&self, w: &mut Writer) {
        w.write_i32(self.xid);
        w.write_i64(self.zxid);
        w.write_i32(self.err);
    }
}

/// `ConnectRequest`: the first frame a client sends on a connection (no request header).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectRequest {
    /// Protocol version, 0 for every released client.
    pub protocol_version: i32,
    /// The highest zxid the client has seen; a server that is behind it must refuse the session.
    pub last_zxid_seen: i64,
    /// Requested session timeout in milliseconds.
    pub timeout_ms: i32,
    /// 0 for a new session, else the session to resume.
    pub session_id: i64,
    /// The session password (empty for a new session).
    pub password: Vec<u8>,
    /// Whether the client accepts a read-only server. Absent on the wire from old clients.
    pub read_only: bool,
}

impl ConnectRequest {
    /// The handshake of a client asking for a new session with `timeout_ms`.
    pub fn new_session(timeout_ms: i32) -> ConnectRequest {
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms,
            session_id: 0,
            password: vec![0; 16],
            read_only: false,
        }
    }
}

impl Record for ConnectRequest {
    fn read(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(ConnectRequest {
            protocol_version: r.read_i32()?,
            last_zxid_seen: r.read_i64()?,
            timeout_ms: r.read_i32()?,
            session_id: r.read_i64()?,
            password: r.read_buffer()?,
            read_only: read_trailing_bool(r)?,
        })
    }
    fn write(&self, w: &mut Writer) {
        w.write_i32(self.protocol_version);
        w.write_i64(self.last_zxid_seen);
        w.write_i32(self.timeout_ms);
        w.write_i64(self.session_id);
        w.write_buffer(&self.password);
        w.write_bool(self.read_only);
    }
}

/// `ConnectResponse`: the server's answer to a [`ConnectRequest`] (no reply header).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectResponse {
    /// Protocol version, 0.
    pub protocol_version: i32,
    /// Negotiated session timeout in milliseconds; 0 tells the client its session is invalid.
    pub timeout_ms: i32,
    /// The session id (new or resumed).
    pub session_id: i64,
    /// The session password.
    pub password: Vec<u8>,
    /// Whether the server is read-only. Absent on the wire from old servers.
    pub read_only: bool,
}

impl Record for ConnectResponse {
    fn read(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(ConnectResponse {
            protocol_version: r.read_i32()?,
            timeout_ms: r.read_i32()?,
            session_id: r.read_i64()?,
            password: r.read_buffer()?,
            read_only: read_trailing_bool(r)?,
        })
    }
    fn write(&self, w: &mut Writer) {
        w.write_i32(self.protocol_version);
        w.write_i32(self.timeout_ms);
        w.write_i64(self.session_id);
        w.write_buffer(&self.password);
        w.write_bool(self.read_only);
    }
}

/// Reads the optional trailing `readOnly` flag of the handshake records: peers older than 3.4
/// end the record before it, which means false.
fn read_trailing_bool(r: &mut Reader<'_>) -> Result<bool, JuteError> {
    if r.remaining() == 0 {
        return Ok(false);
    }
    r.read_bool()
}

/// `WatcherEvent`: the body of a notification (reply xid -1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WatcherEvent {
    /// Event type (`event::*`).
    pub event_type: i32,
    /// Session state (`keeper_state::*`).
    pub state: i32,
    /// The node the event is about (client-visible path, chroot is the client's business).
    pub path: String,
}

impl Record for WatcherEvent {
    fn read(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(WatcherEvent {
            event_type: r.read_i32()?,
            state: r.read_i32()?,
            path: r.read_string()?,
        })
    }
    fn write(&self, w: &mut Writer) {
        w.write_i32(self.event_type);
        w.write_i32(self.state);
        w.write_string(&self.path);
    }
}

/// `MultiHeader`: precedes each op of a multi request and each result of a multi response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MultiHeader {
    /// The op's opcode, or -1 (an error result, or the end marker).
    pub op_type: i32,
    /// True only on the end marker.
    pub done: bool,
    /// Error code of a result (-1 in requests and in the end marker).
    pub err: i32,
}

impl MultiHeader {
    /// Encoded size: int + boolean + int. Every multi entry takes at least this many bytes, which
    /// bounds how many entries a buffer can hold.
    pub const BYTES: usize = 9;

    /// The header that ends every multi request and response.
    pub const END: MultiHeader = MultiHeader {
        op_type: -1,
        done: true,
        err: -1,
    };
}

impl Record for MultiHeader {
    fn read(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(MultiHeader {
            op_type: r.read_i32()?,
            done: r.read_bool()?,
            err: r.read_i32()?,
        })
    }
    fn write(&self, w: &mut Writer) {
        w.write_i32(self.op_type);
        w.write_bool(self.done);
        w.write_i32(self.err);
    }
}

/// Reads multi entries until the end marker, calling `entry` with each entry's header.
///
/// Each entry takes at least [`MultiHeader::BYTES`], so the loop is bounded by the input length
/// and the output never holds more entries than the input could encode.
pub(crate) fn read_multi_entries<T>(
    r: &mut Reader<'_>,
    mut entry: impl FnMut(&mut Reader<'_>, MultiHeader) -> Result<T, JuteError>,
) -> Result<Vec<T>, JuteError> {
    let entries_max = r.remaining() / MultiHeader::BYTES;
    let mut out = Vec::new();
    // One extra iteration for the end marker.
    for _ in 0..=entries_max {
        let header = MultiHeader::read(r)?;
        if header.done {
            return Ok(out);
        }
        out.push(entry(r, header)?);
    }
    // Unreachable for well-behaved entry readers (each consumed a header), but stay total.
    Err(JuteError::Truncated {
        offset: r.offset(),
        needed: MultiHeader::BYTES,
    })
}
