//! Client connections: framing, the handshake, and the per-connection FIFO of requests.

use super::{Node, Output};
use crate::acl::AuthInfo;
use crate::ids::{ConnId, SessionId};
use crate::jute::{
    err, op, ConnectRequest, ConnectResponse, DecodeError, Reader, Record, ReplyHeader, Request,
    RequestHeader,
};
use crate::time::Instant;
use std::collections::VecDeque;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// Waiting for the ConnectRequest (or a four-letter word).
    Handshake,
    /// A new session's CreateSession is being committed.
    Connecting,
    /// Serving the session.
    Active(SessionId),
    /// Closed by us; waiting for the adapter's `Closed`.
    Closing,
}

/// A request waiting its turn on its connection.
#[derive(Debug)]
pub(crate) struct Queued {
    pub(crate) xid: i32,
    pub(crate) request: Request,
}

/// One client connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) ip: String,
    pub(crate) auth: AuthInfo,
    pub(crate) state: ConnState,
    /// Bytes received but not yet framed.
    inbox: Vec<u8>,
    /// Requests not yet started, in arrival order.
    pub(crate) queue: VecDeque<Queued>,
    /// Writes proposed and not yet answered; reads wait until this is zero.
    pub(crate) writes_in_flight: u32,
    /// Timeout negotiated at the handshake.
    pub(crate) timeout_ms: i32,
    /// Whether the client asked for a read-only connection.
    pub(crate) read_only: bool,
    pub(crate) received: u64,
    pub(crate) sent: u64,
    pub(crate) last_zxid: i64,
    /// When the connection is closed if it has no session by then.
    pub(crate) handshake_deadline: Option<Instant>,
    /// Request frames that arrived while the session was being created.
    early_frames: Vec<Vec<u8>>,
    /// A `sync` (xid, path) waiting for the leader's confirmation; later requests wait too.
    pub(crate) sync_pending: Option<(i32, String)>,
}

impl Conn {
    fn new(ip: String) -> Conn {
        Conn {
            auth: AuthInfo::for_ip(&ip),
            ip,
            state: ConnState::Handshake,
            inbox: Vec::new(),
            queue: VecDeque::new(),
            writes_in_flight: 0,
            timeout_ms: 0,
            read_only: false,
            received: 0,
            sent: 0,
            last_zxid: 0,
            handshake_deadline: None,
            early_frames: Vec::new(),
            sync_pending: None,
        }
    }

    pub(crate) fn session(&self) -> Option<SessionId> {
        match self.state {
            ConnState::Active(s) => Some(s),
            _ => None,
        }
    }
}

/// What the next bytes of a connection hold.
enum Framed {
    /// Not enough bytes yet.
    Incomplete,
    /// One whole frame body, as a range of the buffer given.
    Frame(usize, usize),
    /// A four-letter word at the start of a connection.
    FourLetter([u8; 4]),
    /// A length the protocol forbids.
    BadLength(i64),
}

impl Node {
    pub(crate) fn on_connected(&mut self, conn: ConnId, ip: String) {
        let count = self.conns_per_ip.entry(ip.clone()).or_insert(0);
        *count += 1;
        let limit = self.config.client_cnxns_per_ip_max;
        let over = limit > 0 && *count > limit;
        self.conns.insert(conn, Conn::new(ip.clone()));
        let deadline = self.now.mono.plus_ms(self.config.handshake_timeout_ms);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.handshake_deadline = Some(deadline);
        }
        self.handshake_deadlines.insert((deadline, conn));
        if over {
            tracing::warn!(conn = conn.0, %ip, limit, "too many connections from this address; closing");
            self.close_conn(conn);
        }
    }

    pub(crate) fn on_closed(&mut self, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        if let Some(at) = c.handshake_deadline {
            self.handshake_deadlines.remove(&(at, conn));
        }
        if let Some(n) = self.conns_per_ip.get_mut(&c.ip) {
            *n -= 1;
            if *n == 0 {
                self.conns_per_ip.remove(&c.ip);
            }
        }
        self.watches.remove_conn(conn);
        if let Some(s) = c.session() {
            if self.session_conn.get(&s) == Some(&conn) {
                self.session_conn.remove(&s);
            }
        }
    }

    /// Sends what is queued and closes; further input from the connection is ignored.
    pub(crate) fn close_conn(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.state == ConnState::Closing {
            return;
        }
        if let Some(s) = c.session() {
            if self.session_conn.get(&s) == Some(&conn) {
                self.session_conn.remove(&s);
            }
        }
        c.state = ConnState::Closing;
        c.queue.clear();
        c.inbox = Vec::new();
        self.watches.remove_conn(conn);
        self.outputs.push_back(Output::Close { conn });
    }

    pub(crate) fn send(&mut self, conn: ConnId, bytes: Vec<u8>) {
        if let Some(c) = self.conns.get_mut(&conn) {
            if c.state == ConnState::Closing {
                return;
            }
            c.sent += 1;
            self.stats.packets_sent += 1;
            self.outputs.push_back(Output::Send { conn, bytes });
        }
    }

    pub(crate) fn on_bytes(&mut self, conn: ConnId, bytes: &[u8]) {
        let limit = self.config.frame_bytes_max;
        // Take the buffer out while frames are handled: handling may close the connection.
        let mut inbox = match self.conns.get_mut(&conn) {
            Some(c) if c.state != ConnState::Closing => std::mem::take(&mut c.inbox),
            _ => return,
        };
        inbox.extend_from_slice(bytes);
        let mut consumed = 0;
        loop {
            let handshake = match self.conns.get(&conn) {
                Some(c) if c.state != ConnState::Closing => c.state == ConnState::Handshake,
                _ => return,
            };
            match next_frame(&inbox[consumed..], handshake, limit) {
                Framed::Incomplete => break,
                Framed::BadLength(len) => {
                    tracing::warn!(
                        conn = conn.0,
                        len,
                        limit,
                        "invalid frame length; closing connection"
                    );
                    self.close_conn(conn);
                    return;
                }
                Framed::FourLetter(word) => {
                    self.four_letter_word(conn, word);
                    return;
                }
                Framed::Frame(start, end) => {
                    let (start, end) = (consumed + start, consumed + end);
                    consumed = end;
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.received += 1;
                    }
                    self.stats.packets_received += 1;
                    self.on_frame(conn, &inbox[start..end]);
                }
            }
        }
        inbox.drain(..consumed);
        if let Some(c) = self.conns.get_mut(&conn) {
            if c.state != ConnState::Closing {
                c.inbox = inbox;
            }
        }
    }

    fn on_frame(&mut self, conn: ConnId, body: &[u8]) {
        let state = match self.conns.get(&conn) {
            Some(c) => c.state,
            None => return,
        };
        match state {
            ConnState::Handshake => self.on_connect_request(conn, body),
            ConnState::Active(session) => self.on_request(conn, session, body),
            ConnState::Connecting => {
                // Clients pipeline auth and setWatches behind the handshake: hold them until
                // the session exists, as ZooKeeper does.
                let limit = self.config.conn_queue_max;
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                if c.early_frames.len() >= limit {
                    tracing::warn!(
                        conn = conn.0,
                        "too many requests before the session exists; closing"
                    );
                    self.close_conn(conn);
                    return;
                }
                c.early_frames.push(body.to_vec());
            }
            ConnState::Closing => {}
        }
    }

    fn on_connect_request(&mut self, conn: ConnId, body: &[u8]) {
        if !self.role.serves_clients() {
            // As ZooKeeper: a server that is not serving drops the connection; the client
            // tries another server.
            tracing::debug!(conn = conn.0, "not serving clients yet; closing");
            self.close_conn(conn);
            return;
        }
        let req = match ConnectRequest::from_bytes(body) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(conn = conn.0, error = %e, "malformed connect request; closing");
                self.close_conn(conn);
                return;
            }
        };
        let last = self.tree.last_zxid();
        if req.last_zxid_seen > last.0 {
            tracing::warn!(
                conn = conn.0,
                client_zxid = req.last_zxid_seen,
                our_zxid = last.0,
                "client has seen a newer zxid than this server; refusing session"
            );
            self.close_conn(conn);
            return;
        }
        let timeout = req.timeout_ms.clamp(
            self.config.session_timeout_ms_min,
            self.config.session_timeout_ms_max,
        );
        if let Some(c) = self.conns.get_mut(&conn) {
            c.timeout_ms = timeout;
            c.read_only = req.read_only;
        }
        if req.session_id == 0 {
            self.create_session(conn, timeout);
        } else {
            self.reattach_session(conn, SessionId(req.session_id), &req.password);
        }
    }

    fn reattach_session(&mut self, conn: ConnId, session: SessionId, password: &[u8]) {
        if self.sessions.get(session).is_none() && self.learner().is_some() {
            // A learner may not have applied the session's creation yet: look again once it
            // is as current as the leader.
            if let Some(c) = self.conns.get_mut(&conn) {
                c.state = ConnState::Connecting;
            }
            self.learner_read_index(super::learner::Waiter::Reattach {
                conn,
                session,
                password: password.to_vec(),
            });
            return;
        }
        self.reattach_checked(conn, session, password);
    }

    /// Reattaches a session known (or not) to be current.
    pub(crate) fn reattach_checked(&mut self, conn: ConnId, session: SessionId, password: &[u8]) {
        if self.sessions.get(session).is_some() && !self.sessions.is_live(session) {
            // Its close is proposed but not committed, and only a committed close ends a
            // session: a deposed leader's proposal may never commit, and a client told
            // "expired" abandons a session whose ephemerals live on. Close without an answer;
            // the client retries and learns the outcome then.
            tracing::info!(conn = conn.0, %session, "reconnect to a session being closed; closing");
            self.close_conn(conn);
            return;
        }
        let valid = self.sessions.is_live(session)
            && self
                .sessions
                .get(session)
                .is_some_and(|s| s.password == password);
        if !valid {
            tracing::info!(conn = conn.0, %session, "reconnect to an unknown or expired session");
            let rsp = ConnectResponse {
                protocol_version: 0,
                timeout_ms: 0,
                session_id: 0,
                password: vec![0; 16],
                read_only: false,
            };
            self.send(conn, rsp.to_frame());
            self.close_conn(conn);
            return;
        }
        if let Some(old) = self.session_conn.get(&session).copied() {
            if old != conn {
                tracing::info!(%session, old = old.0, new = conn.0, "session moved; closing its old connection");
                self.close_conn(old);
            }
        }
        self.sessions.touch(session, self.now.mono);
        let timeout = self.sessions.get(session).map_or(0, |s| s.timeout_ms);
        self.activate(conn, session, timeout);
    }

    /// Binds a connection to its session and answers the handshake.
    pub(crate) fn activate(&mut self, conn: ConnId, session: SessionId, timeout_ms: i32) {
        let password = self
            .sessions
            .get(session)
            .map(|s| s.password.clone())
            .unwrap_or_default();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.state == ConnState::Closing {
            return;
        }
        c.state = ConnState::Active(session);
        c.timeout_ms = timeout_ms;
        if let Some(at) = c.handshake_deadline.take() {
            self.handshake_deadlines.remove(&(at, conn));
        }
        let rsp = ConnectResponse {
            protocol_version: 0,
            timeout_ms,
            session_id: session.0,
            password,
            read_only: false,
        };
        let early = std::mem::take(&mut c.early_frames);
        self.session_conn.insert(session, conn);
        self.send(conn, rsp.to_frame());
        for frame in early {
            self.on_frame(conn, &frame);
        }
    }

    fn on_request(&mut self, conn: ConnId, session: SessionId, body: &[u8]) {
        let mut r = Reader::new(body);
        let header = match RequestHeader::read(&mut r) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(conn = conn.0, error = %e, "malformed request header; closing");
                self.close_conn(conn);
                return;
            }
        };
        if !self.sessions.is_live(session) {
            self.reply_error(conn, header.xid, err::SESSION_EXPIRED);
            self.close_conn(conn);
            return;
        }
        self.sessions.touch(session, self.now.mono);
        self.learner_touch(session);
        let request = match Request::decode(header.opcode, &mut r) {
            Ok(req) => req,
            Err(DecodeError::UnknownOpcode(code)) => {
                // As ZooKeeper's UnimplementedRequestProcessor: answer, then close.
                tracing::warn!(
                    conn = conn.0,
                    opcode = code,
                    "unknown opcode; closing connection"
                );
                let header = ReplyHeader {
                    xid: header.xid,
                    zxid: -1,
                    err: err::UNIMPLEMENTED,
                };
                self.send(conn, crate::jute::encode_reply(&header, None));
                self.close_conn(conn);
                return;
            }
            Err(DecodeError::Jute(e)) => {
                tracing::warn!(conn = conn.0, opcode = header.opcode, error = %e, "malformed request; closing");
                self.close_conn(conn);
                return;
            }
        };
        if header.opcode == op::AUTH {
            self.on_auth(conn, header.xid, &request);
            return;
        }
        let queue_max = self.config.conn_queue_max;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.queue.len() >= queue_max {
            tracing::warn!(
                conn = conn.0,
                queue_max,
                "too many queued requests; closing"
            );
            self.close_conn(conn);
            return;
        }
        c.queue.push_back(Queued {
            xid: header.xid,
            request,
        });
        self.pump(conn);
    }

    /// Answers an auth packet at once, echoing its xid (clients send -4 or an ordinary xid).
    fn on_auth(&mut self, conn: ConnId, xid: i32, request: &Request) {
        let Request::Auth { scheme, auth, .. } = request else {
            return;
        };
        let code = match self.conns.get_mut(&conn) {
            Some(c) => c.auth.add(scheme, auth),
            None => return,
        };
        let header = ReplyHeader {
            xid,
            zxid: 0,
            err: code,
        };
        self.send(conn, crate::jute::encode_reply(&header, None));
        if code != err::OK {
            tracing::info!(conn = conn.0, %scheme, "authentication failed; closing");
            self.close_conn(conn);
        }
    }

    /// Starts queued requests in order: writes are proposed at once (pipelined); a read waits
    /// until every earlier write of the connection has been answered.
    pub(crate) fn pump(&mut self, conn: ConnId) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let Some(session) = c.session() else {
                return;
            };
            if c.sync_pending.is_some() {
                return;
            }
            let Some(front) = c.queue.front() else {
                return;
            };
            let write = front.request.is_write();
            #[cfg(feature = "planted-bugs")]
            let fifo = !self.config.planted.read_before_own_write;
            #[cfg(not(feature = "planted-bugs"))]
            let fifo = true;
            if !write && c.writes_in_flight > 0 && fifo {
                return;
            }
            let Some(q) = c.queue.pop_front() else {
                return;
            };
            if write {
                c.writes_in_flight += 1;
                self.submit_write(conn, session, q.xid, q.request);
            } else if let (Request::Sync { path }, false) =
                (&q.request, self.config.is_standalone())
            {
                c.sync_pending = Some((q.xid, path.clone()));
                self.start_sync(conn);
            } else {
                self.serve_read(conn, session, q.xid, q.request);
            }
        }
    }

    /// A `sync` in an ensemble: linearizable, through a quorum-confirmed commit point.
    fn start_sync(&mut self, conn: ConnId) {
        match self.role {
            super::role::Role::Leading(_) => self.leader_sync(conn),
            super::role::Role::Following(_) => {
                self.learner_read_index(super::learner::Waiter::Sync(conn))
            }
            _ => self.close_conn(conn),
        }
    }

    /// The sync's commit point is applied: answer it and go on with the queue.
    pub(crate) fn finish_sync(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let (Some(session), Some((xid, path))) = (c.session(), c.sync_pending.take()) else {
            return;
        };
        self.serve_read(conn, session, xid, Request::Sync { path });
        self.pump(conn);
    }

    pub(crate) fn reply_error(&mut self, conn: ConnId, xid: i32, code: i32) {
        let header = ReplyHeader {
            xid,
            zxid: self.tree.last_zxid().0,
            err: code,
        };
        self.send(conn, crate::jute::encode_reply(&header, None));
    }
}

/// Finds the next frame at the start of `inbox`, checking its length before anything is buffered.
fn next_frame(inbox: &[u8], first: bool, limit: usize) -> Framed {
    if inbox.len() < 4 {
        return Framed::Incomplete;
    }
    let head = [inbox[0], inbox[1], inbox[2], inbox[3]];
    if first && super::fourlw::is_four_letter_word(&head) {
        return Framed::FourLetter(head);
    }
    let len = i32::from_be_bytes(head);
    if len <= 0 || len as usize > limit {
        return Framed::BadLength(len as i64);
    }
    let end = 4 + len as usize;
    if inbox.len() < end {
        return Framed::Incomplete;
    }
    Framed::Frame(4, end)
}
