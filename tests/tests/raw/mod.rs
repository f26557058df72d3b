//! A tiny blocking ZooKeeper client that speaks just enough jute for the crash tests: create,
//! setData and getData, pipelined, with no reconnects and no retries.
//!
//! Third-party clients reconnect and resend on their own; a crash test needs to know exactly
//! which request was on the wire when the server died, so it owns the socket.

// Each test binary uses its own subset.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// ZooKeeper's opcodes used here.
mod opcode {
    pub const CREATE: i32 = 1;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
}

/// `world:anyone` with every permission.
const PERMS_ALL: i32 = 31;

/// The frame size this client refuses to read past (a broken length must not allocate).
const FRAME_BYTES_MAX: usize = 4 << 20;

/// How long a read may block before the test is declared stuck.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// One request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create a persistent node with an open ACL.
    Create { path: String, data: Vec<u8> },
    /// Unconditional setData.
    SetData { path: String, data: Vec<u8> },
    /// getData without a watch.
    GetData { path: String },
}

/// A node's Stat as the server sent it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
    pub body: Vec<u8>,
}

/// A connected session.
pub struct RawClient {
    stream: TcpStream,
    next_xid: i32,
    /// The session id the server gave.
    pub session_id: i64,
}

fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_bytes(out: &mut Vec<u8>, v: &[u8]) {
    put_i32(out, v.len() as i32);
    out.extend_from_slice(v);
}

/// Reads big-endian jute fields from a body.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        if self.bytes.len() < N {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "short body"));
        }
        let mut field = [0u8; N];
        field.copy_from_slice(&self.bytes[..N]);
        self.bytes = &self.bytes[N..];
        Ok(field)
    }

    fn i32(&mut self) -> io::Result<i32> {
        self.take::<4>().map(i32::from_be_bytes)
    }

    fn i64(&mut self) -> io::Result<i64> {
        self.take::<8>().map(i64::from_be_bytes)
    }

    fn bytes(&mut self) -> io::Result<Vec<u8>> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(Vec::new());
        }
        let len = len as usize;
        if self.bytes.len() < len {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "short buffer"));
        }
        let (field, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(field.to_vec())
    }

    fn stat(&mut self) -> io::Result<Stat> {
        Ok(Stat {
            czxid: self.i64()?,
            mzxid: self.i64()?,
            ctime: self.i64()?,
            mtime: self.i64()?,
            version: self.i32()?,
            cversion: self.i32()?,
            aversion: self.i32()?,
            ephemeral_owner: self.i64()?,
            data_length: self.i32()?,
            num_children: self.i32()?,
            pzxid: self.i64()?,
        })
    }
}

/// The data and Stat in a getData reply body.
pub fn parse_get_data(body: &[u8]) -> io::Result<(Vec<u8>, Stat)> {
    let mut cursor = Cursor { bytes: body };
    let data = cursor.bytes()?;
    Ok((data, cursor.stat()?))
}

impl RawClient {
    /// Connects and opens a new session with `timeout_ms`.
    pub fn connect(addr: &str, timeout_ms: i32) -> io::Result<RawClient> {
        RawClient::connect_pipelined(addr, timeout_ms, &[]).map(|(client, _)| client)
    }

    /// Opens a new session, sending `ops` in the same write right behind the ConnectRequest
    /// (as the Java client does with auth packets), and returns their xids.
    pub fn connect_pipelined(
        addr: &str,
        timeout_ms: i32,
        ops: &[Op],
    ) -> io::Result<(RawClient, Vec<i32>)> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        let mut body = Vec::new();
        put_i32(&mut body, 0); // protocol version
        put_i64(&mut body, 0); // last zxid seen
        put_i32(&mut body, timeout_ms);
        put_i64(&mut body, 0); // session id: a new session
        put_bytes(&mut body, &[0; 16]);
        body.push(0); // read-only: no
        let mut client = RawClient {
            stream,
            next_xid: 1,
            session_id: 0,
        };
        let mut wire = Vec::new();
        put_bytes(&mut wire, &body);
        let (requests, xids) = client.encode(ops);
        wire.extend_from_slice(&requests);
        client.stream.write_all(&wire)?;
        let frame = client.read_frame()?;
        let mut cursor = Cursor { bytes: &frame };
        let _protocol = cursor.i32()?;
        let negotiated_ms = cursor.i32()?;
        client.session_id = cursor.i64()?;
        if negotiated_ms <= 0 || client.session_id == 0 {
            return Err(io::Error::other("session refused"));
        }
        Ok((client, xids))
    }

    /// Changes how long [`Self::recv`] waits before failing with `WouldBlock`.
    pub fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.stream.set_read_timeout(Some(timeout))
    }

    fn read_frame(&mut self) -> io::Result<Vec<u8>> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let len = i32::from_be_bytes(len);
        if len < 0 || len as usize > FRAME_BYTES_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bad frame length",
            ));
        }
        let mut body = vec![0u8; len as usize];
        self.stream.read_exact(&mut body)?;
        Ok(body)
    }

    /// Sends every request in one write (a pipeline) and returns their xids in order.
    pub fn send(&mut self, ops: &[Op]) -> io::Result<Vec<i32>> {
        let (wire, xids) = self.encode(ops);
        self.stream.write_all(&wire)?;
        Ok(xids)
    }

    /// The frames of `ops` with fresh xids.
    fn encode(&mut self, ops: &[Op]) -> (Vec<u8>, Vec<i32>) {
        let mut wire = Vec::new();
        let mut xids = Vec::with_capacity(ops.len());
        for op in ops {
            let xid = self.next_xid;
            self.next_xid += 1;
            xids.push(xid);
            let mut body = Vec::new();
            put_i32(&mut body, xid);
            match op {
                Op::Create { path, data } => {
                    put_i32(&mut body, opcode::CREATE);
                    put_bytes(&mut body, path.as_bytes());
                    put_bytes(&mut body, data);
                    put_i32(&mut body, 1); // one ACL
                    put_i32(&mut body, PERMS_ALL);
                    put_bytes(&mut body, b"world");
                    put_bytes(&mut body, b"anyone");
                    put_i32(&mut body, 0); // persistent
                }
                Op::SetData { path, data } => {
                    put_i32(&mut body, opcode::SET_DATA);
                    put_bytes(&mut body, path.as_bytes());
                    put_bytes(&mut body, data);
                    put_i32(&mut body, -1);
                }
                Op::GetData { path } => {
                    put_i32(&mut body, opcode::GET_DATA);
                    put_bytes(&mut body, path.as_bytes());
                    body.push(0);
                }
            }
            put_bytes(&mut wire, &body);
        }
        (wire, xids)
    }

    /// The next reply (watch notifications and pings are never asked for, so none arrive).
    pub fn recv(&mut self) -> io::Result<Reply> {
        let frame = self.read_frame()?;
        let mut cursor = Cursor { bytes: &frame };
        let xid = cursor.i32()?;
        let zxid = cursor.i64()?;
        let err = cursor.i32()?;
        Ok(Reply {
            xid,
            zxid,
            err,
            body: cursor.bytes.to_vec(),
        })
    }

    /// Sends `ops` and waits for each reply, in order.
    pub fn call_all(&mut self, ops: &[Op]) -> io::Result<Vec<Reply>> {
        let xids = self.send(ops)?;
        let mut replies = Vec::with_capacity(ops.len());
        for xid in xids {
            let reply = self.recv()?;
            if reply.xid != xid {
                let message = format!("reply xid {} where {xid} was due", reply.xid);
                return Err(io::Error::new(io::ErrorKind::InvalidData, message));
            }
            replies.push(reply);
        }
        Ok(replies)
    }
}
