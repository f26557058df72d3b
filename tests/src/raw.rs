//! A raw, blocking ZooKeeper wire client over a `std` TcpStream, built on `corral_core::jute`.
//!
//! It does nothing on its own: no pings, no reconnects, no xid bookkeeping. The caller sends
//! frames and reads frames back, so every byte the server sends (replies, notifications, the
//! moment it closes) can be observed exactly. The differential suite uses it to record what
//! ZooKeeper and Corral answer to the same scripted requests.

use corral_core::jute::{
    encode_request, xid, ConnectRequest, ConnectResponse, Reader, Record, ReplyHeader, Request,
    RequestHeader, WatcherEvent, Writer,
};
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Largest frame the client accepts, as ZooKeeper's default `jute.maxbuffer` (plus slack).
pub const FRAME_BYTES_MAX: usize = 0xfffff + 1024;

/// One frame read from the server after the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A reply (any xid other than -1): the header and the undecoded body.
    Reply {
        /// The reply header.
        header: ReplyHeader,
        /// The body bytes after the header (empty for error replies).
        body: Vec<u8>,
    },
    /// A watch notification (xid -1).
    Notification {
        /// The header's zxid.
        zxid: i64,
        /// The event.
        event: WatcherEvent,
    },
}

/// What came back from a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOutcome {
    /// A whole frame.
    Frame(Frame),
    /// The server closed the connection (EOF or reset).
    Closed,
    /// Nothing arrived within the timeout.
    TimedOut,
}

/// What came back from a handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectOutcome {
    /// The server answered with a `ConnectResponse` (a refused session has `timeout_ms == 0`).
    Answered {
        /// The server's answer.
        response: ConnectResponse,
    },
    /// The server closed without answering.
    Closed,
}

/// A connection speaking the raw client protocol.
pub struct RawClient {
    stream: TcpStream,
}

impl RawClient {
    /// Opens a TCP connection and performs the handshake with `request`. On success the client
    /// is returned with the server's answer, even when the answer refuses the session (the
    /// caller then observes the close with [`RawClient::read`]).
    pub fn connect(
        addr: &str,
        request: &ConnectRequest,
    ) -> io::Result<(Option<RawClient>, ConnectOutcome)> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        let mut w = Writer::framed();
        request.write(&mut w);
        stream.write_all(&w.finish_frame())?;
        let mut client = RawClient { stream };
        match client.read_payload(Duration::from_secs(10))? {
            Some(payload) => {
                let mut r = Reader::new(&payload);
                let response = ConnectResponse::read(&mut r)
                    .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
                Ok((Some(client), ConnectOutcome::Answered { response }))
            }
            None => Ok((None, ConnectOutcome::Closed)),
        }
    }

    /// A handshake for a new session with `timeout_ms`.
    pub fn new_session_request(timeout_ms: i32) -> ConnectRequest {
        ConnectRequest::new_session(timeout_ms)
    }

    /// Sends `req` with `xid` (auth packets use `xid::AUTH`).
    pub fn send(&mut self, xid: i32, req: &Request) -> io::Result<()> {
        self.stream.write_all(&encode_request(xid, req))
    }

    /// Sends a frame with an arbitrary opcode and body, e.g. an opcode ZooKeeper does not know.
    pub fn send_raw(&mut self, xid: i32, opcode: i32, body: &[u8]) -> io::Result<()> {
        let mut w = Writer::framed();
        RequestHeader { xid, opcode }.write(&mut w);
        let mut frame = w.finish_frame();
        frame.extend_from_slice(body);
        let len = i32::try_from(frame.len() - 4).expect("frame length fits an int");
        frame[..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&frame)
    }

    /// Sends a ping (xid -2, opcode 11).
    pub fn send_ping(&mut self) -> io::Result<()> {
        self.send(xid::PING, &Request::Ping)
    }

    /// Reads one frame, waiting at most `timeout`.
    pub fn read(&mut self, timeout: Duration) -> io::Result<ReadOutcome> {
        let payload = match self.read_payload(timeout) {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(ReadOutcome::Closed),
            Err(e) if is_timeout(&e) => return Ok(ReadOutcome::TimedOut),
            Err(e) if is_reset(&e) => return Ok(ReadOutcome::Closed),
            Err(e) => return Err(e),
        };
        let mut r = Reader::new(&payload);
        let header =
            ReplyHeader::read(&mut r).map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
        if header.xid == xid::NOTIFICATION {
            let event = WatcherEvent::read(&mut r)
                .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
            return Ok(ReadOutcome::Frame(Frame::Notification {
                zxid: header.zxid,
                event,
            }));
        }
        Ok(ReadOutcome::Frame(Frame::Reply {
            header,
            body: r.rest().to_vec(),
        }))
    }

    /// Reads one length-prefixed payload; `None` on a clean EOF before the length.
    fn read_payload(&mut self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        self.stream.set_read_timeout(Some(timeout))?;
        let mut len = [0u8; 4];
        match self.stream.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let len = i32::from_be_bytes(len);
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= FRAME_BYTES_MAX)
            .ok_or_else(|| io::Error::new(ErrorKind::InvalidData, format!("frame length {len}")))?;
        let mut payload = vec![0u8; len];
        self.stream.read_exact(&mut payload)?;
        Ok(Some(payload))
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}
