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

use super::steps::{acl_text, Event, Runner};
use corral_core::jute::{
    err, event, ConnectResponse, MultiReadResult, MultiResult, Reader, Response, Stat,
};
use corral_tests::raw::ConnectOutcome;
use std::collections::BTreeMap;

struct Labels<'a> {
    zxids: BTreeMap<i64, usize>,
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

/// The run's events as text, one line per event.
pub fn render(runner: &Runner) -> Vec<String> {
    let mut labels = Labels {
        zxids: BTreeMap::new(),
        sessions: &runner.sessions,
    };
    runner
        .events
        .iter()
        .map(|e| render_event(&mut labels, e))
        .collect()
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
            "c{conn} {what} -> err={} zxid={} {}",
            err_name(header.err),
            labels.zxid(header.zxid),
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

fn render_body(labels: &mut Labels<'_>, opcode: i32, code: i32, body: &[u8]) -> String {
    if code != err::OK {
        return if body.is_empty() {
            String::new()
        } else {
            format!("body={:02x?}", body)
        };
    }
    let mut r = Reader::new(body);
    let text = match Response::decode(opcode, &mut r) {
        Ok(resp) => render_response(labels, &resp),
        Err(e) => return format!("undecodable ({e}) body={:02x?}", body),
    };
    match r.remaining() {
        0 => text,
        n => format!("{text} +{n} trailing bytes"),
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
            let ids: Vec<String> = clients
                .iter()
                .map(|c| format!("{}:{}", c.auth_scheme, c.user))
                .collect();
            format!("clients={ids:?}")
        }
        Response::Empty => "empty".to_owned(),
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
