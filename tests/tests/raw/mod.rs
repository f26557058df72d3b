//! A tiny blocking ZooKeeper client for the crash tests: create, setData and getData,
//! pipelined, with no reconnects and no retries, built on corral-core's jute codec.
//!
//! Third-party clients reconnect and resend on their own; a crash test needs to know exactly
//! which request was on the wire when the server died, so it owns the socket.

// Each test binary uses its own subset.
#![allow(dead_code)]

pub use corral_core::jute::Stat;

/// ZooKeeper's error code for a missing node.
pub const ERR_NO_NODE: i32 = -101;
use corral_core::jute::{
    encode_request, Acl, ConnectRequest, ConnectResponse, CreateRequest, Reader, Record,
    ReplyHeader, Request,
};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

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
    /// closeSession: answered, then the server closes the connection.
    CloseSession,
}

impl Op {
    fn request(&self) -> Request {
        match self.clone() {
            Op::Create { path, data } => Request::Create(CreateRequest {
                path,
                data,
                acl: Acl::open_unsafe(),
                flags: 0,
            }),
            Op::SetData { path, data } => Request::SetData {
                path,
                data,
                version: -1,
            },
            Op::GetData { path } => Request::GetData { path, watch: false },
            Op::CloseSession => Request::CloseSession,
        }
    }
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

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// The data and Stat in a getData reply body.
pub fn parse_get_data(body: &[u8]) -> io::Result<(Vec<u8>, Stat)> {
    let mut r = Reader::new(body);
    let data = r.read_buffer().map_err(invalid)?;
    Ok((data, Stat::read(&mut r).map_err(invalid)?))
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
        let mut client = RawClient {
            stream,
            next_xid: 1,
            session_id: 0,
        };
        let mut wire = ConnectRequest::new_session(timeout_ms).to_frame();
        let (requests, xids) = client.encode(ops);
        wire.extend_from_slice(&requests);
        client.stream.write_all(&wire)?;
        let frame = client.read_frame()?;
        let rsp = ConnectResponse::from_bytes(&frame).map_err(invalid)?;
        client.session_id = rsp.session_id;
        if rsp.timeout_ms <= 0 || rsp.session_id == 0 {
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
            return Err(invalid("bad frame length"));
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
            wire.extend(encode_request(xid, &op.request()));
        }
        (wire, xids)
    }

    /// The next reply (watch notifications and pings are never asked for, so none arrive).
    pub fn recv(&mut self) -> io::Result<Reply> {
        let frame = self.read_frame()?;
        let mut r = Reader::new(&frame);
        let h = ReplyHeader::read(&mut r).map_err(invalid)?;
        Ok(Reply {
            xid: h.xid,
            zxid: h.zxid,
            err: h.err,
            body: r.rest().to_vec(),
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
                return Err(invalid(message));
            }
            replies.push(reply);
        }
        Ok(replies)
    }
}

/// Creates `paths` in order (parents first) and asserts each create succeeded.
pub fn create_all(client: &mut RawClient, paths: &[String]) {
    let ops: Vec<Op> = paths
        .iter()
        .map(|path| Op::Create {
            path: path.clone(),
            data: Vec::new(),
        })
        .collect();
    for (reply, path) in client.call_all(&ops).expect("setup").iter().zip(paths) {
        assert_eq!(reply.err, 0, "create {path}");
    }
}

/// Reads every path (pipelined); `None` for a missing node.
pub fn read_all(client: &mut RawClient, paths: &[String]) -> Vec<Option<(Vec<u8>, Stat)>> {
    let mut out = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(512) {
        let ops: Vec<Op> = chunk
            .iter()
            .map(|path| Op::GetData { path: path.clone() })
            .collect();
        for (reply, path) in client.call_all(&ops).expect("reads").into_iter().zip(chunk) {
            out.push(match reply.err {
                0 => Some(parse_get_data(&reply.body).expect("getData body")),
                ERR_NO_NODE => None,
                err => panic!("getData {path}: error {err}"),
            });
        }
    }
    out
}
