//! Node tests without any IO: a tiny in-memory adapter drives the node and decodes its frames.

use super::*;
use crate::jute::{
    create_mode, err, event, op, xid, Acl, ConnectRequest, ConnectResponse, CreateRequest, MultiOp,
    MultiResult, Reader, Record, ReplyHeader, Request, Response, WatcherEvent,
};
use crate::txn::TxnOp;
use std::collections::{BTreeMap, BTreeSet};

/// What a client received, decoded.
#[derive(Debug, Clone, PartialEq)]
enum Received {
    Reply(ReplyHeader, Option<Response>),
    Event(WatcherEvent),
}

struct Harness {
    node: Node,
    now: Now,
    /// Every appended txn, in order.
    log: Vec<Txn>,
    /// Highest zxid the node asked to sync.
    sync_requested: Option<Zxid>,
    /// Raw bytes each connection received.
    inbox: BTreeMap<ConnId, Vec<u8>>,
    closed: BTreeSet<ConnId>,
    /// Opcode of each outstanding xid, to decode replies.
    pending: BTreeMap<(ConnId, i32), i32>,
    snapshots: Vec<(Zxid, Vec<u8>)>,
}

impl Harness {
    fn new() -> Harness {
        Harness::with_config(Config::standalone(500))
    }

    fn with_config(config: Config) -> Harness {
        let now = Now {
            mono: Instant(1_000_000_000),
            wall_ms: 1_700_000_000_000,
        };
        let node = Node::new(config, Recovered::default(), 7, now).expect("node");
        Harness {
            node,
            now,
            log: Vec::new(),
            sync_requested: None,
            inbox: BTreeMap::new(),
            closed: BTreeSet::new(),
            pending: BTreeMap::new(),
            snapshots: Vec::new(),
        }
    }

    fn step(&mut self, input: Input) {
        self.node.handle(self.now, input);
        while let Some(out) = self.node.poll_output() {
            match out {
                Output::Send { conn, bytes } => self.inbox.entry(conn).or_default().extend(bytes),
                Output::Close { conn } => {
                    self.closed.insert(conn);
                }
                Output::Append(txn) => self.log.push((*txn).clone()),
                Output::Sync { through } => self.sync_requested = Some(through),
                Output::Snapshot { zxid, snapshot } => {
                    self.snapshots.push((zxid, snapshot.to_bytes()))
                }
                Output::ToPeer { .. } | Output::SaveEpochs(_) | Output::InstallSnapshot { .. } => {
                    panic!("a standalone node spoke to peers: {out:?}")
                }
            }
        }
    }

    fn persist(&mut self) {
        if let Some(through) = self.sync_requested.take() {
            self.step(Input::Persisted { through });
        }
    }

    fn advance_ms(&mut self, ms: u64) {
        self.now.mono = self.now.mono.plus_ms(ms);
        self.now.wall_ms += ms as i64;
        if self.node.poll_timeout().is_some_and(|t| t <= self.now.mono) {
            self.step(Input::Timeout);
        }
    }

    fn bytes(&mut self, conn: ConnId, bytes: Vec<u8>) {
        self.step(Input::Bytes { conn, bytes });
    }

    /// Opens a connection and a new session, persisting the CreateSession.
    fn connect(&mut self, conn: u64, timeout_ms: i32) -> (ConnId, ConnectResponse) {
        let conn = ConnId(conn);
        self.step(Input::Connected {
            conn,
            ip: "127.0.0.1".into(),
        });
        self.bytes(conn, ConnectRequest::new_session(timeout_ms).to_frame());
        assert!(
            self.inbox.get(&conn).is_none_or(Vec::is_empty),
            "answered before durable"
        );
        self.persist();
        let frame = self.take_frames(conn).remove(0);
        let rsp = ConnectResponse::from_bytes(&frame).expect("connect response");
        (conn, rsp)
    }

    fn send(&mut self, conn: ConnId, xid: i32, req: &Request) {
        self.pending.insert((conn, xid), req.opcode());
        self.bytes(conn, crate::jute::encode_request(xid, req));
    }

    fn take_frames(&mut self, conn: ConnId) -> Vec<Vec<u8>> {
        split_frames(&self.inbox.remove(&conn).unwrap_or_default())
    }

    fn received(&mut self, conn: ConnId) -> Vec<Received> {
        let frames = self.take_frames(conn);
        frames
            .into_iter()
            .map(|f| {
                let mut r = Reader::new(&f);
                let h = ReplyHeader::read(&mut r).expect("header");
                if h.xid == xid::NOTIFICATION {
                    return Received::Event(WatcherEvent::read(&mut r).expect("event"));
                }
                let opcode = self.pending.remove(&(conn, h.xid)).unwrap_or(op::PING);
                let body = (h.err == 0 && r.remaining() > 0)
                    .then(|| Response::decode(opcode, &mut r).expect("body"));
                Received::Reply(h, body)
            })
            .collect()
    }

    /// Sends one request, persists, and returns its single reply.
    fn call(&mut self, conn: ConnId, xid: i32, req: Request) -> (i32, Option<Response>) {
        self.send(conn, xid, &req);
        self.persist();
        let got = self.received(conn);
        let replies: Vec<_> = got
            .into_iter()
            .filter_map(|r| match r {
                Received::Reply(h, b) => Some((h, b)),
                Received::Event(_) => None,
            })
            .collect();
        assert_eq!(replies.len(), 1, "{replies:?}");
        let (h, b) = replies[0].clone();
        assert_eq!(h.xid, xid);
        (h.err, b)
    }
}

/// The bodies of the length-prefixed frames in `buf` (test harnesses share it).
pub(super) fn split_frames(buf: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at + 4 <= buf.len() {
        let len = i32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
        frames.push(buf[at + 4..at + 4 + len].to_vec());
        at += 4 + len;
    }
    frames
}

pub(super) fn create(path: &str, data: &[u8], flags: i32) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: data.to_vec(),
        acl: Acl::open_unsafe(),
        flags,
    })
}

#[test]
fn handshake_negotiates_timeout_within_bounds() {
    let mut h = Harness::new();
    let (_, rsp) = h.connect(1, 60_000);
    assert_eq!(rsp.timeout_ms, 10_000, "20 x tickTime");
    let (_, rsp) = h.connect(2, 10);
    assert_eq!(rsp.timeout_ms, 1_000, "2 x tickTime");
    assert_ne!(rsp.session_id, 0);
    assert_eq!(rsp.password.len(), 16);
}

#[test]
fn writes_are_answered_only_after_persisted() {
    let mut h = Harness::new();
    let (c, _) = h.connect(1, 4000);
    h.send(c, 1, &create("/a", b"x", create_mode::PERSISTENT));
    assert!(h.received(c).is_empty(), "reply before fsync");
    assert!(h.node.tree().get("/a").is_none(), "applied before fsync");
    assert!(matches!(
        h.log.last().map(|t| &t.op),
        Some(TxnOp::Create { .. })
    ));
    h.persist();
    let got = h.received(c);
    assert!(
        matches!(&got[0], Received::Reply(hd, Some(Response::Create { path })) if hd.err == 0 && path == "/a")
    );
}

#[test]
fn a_read_waits_for_the_same_sessions_earlier_write() {
    let mut h = Harness::new();
    let (c, _) = h.connect(1, 4000);
    h.send(c, 1, &create("/fifo", b"v", create_mode::PERSISTENT));
    h.send(
        c,
        2,
        &Request::GetData {
            path: "/fifo".into(),
            watch: false,
        },
    );
    assert!(h.received(c).is_empty(), "read overtook the write");
    h.persist();
    let got = h.received(c);
    assert_eq!(got.len(), 2);
    match &got[1] {
        Received::Reply(hd, Some(Response::GetData { data, .. })) => {
            assert_eq!(hd.xid, 2);
            assert_eq!(data, b"v");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn pipelined_writes_validate_against_outstanding_changes() {
    let mut h = Harness::new();
    let (c, _) = h.connect(1, 4000);
    h.send(c, 1, &create("/p", b"", create_mode::PERSISTENT));
    h.send(c, 2, &create("/p/q", b"", create_mode::PERSISTENT));
    h.send(c, 3, &create("/p", b"", create_mode::PERSISTENT));
    h.send(
        c,
        4,
        &create("/p/s-", b"", create_mode::PERSISTENT_SEQUENTIAL),
    );
    h.persist();
    let errs: Vec<(i32, i32)> = h
        .received(c)
        .into_iter()
        .filter_map(|r| match r {
            Received::Reply(hd, _) => Some((hd.xid, hd.err)),
            _ => None,
        })
        .collect();
    assert_eq!(errs, vec![(1, 0), (2, 0), (3, err::NODE_EXISTS), (4, 0)]);
    assert!(h.node.tree().get("/p/s-0000000001").is_some());
}

#[test]
fn watch_event_precedes_the_reply_that_caused_it() {
    let mut h = Harness::new();
    let (c, _) = h.connect(1, 4000);
    let (e, _) = h.call(c, 1, create("/w", b"1", create_mode::PERSISTENT));
    assert_eq!(e, 0);
    let (e, _) = h.call(
        c,
        2,
        Request::GetData {
            path: "/w".into(),
            watch: true,
        },
    );
    assert_eq!(e, 0);
    h.send(
        c,
        3,
        &Request::SetData {
            path: "/w".into(),
            data: b"2".to_vec(),
            version: -1,
        },
    );
    h.persist();
    let got = h.received(c);
    assert!(
        matches!(&got[0], Received::Event(ev) if ev.event_type == event::NODE_DATA_CHANGED && ev.path == "/w")
    );
    assert!(matches!(&got[1], Received::Reply(hd, _) if hd.xid == 3));
    // One-shot: a second change notifies nobody.
    h.send(
        c,
        4,
        &Request::SetData {
            path: "/w".into(),
            data: b"3".to_vec(),
            version: -1,
        },
    );
    h.persist();
    assert!(h
        .received(c)
        .iter()
        .all(|r| !matches!(r, Received::Event(_))));
}

#[test]
fn expired_session_loses_its_ephemerals_and_not_before() {
    let mut h = Harness::new();
    let (c, rsp) = h.connect(1, 1000);
    let (e, _) = h.call(c, 1, create("/eph", b"", create_mode::EPHEMERAL));
    assert_eq!(e, 0);
    let (w, _) = h.connect(2, 10_000);
    h.advance_ms(900);
    h.persist();
    assert!(
        h.node.tree().get("/eph").is_some(),
        "removed before the timeout"
    );
    h.advance_ms(200);
    h.persist();
    assert!(
        h.node.tree().get("/eph").is_none(),
        "ephemeral outlived its session"
    );
    assert!(
        h.closed.contains(&c),
        "expired session's connection stays open"
    );
    assert!(h.node.sessions().get(SessionId(rsp.session_id)).is_none());
    let _ = w;
}

#[test]
fn pings_keep_a_session_alive() {
    let mut h = Harness::new();
    let (c, _) = h.connect(1, 1000);
    h.call(c, 1, create("/alive", b"", create_mode::EPHEMERAL));
    for _ in 0..10 {
        h.advance_ms(400);
        h.send(c, xid::PING, &Request::Ping);
        h.received(c);
    }
    h.persist();
    assert!(h.node.tree().get("/alive").is_some());
}

#[test]
fn reattach_with_password_keeps_the_session_and_wrong_password_is_refused() {
    let mut h = Harness::new();
    let (c, rsp) = h.connect(1, 4000);
    h.call(c, 1, create("/mine", b"", create_mode::EPHEMERAL));
    h.step(Input::Closed { conn: c });
    let d = ConnId(9);
    h.step(Input::Connected {
        conn: d,
        ip: "127.0.0.1".into(),
    });
    let mut bad = ConnectRequest {
        session_id: rsp.session_id,
        password: vec![9; 16],
        ..ConnectRequest::new_session(4000)
    };
    h.bytes(d, bad.to_frame());
    let f = h.take_frames(d).remove(0);
    assert_eq!(
        ConnectResponse::from_bytes(&f).map(|r| r.timeout_ms).ok(),
        Some(0)
    );
    assert!(h.closed.contains(&d));
    let e = ConnId(10);
    h.step(Input::Connected {
        conn: e,
        ip: "127.0.0.1".into(),
    });
    bad.password = rsp.password.clone();
    h.bytes(e, bad.to_frame());
    let f = h.take_frames(e).remove(0);
    let ok = ConnectResponse::from_bytes(&f).expect("response");
    assert_eq!(ok.session_id, rsp.session_id);
    assert!(h.node.tree().get("/mine").is_some());
}

#[test]
fn failed_multi_changes_nothing_and_reports_each_op() {
    let mut h = Harness::new();
    let (c, _) = h.connect(1, 4000);
    let ops = vec![
        MultiOp::Create(CreateRequest {
            path: "/m1".into(),
            data: vec![],
            acl: Acl::open_unsafe(),
            flags: 0,
        }),
        MultiOp::Delete {
            path: "/nope".into(),
            version: -1,
        },
        MultiOp::SetData {
            path: "/m1".into(),
            data: vec![1],
            version: -1,
        },
    ];
    let (e, body) = h.call(c, 1, Request::Multi(ops));
    assert_eq!(e, 0);
    let Some(Response::Multi(results)) = body else {
        panic!("{body:?}")
    };
    assert_eq!(
        results,
        vec![
            MultiResult::Error { err: err::OK },
            MultiResult::Error { err: err::NO_NODE },
            MultiResult::Error {
                err: err::RUNTIME_INCONSISTENCY
            },
        ]
    );
    assert!(h.node.tree().get("/m1").is_none());
    // The overlay was rolled back too: /m1 can be created now.
    let (e, _) = h.call(c, 2, create("/m1", b"", 0));
    assert_eq!(e, 0);
}

#[test]
fn storage_failure_stops_acknowledging_writes_but_serves_reads() {
    let mut h = Harness::new();
    let (c, _) = h.connect(1, 4000);
    h.call(c, 1, create("/before", b"", 0));
    h.step(Input::StorageFailed {
        reason: "ENOSPC".into(),
    });
    let appended = h.log.len();
    let (e, _) = h.call(c, 2, create("/after", b"", 0));
    assert_ne!(e, 0, "write acknowledged after the disk failed");
    assert_eq!(h.log.len(), appended, "appended after the disk failed");
    let (e, _) = h.call(
        c,
        3,
        Request::Exists {
            path: "/before".into(),
            watch: false,
        },
    );
    assert_eq!(e, 0);
}

#[test]
fn bad_frame_lengths_close_only_that_connection() {
    for bad in [0i32, -5, 0x100000] {
        let mut h = Harness::new();
        let (good, _) = h.connect(1, 4000);
        let c = ConnId(2);
        h.step(Input::Connected {
            conn: c,
            ip: "127.0.0.1".into(),
        });
        h.bytes(c, bad.to_be_bytes().to_vec());
        assert!(h.closed.contains(&c), "length {bad} accepted");
        assert!(!h.closed.contains(&good));
        let (e, _) = h.call(good, 1, create("/still", b"", 0));
        assert_eq!(e, 0);
    }
}

#[test]
fn bytes_split_anywhere_frame_the_same() {
    let mut h = Harness::new();
    let (c, _) = h.connect(1, 4000);
    let mut wire = crate::jute::encode_request(1, &create("/s1", b"abc", 0));
    wire.extend(crate::jute::encode_request(2, &create("/s2", b"", 0)));
    h.pending.insert((c, 1), op::CREATE);
    h.pending.insert((c, 2), op::CREATE);
    for b in wire {
        h.bytes(c, vec![b]);
    }
    h.persist();
    assert_eq!(h.received(c).len(), 2);
    assert!(h.node.tree().get("/s2").is_some());
}

#[test]
fn too_many_connections_from_one_address_are_closed() {
    let mut config = Config::standalone(500);
    config.client_cnxns_per_ip_max = 2;
    let mut h = Harness::with_config(config);
    for i in 1..=3 {
        h.step(Input::Connected {
            conn: ConnId(i),
            ip: "10.0.0.1".into(),
        });
    }
    assert_eq!(
        h.closed.iter().copied().collect::<Vec<_>>(),
        vec![ConnId(3)]
    );
}

#[test]
fn restart_from_snapshot_and_log_reproduces_the_tree() {
    let mut config = Config::standalone(500);
    config.snap_count = 4;
    let mut h = Harness::with_config(config.clone());
    let (c, _) = h.connect(1, 4000);
    for i in 0..10 {
        h.call(c, i + 1, create(&format!("/r{i}"), &[i as u8], 0));
    }
    assert!(
        !h.snapshots.is_empty(),
        "no snapshot after 11 txns with snapCount 4"
    );
    let (zxid, bytes) = h.snapshots.last().cloned().expect("snapshot");
    let txns: Vec<Txn> = h.log.iter().filter(|t| t.zxid > zxid).cloned().collect();
    let recovered = Recovered {
        snapshot: Some(crate::tree::decode_snapshot(&bytes).expect("snapshot decodes")),
        txns,
        epochs: Epochs::default(),
    };
    let restarted = Node::new(config, recovered, 1, h.now).expect("restart");
    assert_eq!(restarted.tree().digest(), h.node.tree().digest());
    assert_eq!(restarted.last_committed(), h.node.last_committed());
    assert_eq!(restarted.sessions().len(), 1);
}

#[test]
fn container_is_removed_after_its_last_child() {
    let mut config = Config::standalone(500);
    config.container_check_interval_ms = 100;
    let mut h = Harness::with_config(config);
    let (c, _) = h.connect(1, 10_000);
    let (e, _) = h.call(
        c,
        1,
        Request::CreateContainer(CreateRequest {
            path: "/box".into(),
            data: vec![],
            acl: Acl::open_unsafe(),
            flags: create_mode::CONTAINER,
        }),
    );
    assert_eq!(e, 0);
    h.advance_ms(150);
    h.persist();
    assert!(
        h.node.tree().get("/box").is_some(),
        "never-used container removed"
    );
    h.call(c, 2, create("/box/x", b"", 0));
    h.call(
        c,
        3,
        Request::Delete {
            path: "/box/x".into(),
            version: -1,
        },
    );
    h.advance_ms(150);
    h.persist();
    assert!(h.node.tree().get("/box").is_none());
}

#[test]
fn four_letter_words_follow_the_whitelist() {
    let mut h = Harness::new();
    h.step(Input::Connected {
        conn: ConnId(1),
        ip: "127.0.0.1".into(),
    });
    h.bytes(ConnId(1), b"srvr".to_vec());
    let text =
        String::from_utf8(h.inbox.remove(&ConnId(1)).unwrap_or_default()).unwrap_or_default();
    assert!(text.contains("Mode: standalone"), "{text}");
    h.step(Input::Connected {
        conn: ConnId(2),
        ip: "127.0.0.1".into(),
    });
    h.bytes(ConnId(2), b"ruok".to_vec());
    let text =
        String::from_utf8(h.inbox.remove(&ConnId(2)).unwrap_or_default()).unwrap_or_default();
    assert_eq!(
        text,
        "ruok is not executed because it is not in the whitelist.\n"
    );
    assert!(h.closed.contains(&ConnId(1)) && h.closed.contains(&ConnId(2)));
}

#[test]
fn a_silent_connection_is_closed_after_the_handshake_timeout() {
    let mut h = Harness::new();
    let silent = ConnId(5);
    h.step(Input::Connected {
        conn: silent,
        ip: "127.0.0.1".into(),
    });
    let (c, _) = h.connect(1, 20_000);
    h.advance_ms(9_000);
    assert!(!h.closed.contains(&silent));
    h.send(c, xid::PING, &Request::Ping);
    h.advance_ms(1_500);
    h.persist();
    assert!(h.closed.contains(&silent), "silent connection kept forever");
    assert!(
        !h.closed.contains(&c),
        "a connection with a session was closed"
    );
}

#[test]
fn sequential_suffixes_count_creations_not_children() {
    let mut h = Harness::new();
    let (c, _) = h.connect(1, 4000);
    h.call(c, 1, create("/q", b"", 0));
    h.call(
        c,
        2,
        create("/q/n-", b"", create_mode::PERSISTENT_SEQUENTIAL),
    );
    h.call(
        c,
        3,
        create("/q/n-", b"", create_mode::PERSISTENT_SEQUENTIAL),
    );
    h.call(
        c,
        4,
        Request::Delete {
            path: "/q/n-0000000001".into(),
            version: -1,
        },
    );
    let stat = h.node.tree().stat("/q").expect("q");
    assert_eq!((stat.num_children, stat.cversion), (1, 3));
    let (e, body) = h.call(
        c,
        5,
        create("/q/n-", b"", create_mode::PERSISTENT_SEQUENTIAL),
    );
    assert_eq!(e, 0);
    assert_eq!(
        body,
        Some(Response::Create {
            path: "/q/n-0000000002".into()
        })
    );
    let stat = h.node.tree().stat("/q").expect("q");
    assert_eq!((stat.num_children, stat.cversion), (2, 4));
}

#[test]
fn requests_pipelined_behind_the_handshake_are_held_until_the_session_exists() {
    let mut h = Harness::new();
    let conn = ConnId(1);
    h.step(Input::Connected {
        conn,
        ip: "127.0.0.1".into(),
    });
    let mut wire = ConnectRequest::new_session(4000).to_frame();
    wire.extend(crate::jute::encode_request(1, &create("/early", b"", 0)));
    h.pending.insert((conn, 1), op::CREATE);
    h.bytes(conn, wire);
    assert!(!h.closed.contains(&conn));
    h.persist();
    h.persist();
    let frames = h.take_frames(conn);
    assert_eq!(frames.len(), 2, "connect response and the create reply");
    assert!(h.node.tree().get("/early").is_some());
}

#[test]
fn thousands_of_writes_after_a_storage_failure_are_refused_in_order() {
    let mut h = Harness::new();
    let (c, _) = h.connect(1, 4000);
    h.step(Input::StorageFailed {
        reason: "EIO".into(),
    });
    let mut wire = Vec::new();
    for xid in 1..=5_000 {
        wire.extend(crate::jute::encode_request(
            xid,
            &create(&format!("/n{xid}"), b"", 0),
        ));
        h.pending.insert((c, xid), op::CREATE);
    }
    h.bytes(c, wire);
    let got = h.received(c);
    assert_eq!(got.len(), 5_000);
    for (i, r) in got.iter().enumerate() {
        assert!(matches!(r, Received::Reply(hd, None) if hd.xid == i as i32 + 1 && hd.err != 0));
    }
}

#[test]
fn an_expiry_after_a_storage_failure_does_not_fire_forever() {
    let mut h = Harness::new();
    let (_c, _) = h.connect(1, 1000);
    h.step(Input::StorageFailed {
        reason: "EIO".into(),
    });
    h.advance_ms(1_500);
    let next = h.node.poll_timeout();
    assert!(
        next.is_none_or(|t| t > h.now.mono),
        "a timer stays due: the adapter would spin"
    );
}
