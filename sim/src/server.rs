//! A simulated server process: its `Node`, its disk, its client connections, crashes, restarts
//! and pauses (GC-like stalls: inputs wait, nothing is lost).

use crate::clients::register_key;
use crate::disk::Disk;
use crate::options::Bug;
use crate::world::{Event, World, MS};
use corral_core::config::Ensemble;
use corral_core::node::{Output, RoleKind};
use corral_core::tree::decode_snapshot;
use corral_core::txn::TxnOp;
use corral_core::{Config, ConnId, Input, Node, Recovered, ServerId, Zxid};
use rand_core::RngCore;
use std::collections::BTreeMap;

/// One server process and what survives it.
pub struct Server {
    /// Its id in the ensemble (index + 1).
    pub id: ServerId,
    /// The running node, or `None` while crashed.
    pub node: Option<Node>,
    /// Incremented at every crash: events for an older incarnation are void.
    pub incarnation: u64,
    /// What survives a crash.
    pub disk: Disk,
    /// Open client connections and the client at the other end.
    pub conns: BTreeMap<ConnId, usize>,
    /// Stalled: events for it wait in `deferred`.
    pub paused: bool,
    /// Events held back while paused, in arrival order.
    pub deferred: Vec<Event>,
    /// The time of the earliest `ServerTimeout` event in the queue, if any.
    timer_event_at: Option<u64>,
}

impl Server {
    /// A server that has not started yet.
    pub fn new(index: usize, disk: Disk) -> Server {
        Server {
            id: ServerId(index as u64 + 1),
            node: None,
            incarnation: 0,
            disk,
            conns: BTreeMap::new(),
            paused: false,
            deferred: Vec::new(),
            timer_event_at: None,
        }
    }

    fn live(&self, incarnation: u64) -> bool {
        self.node.is_some() && self.incarnation == incarnation
    }
}

impl World {
    fn node_config(&self, s: usize) -> Config {
        let o = &self.options;
        let mut config = Config::standalone(o.tick_ms);
        config.server_id = ServerId(s as u64 + 1);
        config.ensemble = Ensemble {
            voters: (1..=o.voters as u64).map(ServerId).collect(),
            observers: (o.voters as u64 + 1..=o.servers() as u64)
                .map(ServerId)
                .collect(),
        };
        config.init_limit_ticks = o.init_limit_ticks;
        config.sync_limit_ticks = o.sync_limit_ticks;
        config.history_txns_max = o.history_txns_max;
        config.snap_count = o.snap_count;
        config.record_applied = true;
        config.session_timeout_ms_max = 60_000;
        config.client_cnxns_per_ip_max = 0;
        config.container_check_interval_ms = 1_000;
        let p = &mut config.planted;
        match o.bug {
            Some(Bug::AckBeforeFsync) => p.ack_before_fsync = true,
            Some(Bug::SkipEphemeralRemoval) => p.skip_ephemeral_removal = true,
            Some(Bug::ReadBeforeOwnWrite) => p.read_before_own_write = true,
            Some(Bug::CommitWithoutQuorum) => p.commit_without_quorum = true,
            Some(Bug::AcceptStaleEpoch) => p.accept_stale_epoch = true,
            Some(Bug::DoubleApplyAfterResync) => p.double_apply_after_resync = true,
            None => {}
        }
        config
    }

    /// Starts server `s` from what its disk holds, and performs what it says first.
    pub(crate) fn start_server(&mut self, s: usize, seed: u64) {
        self.boot_server(s, seed);
        self.server_input(s, None);
    }

    /// Builds the node of server `s` from what its disk holds; its first outputs wait for
    /// `server_input(s, None)`.
    pub(crate) fn boot_server(&mut self, s: usize, seed: u64) {
        let (snapshot, txns) = self.servers[s].disk.recover();
        let snapshot = match snapshot.map(|bytes| decode_snapshot(&bytes)).transpose() {
            Ok(snapshot) => snapshot,
            Err(e) => {
                let detail = format!("s{} cannot decode its own snapshot: {e}", s + 1);
                self.replicas
                    .violation("a server recovers from its own disk", detail);
                return;
            }
        };
        let snapshot_zxid = self.servers[s].disk.snapshot.as_ref().map(|(z, _)| *z);
        let recovered = Recovered {
            snapshot,
            txns,
            epochs: self.servers[s].disk.epochs,
        };
        let config = self.node_config(s);
        let node = match Node::new(config, recovered, seed, self.now()) {
            Ok(n) => n,
            Err(e) => {
                self.replicas.violation(
                    "a server recovers from its own disk",
                    format!("s{} cannot start: {e}", s + 1),
                );
                return;
            }
        };
        self.trace.line(
            self.now,
            format_args!(
                "s{} start zxid={} epochs={:?}",
                s + 1,
                node.last_committed(),
                node.epochs()
            ),
        );
        self.servers[s].node = Some(node);
        self.servers[s].timer_event_at = None;
        self.replicas
            .restarted(s, snapshot_zxid, self.servers[s].disk.epochs);
    }

    /// Feeds the node of `s` (or only collects what `Node::new` produced), performs its
    /// outputs, arms its timer and lets the replica checkers look.
    pub(crate) fn server_input(&mut self, s: usize, input: Option<Input>) {
        let now = self.now();
        let Some(node) = self.servers[s].node.as_mut() else {
            return;
        };
        let role_before = node.role();
        if let Some(input) = input {
            node.handle(now, input);
        }
        let mut outputs = Vec::new();
        while let Some(out) = node.poll_output() {
            outputs.push(out);
        }
        let role = node.role();
        let timeout = node.poll_timeout();
        if role != role_before {
            self.trace.line(
                self.now,
                format_args!("s{} role {role_before:?} -> {role:?}", s + 1),
            );
            if role == RoleKind::Leading && self.in_safety_phase() {
                self.maybe_crash_new_leader(s);
            }
        }
        let mut installed = None;
        for out in outputs {
            if let Output::InstallSnapshot { zxid, .. } = &out {
                installed = Some(*zxid);
            }
            self.perform(s, out);
        }
        self.observe_replica(s, installed);
        if let Some(at) = timeout {
            self.arm_timer(s, at.0);
        }
    }

    fn arm_timer(&mut self, s: usize, at: u64) {
        let at = at.max(self.now);
        if self.servers[s].timer_event_at.is_some_and(|t| t <= at) {
            return;
        }
        self.servers[s].timer_event_at = Some(at);
        let incarnation = self.servers[s].incarnation;
        self.schedule(
            at - self.now,
            Event::ServerTimeout {
                server: s,
                incarnation,
            },
        );
    }

    fn perform(&mut self, s: usize, out: Output) {
        let incarnation = self.servers[s].incarnation;
        match out {
            Output::Send { conn, bytes } => {
                if let Some(&client) = self.servers[s].conns.get(&conn) {
                    let event = Event::ToClient {
                        client,
                        conn,
                        bytes,
                    };
                    self.deliver(conn, false, event);
                }
            }
            Output::Close { conn } => {
                if let Some(client) = self.servers[s].conns.remove(&conn) {
                    self.deliver(conn, false, Event::ClientConnLost { client, conn });
                }
                let event = Event::ServerConnClosed {
                    server: s,
                    incarnation,
                    conn,
                };
                self.schedule(0, event);
            }
            Output::Append(txn) => {
                self.trace.line(
                    self.now,
                    format_args!("s{} append {} {:?}", s + 1, txn.zxid, txn.opcode),
                );
                self.servers[s]
                    .disk
                    .volatile
                    .push(std::sync::Arc::unwrap_or_clone(txn));
            }
            Output::Sync { .. } => {
                if let Some(number) = self.servers[s].disk.start_sync() {
                    let d = self.rand(self.options.fsync_us_min, self.options.fsync_us_max) * 1_000;
                    let event = Event::FsyncDone {
                        server: s,
                        incarnation,
                        number,
                    };
                    self.schedule(d, event);
                }
            }
            Output::Snapshot { zxid, snapshot } => {
                self.trace
                    .line(self.now, format_args!("s{} snapshot {zxid}", s + 1));
                let stored = crate::disk::StoredSnapshot::Frozen(snapshot);
                self.servers[s].disk.snapshot = Some((zxid, stored));
            }
            Output::InstallSnapshot { zxid, bytes } => {
                self.trace
                    .line(self.now, format_args!("s{} install snapshot {zxid}", s + 1));
                self.servers[s].disk.install_snapshot(zxid, bytes);
            }
            Output::SaveEpochs(epochs) => {
                self.trace
                    .line(self.now, format_args!("s{} save {epochs:?}", s + 1));
                self.servers[s].disk.epochs = epochs;
            }
            Output::ToPeer { to, message } => self.peer_send(s, to, &message),
        }
    }

    /// Lets the replica checkers look at server `s` after an input, and remembers the register
    /// writes it applied (read back from its log): one zxid must name one write everywhere.
    fn observe_replica(&mut self, s: usize, installed: Option<Zxid>) {
        let Some(node) = self.servers[s].node.as_mut() else {
            return;
        };
        let applied = node.drain_applied();
        let view = crate::check::replicas::View {
            role: node.role(),
            epoch: node.established_epoch(),
            epochs: node.epochs(),
        };
        for (zxid, _) in &applied {
            if installed == Some(*zxid) {
                continue;
            }
            let Some(txn) = self.servers[s].disk.find(*zxid) else {
                continue;
            };
            if !self.election_txns.contains_key(zxid) {
                let effects = crate::election::election_txns(txn);
                if !effects.is_empty() {
                    self.election_txns.insert(*zxid, effects);
                }
            }
            let TxnOp::SetData { path, data, .. } = &txn.op else {
                continue;
            };
            let Some(key) = register_key(path).filter(|k| *k < self.options.keys) else {
                continue;
            };
            match self.applied_writes.get(zxid) {
                Some((k, v)) if *k != key || v != data => {
                    let detail = format!("s{} applied another write at {zxid}", s + 1);
                    self.replicas.violation("one transaction per zxid", detail);
                }
                Some(_) => {}
                None => {
                    let value = data.clone();
                    self.applied_writes.insert(*zxid, (key, value));
                }
            }
        }
        self.replicas.observe(s, applied, view, installed, self.now);
    }

    pub(crate) fn server_timeout(&mut self, s: usize, incarnation: u64) {
        let server = &mut self.servers[s];
        if server.incarnation != incarnation {
            return;
        }
        if server.timer_event_at == Some(self.now) {
            server.timer_event_at = None;
        }
        let Some(node) = server.node.as_ref() else {
            return;
        };
        match node.poll_timeout() {
            Some(t) if t.0 <= self.now => self.server_input(s, Some(Input::Timeout)),
            Some(t) => self.arm_timer(s, t.0),
            None => {}
        }
    }

    pub(crate) fn fsync_done(&mut self, s: usize, incarnation: u64, number: u64) {
        if !self.servers[s].live(incarnation) {
            return;
        }
        let Some(through) = self.servers[s].disk.finish_sync(number) else {
            return;
        };
        self.trace
            .line(self.now, format_args!("s{} persisted {through}", s + 1));
        if self.servers[s].disk.sync_wanted {
            self.perform(s, Output::Sync { through });
        }
        self.server_input(s, Some(Input::Persisted { through }));
    }

    pub(crate) fn server_conn_open(&mut self, s: usize, incarnation: u64, conn: ConnId) {
        if self.servers[s].live(incarnation) {
            let ip = "10.0.0.1".to_owned();
            self.server_input(s, Some(Input::Connected { conn, ip }));
        }
    }

    pub(crate) fn server_bytes(
        &mut self,
        s: usize,
        incarnation: u64,
        conn: ConnId,
        bytes: Vec<u8>,
    ) {
        if self.servers[s].live(incarnation) && self.servers[s].conns.contains_key(&conn) {
            self.server_input(s, Some(Input::Bytes { conn, bytes }));
        }
    }

    pub(crate) fn server_conn_closed(&mut self, s: usize, incarnation: u64, conn: ConnId) {
        if self.servers[s].live(incarnation) {
            self.servers[s].conns.remove(&conn);
            self.server_input(s, Some(Input::Closed { conn }));
        }
    }

    /// The index of a server that leads (broadcasting), if any.
    pub(crate) fn leader(&self) -> Option<usize> {
        self.servers.iter().position(|sv| {
            sv.node
                .as_ref()
                .is_some_and(|n| n.role() == RoleKind::Leading && n.established_epoch().is_some())
        })
    }

    pub(crate) fn crash(&mut self) {
        if !self.in_safety_phase() {
            return;
        }
        let up: Vec<usize> = (0..self.servers.len())
            .filter(|s| self.servers[*s].node.is_some())
            .collect();
        let target = match self.leader() {
            Some(l) if self.chance(self.options.crash_leader_probability) => Some(l),
            _ if up.is_empty() => None,
            _ => Some(up[self.rand(0, up.len() as u64 - 1) as usize]),
        };
        if let Some(s) = target {
            self.crash_and_restart(s);
        }
        let next = self.exp_delay(self.options.crash_interval_ms);
        self.schedule(next, Event::Crash);
    }

    /// A newly elected leader may crash soon (in discovery or synchronization).
    fn maybe_crash_new_leader(&mut self, s: usize) {
        if !self.chance(self.options.new_leader_crash_probability) {
            return;
        }
        let delay = self.rand(0, self.options.new_leader_crash_us_max) * 1_000;
        let incarnation = self.servers[s].incarnation;
        self.schedule(
            delay,
            Event::CrashServer {
                server: s,
                incarnation,
            },
        );
    }

    pub(crate) fn crash_and_restart(&mut self, s: usize) {
        if self.servers[s].node.is_none() {
            return;
        }
        self.crash_server(s);
        let down = self.rand(10, self.options.restart_ms_max.max(10)) * MS;
        self.schedule(down, Event::Restart { server: s });
    }

    fn crash_server(&mut self, s: usize) {
        self.crashes += 1;
        let volatile = self.servers[s].disk.volatile.len() as u64;
        let survive = if self.chance(self.options.unsynced_survive_probability) {
            self.rand(0, volatile) as usize
        } else {
            0
        };
        let torn = survive > 0 && self.chance(self.options.torn_tail_probability);
        self.trace.line(
            self.now,
            format_args!(
                "s{} CRASH volatile={volatile} survive={survive} torn={torn}",
                s + 1
            ),
        );
        let server = &mut self.servers[s];
        server.disk.crash(survive, torn);
        server.node = None;
        server.paused = false;
        server.deferred.clear();
        server.incarnation += 1;
        server.timer_event_at = None;
        let conns: Vec<(ConnId, usize)> = std::mem::take(&mut server.conns).into_iter().collect();
        for (conn, client) in conns {
            self.deliver(conn, false, Event::ClientConnLost { client, conn });
        }
        self.peers_of_crashed(s);
    }

    pub(crate) fn restart(&mut self, s: usize) {
        if self.servers[s].node.is_none() {
            let seed = self.rng.next_u64();
            self.start_server(s, seed);
        }
    }

    pub(crate) fn pause(&mut self) {
        if !self.in_safety_phase() {
            return;
        }
        let s = self.rand(0, self.servers.len() as u64 - 1) as usize;
        if self.servers[s].node.is_some() && !self.servers[s].paused {
            let ms = self.rand(1, self.options.pause_ms_max);
            self.trace
                .line(self.now, format_args!("s{} PAUSE {ms} ms", s + 1));
            self.servers[s].paused = true;
            let incarnation = self.servers[s].incarnation;
            self.schedule(
                ms * MS,
                Event::Resume {
                    server: s,
                    incarnation,
                },
            );
        }
        let next = self.exp_delay(self.options.pause_interval_ms);
        self.schedule(next, Event::Pause);
    }

    /// A paused server resumes: what it missed is handled now, in arrival order.
    pub(crate) fn resume(&mut self, s: usize, incarnation: u64) {
        if self.servers[s].incarnation != incarnation || !self.servers[s].paused {
            return;
        }
        self.trace
            .line(self.now, format_args!("s{} resumes", s + 1));
        self.servers[s].paused = false;
        self.servers[s].timer_event_at = None;
        let deferred = std::mem::take(&mut self.servers[s].deferred);
        for event in deferred {
            self.dispatch(event);
        }
        if let Some(at) = self.servers[s].node.as_ref().and_then(Node::poll_timeout) {
            self.arm_timer(s, at.0);
        }
    }
}
