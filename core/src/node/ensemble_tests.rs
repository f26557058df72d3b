//! Ensemble tests without IO: several nodes, an in-memory network with FIFO links that can be
//! cut, disks that persist on request, and clients speaking jute. Deterministic: one loop, one
//! clock, no randomness beyond the nodes' seeds.

use super::tests::create;
use super::*;
use crate::config::Ensemble;
use crate::jute::{
    create_mode, ConnectRequest, ConnectResponse, Reader, Record, ReplyHeader, Request, Response,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const TICK_MS: u32 = 100;

struct Disk {
    log: Vec<Txn>,
    snapshot: Option<Vec<u8>>,
    epochs: Epochs,
}

struct Server {
    node: Option<Node>,
    disk: Disk,
    /// Highest zxid the node asked to make durable and not yet answered.
    sync: Option<Zxid>,
    inbox: BTreeMap<ConnId, Vec<u8>>,
    closed: BTreeSet<ConnId>,
}

struct Cluster {
    servers: BTreeMap<ServerId, Server>,
    voters: BTreeSet<ServerId>,
    observers: BTreeSet<ServerId>,
    now: Now,
    /// Messages in flight, in send order (every link is FIFO).
    wire: VecDeque<(ServerId, ServerId, PeerMessage)>,
    /// Pairs that cannot talk.
    cut: BTreeSet<(ServerId, ServerId)>,
    next_conn: u64,
}

fn config(me: ServerId, voters: &BTreeSet<ServerId>, observers: &BTreeSet<ServerId>) -> Config {
    let mut c = Config::standalone(TICK_MS);
    c.server_id = me;
    c.ensemble = Ensemble {
        voters: voters.clone(),
        observers: observers.clone(),
    };
    c.record_applied = true;
    c.history_txns_max = 50;
    c
}

impl Cluster {
    fn new(voters: u64, observers: u64) -> Cluster {
        let v: BTreeSet<ServerId> = (1..=voters).map(ServerId).collect();
        let o: BTreeSet<ServerId> = (voters + 1..=voters + observers).map(ServerId).collect();
        let mut c = Cluster {
            servers: BTreeMap::new(),
            voters: v.clone(),
            observers: o.clone(),
            now: Now {
                mono: Instant(1_000_000_000),
                wall_ms: 1_700_000_000_000,
            },
            wire: VecDeque::new(),
            cut: BTreeSet::new(),
            next_conn: 1,
        };
        for id in v.iter().chain(o.iter()) {
            c.servers.insert(
                *id,
                Server {
                    node: None,
                    disk: Disk {
                        log: Vec::new(),
                        snapshot: None,
                        epochs: Epochs::default(),
                    },
                    sync: None,
                    inbox: BTreeMap::new(),
                    closed: BTreeSet::new(),
                },
            );
            c.start(*id);
        }
        c
    }

    fn start(&mut self, id: ServerId) {
        let cfg = config(id, &self.voters, &self.observers);
        let now = self.now;
        let s = self.servers.get_mut(&id).expect("server");
        let recovered =
            Recovered {
                snapshot: s.disk.snapshot.as_deref().map(|bytes| {
                    crate::tree::decode_snapshot(bytes).expect("own snapshot decodes")
                }),
                txns: s.disk.log.clone(),
                epochs: s.disk.epochs,
            };
        s.node = Some(Node::new(cfg, recovered, id.0, now).expect("node starts"));
        self.drain(id);
    }

    /// Kills a server: its links break, its undurable state is lost (here: nothing is
    /// undurable, the disk persists on every sync).
    fn crash(&mut self, id: ServerId) {
        if let Some(s) = self.servers.get_mut(&id) {
            s.node = None;
            s.sync = None;
        }
        self.wire.retain(|(from, to, _)| *from != id && *to != id);
        let others: Vec<ServerId> = self.servers.keys().copied().filter(|p| *p != id).collect();
        for p in others {
            self.input(p, Input::PeerDown { peer: id });
        }
    }

    /// Cuts both directions between `a` and `b`; both ends see their link break.
    fn partition(&mut self, a: ServerId, b: ServerId) {
        self.cut.insert((a, b));
        self.cut.insert((b, a));
        self.wire
            .retain(|(f, t, _)| !((*f == a && *t == b) || (*f == b && *t == a)));
        self.input(a, Input::PeerDown { peer: b });
        self.input(b, Input::PeerDown { peer: a });
    }

    fn heal(&mut self) {
        self.cut.clear();
    }

    /// Cuts `id` off from every other server.
    fn isolate(&mut self, id: ServerId) {
        let others: Vec<ServerId> = self.servers.keys().copied().filter(|o| *o != id).collect();
        for o in others {
            self.partition(id, o);
        }
    }

    /// Sends a request without waiting for anything.
    fn send(&mut self, id: ServerId, conn: ConnId, xid: i32, req: &Request) {
        let bytes = crate::jute::encode_request(xid, req);
        self.input(id, Input::Bytes { conn, bytes });
    }

    fn input(&mut self, id: ServerId, input: Input) {
        let now = self.now;
        let Some(node) = self.servers.get_mut(&id).and_then(|s| s.node.as_mut()) else {
            return;
        };
        node.handle(now, input);
        self.drain(id);
    }

    fn drain(&mut self, id: ServerId) {
        let Some(s) = self.servers.get_mut(&id) else {
            return;
        };
        let Some(node) = s.node.as_mut() else {
            return;
        };
        let mut sent = Vec::new();
        while let Some(out) = node.poll_output() {
            match out {
                Output::Send { conn, bytes } => s.inbox.entry(conn).or_default().extend(bytes),
                Output::Close { conn } => {
                    s.closed.insert(conn);
                }
                Output::Append(txn) => s.disk.log.push((*txn).clone()),
                // As a real disk: durable through what was appended, whatever was asked.
                Output::Sync { through } => {
                    let last = s.disk.log.last().map_or(Zxid::ZERO, |t| t.zxid);
                    s.sync = Some(through.min(last).max(s.sync.unwrap_or(Zxid::ZERO)));
                }
                Output::Snapshot { .. } => {}
                Output::ToPeer { to, message } => sent.push((id, to, message)),
                Output::SaveEpochs(e) => s.disk.epochs = e,
                Output::InstallSnapshot { bytes, .. } => {
                    s.disk.snapshot = Some(bytes);
                    s.disk.log.clear();
                }
            }
        }
        for (from, to, m) in sent {
            if !self.cut.contains(&(from, to)) {
                // Round-trip through the codec: what a transport would carry.
                let bytes = crate::zab::message::encode(&m);
                let m = crate::zab::message::decode(&bytes, 1 << 24).expect("codec");
                self.wire.push_back((from, to, m));
            }
        }
    }

    /// Delivers messages and completes fsyncs until quiet.
    fn settle(&mut self) {
        for _ in 0..100_000 {
            if let Some((from, to, message)) = self.wire.pop_front() {
                self.input(to, Input::Peer { from, message });
                continue;
            }
            let due: Vec<(ServerId, Zxid)> = self
                .servers
                .iter_mut()
                .filter_map(|(id, s)| s.sync.take().map(|z| (*id, z)))
                .collect();
            if due.is_empty() {
                return;
            }
            for (id, through) in due {
                self.input(id, Input::Persisted { through });
            }
        }
        panic!("the cluster never settled");
    }

    /// Advances time by `ms` in 10 ms steps, firing timers and settling after each.
    fn run_ms(&mut self, ms: u64) {
        let mut left = ms;
        while left > 0 {
            let step = left.min(10);
            left -= step;
            self.now.mono = self.now.mono.plus_ms(step);
            self.now.wall_ms += step as i64;
            let ids: Vec<ServerId> = self.servers.keys().copied().collect();
            for id in ids {
                let due = self
                    .servers
                    .get(&id)
                    .and_then(|s| s.node.as_ref())
                    .and_then(|n| n.poll_timeout())
                    .is_some_and(|t| t <= self.now.mono);
                if due {
                    self.input(id, Input::Timeout);
                }
            }
            self.settle();
        }
    }

    fn node(&self, id: ServerId) -> &Node {
        self.servers[&id].node.as_ref().expect("running")
    }

    fn leaders(&self) -> Vec<ServerId> {
        self.servers
            .iter()
            .filter(|(_, s)| {
                s.node.as_ref().is_some_and(|n| {
                    n.role() == RoleKind::Leading && n.established_epoch().is_some()
                })
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Runs until one leader broadcasts and every running server serves.
    fn await_stable(&mut self) -> ServerId {
        for _ in 0..200 {
            self.run_ms(50);
            let leaders = self.leaders();
            let serving = self
                .servers
                .values()
                .filter_map(|s| s.node.as_ref())
                .all(|n| n.established_epoch().is_some());
            if leaders.len() == 1 && serving {
                return leaders[0];
            }
        }
        panic!("no stable leader after 10 s");
    }

    fn connect(&mut self, id: ServerId, req: ConnectRequest) -> (ConnId, Option<ConnectResponse>) {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.input(
            id,
            Input::Connected {
                conn,
                ip: "10.0.0.1".into(),
            },
        );
        self.input(
            id,
            Input::Bytes {
                conn,
                bytes: req.to_frame(),
            },
        );
        self.run_ms(50);
        let frames = self.frames(id, conn);
        let rsp = frames
            .first()
            .and_then(|f| ConnectResponse::from_bytes(f).ok());
        (conn, rsp)
    }

    fn frames(&mut self, id: ServerId, conn: ConnId) -> Vec<Vec<u8>> {
        let buf = self
            .servers
            .get_mut(&id)
            .and_then(|s| s.inbox.remove(&conn))
            .unwrap_or_default();
        super::tests::split_frames(&buf)
    }

    /// Sends a request and returns its reply header and body after the cluster settles.
    fn call(
        &mut self,
        id: ServerId,
        conn: ConnId,
        xid: i32,
        req: Request,
    ) -> (ReplyHeader, Option<Response>) {
        let opcode = req.opcode();
        self.input(
            id,
            Input::Bytes {
                conn,
                bytes: crate::jute::encode_request(xid, &req),
            },
        );
        self.run_ms(30);
        let frames = self.frames(id, conn);
        for f in frames {
            let mut r = Reader::new(&f);
            let h = ReplyHeader::read(&mut r).expect("header");
            if h.xid != xid {
                continue;
            }
            let body = (h.err == 0 && r.remaining() > 0)
                .then(|| Response::decode(opcode, &mut r).expect("body"));
            return (h, body);
        }
        panic!("no reply to xid {xid} from server {}", id.0);
    }

    fn assert_replicas_agree(&self) {
        let running: Vec<&Node> = self
            .servers
            .values()
            .filter_map(|s| s.node.as_ref())
            .collect();
        let first = running[0];
        for n in &running[1..] {
            assert_eq!(
                n.last_committed(),
                first.last_committed(),
                "replicas at different zxids"
            );
            assert_eq!(n.tree().digest(), first.tree().digest(), "replicas differ");
        }
    }
}

fn get(path: &str) -> Request {
    Request::GetData {
        path: path.into(),
        watch: false,
    }
}

#[test]
fn three_voters_elect_one_leader_and_replicate_a_write_through_a_follower() {
    let mut c = Cluster::new(3, 0);
    let leader = c.await_stable();
    let epoch = c.node(leader).established_epoch().expect("epoch");
    assert!(epoch.0 >= 1, "a new epoch was established");
    let follower = *c
        .voters
        .iter()
        .find(|id| **id != leader)
        .expect("a follower");
    assert_eq!(c.node(follower).role(), RoleKind::Following);
    let (conn, rsp) = c.connect(follower, ConnectRequest::new_session(4000));
    let rsp = rsp.expect("session created through the leader");
    assert_ne!(rsp.session_id, 0);
    assert_eq!(
        (rsp.session_id >> 56) as u64,
        follower.0,
        "the learner chose the id"
    );
    let (h, body) = c.call(
        follower,
        conn,
        1,
        create("/a", b"v1", create_mode::PERSISTENT),
    );
    assert_eq!(h.err, 0);
    assert_eq!(body, Some(Response::Create { path: "/a".into() }));
    assert_eq!(
        crate::ids::Zxid(h.zxid).epoch(),
        epoch,
        "zxid carries the epoch"
    );
    c.assert_replicas_agree();
    for id in c.servers.keys() {
        assert_eq!(
            c.node(*id).tree().get("/a").map(|n| n.data.to_vec()),
            Some(b"v1".to_vec())
        );
    }
}

#[test]
fn a_write_is_not_acknowledged_without_a_quorum() {
    let mut c = Cluster::new(3, 0);
    let leader = c.await_stable();
    let (conn, _) = c.connect(leader, ConnectRequest::new_session(4000));
    c.isolate(leader);
    c.send(leader, conn, 1, &create("/lost", b"", 0));
    c.settle();
    assert!(
        c.frames(leader, conn).is_empty(),
        "acknowledged without a quorum"
    );
    assert!(c.node(leader).tree().get("/lost").is_none());
}

#[test]
fn the_leader_dies_a_new_one_keeps_every_commit_and_sessions_survive() {
    let mut c = Cluster::new(5, 0);
    let leader = c.await_stable();
    let old_epoch = c.node(leader).established_epoch().expect("epoch");
    let follower = *c.voters.iter().find(|id| **id != leader).expect("follower");
    let (conn, rsp) = c.connect(follower, ConnectRequest::new_session(6000));
    let rsp = rsp.expect("session");
    for i in 0..5 {
        let (h, _) = c.call(follower, conn, i + 1, create(&format!("/k{i}"), b"x", 0));
        assert_eq!(h.err, 0);
    }
    let (h, _) = c.call(
        follower,
        conn,
        10,
        create("/eph", b"", create_mode::EPHEMERAL),
    );
    assert_eq!(h.err, 0);
    c.crash(leader);
    let new_leader = c.await_stable();
    assert_ne!(new_leader, leader);
    let new_epoch = c.node(new_leader).established_epoch().expect("epoch");
    assert!(new_epoch > old_epoch, "epochs only grow");
    for i in 0..5 {
        assert!(
            c.node(new_leader).tree().get(&format!("/k{i}")).is_some(),
            "lost /k{i}"
        );
    }
    // The client moves to another server with its session: the ephemeral stays.
    let other = *c
        .voters
        .iter()
        .find(|id| **id != leader && **id != follower)
        .expect("another");
    let mut req = ConnectRequest::new_session(6000);
    req.session_id = rsp.session_id;
    req.password = rsp.password.clone();
    let (conn2, rsp2) = c.connect(other, req);
    assert_eq!(rsp2.expect("reattached").session_id, rsp.session_id);
    let (h, _) = c.call(other, conn2, 11, get("/eph"));
    assert_eq!(
        h.err, 0,
        "the session's ephemeral survived the leader change"
    );
    c.start(leader);
    c.await_stable();
    c.assert_replicas_agree();
}

#[test]
fn sync_on_a_follower_sees_every_earlier_write() {
    let mut c = Cluster::new(3, 0);
    let leader = c.await_stable();
    let follower = *c.voters.iter().find(|id| **id != leader).expect("follower");
    let (wconn, _) = c.connect(leader, ConnectRequest::new_session(4000));
    let (rconn, _) = c.connect(follower, ConnectRequest::new_session(4000));
    let (h, _) = c.call(leader, wconn, 1, create("/s", b"new", 0));
    assert_eq!(h.err, 0);
    let (h, body) = c.call(follower, rconn, 1, Request::Sync { path: "/s".into() });
    assert_eq!(h.err, 0);
    assert_eq!(body, Some(Response::Sync { path: "/s".into() }));
    let (h, body) = c.call(follower, rconn, 2, get("/s"));
    assert_eq!(h.err, 0);
    assert!(matches!(body, Some(Response::GetData { data, .. }) if data == b"new"));
}

#[test]
fn a_deposed_leader_cannot_answer_a_sync() {
    let mut c = Cluster::new(3, 0);
    let leader = c.await_stable();
    let (conn, _) = c.connect(leader, ConnectRequest::new_session(4000));
    c.isolate(leader);
    c.send(leader, conn, 1, &Request::Sync { path: "/".into() });
    c.settle();
    let answered = c.frames(leader, conn).iter().any(|f| {
        let mut r = Reader::new(f);
        ReplyHeader::read(&mut r).is_ok_and(|h| h.xid == 1 && h.err == 0)
    });
    assert!(!answered, "a leader without a quorum answered sync");
}

#[test]
fn an_observer_learns_commits_and_serves_reads_but_never_votes() {
    let mut c = Cluster::new(3, 1);
    let leader = c.await_stable();
    let observer = ServerId(4);
    assert_eq!(c.node(observer).role(), RoleKind::Observing);
    let (conn, _) = c.connect(observer, ConnectRequest::new_session(4000));
    let (h, _) = c.call(observer, conn, 1, create("/o", b"1", 0));
    assert_eq!(h.err, 0, "a write through an observer");
    c.assert_replicas_agree();
    // Two voters down: the observer does not make a quorum with the last voter.
    let down: Vec<ServerId> = c
        .voters
        .iter()
        .copied()
        .filter(|id| *id != leader)
        .collect();
    for d in down {
        c.crash(d);
    }
    c.run_ms(3000);
    assert!(
        c.leaders().is_empty(),
        "a leader without a quorum of voters"
    );
}

#[test]
fn a_restarted_follower_catches_up_by_diff_or_snapshot() {
    let mut c = Cluster::new(3, 0);
    let leader = c.await_stable();
    let follower = *c.voters.iter().find(|id| **id != leader).expect("follower");
    c.crash(follower);
    let (conn, _) = c.connect(leader, ConnectRequest::new_session(4000));
    // More than the history keeps (50): the follower needs a snapshot.
    for i in 0..80 {
        let (h, _) = c.call(leader, conn, i + 1, create(&format!("/n{i}"), b"", 0));
        assert_eq!(h.err, 0);
    }
    c.start(follower);
    c.await_stable();
    c.assert_replicas_agree();
    assert!(c.node(follower).tree().get("/n79").is_some());
    let (h, _) = c.call(leader, conn, 100, create("/after", b"", 0));
    assert_eq!(h.err, 0);
    c.assert_replicas_agree();
}

#[test]
fn a_session_expires_by_the_leaders_decision_everywhere() {
    let mut c = Cluster::new(3, 0);
    let leader = c.await_stable();
    let follower = *c.voters.iter().find(|id| **id != leader).expect("follower");
    let (conn, rsp) = c.connect(follower, ConnectRequest::new_session(400));
    let rsp = rsp.expect("session");
    let (h, _) = c.call(follower, conn, 1, create("/e", b"", create_mode::EPHEMERAL));
    assert_eq!(h.err, 0);
    // Pings through the follower keep it alive: the leader hears of them.
    for _ in 0..10 {
        c.send(follower, conn, -2, &Request::Ping);
        c.run_ms(100);
    }
    assert!(
        c.node(leader).tree().get("/e").is_some(),
        "expired while pinging"
    );
    c.run_ms(2000);
    for id in c.voters.clone() {
        assert!(
            c.node(id).tree().get("/e").is_none(),
            "ephemeral outlived its session"
        );
        assert!(c
            .node(id)
            .sessions()
            .get(crate::ids::SessionId(rsp.session_id))
            .is_none());
    }
}

#[test]
fn a_partitioned_follower_rejoins_after_the_partition_heals() {
    let mut c = Cluster::new(3, 0);
    let leader = c.await_stable();
    let follower = *c.voters.iter().find(|id| **id != leader).expect("follower");
    c.isolate(follower);
    c.run_ms(1000);
    assert_eq!(
        c.node(follower).role(),
        RoleKind::Looking,
        "a minority cannot serve"
    );
    let (conn, _) = c.connect(leader, ConnectRequest::new_session(4000));
    let (h, _) = c.call(leader, conn, 1, create("/while-away", b"", 0));
    assert_eq!(h.err, 0, "the majority goes on");
    c.heal();
    c.await_stable();
    c.assert_replicas_agree();
    assert_eq!(
        c.leaders(),
        vec![leader],
        "the rejoining follower did not depose the leader"
    );
}

#[test]
fn every_ensemble_size_from_one_to_seven_voters_elects_and_replicates() {
    for (voters, observers) in [(1, 1), (2, 0), (3, 2), (4, 0), (5, 1), (6, 0), (7, 0)] {
        let mut c = Cluster::new(voters, observers);
        let leader = c.await_stable();
        let last = ServerId(voters + observers);
        let (conn, rsp) = c.connect(last, ConnectRequest::new_session(4000));
        assert!(rsp.is_some(), "{voters}+{observers}: no session");
        let (h, _) = c.call(last, conn, 1, create("/x", b"", 0));
        assert_eq!(h.err, 0, "{voters}+{observers}: write failed");
        c.assert_replicas_agree();
        // Losing a minority of voters (never the leader here) keeps the ensemble writable.
        let minority = (voters - 1) / 2;
        let down: Vec<ServerId> = c
            .voters
            .iter()
            .copied()
            .filter(|id| *id != leader && *id != last)
            .take(minority as usize)
            .collect();
        for d in &down {
            c.crash(*d);
        }
        c.run_ms(500);
        let (conn, _) = c.connect(leader, ConnectRequest::new_session(4000));
        let (h, _) = c.call(leader, conn, 2, create("/y", b"", 0));
        assert_eq!(
            h.err, 0,
            "{voters}+{observers}: a minority down stopped writes"
        );
    }
}
