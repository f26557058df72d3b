//! The discrete-event world: virtual time, one RNG, the servers and their disks, the peer
//! network and the clients. Every choice comes from the seed, so a run replays exactly.
//!
//! The world is split by noun: servers (server.rs), the peer network and its faults
//! (peers.rs), clients' connections and workload (workload.rs).

use crate::check::replicas::Replicas;
use crate::clients::{key_path, Client, EPHEMERAL_PARENT, SEQUENTIAL_PARENT};
use crate::disk::Disk;
use crate::election::{ElectionTxn, ELECTION_PARENT};
use crate::history::History;
use crate::lock::LOCK_PARENT;
use crate::network::Network;
use crate::options::Options;
use crate::server::Server;
use crate::trace::Trace;
use corral_core::txn::{NodeKind, Txn, TxnOp};
use corral_core::{ConnId, Instant, Now, SessionId, Zxid};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// One simulated millisecond, in ns.
pub const MS: u64 = 1_000_000;
/// Wall clock at simulated time zero.
pub const WALL_MS_ORIGIN: i64 = 1_700_000_000_000;
/// Events processed before a run is declared stuck.
const EVENTS_MAX: u64 = 50_000_000;

/// Something that happens at a simulated time.
#[derive(Debug)]
pub enum Event {
    /// A server's timer may be due.
    ServerTimeout { server: usize, incarnation: u64 },
    /// A server's fsync completed.
    FsyncDone {
        server: usize,
        incarnation: u64,
        number: u64,
    },
    /// A client connection reached a server.
    ServerConnOpen {
        server: usize,
        incarnation: u64,
        conn: ConnId,
    },
    /// Client bytes reached a server.
    ToServer {
        server: usize,
        incarnation: u64,
        conn: ConnId,
        bytes: Vec<u8>,
    },
    /// The client end of a connection closed.
    ServerConnClosed {
        server: usize,
        incarnation: u64,
        conn: ConnId,
    },
    /// Server bytes reached a client.
    ToClient {
        client: usize,
        conn: ConnId,
        bytes: Vec<u8>,
    },
    /// The server end of a connection closed (or the server died).
    ClientConnLost { client: usize, conn: ConnId },
    /// A client thinks.
    ClientTick { client: usize },
    /// A peer message reaches the `1 - dir` end of link `link`.
    PeerDeliver {
        link: usize,
        dir: usize,
        generation: u64,
        bytes: Vec<u8>,
    },
    /// The `end` of link `link` learns that the link broke.
    PeerDown {
        link: usize,
        end: usize,
        generation: u64,
    },
    /// Crash a random server (often the leader).
    Crash,
    /// Crash this incarnation of a server.
    CrashServer { server: usize, incarnation: u64 },
    /// Restart a crashed server.
    Restart { server: usize },
    /// Drop a random client connection.
    DropConn,
    /// Start a partition.
    Partition,
    /// Lift every partition.
    Heal,
    /// Break a random peer link.
    Flap,
    /// Pause a random server.
    Pause,
    /// A paused server resumes.
    Resume { server: usize, incarnation: u64 },
}

impl Event {
    /// The server an event is for, when a paused server must hold it back.
    fn target(&self, net: &Network) -> Option<usize> {
        match self {
            Event::ServerTimeout { server, .. }
            | Event::FsyncDone { server, .. }
            | Event::ServerConnOpen { server, .. }
            | Event::ToServer { server, .. }
            | Event::ServerConnClosed { server, .. } => Some(*server),
            Event::PeerDeliver { link, dir, .. } => Some(net.ends(*link)[1 - dir]),
            Event::PeerDown { link, end, .. } => Some(net.ends(*link)[*end]),
            _ => None,
        }
    }
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

/// A whole simulated run.
pub struct World {
    /// The run's options.
    pub options: Options,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<Scheduled>>,
    /// The servers, voters first.
    pub servers: Vec<Server>,
    pub(crate) net: Network,
    /// The clients.
    pub clients: Vec<Client>,
    /// What they did.
    pub history: History,
    /// Last delivery time per (connection, direction): TCP keeps order.
    pub(crate) last_delivery: BTreeMap<(ConnId, bool), u64>,
    pub(crate) next_conn: u64,
    /// The trace and its hash.
    pub trace: Trace,
    /// Ops completed per client when the liveness phase began.
    pub liveness_baseline: Vec<u64>,
    /// Crashes performed.
    pub crashes: u64,
    /// Peer messages delivered.
    pub peer_messages: u64,
    /// The replica checkers, fed after every input of every node.
    pub replicas: Replicas,
    /// Register writes applied by any replica, by zxid: (key, value).
    pub applied_writes: BTreeMap<Zxid, (usize, Vec<u8>)>,
    /// What applied transactions did to `/election` nodes (creates, deletes, session closes),
    /// read back from the log of the first replica that applied each.
    pub election_txns: BTreeMap<Zxid, Vec<ElectionTxn>>,
    pub(crate) liveness_started: bool,
}

impl World {
    /// A world for `options`, with every register created in each server's initial log.
    pub fn new(options: Options, keep_trace: bool) -> World {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let clients = (0..options.clients)
            .map(|i| Client::new(i, options.session_timeout_ms))
            .collect();
        let paths: Vec<String> = (0..options.keys)
            .map(key_path)
            .chain(
                [
                    EPHEMERAL_PARENT,
                    LOCK_PARENT,
                    ELECTION_PARENT,
                    SEQUENTIAL_PARENT,
                ]
                .map(str::to_owned),
            )
            .collect();
        let n = options.servers();
        let servers = (0..n)
            .map(|s| {
                let mut disk = Disk::default();
                // The registers and the parent of the ephemerals exist from the start.
                for (i, path) in paths.iter().enumerate() {
                    disk.durable
                        .push(initial_create(i as i64 + 1, path.clone()));
                }
                Server::new(s, disk)
            })
            .collect();
        let first_seed = rng.next_u64();
        let mut world = World {
            net: Network::new(n),
            replicas: Replicas::new(n),
            options,
            rng,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            servers,
            clients,
            history: History::default(),
            last_delivery: BTreeMap::new(),
            next_conn: 1,
            trace: Trace::new(keep_trace),
            liveness_baseline: Vec::new(),
            crashes: 0,
            peer_messages: 0,
            applied_writes: BTreeMap::new(),
            election_txns: BTreeMap::new(),
            liveness_started: false,
        };
        // Every server is up before any speaks: none starts by finding its peers down.
        for s in 0..n {
            let seed = if s == 0 {
                first_seed
            } else {
                world.rng.next_u64()
            };
            world.boot_server(s, seed);
        }
        for s in 0..n {
            world.server_input(s, None);
        }
        for c in 0..world.clients.len() {
            let at = world.rand(0, 20 * MS);
            world.schedule(at, Event::ClientTick { client: c });
        }
        world.schedule_faults();
        world
    }

    fn schedule_faults(&mut self) {
        let o = &self.options;
        let plan = [
            (o.crash_interval_ms, 0),
            (o.conn_drop_interval_ms, 1),
            (o.partition_interval_ms, 2),
            (o.flap_interval_ms, 3),
            (o.pause_interval_ms, 4),
        ];
        for (interval, which) in plan {
            if interval == 0 {
                continue;
            }
            let at = self.exp_delay(interval);
            let event = match which {
                0 => Event::Crash,
                1 => Event::DropConn,
                2 => Event::Partition,
                3 => Event::Flap,
                _ => Event::Pause,
            };
            self.schedule(at, event);
        }
    }

    pub(crate) fn rand(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.rng.next_u64() % (hi - lo + 1)
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        ((self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// A delay with mean `mean_ms` (uniform over 0..2×mean: bounded, cheap, seed-determined).
    pub(crate) fn exp_delay(&mut self, mean_ms: u64) -> u64 {
        self.rand(1, 2 * mean_ms.max(1)) * MS
    }

    /// A one-way network latency, ns.
    pub(crate) fn latency(&mut self) -> u64 {
        self.rand(self.options.latency_us_min, self.options.latency_us_max) * 1_000
    }

    pub(crate) fn schedule(&mut self, delay: u64, event: Event) {
        self.seq += 1;
        let at = self.now + delay;
        self.queue.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            event,
        }));
    }

    pub(crate) fn now(&self) -> Now {
        Now {
            mono: Instant(self.now),
            wall_ms: WALL_MS_ORIGIN + (self.now / MS) as i64,
        }
    }

    pub(crate) fn in_safety_phase(&self) -> bool {
        self.now < self.options.safety_ms * MS
    }

    /// Runs the safety phase, then the liveness phase. Returns false if the run got stuck.
    pub fn run(&mut self) -> bool {
        let end = (self.options.safety_ms + self.options.liveness_ms) * MS;
        let mut events = 0u64;
        while let Some(Reverse(next)) = self.queue.pop() {
            if next.at > end {
                break;
            }
            self.now = next.at;
            if !self.liveness_started && !self.in_safety_phase() {
                self.liveness_started = true;
                self.begin_liveness();
            }
            self.dispatch(next.event);
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
        self.net.heal();
        for s in 0..self.servers.len() {
            if self.servers[s].node.is_none() {
                self.schedule(0, Event::Restart { server: s });
            }
            if self.servers[s].paused {
                let incarnation = self.servers[s].incarnation;
                self.schedule(
                    0,
                    Event::Resume {
                        server: s,
                        incarnation,
                    },
                );
            }
        }
        for c in &mut self.clients {
            c.paused_until_ns = 0;
        }
        self.liveness_baseline = self.clients.iter().map(|c| c.completed_ok).collect();
    }

    /// Holds an event back while its server is paused; otherwise performs it.
    pub(crate) fn dispatch(&mut self, event: Event) {
        if let Some(s) = event.target(&self.net) {
            if self.servers[s].paused {
                self.servers[s].deferred.push(event);
                return;
            }
        }
        self.step(event);
    }

    fn step(&mut self, event: Event) {
        match event {
            Event::ServerTimeout {
                server,
                incarnation,
            } => self.server_timeout(server, incarnation),
            Event::FsyncDone {
                server,
                incarnation,
                number,
            } => self.fsync_done(server, incarnation, number),
            Event::ServerConnOpen {
                server,
                incarnation,
                conn,
            } => self.server_conn_open(server, incarnation, conn),
            Event::ToServer {
                server,
                incarnation,
                conn,
                bytes,
            } => self.server_bytes(server, incarnation, conn, bytes),
            Event::ServerConnClosed {
                server,
                incarnation,
                conn,
            } => self.server_conn_closed(server, incarnation, conn),
            Event::ToClient {
                client,
                conn,
                bytes,
            } => self.client_bytes(client, conn, &bytes),
            Event::ClientConnLost { client, conn } => self.client_conn_lost(client, conn),
            Event::ClientTick { client } => self.client_tick(client),
            Event::PeerDeliver {
                link,
                dir,
                generation,
                bytes,
            } => self.peer_deliver(link, dir, generation, &bytes),
            Event::PeerDown {
                link,
                end,
                generation,
            } => self.peer_down(link, end, generation),
            Event::Crash => self.crash(),
            Event::CrashServer {
                server,
                incarnation,
            } => {
                if self.servers[server].incarnation == incarnation && self.in_safety_phase() {
                    self.crash_and_restart(server);
                }
            }
            Event::Restart { server } => self.restart(server),
            Event::DropConn => self.drop_conn(),
            Event::Partition => self.partition(),
            Event::Heal => self.heal(),
            Event::Flap => self.flap(),
            Event::Pause => self.pause(),
            Event::Resume {
                server,
                incarnation,
            } => self.resume(server, incarnation),
        }
    }

    /// Completed fsyncs of every server, for the report.
    pub fn fsyncs(&self) -> u64 {
        self.servers.iter().map(|s| s.disk.fsyncs).sum()
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
