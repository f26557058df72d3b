//! Simulated ZooKeeper clients: sessions that speak the real jute codec, fail over on connection
//! loss, and run a register workload whose every step is recorded for the checkers.

use crate::election::ElectionState;
use crate::history::{History, Op, OpKind, Outcome};
use crate::lock::{self, LockState, LockStep};
use corral_core::jute::{
    create_mode, encode_request, err, op, xid, Acl, ConnectRequest, ConnectResponse, CreateRequest,
    Reader, Record, ReplyHeader, Request, Response, WatcherEvent, Writer,
};
use corral_core::ConnId;
use std::collections::BTreeMap;

/// Path of register `key`.
pub fn key_path(key: usize) -> String {
    format!("/r{key}")
}

/// The register a path names, if it is one (the inverse of [`key_path`]).
pub fn register_key(path: &str) -> Option<usize> {
    path.strip_prefix("/r")?.parse().ok()
}

/// Parent of every client's ephemeral node.
pub const EPHEMERAL_PARENT: &str = "/eph";

/// Parent of the sequential nodes clients create.
pub const SEQUENTIAL_PARENT: &str = "/seq";

/// Path of client `client`'s ephemeral node.
pub fn ephemeral_path(client: usize) -> String {
    format!("{EPHEMERAL_PARENT}/c{client}")
}

/// Where a client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// No connection; will reconnect at the world's choosing.
    Disconnected,
    /// Handshake sent.
    Connecting,
    /// Session established.
    Connected,
}

/// One client.
#[derive(Debug)]
pub struct Client {
    /// Index in the world.
    pub id: usize,
    /// Current connection.
    pub conn: Option<ConnId>,
    /// The server (index) it is connected to.
    pub server: Option<usize>,
    /// Lifecycle.
    pub state: ClientState,
    /// Session id and password, once established.
    pub session: Option<(i64, Vec<u8>)>,
    /// Requested timeout.
    pub timeout_ms: i32,
    /// Highest zxid seen, sent on reconnect.
    pub last_zxid: i64,
    pub(crate) next_xid: i32,
    /// xid -> (history index, opcode); a SyncGet has its sync xid mapped too.
    outstanding: BTreeMap<i32, (usize, i32)>,
    /// Unparsed bytes from the server.
    inbox: Vec<u8>,
    /// Version last read per key, for conditional sets.
    pub versions: BTreeMap<usize, i32>,
    /// Writes issued so far (makes values unique).
    pub writes: u64,
    /// Ops completed successfully (for the liveness check).
    pub completed_ok: u64,
    /// Simulated ns until which the client neither sends nor pings (a GC-like pause).
    pub paused_until_ns: u64,
    /// Last time anything was sent, for pings.
    pub last_send_ns: u64,
    /// History indexes of operations answered since the world last looked.
    pub completed: Vec<usize>,
    /// A new session was established and its ephemeral node is not created yet.
    pub needs_ephemeral: bool,
    /// One-shot data watches this connection holds: register path -> mzxid when it was set.
    watches: BTreeMap<String, i64>,
    /// Where the client is in the lock recipe.
    pub lock: LockState,
    /// Lock requests awaiting replies, by xid.
    pub(crate) lock_xids: BTreeMap<i32, LockStep>,
    /// Where the client is in the leader-election recipe.
    pub election: ElectionState,
    /// Election requests awaiting replies, by xid (the recipe's steps are the lock's).
    pub(crate) election_xids: BTreeMap<i32, LockStep>,
    /// Frames produced while handling replies, for the world to send.
    pub out: Vec<u8>,
}

impl Client {
    /// A watch notification arrived: it must match a watch this connection holds, once.
    fn notified(&mut self, r: &mut Reader<'_>, history: &mut History) {
        let Ok(ev) = WatcherEvent::read(r) else {
            history
                .watch_violations
                .push(format!("client {}: undecodable notification", self.id));
            return;
        };
        if let LockState::Waiting { node, pred } = &self.lock {
            if *pred == ev.path {
                self.lock = LockState::Listing(node.clone());
                self.lock_list();
                return;
            }
        }
        if self.election_notified(&ev.path) {
            return;
        }
        if !ev.path.starts_with("/r") {
            return;
        }
        if self.watches.remove(&ev.path).is_none() {
            history.watch_violations.push(format!(
                "client {}: event {} on {} without a pending watch (fired twice, or never set)",
                self.id, ev.event_type, ev.path
            ));
        }
    }

    /// A fresh, disconnected client.
    pub fn new(id: usize, timeout_ms: i32) -> Client {
        Client {
            id,
            conn: None,
            server: None,
            state: ClientState::Disconnected,
            session: None,
            timeout_ms,
            last_zxid: 0,
            next_xid: 1,
            outstanding: BTreeMap::new(),
            inbox: Vec::new(),
            versions: BTreeMap::new(),
            writes: 0,
            completed_ok: 0,
            paused_until_ns: 0,
            last_send_ns: 0,
            completed: Vec::new(),
            needs_ephemeral: false,
            watches: BTreeMap::new(),
            lock: LockState::Idle,
            lock_xids: BTreeMap::new(),
            election: ElectionState::Idle,
            election_xids: BTreeMap::new(),
            out: Vec::new(),
        }
    }

    /// True when no operation is waiting for a reply.
    pub fn idle(&self) -> bool {
        self.outstanding.is_empty() && self.lock_xids.is_empty() && self.election_xids.is_empty()
    }

    /// The handshake frame for a new connection `conn`.
    pub fn connect(&mut self, conn: ConnId) -> Vec<u8> {
        self.conn = Some(conn);
        self.state = ClientState::Connecting;
        self.inbox.clear();
        let (session_id, password) = self.session.clone().unwrap_or((0, vec![0; 16]));
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.last_zxid,
            timeout_ms: self.timeout_ms,
            session_id,
            password,
            read_only: false,
        };
        let mut w = Writer::framed();
        req.write(&mut w);
        w.finish_frame()
    }

    /// The connection is gone: outstanding operations become indeterminate.
    pub fn disconnected(&mut self) {
        self.conn = None;
        self.state = ClientState::Disconnected;
        self.outstanding.clear();
        self.inbox.clear();
        // Watches belong to the connection (this client does not re-register them).
        self.watches.clear();
        self.lock_xids.clear();
        self.out.clear();
        if self.lock != LockState::Idle {
            // The attempt is abandoned; a node it left is deleted on the next connection of
            // this session (or vanishes with the session).
            self.lock = LockState::Cleanup;
        }
        self.election_xids.clear();
        if self.election != ElectionState::Idle {
            // Likewise: a leader that lost its connection steps down by deleting its node on
            // the next connection; its term ends at that delete or at its session's close.
            self.election = ElectionState::Cleanup;
        }
    }

    /// Frames for a new operation, recorded in `history`.
    pub fn issue(
        &mut self,
        kind: OpKind,
        key: usize,
        now_ns: u64,
        history: &mut History,
    ) -> Vec<u8> {
        let session = self.session.as_ref().map_or(0, |s| s.0);
        let index = history.ops.len();
        let path = key_path(key);
        let mut frames = Vec::new();
        let mut push = |this: &mut Client, req: Request, track: bool| {
            let x = this.next_xid;
            this.next_xid += 1;
            if track {
                this.outstanding.insert(x, (index, req.opcode()));
            }
            frames.extend(encode_request(x, &req));
        };
        match &kind {
            OpKind::Set { value } => push(
                self,
                Request::SetData {
                    path,
                    data: value.clone(),
                    version: -1,
                },
                true,
            ),
            OpKind::CasSet { value, version } => push(
                self,
                Request::SetData {
                    path,
                    data: value.clone(),
                    version: *version,
                },
                true,
            ),
            OpKind::Get => push(self, Request::GetData { path, watch: false }, true),
            OpKind::GetWatch => push(self, Request::GetData { path, watch: true }, true),
            OpKind::SyncGet => {
                push(self, Request::Sync { path: path.clone() }, false);
                push(self, Request::GetData { path, watch: false }, true);
            }
            OpKind::CreateEphemeral => {
                let req = CreateRequest {
                    path: ephemeral_path(self.id),
                    data: Vec::new(),
                    acl: Acl::open_unsafe(),
                    flags: create_mode::EPHEMERAL,
                };
                push(self, Request::Create(req), true);
            }
            OpKind::CreateSequential => {
                let req = CreateRequest {
                    path: format!("{SEQUENTIAL_PARENT}/s-"),
                    data: Vec::new(),
                    acl: Acl::open_unsafe(),
                    flags: create_mode::PERSISTENT_SEQUENTIAL,
                };
                push(self, Request::Create(req), true);
            }
            OpKind::CheckEphemeral => {
                let path = ephemeral_path(self.id);
                push(self, Request::Exists { path, watch: false }, true);
            }
        }
        history.ops.push(Op {
            client: self.id,
            session,
            key,
            kind,
            invoke_ns: now_ns,
            complete_ns: None,
            outcome: Outcome::Unknown,
            follows: None,
        });
        self.last_send_ns = now_ns;
        frames
    }

    /// A ping frame.
    pub fn ping(&mut self, now_ns: u64) -> Vec<u8> {
        self.last_send_ns = now_ns;
        encode_request(xid::PING, &Request::Ping)
    }

    /// Feeds bytes from the server. Returns false when the client must drop the connection
    /// (its session is gone or the stream is garbage).
    pub fn receive(&mut self, bytes: &[u8], now_ns: u64, history: &mut History) -> bool {
        self.inbox.extend_from_slice(bytes);
        let mut at = 0;
        let mut ok = true;
        while self.inbox.len() >= at + 4 {
            let head = [
                self.inbox[at],
                self.inbox[at + 1],
                self.inbox[at + 2],
                self.inbox[at + 3],
            ];
            let len = i32::from_be_bytes(head);
            if len < 0 {
                ok = false;
                break;
            }
            let end = at + 4 + len as usize;
            if self.inbox.len() < end {
                break;
            }
            let frame = self.inbox[at + 4..end].to_vec();
            at = end;
            if !self.frame(&frame, now_ns, history) {
                ok = false;
                break;
            }
        }
        self.inbox.drain(..at.min(self.inbox.len()));
        ok
    }

    fn frame(&mut self, frame: &[u8], now_ns: u64, history: &mut History) -> bool {
        if self.state == ClientState::Connecting {
            let Ok(rsp) = ConnectResponse::from_bytes(frame) else {
                return false;
            };
            if rsp.timeout_ms <= 0 {
                // The session expired: start a new one on the next connection.
                self.session = None;
                return false;
            }
            let fresh = self.session.as_ref().map(|s| s.0) != Some(rsp.session_id);
            self.needs_ephemeral |= fresh;
            self.session = Some((rsp.session_id, rsp.password));
            self.state = ClientState::Connected;
            if fresh {
                self.lock = LockState::Idle;
                self.election = ElectionState::Idle;
            }
            if self.lock == LockState::Cleanup {
                self.lock_send(LockStep::Cleanup, |x| {
                    lock::list_frame(x, lock::LOCK_PARENT)
                });
            }
            if self.election == ElectionState::Cleanup {
                self.election_list(LockStep::Cleanup);
            }
            return true;
        }
        let mut r = Reader::new(frame);
        let Ok(h) = ReplyHeader::read(&mut r) else {
            return false;
        };
        if h.xid == xid::NOTIFICATION {
            self.notified(&mut r, history);
            return true;
        }
        if h.xid == xid::PING {
            return true;
        }
        if h.zxid > 0 {
            if let Some((s, _)) = &self.session {
                history.session_zxids.push((self.id, *s, h.zxid));
            }
            self.last_zxid = self.last_zxid.max(h.zxid);
        }
        if let Some(step) = self.lock_xids.remove(&h.xid) {
            return self.lock_reply(step, &h, &mut r, now_ns, history);
        }
        if let Some(step) = self.election_xids.remove(&h.xid) {
            return self.election_reply(step, &h, &mut r, now_ns, history);
        }
        let Some((index, opcode)) = self.outstanding.remove(&h.xid) else {
            return true; // the sync half of a SyncGet
        };
        let op = &mut history.ops[index];
        op.complete_ns = Some(now_ns);
        self.completed.push(index);
        if h.err != err::OK {
            op.outcome = Outcome::Failed { code: h.err };
            return true;
        }
        let body = Response::decode(opcode, &mut r).ok();
        let (data, stat) = match body {
            Some(Response::GetData { data, stat }) => (data, stat),
            Some(Response::Stat { stat }) => (Vec::new(), stat),
            Some(Response::Create { path }) => {
                if let (OpKind::CreateSequential, Some(seq)) = (&op.kind, lock::sequence(&path)) {
                    history.seq_creates.push((h.zxid, seq));
                }
                (path.into_bytes(), Default::default())
            }
            _ => return false,
        };
        if opcode == op::GET_DATA {
            self.versions.insert(op.key, stat.version);
        }
        let path = key_path(op.key);
        let is_register = op.kind.is_read() || op.kind.is_write();
        let watched = op.kind == OpKind::GetWatch;
        if let (true, Some(&set_at)) = (is_register, self.watches.get(&path)) {
            // ZooKeeper sends the event before any reply that shows the change.
            if stat.mzxid > set_at {
                history.watch_violations.push(format!(
                    "client {} saw {path} at mzxid 0x{:x} before the event of its watch set at 0x{set_at:x}",
                    self.id, stat.mzxid
                ));
                self.watches.remove(&path);
            }
        }
        if watched {
            self.watches.entry(path).or_insert(stat.mzxid);
        }
        op.outcome = Outcome::Ok {
            zxid: h.zxid,
            data,
            mzxid: stat.mzxid,
            version: stat.version,
        };
        self.completed_ok += 1;
        true
    }
}
