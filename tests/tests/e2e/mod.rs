//! Helpers shared by the end-to-end test files: a `zookeeper-client` connector with bounded
//! timeouts, a raw wire-protocol connection built on `corral_core::jute`, and bounded waits.
//!
//! Each test file includes this module with `mod common;` and uses only part of it.
#![allow(dead_code)]

use corral_core::jute::{
    ConnectRequest, ConnectResponse, Reader, Record, ReplyHeader, Request, Response, WatcherEvent,
    Writer,
};
use corral_tests::Server;
use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Upper bound for anything a healthy local server should do (a reply, an event, a close).
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// A `zookeeper-client` connected to `server` with a 10 s session timeout.
pub async fn client(server: &Server) -> zookeeper_client::Client {
    let connector =
        zookeeper_client::Client::connector().with_session_timeout(Duration::from_secs(10));
    client_with(server, connector).await
}

/// Connects with `connector` (bounded by [`STEP_TIMEOUT`]); its session timeout is kept.
pub async fn client_with(
    server: &Server,
    connector: zookeeper_client::Connector,
) -> zookeeper_client::Client {
    let connector = connector.with_connection_timeout(Duration::from_secs(5));
    within(connector.connect(&server.addr()))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", server.addr()))
}

/// Awaits `f`, failing the test if it takes longer than [`STEP_TIMEOUT`].
pub async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(STEP_TIMEOUT, f)
        .await
        .expect("step did not complete within the timeout")
}

/// Polls `cond` until it holds, failing after `limit`. For conditions with no event to await
/// (a log line, a server-side timer's effect seen from outside).
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

/// Waits until the server log holds a line containing every one of `needles`.
pub fn wait_for_log(server: &Server, needles: &[&str]) {
    let found = |log: &str| {
        log.lines()
            .any(|line| needles.iter().all(|n| line.contains(n)))
    };
    let deadline = Instant::now() + STEP_TIMEOUT;
    while Instant::now() < deadline {
        if found(&plain_log(server)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no log line with {needles:?}; log:\n{}", plain_log(server));
}

/// The server log without ANSI colour sequences.
pub fn plain_log(server: &Server) -> String {
    let log = server.log();
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip "ESC [ ... letter".
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// One raw client connection speaking the wire protocol by hand.
pub struct Raw {
    pub stream: TcpStream,
    next_xid: i32,
}

/// What reading a frame from a raw connection gave.
#[derive(Debug)]
pub enum Read1 {
    /// A whole frame body (without the length prefix).
    Frame(Vec<u8>),
    /// The server closed the connection (EOF or reset).
    Closed,
    /// Nothing arrived within the timeout.
    Silent,
}

impl Raw {
    /// A TCP connection with a read timeout of `STEP_TIMEOUT`, no handshake yet.
    pub fn connect(server: &Server) -> Raw {
        let stream = TcpStream::connect(server.addr()).expect("tcp connect");
        stream
            .set_read_timeout(Some(STEP_TIMEOUT))
            .expect("read timeout");
        Raw {
            stream,
            next_xid: 1,
        }
    }

    /// Sends raw bytes; errors are ignored (the server may already have closed).
    pub fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// Reads one length-prefixed frame.
    pub fn read_frame(&mut self) -> Read1 {
        let mut len = [0u8; 4];
        match read_exact(&mut self.stream, &mut len) {
            Ok(true) => {}
            Ok(false) => return Read1::Closed,
            Err(_) => return Read1::Silent,
        }
        let n = i32::from_be_bytes(len);
        assert!((0..=0x10_0000).contains(&n), "server sent frame length {n}");
        let mut body = vec![0u8; n as usize];
        match read_exact(&mut self.stream, &mut body) {
            Ok(true) => Read1::Frame(body),
            Ok(false) => Read1::Closed,
            Err(_) => Read1::Silent,
        }
    }

    /// Reads a frame, failing the test if the connection closed or stayed silent.
    pub fn expect_frame(&mut self) -> Vec<u8> {
        match self.read_frame() {
            Read1::Frame(f) => f,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// Asserts the server closes the connection (after any frames it still sends, returned).
    pub fn expect_closed(&mut self) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        loop {
            match self.read_frame() {
                Read1::Frame(f) => frames.push(f),
                Read1::Closed => return frames,
                Read1::Silent => panic!("server did not close the connection"),
            }
        }
    }

    /// Sends a ConnectRequest and returns the ConnectResponse.
    pub fn handshake_with(&mut self, req: &ConnectRequest) -> ConnectResponse {
        self.send(&frame(req));
        let body = self.expect_frame();
        ConnectResponse::from_bytes(&body).expect("connect response")
    }

    /// Opens a new session with `timeout_ms`.
    pub fn handshake(&mut self, timeout_ms: i32) -> ConnectResponse {
        self.handshake_with(&connect_request(timeout_ms, 0, vec![0; 16]))
    }

    /// Sends `req` with the next xid and returns that xid.
    pub fn send_request(&mut self, req: &Request) -> i32 {
        let xid = self.next_xid;
        self.next_xid += 1;
        self.send(&corral_core::jute::encode_request(xid, req));
        xid
    }

    /// Sends `req` and returns the reply header and decoded body (watch notifications that
    /// arrive first are skipped).
    pub fn call(&mut self, req: &Request) -> (ReplyHeader, Option<Response>) {
        let xid = self.send_request(req);
        loop {
            let body = self.expect_frame();
            let mut r = Reader::new(&body);
            let header = ReplyHeader::read(&mut r).expect("reply header");
            if header.xid == -1 {
                continue;
            }
            assert_eq!(header.xid, xid, "reply out of order");
            if header.err != 0 {
                return (header, None);
            }
            let resp = Response::decode(req.opcode(), &mut r).expect("response body");
            return (header, Some(resp));
        }
    }

    /// Reads the next frame and asserts it is the reply to `xid` (no notification first).
    pub fn expect_reply(&mut self, xid: i32) -> ReplyHeader {
        let body = self.expect_frame();
        let header = ReplyHeader::read(&mut Reader::new(&body)).expect("reply header");
        assert_eq!(
            header.xid, xid,
            "expected the reply to xid {xid}, got {header:?}"
        );
        header
    }

    /// Reads the next frame as a watch notification.
    pub fn expect_notification(&mut self) -> WatcherEvent {
        let body = self.expect_frame();
        let mut r = Reader::new(&body);
        let header = ReplyHeader::read(&mut r).expect("reply header");
        assert_eq!(
            header.xid, -1,
            "expected a notification, got xid {}",
            header.xid
        );
        WatcherEvent::read(&mut r).expect("watcher event")
    }
}

/// `read_exact` that tells EOF (`Ok(false)`) and reset apart from a timeout (`Err`).
fn read_exact(s: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut at = 0;
    while at < buf.len() {
        match s.read(&mut buf[at..]) {
            Ok(0) => return Ok(false),
            Ok(n) => at += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(e)
            }
            // Reset or aborted: the server closed.
            Err(_) => return Ok(false),
        }
    }
    Ok(true)
}

/// A ConnectRequest as released clients send it.
pub fn connect_request(timeout_ms: i32, session_id: i64, password: Vec<u8>) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms,
        session_id,
        password,
        read_only: false,
    }
}

/// A record as one length-prefixed frame.
pub fn frame(record: &impl Record) -> Vec<u8> {
    let mut w = Writer::framed();
    record.write(&mut w);
    w.finish_frame()
}

/// Asserts a fresh raw client can open a session, write and read back.
pub fn assert_served(server: &Server) {
    let mut raw = Raw::connect(server);
    let rsp = raw.handshake(4000);
    assert!(
        rsp.session_id != 0 && rsp.timeout_ms > 0,
        "no session: {rsp:?}"
    );
    let (h, _) = raw.call(&Request::Exists {
        path: "/".into(),
        watch: false,
    });
    assert_eq!(h.err, 0, "exists / failed");
    let (h, _) = raw.call(&Request::Sync { path: "/".into() });
    assert_eq!(h.err, 0, "sync failed");
}
