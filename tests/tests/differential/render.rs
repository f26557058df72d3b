//! Turns a run's events into comparable text lines, one per event.
//!
//! Values that legitimately differ between two servers are normalized:
//! - zxids become `z<k>`, numbered in the order they were first seen in the run (zxids grow, so
//!   this preserves their order); zero and negative values stay as they are;
//! - session ids become `s<k>`, the index of the connection that was given the id;
//! - times become relations: `ctime` is `0` or `t`; `mtime` is `=ctime` when the node was never
//!   modified (`mzxid == czxid`, where ZooKeeper guarantees equality) and `>=ctime` otherwise;
//!   a violated relation renders as `BROKEN`;
//! - children and getEphemerals paths are sorted.
//!
//! A trace has two parts, compared separately: the main lines (codes, bodies, notifications,
//! handshakes, closes) and the wire lines (each reply's header zxid and any bytes after the
//! record), so that a wire-level difference does not hide the semantic comparison. Main-line zxid
//! labels come only from stats and notifications; a header zxid takes the label of an equal
//! stat zxid, or a fresh `h<k>`.

use super::steps::{acl_text, Event, Runner};
use corral_core::jute::{
    err, event, ConnectResponse, MultiReadResult, MultiResult, Reader, Response, Stat,
};
use corral_tests::raw::ConnectOutcome;
use std::collections::BTreeMap;

struct Labels<'a> {
    zxids: BTreeMap<i64, usize>,
    headers: BTreeMap<i64, usize>,
    sessions: &'a [i64],
}

impl Labels<'_> {
    fn zxid(&mut self, z: i64) -> String {
        if z <= 0 {
            return z.to_string();
        }
        let next = self.zxids.len();
        let k = *self.zxids.entry(z).or_insert(next);
        format!("z{k}")
    }

    fn header_zxid(&mut self, z: i64) -> String {
        if z <= 0 {
            return z.to_string();
        }
        if let Some(k) = self.zxids.get(&z) {
            return format!("z{k}");
        }
        let next = self.headers.len();
        let k = *self.headers.entry(z).or_insert(next);
        format!("h{k}")
    }

    fn session(&self, id: i64) -> String {
        if id == 0 {
            return "0".to_owned();
        }
        match self.sessions.iter().position(|s| *s == id) {
            Some(k) => format!("s{k}"),
            None => format!("{id:#x}"),
        }
    }

    fn stat(&mut self, s: &Stat) -> String {
        let ctime = if s.ctime == 0 { "0" } else { "t" };
        let mtime = match (s.mzxid == s.czxid, s.mtime == s.ctime, s.mtime >= s.ctime) {
            (true, true, _) => "=ctime",
            (false, _, true) => ">=ctime",
            _ => "BROKEN",
        };
        format!(
            "{{cz={} mz={} pz={} ctime={ctime} mtime={mtime} v={} cv={} av={} owner={} len={} kids={}}}",
            self.zxid(s.czxid),
            self.zxid(s.mzxid),
            self.zxid(s.pzxid),
            s.version,
            s.cversion,
            s.aversion,
            self.session(s.ephemeral_owner),
            s.data_length,
            s.num_children,
        )
    }

    fn connect(&self, r: &ConnectResponse) -> String {
        format!(
            "timeout={} session={} password_len={} read_only={}",
            r.timeout_ms,
            self.session(r.session_id),
            r.password.len(),
            r.read_only
        )
    }
}

/// A rendered run.
pub struct Trace {
    /// One line per event.
    pub main: Vec<String>,
    /// One line per reply: header zxid and trailing bytes.
    pub wire: Vec<String>,
}

/// The run's events as text.
pub fn render(runner: &Runner) -> Trace {
    let mut labels = Labels {
        zxids: BTreeMap::new(),
        headers: BTreeMap::new(),
        sessions: &runner.sessions,
    };
    let main = runner
        .events
        .iter()
        .map(|e| render_event(&mut labels, e))
        .collect();
    let wire = runner
        .events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| render_wire(&mut labels, i, e))
        .collect();
    Trace { main, wire }
}

fn render_wire(labels: &mut Labels<'_>, line: usize, e: &Event) -> Option<String> {
    let Event::Reply {
        conn,
        opcode,
        header,
        body,
        ..
    } = e
    else {
        return None;
    };
    let zxid = labels.header_zxid(header.zxid);
    let trailing = match trailing_bytes(*opcode, header.err, body) {
        [] => String::new(),
        bytes => format!(" trailing={bytes:02x?}"),
    };
    Some(format!("line {line} c{conn}: header zxid={zxid}{trailing}"))
}

/// The bytes after the reply's record (all of them for an error reply or an unknown opcode).
fn trailing_bytes(opcode: i32, code: i32, body: &[u8]) -> &[u8] {
    if code != err::OK {
        return body;
    }
    let mut r = Reader::new(body);
    match Response::decode(opcode, &mut r) {
        Ok(_) => r.rest(),
        Err(_) => body,
    }
}

fn render_event(labels: &mut Labels<'_>, e: &Event) -> String {
    match e {
        Event::Connected { conn, outcome } => match outcome {
            ConnectOutcome::Answered { response } => {
                format!("c{conn} connected: {}", labels.connect(response))
            }
            ConnectOutcome::Closed => format!("c{conn} connect: closed without answer"),
        },
        Event::Reply {
            conn,
            what,
            opcode,
            header,
            body,
        } => format!(
            "c{conn} {what} -> err={} {}",
            err_name(header.err),
            render_body(labels, *opcode, header.err, body)
        ),
        Event::StrayReply { conn, header } => format!(
            "c{conn} stray reply xid={} err={}",
            header.xid,
            err_name(header.err)
        ),
        Event::Notification {
            conn,
            zxid,
            event: ev,
        } => format!(
            "c{conn} notification {} state={} path={} zxid={}",
            event_name(ev.event_type),
            ev.state,
            ev.path,
            labels.zxid(*zxid)
        ),
        Event::Closed { conn } => format!("c{conn} closed by server"),
        Event::NoReply { conn, what } => format!("c{conn} {what} -> no reply"),
    }
}

/// The reply's record; bytes that follow it belong to the wire trace.
fn render_body(labels: &mut Labels<'_>, opcode: i32, code: i32, body: &[u8]) -> String {
    if code != err::OK {
        return String::new();
    }
    let mut r = Reader::new(body);
    match Response::decode(opcode, &mut r) {
        Ok(resp) => render_response(labels, &resp),
        Err(e) => format!("undecodable ({e})"),
    }
}

fn render_response(labels: &mut Labels<'_>, resp: &Response) -> String {
    match resp {
        Response::Create { path } => format!("path={path}"),
        Response::Create2 { path, stat } => format!("path={path} stat={}", labels.stat(stat)),
        Response::Stat { stat } => format!("stat={}", labels.stat(stat)),
        Response::GetData { data, stat } => {
            format!("data={:?} stat={}", lossy(data), labels.stat(stat))
        }
        Response::GetAcl { acl, stat } => {
            format!("acl={} stat={}", acl_text(acl), labels.stat(stat))
        }
        Response::GetChildren { children } => format!("children={:?}", sorted(children)),
        Response::GetChildren2 { children, stat } => {
            format!("children={:?} stat={}", sorted(children), labels.stat(stat))
        }
        Response::GetAllChildrenNumber { total } => format!("total={total}"),
        Response::GetEphemerals { paths } => format!("paths={:?}", sorted(paths)),
        Response::Sync { path } => format!("path={path}"),
        Response::Multi(results) => {
            let parts: Vec<String> = results.iter().map(|r| multi_result(labels, r)).collect();
            format!("results=[{}]", parts.join(", "))
        }
        Response::MultiRead(results) => {
            let parts: Vec<String> = results.iter().map(|r| multi_read(labels, r)).collect();
            format!("results=[{}]", parts.join(", "))
        }
        Response::WhoAmI { clients } => {
            // ZooKeeper keeps a connection's ids in no particular order: compare them as a set.
            let mut ids: Vec<String> = clients
                .iter()
                .map(|c| format!("{}:{}", c.auth_scheme, c.user))
                .collect();
            ids.sort();
            format!("clients={ids:?}")
        }
        Response::AddWatch | Response::Empty => "empty".to_owned(),
    }
}

fn multi_result(labels: &mut Labels<'_>, r: &MultiResult) -> String {
    match r {
        MultiResult::Create { path } => format!("create path={path}"),
        MultiResult::Create2 { path, stat } => {
            format!("create2 path={path} stat={}", labels.stat(stat))
        }
        MultiResult::Delete => "delete".to_owned(),
        MultiResult::SetData { stat } => format!("setData stat={}", labels.stat(stat)),
        MultiResult::Check => "check".to_owned(),
        MultiResult::Error { err: code } => format!("error {}", err_name(*code)),
    }
}

fn multi_read(labels: &mut Labels<'_>, r: &MultiReadResult) -> String {
    match r {
        MultiReadResult::GetChildren { children } => {
            format!("getChildren children={:?}", sorted(children))
        }
        MultiReadResult::GetData { data, stat } => {
            format!("getData data={:?} stat={}", lossy(data), labels.stat(stat))
        }
        MultiReadResult::Error { err: code } => format!("error {}", err_name(*code)),
    }
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn lossy(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// An error code with ZooKeeper's name for it.
pub fn err_name(code: i32) -> String {
    let name = match code {
        err::OK => "OK",
        err::SYSTEM_ERROR => "SystemError",
        err::RUNTIME_INCONSISTENCY => "RuntimeInconsistency",
        err::MARSHALLING_ERROR => "MarshallingError",
        err::UNIMPLEMENTED => "Unimplemented",
        err::BAD_ARGUMENTS => "BadArguments",
        err::NO_NODE => "NoNode",
        err::NO_AUTH => "NoAuth",
        err::BAD_VERSION => "BadVersion",
        err::NO_CHILDREN_FOR_EPHEMERALS => "NoChildrenForEphemerals",
        err::NODE_EXISTS => "NodeExists",
        err::NOT_EMPTY => "NotEmpty",
        err::SESSION_EXPIRED => "SessionExpired",
        err::INVALID_ACL => "InvalidACL",
        err::AUTH_FAILED => "AuthFailed",
        err::NO_WATCHER => "NoWatcher",
        err::RECONFIG_DISABLED => "ReconfigDisabled",
        err::UNKNOWN_SESSION => "UnknownSession",
        err::API_ERROR => "APIError",
        _ => "?",
    };
    format!("{code}({name})")
}

fn event_name(t: i32) -> String {
    let name = match t {
        event::NONE => "None",
        event::NODE_CREATED => "NodeCreated",
        event::NODE_DELETED => "NodeDeleted",
        event::NODE_DATA_CHANGED => "NodeDataChanged",
        event::NODE_CHILDREN_CHANGED => "NodeChildrenChanged",
        event::DATA_WATCH_REMOVED => "DataWatchRemoved",
        event::CHILD_WATCH_REMOVED => "ChildWatchRemoved",
        event::PERSISTENT_WATCH_REMOVED => "PersistentWatchRemoved",
        other => return other.to_string(),
    };
    name.to_owned()
}
