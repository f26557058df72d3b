//! Scenario steps and the runner that plays them against one server, recording every frame.
//!
//! After each step the runner pings every open session and reads up to the ping's reply. A
//! server queues a notification before any reply to a later request on the same connection, so
//! this collects, in order, every notification a step caused, on every session.

use corral_core::jute::{
    op, xid, Acl, ConnectRequest, MultiOp, ReplyHeader, Request, WatcherEvent,
};
use corral_tests::raw::{ConnectOutcome, Frame, RawClient, ReadOutcome};
use std::time::Duration;

/// Session timeout every scripted session asks for.
pub const SESSION_TIMEOUT_MS: i32 = 6_000;
/// How long a step waits for its reply.
const REPLY_WAIT: Duration = Duration::from_secs(4);
/// How long a flush waits for its ping reply.
const FLUSH_WAIT: Duration = Duration::from_secs(4);
/// Bound on the frames read while waiting for one reply.
const FRAMES_PER_WAIT_MAX: usize = 1_000;

/// Which password a reconnect presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Password {
    /// The password the server gave the session.
    Right,
    /// Sixteen bytes that are not the session's password.
    Wrong,
}

/// One scripted action.
#[derive(Debug, Clone)]
pub enum Step {
    /// Make session `n` the active one, opening a new session for it first if needed.
    Session(usize),
    /// Send a request on the active session and record its reply.
    Op(Request),
    /// Send a frame with an arbitrary opcode and body on the active session.
    Raw {
        /// The opcode in the request header.
        opcode: i32,
        /// The body after the header.
        body: Vec<u8>,
    },
    /// Send an auth packet (xid -4) on the active session.
    Auth {
        /// Auth scheme.
        scheme: &'static str,
        /// Credentials.
        auth: &'static str,
    },
    /// closeSession on the active session, then wait for the server to close the socket.
    Close,
    /// Open connection `n` resuming session `of` with the given password; it becomes active.
    Reconnect {
        /// Index of the new connection.
        n: usize,
        /// Index of the session whose id is presented.
        of: usize,
        /// Which password is presented.
        password: Password,
    },
    /// Sleep, e.g. to let the container and TTL reaper run.
    SleepMs(u64),
}

/// One observation, in the order the runner made it.
#[derive(Debug, Clone)]
pub enum Event {
    /// A handshake finished.
    Connected {
        /// Connection index.
        conn: usize,
        /// What the server answered.
        outcome: ConnectOutcome,
    },
    /// A reply to a step's request.
    Reply {
        /// Connection index.
        conn: usize,
        /// What was asked, for the reader.
        what: String,
        /// Opcode of the request, to decode the body.
        opcode: i32,
        /// The reply header.
        header: ReplyHeader,
        /// The undecoded body.
        body: Vec<u8>,
    },
    /// A reply nobody waited for (an xid of an earlier step, say).
    StrayReply {
        /// Connection index.
        conn: usize,
        /// The reply header.
        header: ReplyHeader,
    },
    /// A watch notification.
    Notification {
        /// Connection index.
        conn: usize,
        /// Header zxid.
        zxid: i64,
        /// The event.
        event: WatcherEvent,
    },
    /// The server closed the connection.
    Closed {
        /// Connection index.
        conn: usize,
    },
    /// No reply within the wait.
    NoReply {
        /// Connection index.
        conn: usize,
        /// What was asked.
        what: String,
    },
}

struct Conn {
    client: RawClient,
    xid_next: i32,
}

/// Plays steps against one server and records [`Event`]s.
pub struct Runner {
    addr: String,
    conns: Vec<Option<Conn>>,
    /// Session id and password each connection was last given, by connection index.
    creds: Vec<(i64, Vec<u8>)>,
    /// Every session id the server granted, in the order granted: `s<k>` in traces.
    pub sessions: Vec<i64>,
    /// Every session granted, with its password, for the final cleanup.
    granted: Vec<(i64, Vec<u8>)>,
    active: usize,
    /// Everything observed, in order.
    pub events: Vec<Event>,
}

impl Runner {
    /// A runner for the server at `addr`; no connection is opened yet.
    pub fn new(addr: &str) -> Runner {
        Runner {
            addr: addr.to_owned(),
            conns: Vec::new(),
            creds: Vec::new(),
            sessions: Vec::new(),
            granted: Vec::new(),
            active: 0,
            events: Vec::new(),
        }
    }

    /// Plays every step, then closes every session it opened (unrecorded), so that no session
    /// expires later, in the middle of another scenario, and takes a zxid there.
    pub fn run(mut self, steps: &[Step]) -> Runner {
        for step in steps {
            self.step(step);
            self.flush_all();
        }
        self.close_everything();
        self
    }

    fn close_everything(&mut self) {
        for conn in self.conns.iter_mut().filter_map(Option::take) {
            close_session(conn.client);
        }
        for (id, password) in std::mem::take(&mut self.granted) {
            let req = ConnectRequest {
                session_id: id,
                password,
                ..RawClient::new_session_request(SESSION_TIMEOUT_MS)
            };
            if let Ok((Some(client), ConnectOutcome::Answered { response })) =
                RawClient::connect(&self.addr, &req)
            {
                if response.timeout_ms > 0 {
                    close_session(client);
                }
            }
        }
    }

    fn step(&mut self, step: &Step) {
        match step {
            Step::Session(n) => {
                if self.conns.get(*n).is_none_or(|c| c.is_none()) {
                    let req = RawClient::new_session_request(SESSION_TIMEOUT_MS);
                    self.connect(*n, &req);
                }
                self.active = *n;
            }
            Step::Op(req) => {
                let what = describe(req);
                self.request(xid_of(req), req.opcode(), what, |c, x| c.send(x, req))
            }
            Step::Raw { opcode, body } => {
                let what = format!("raw opcode {opcode} body {body:02x?}");
                self.request(None, *opcode, what, |c, x| c.send_raw(x, *opcode, body))
            }
            Step::Auth { scheme, auth } => {
                let req = Request::Auth {
                    auth_type: 0,
                    scheme: (*scheme).to_owned(),
                    auth: auth.as_bytes().to_vec(),
                };
                let what = format!("auth {scheme}:{auth}");
                self.request(Some(xid::AUTH), op::AUTH, what, |c, x| c.send(x, &req));
            }
            Step::Close => {
                let req = Request::CloseSession;
                let what = "closeSession".to_owned();
                self.request(None, op::CLOSE_SESSION, what, |c, x| c.send(x, &req));
            }
            Step::Reconnect { n, of, password } => {
                let (id, right) = self.creds.get(*of).cloned().unwrap_or_default();
                let password = match password {
                    Password::Right => right,
                    Password::Wrong => vec![0x5a; 16],
                };
                let req = ConnectRequest {
                    session_id: id,
                    password,
                    ..RawClient::new_session_request(SESSION_TIMEOUT_MS)
                };
                self.connect(*n, &req);
                self.active = *n;
            }
            Step::SleepMs(ms) => std::thread::sleep(Duration::from_millis(*ms)),
        }
    }

    fn connect(&mut self, n: usize, req: &ConnectRequest) {
        while self.conns.len() <= n {
            self.conns.push(None);
            self.creds.push((0, Vec::new()));
        }
        let (client, outcome) = RawClient::connect(&self.addr, req)
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.addr));
        if let ConnectOutcome::Answered { response } = &outcome {
            if response.timeout_ms > 0 && req.session_id == 0 {
                self.creds[n] = (response.session_id, response.password.clone());
                self.sessions.push(response.session_id);
                self.granted
                    .push((response.session_id, response.password.clone()));
            }
        }
        self.events.push(Event::Connected {
            conn: n,
            outcome: outcome.clone(),
        });
        match client {
            Some(client) => {
                self.conns[n] = Some(Conn {
                    client,
                    xid_next: 1,
                })
            }
            None => {
                self.conns[n] = None;
                self.events.push(Event::Closed { conn: n });
            }
        }
    }

    /// Sends one request on the active connection and reads until its reply.
    fn request(
        &mut self,
        fixed_xid: Option<i32>,
        opcode: i32,
        what: String,
        send: impl FnOnce(&mut RawClient, i32) -> std::io::Result<()>,
    ) {
        let n = self.active;
        let Some(conn) = self.conns.get_mut(n).and_then(|c| c.as_mut()) else {
            self.events.push(Event::NoReply {
                conn: n,
                what: format!("{what} (not connected)"),
            });
            return;
        };
        let x = fixed_xid.unwrap_or(conn.xid_next);
        conn.xid_next += 1;
        if send(&mut conn.client, x).is_err() {
            self.mark_closed(n);
            return;
        }
        self.read_until(n, x, Some((what, opcode)), REPLY_WAIT);
    }

    /// Pings every open connection and reads up to the ping reply.
    fn flush_all(&mut self) {
        for n in 0..self.conns.len() {
            let Some(conn) = self.conns[n].as_mut() else {
                continue;
            };
            if conn.client.send_ping().is_err() {
                self.mark_closed(n);
                continue;
            }
            self.read_until(n, xid::PING, None, FLUSH_WAIT);
        }
    }

    /// Reads frames on `n` until the reply with `want`, recording everything else.
    fn read_until(&mut self, n: usize, want: i32, reply: Option<(String, i32)>, wait: Duration) {
        for _ in 0..FRAMES_PER_WAIT_MAX {
            let Some(conn) = self.conns[n].as_mut() else {
                return;
            };
            let outcome = conn.client.read(wait).unwrap_or(ReadOutcome::Closed);
            match outcome {
                ReadOutcome::Frame(Frame::Notification { zxid, event }) => {
                    self.events.push(Event::Notification {
                        conn: n,
                        zxid,
                        event,
                    });
                }
                ReadOutcome::Frame(Frame::Reply { header, body }) if header.xid == want => {
                    if let Some((what, opcode)) = reply {
                        self.events.push(Event::Reply {
                            conn: n,
                            what,
                            opcode,
                            header,
                            body,
                        });
                    }
                    return;
                }
                ReadOutcome::Frame(Frame::Reply { header, .. }) => {
                    self.events.push(Event::StrayReply { conn: n, header });
                }
                ReadOutcome::Closed => {
                    self.mark_closed(n);
                    return;
                }
                ReadOutcome::TimedOut => {
                    let what = reply.map_or_else(|| "ping".to_owned(), |(w, _)| w);
                    self.events.push(Event::NoReply { conn: n, what });
                    return;
                }
            }
        }
        panic!("connection {n} sent more than {FRAMES_PER_WAIT_MAX} frames for one request");
    }

    fn mark_closed(&mut self, n: usize) {
        if let Some(slot) = self.conns.get_mut(n) {
            if slot.take().is_some() {
                self.events.push(Event::Closed { conn: n });
            }
        }
    }
}

/// Sends closeSession and waits (bounded) for the reply or the close; nothing is recorded.
fn close_session(mut client: RawClient) {
    if client.send(1_000_000, &Request::CloseSession).is_err() {
        return;
    }
    for _ in 0..FRAMES_PER_WAIT_MAX {
        match client.read(FLUSH_WAIT) {
            Ok(ReadOutcome::Frame(Frame::Reply { header, .. })) if header.xid == 1_000_000 => {
                return
            }
            Ok(ReadOutcome::Frame(_)) => {}
            _ => return,
        }
    }
}

/// Requests that must go with a reserved xid.
fn xid_of(req: &Request) -> Option<i32> {
    match req {
        Request::Auth { .. } => Some(xid::AUTH),
        _ => None,
    }
}

/// A one-line description of a request, for the trace.
pub fn describe(req: &Request) -> String {
    match req {
        Request::Create(c) | Request::Create2(c) | Request::CreateContainer(c) => format!(
            "{} {} data={:?} flags={} acl={}",
            op_name(req.opcode()),
            c.path,
            String::from_utf8_lossy(&c.data),
            c.flags,
            acl_text(&c.acl)
        ),
        Request::CreateTtl(c) => format!(
            "createTTL {} data={:?} flags={} ttl={} acl={}",
            c.path,
            String::from_utf8_lossy(&c.data),
            c.flags,
            c.ttl,
            acl_text(&c.acl)
        ),
        Request::SetData {
            path,
            data,
            version,
        } => format!(
            "setData {path} data={:?} version={version}",
            String::from_utf8_lossy(data)
        ),
        Request::SetAcl { path, acl, version } => {
            format!("setACL {path} acl={} version={version}", acl_text(acl))
        }
        Request::Multi(ops) | Request::MultiRead(ops) => {
            let ops: Vec<String> = ops.iter().map(describe_multi_op).collect();
            format!("{} [{}]", op_name(req.opcode()), ops.join(", "))
        }
        other => format!("{other:?}"),
    }
}

fn describe_multi_op(o: &MultiOp) -> String {
    match o {
        MultiOp::Create(c) | MultiOp::Create2(c) | MultiOp::CreateContainer(c) => {
            format!("{} {} flags={}", op_name(o.opcode()), c.path, c.flags)
        }
        MultiOp::CreateTtl(c) => format!("createTTL {} flags={} ttl={}", c.path, c.flags, c.ttl),
        MultiOp::Delete { path, version } => format!("delete {path} version={version}"),
        MultiOp::SetData {
            path,
            data,
            version,
        } => format!(
            "setData {path} data={:?} version={version}",
            String::from_utf8_lossy(data)
        ),
        MultiOp::Check { path, version } => format!("check {path} version={version}"),
        MultiOp::GetChildren { path } => format!("getChildren {path}"),
        MultiOp::GetData { path } => format!("getData {path}"),
    }
}

/// Renders an ACL list as `perms:scheme:id` entries, in order.
pub fn acl_text(acl: &[Acl]) -> String {
    let parts: Vec<String> = acl
        .iter()
        .map(|a| format!("{}:{}:{}", a.perms, a.id.scheme, a.id.id))
        .collect();
    format!("[{}]", parts.join(","))
}

/// ZooKeeper's name for an opcode.
pub fn op_name(opcode: i32) -> &'static str {
    match opcode {
        op::CREATE => "create",
        op::CREATE2 => "create2",
        op::CREATE_CONTAINER => "createContainer",
        op::CREATE_TTL => "createTTL",
        op::MULTI => "multi",
        op::MULTI_READ => "multiRead",
        _ => "op",
    }
}

/// `world:anyone` with every permission.
pub fn open() -> Vec<Acl> {
    Acl::open_unsafe()
}
