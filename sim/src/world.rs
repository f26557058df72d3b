//! The discrete-event world: virtual time, one RNG, the server process, its disk, the network
//! and the clients. Every choice comes from the seed, so a run replays exactly.

use crate::clients::{key_path, Client, ClientState, EPHEMERAL_PARENT};
use crate::disk::Disk;
use crate::history::{History, OpKind};
use crate::options::{Bug, Options};
use crate::trace::Trace;
use corral_core::node::Output;
use corral_core::tree::decode_snapshot;
use corral_core::txn::{NodeKind, Txn, TxnOp};
use corral_core::{Config, ConnId, Input, Instant, Node, Now, Recovered, SessionId, Zxid};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

const MS: u64 = 1_000_000;
/// Wall clock at simulated time zero.
const WALL_MS_ORIGIN: i64 = 1_700_000_000_000;
/// Events processed before a run is declared stuck.
const EVENTS_MAX: u64 = 50_000_000;

/// Something that happens at a simulated time.
#[derive(Debug)]
enum Event {
    ServerTimeout,
    FsyncDone {
        incarnation: u64,
    },
    ServerConnOpen {
        incarnation: u64,
        conn: ConnId,
    },
    ToServer {
        incarnation: u64,
        conn: ConnId,
        bytes: Vec<u8>,
    },
    ServerConnClosed {
        incarnation: u64,
        conn: ConnId,
    },
    ToClient {
        client: usize,
        conn: ConnId,
        bytes: Vec<u8>,
    },
    ClientConnLost {
        client: usize,
        conn: ConnId,
    },
    ClientTick {
        client: usize,
    },
    Crash,
    Restart,
    DropConn,
}

struct Scheduled {
    at: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The server process.
struct Server {
    node: Option<Node>,
    incarnation: u64,
    disk: Disk,
    /// Open connections and the client at the other end.
    conns: BTreeMap<ConnId, usize>,
}

/// A whole simulated run.
pub struct World {
    /// The run's options.
    pub options: Options,
    rng: ChaCha8Rng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<Scheduled>>,
    server: Server,
    /// The clients.
    pub clients: Vec<Client>,
    /// What they did.
    pub history: History,
    /// Last delivery time per (connection, direction): TCP keeps order.
    last_delivery: BTreeMap<(ConnId, bool), u64>,
    next_conn: u64,
    /// The trace and its hash.
    pub trace: Trace,
    /// Ops completed per client when the liveness phase began.
    pub liveness_baseline: Vec<u64>,
    /// Crashes performed.
    pub crashes: u64,
}

impl World {
    /// A world for `options`, with every register created in the initial log.
    pub fn new(options: Options, keep_trace: bool) -> World {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let clients = (0..options.clients)
            .map(|i| Client::new(i, options.session_timeout_ms))
            .collect();
        let mut disk = Disk::default();
        // The registers and the parent of the ephemerals exist from the start.
        let paths = (0..options.keys)
            .map(key_path)
            .chain([EPHEMERAL_PARENT.to_owned()]);
        for (i, path) in paths.enumerate() {
            disk.durable.push(initial_create(i as i64 + 1, path));
        }
        let node_seed = rng.next_u64();
        let mut world = World {
            options,
            rng,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            server: Server {
                node: None,
                incarnation: 0,
                disk,
                conns: BTreeMap::new(),
            },
            clients,
            history: History::default(),
            last_delivery: BTreeMap::new(),
            next_conn: 1,
            trace: Trace::new(keep_trace),
            liveness_baseline: Vec::new(),
            crashes: 0,
        };
        world.start_server(node_seed);
        for c in 0..world.clients.len() {
            let at = world.rand(0, 20 * MS);
            world.schedule(at, Event::ClientTick { client: c });
        }
        if world.options.crash_interval_ms > 0 {
            let at = world.exp_delay(world.options.crash_interval_ms);
            world.schedule(at, Event::Crash);
        }
        if world.options.conn_drop_interval_ms > 0 {
            let at = world.exp_delay(world.options.conn_drop_interval_ms);
            world.schedule(at, Event::DropConn);
        }
        world
    }

    fn rand(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.rng.next_u64() % (hi - lo + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// A delay with mean `mean_ms` (uniform over 0..2×mean: bounded, cheap, seed-determined).
    fn exp_delay(&mut self, mean_ms: u64) -> u64 {
        self.rand(1, 2 * mean_ms.max(1)) * MS
    }

    fn schedule(&mut self, delay: u64, event: Event) {
        self.seq += 1;
        let at = self.now + delay;
        self.queue.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            event,
        }));
    }

    fn now(&self) -> Now {
        Now {
            mono: Instant(self.now),
            wall_ms: WALL_MS_ORIGIN + (self.now / MS) as i64,
        }
    }

    fn in_safety_phase(&self) -> bool {
        self.now < self.options.safety_ms * MS
    }

    /// Delivers over a connection after network latency, keeping per-direction order.
    fn deliver(&mut self, conn: ConnId, to_server: bool, event: Event) {
        let lat = self.rand(self.options.latency_us_min, self.options.latency_us_max) * 1_000;
        let key = (conn, to_server);
        let earliest = self.last_delivery.get(&key).map_or(0, |t| t + 1);
        let at = (self.now + lat).max(earliest);
        self.last_delivery.insert(key, at);
        self.schedule(at - self.now, event);
    }

    fn node_config(&self) -> Config {
        let mut config = Config::standalone(500);
        config.snap_count = 200;
        config.client_cnxns_per_ip_max = 0;
        config.container_check_interval_ms = 1_000;
        match self.options.bug {
            Some(Bug::AckBeforeFsync) => config.planted.ack_before_fsync = true,
            Some(Bug::SkipEphemeralRemoval) => config.planted.skip_ephemeral_removal = true,
            Some(Bug::ReadBeforeOwnWrite) => config.planted.read_before_own_write = true,
            None => {}
        }
        config
    }

    fn start_server(&mut self, seed: u64) {
        let (snapshot, txns) = self.server.disk.recover();
        let snapshot = match snapshot.map(|bytes| decode_snapshot(&bytes)).transpose() {
            Ok(s) => s,
            Err(e) => panic!("server cannot decode its own snapshot: {e}"),
        };
        let recovered = Recovered {
            snapshot,
            txns,
            epochs: Default::default(),
        };
        let node = match Node::new(self.node_config(), recovered, seed, self.now()) {
            Ok(n) => n,
            Err(e) => panic!("server cannot recover from its own disk: {e}"),
        };
        self.trace.line(
            self.now,
            format_args!("server start zxid={}", node.last_committed()),
        );
        self.server.node = Some(node);
        self.schedule(0, Event::ServerTimeout);
    }

    /// Feeds the node and performs its outputs.
    fn server_input(&mut self, input: Input) {
        let now = self.now();
        let Some(node) = self.server.node.as_mut() else {
            return;
        };
        node.handle(now, input);
        let mut outputs = Vec::new();
        while let Some(out) = node.poll_output() {
            outputs.push(out);
        }
        let timeout = node.poll_timeout();
        for out in outputs {
            self.perform(out);
        }
        if let Some(at) = timeout {
            let delay = at.0.saturating_sub(self.now);
            self.schedule(delay, Event::ServerTimeout);
        }
    }

    fn perform(&mut self, out: Output) {
        let incarnation = self.server.incarnation;
        match out {
            Output::Send { conn, bytes } => {
                if let Some(&client) = self.server.conns.get(&conn) {
                    self.deliver(
                        conn,
                        false,
                        Event::ToClient {
                            client,
                            conn,
                            bytes,
                        },
                    );
                }
            }
            Output::Close { conn } => {
                if let Some(client) = self.server.conns.remove(&conn) {
                    self.deliver(conn, false, Event::ClientConnLost { client, conn });
                }
                self.schedule(0, Event::ServerConnClosed { incarnation, conn });
            }
            Output::Append(txn) => {
                self.trace.line(
                    self.now,
                    format_args!("append {} {:?}", txn.zxid, txn.opcode),
                );
                self.server.disk.volatile.push(txn);
            }
            Output::Sync { .. } => {
                if self.server.disk.start_sync().is_some() {
                    let d = self.rand(self.options.fsync_us_min, self.options.fsync_us_max) * 1_000;
                    self.schedule(d, Event::FsyncDone { incarnation });
                }
            }
            Output::Snapshot { zxid, snapshot } => {
                self.trace.line(self.now, format_args!("snapshot {zxid}"));
                self.server.disk.snapshot = Some((zxid, snapshot.to_bytes()));
            }
            Output::ToPeer { .. } | Output::SaveEpochs(_) | Output::InstallSnapshot { .. } => {
                unreachable!("a standalone server has no peers")
            }
        }
    }

    /// Runs the safety phase, then the liveness phase. Returns false if the run got stuck.
    pub fn run(&mut self) -> bool {
        let end = (self.options.safety_ms + self.options.liveness_ms) * MS;
        let mut events = 0u64;
        let mut liveness_started = false;
        while let Some(Reverse(next)) = self.queue.pop() {
            if next.at > end {
                break;
            }
            self.now = next.at;
            if !liveness_started && !self.in_safety_phase() {
                liveness_started = true;
                self.begin_liveness();
            }
            self.step(next.event);
            events += 1;
            if events > EVENTS_MAX {
                return false;
            }
        }
        self.now = end;
        true
    }

    fn begin_liveness(&mut self) {
        self.trace
            .line(self.now, format_args!("liveness phase: faults stop"));
        if self.server.node.is_none() {
            self.schedule(0, Event::Restart);
        }
        for c in &mut self.clients {
            c.paused_until_ns = 0;
        }
        self.liveness_baseline = self.clients.iter().map(|c| c.completed_ok).collect();
    }

    fn step(&mut self, event: Event) {
        let live = |s: &Server, inc: u64| s.node.is_some() && s.incarnation == inc;
        match event {
            Event::ServerTimeout => {
                let due = self
                    .server
                    .node
                    .as_ref()
                    .and_then(Node::poll_timeout)
                    .is_some_and(|t| t.0 <= self.now);
                if due {
                    self.server_input(Input::Timeout);
                }
            }
            Event::FsyncDone { incarnation } if live(&self.server, incarnation) => {
                let through = self.server.disk.finish_sync();
                self.trace
                    .line(self.now, format_args!("persisted {through}"));
                if self.server.disk.sync_wanted {
                    self.perform(Output::Sync { through });
                }
                self.server_input(Input::Persisted { through });
            }
            Event::ServerConnOpen { incarnation, conn } if live(&self.server, incarnation) => {
                let ip = "10.0.0.1".to_owned();
                self.server_input(Input::Connected { conn, ip });
            }
            Event::ToServer {
                incarnation,
                conn,
                bytes,
            } if live(&self.server, incarnation) && self.server.conns.contains_key(&conn) => {
                self.server_input(Input::Bytes { conn, bytes });
            }
            Event::ServerConnClosed { incarnation, conn } if live(&self.server, incarnation) => {
                self.server.conns.remove(&conn);
                self.server_input(Input::Closed { conn });
            }
            Event::ToClient {
                client,
                conn,
                bytes,
            } => self.client_bytes(client, conn, &bytes),
            Event::ClientConnLost { client, conn } if self.clients[client].conn == Some(conn) => {
                self.trace.line(
                    self.now,
                    format_args!("client {client} lost conn {}", conn.0),
                );
                self.clients[client].disconnected();
            }
            Event::ClientTick { client } => self.client_tick(client),
            Event::Crash => self.crash(),
            Event::Restart if self.server.node.is_none() => {
                let seed = self.rng.next_u64();
                self.start_server(seed);
            }
            Event::DropConn => self.drop_conn(),
            // An event for a crashed incarnation or a replaced connection.
            _ => {}
        }
    }

    fn crash(&mut self) {
        if !self.in_safety_phase() {
            return;
        }
        if self.server.node.is_some() {
            self.crashes += 1;
            let volatile = self.server.disk.volatile.len() as u64;
            let survive = if self.chance(self.options.unsynced_survive_probability) {
                self.rand(0, volatile) as usize
            } else {
                0
            };
            let torn = survive > 0 && self.chance(self.options.torn_tail_probability);
            self.trace.line(
                self.now,
                format_args!("CRASH volatile={volatile} survive={survive} torn={torn}"),
            );
            self.server.disk.crash(survive, torn);
            self.server.node = None;
            self.server.incarnation += 1;
            let conns: Vec<(ConnId, usize)> =
                std::mem::take(&mut self.server.conns).into_iter().collect();
            for (conn, client) in conns {
                self.deliver(conn, false, Event::ClientConnLost { client, conn });
            }
            let down = self.rand(10, 2_000) * MS;
            self.schedule(down, Event::Restart);
        }
        let next = self.exp_delay(self.options.crash_interval_ms);
        self.schedule(next, Event::Crash);
    }

    fn drop_conn(&mut self) {
        if !self.in_safety_phase() {
            return;
        }
        let conns: Vec<(ConnId, usize)> = self.server.conns.iter().map(|(c, k)| (*c, *k)).collect();
        if !conns.is_empty() {
            let (conn, client) = conns[self.rand(0, conns.len() as u64 - 1) as usize];
            self.trace.line(
                self.now,
                format_args!("drop conn {} of client {client}", conn.0),
            );
            self.server.conns.remove(&conn);
            let incarnation = self.server.incarnation;
            self.deliver(conn, true, Event::ServerConnClosed { incarnation, conn });
            self.deliver(conn, false, Event::ClientConnLost { client, conn });
        }
        let next = self.exp_delay(self.options.conn_drop_interval_ms);
        self.schedule(next, Event::DropConn);
    }

    fn client_bytes(&mut self, client: usize, conn: ConnId, bytes: &[u8]) {
        if self.clients[client].conn != Some(conn) {
            return;
        }
        let now = self.now;
        let ok = self.clients[client].receive(bytes, now, &mut self.history);
        for i in std::mem::take(&mut self.clients[client].completed) {
            let op = &self.history.ops[i];
            self.trace.line(
                now,
                format_args!(
                    "client {client} op #{i} r{} {:?} -> {:?}",
                    op.key, op.kind, op.outcome
                ),
            );
        }
        if !ok {
            self.trace.line(
                self.now,
                format_args!("client {client} drops conn {}", conn.0),
            );
            self.clients[client].disconnected();
            let incarnation = self.server.incarnation;
            self.server.conns.remove(&conn);
            self.deliver(conn, true, Event::ServerConnClosed { incarnation, conn });
        }
    }

    fn client_tick(&mut self, client: usize) {
        let think = self.rand(1, 30) * MS;
        self.schedule(think, Event::ClientTick { client });
        let now = self.now;
        if self.clients[client].paused_until_ns > now {
            return;
        }
        if self.in_safety_phase() && self.chance(self.options.client_pause_probability / 100.0) {
            let t = self.options.session_timeout_ms.max(1) as u64;
            let pause = self.rand(t / 4, t * 2) * MS;
            self.clients[client].paused_until_ns = now + pause;
            self.trace.line(
                now,
                format_args!("client {client} pauses {} ms", pause / MS),
            );
            return;
        }
        match self.clients[client].state {
            ClientState::Disconnected => self.client_connect(client),
            ClientState::Connecting => {}
            ClientState::Connected => self.client_work(client),
        }
    }

    fn client_connect(&mut self, client: usize) {
        if self.server.node.is_none() {
            return; // connection refused; the next tick retries
        }
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        let hello = self.clients[client].connect(conn);
        self.server.conns.insert(conn, client);
        let incarnation = self.server.incarnation;
        self.deliver(conn, true, Event::ServerConnOpen { incarnation, conn });
        self.deliver(
            conn,
            true,
            Event::ToServer {
                incarnation,
                conn,
                bytes: hello,
            },
        );
    }

    fn client_work(&mut self, client: usize) {
        let Some(conn) = self.clients[client].conn else {
            return;
        };
        let now = self.now;
        let frames = if self.clients[client].idle() {
            let key = self.rand(0, self.options.keys as u64 - 1) as usize;
            let kind = self.pick_op(client, key);
            let pipelined_read = kind.is_write() && self.chance(0.3);
            let write_index = self.history.ops.len();
            let mut frames = self.clients[client].issue(kind, key, now, &mut self.history);
            if pipelined_read {
                // FIFO per session: a read sent right behind a write must see it.
                frames.extend(self.clients[client].issue(OpKind::Get, key, now, &mut self.history));
                if let Some(read) = self.history.ops.last_mut() {
                    read.follows = Some(write_index);
                }
            }
            frames
        } else if now - self.clients[client].last_send_ns
            > (self.options.session_timeout_ms as u64 / 3) * MS
        {
            self.clients[client].ping(now)
        } else {
            return;
        };
        let incarnation = self.server.incarnation;
        self.deliver(
            conn,
            true,
            Event::ToServer {
                incarnation,
                conn,
                bytes: frames,
            },
        );
    }

    fn pick_op(&mut self, client: usize, key: usize) -> OpKind {
        let c = &mut self.clients[client];
        if std::mem::take(&mut c.needs_ephemeral) {
            return OpKind::CreateEphemeral;
        }
        let mut value = format!("c{}-{}", c.id, c.writes).into_bytes();
        match self.rng.next_u64() % 11 {
            10 => OpKind::CheckEphemeral,
            0..=2 => {
                c.writes += 1;
                value.shrink_to_fit();
                OpKind::Set { value }
            }
            3..=4 => {
                c.writes += 1;
                let version = c.versions.get(&key).copied().unwrap_or(0);
                OpKind::CasSet { value, version }
            }
            5..=6 => OpKind::Get,
            7 => OpKind::GetWatch,
            _ => OpKind::SyncGet,
        }
    }

    /// The committed value and mzxid of every register, from a running server.
    pub fn final_registers(&mut self) -> Option<Vec<(Vec<u8>, i64)>> {
        if self.server.node.is_none() {
            let seed = self.rng.next_u64();
            self.start_server(seed);
        }
        let node = self.server.node.as_ref()?;
        (0..self.options.keys)
            .map(|k| {
                node.tree()
                    .get(&key_path(k))
                    .map(|n| (n.data.to_vec(), n.stat.mzxid))
            })
            .collect()
    }

    /// Every ephemeral node of the final tree whose owner session no longer exists.
    pub fn orphan_ephemerals(&self) -> Vec<String> {
        let Some(node) = self.server.node.as_ref() else {
            return Vec::new();
        };
        let tree = node.tree();
        let mut out = Vec::new();
        for owner in tree.ephemeral_sessions() {
            if node.sessions().get(owner).is_none() {
                out.extend(tree.ephemerals(owner));
            }
        }
        out
    }

    /// Completed fsyncs, for the report.
    pub fn fsyncs(&self) -> u64 {
        self.server.disk.fsyncs
    }
}

/// The create of a node that exists before any client: the `n`th transaction of the log.
fn initial_create(n: i64, path: String) -> Txn {
    Txn {
        zxid: Zxid(n),
        session: SessionId(0),
        cxid: 0,
        opcode: corral_core::jute::op::CREATE,
        time_ms: WALL_MS_ORIGIN,
        op: TxnOp::Create {
            path,
            data: Vec::new(),
            acl: corral_core::jute::Acl::open_unsafe(),
            kind: NodeKind::Persistent,
            parent_cversion: n as i32,
        },
    }
}
