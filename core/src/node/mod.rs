//! `Node`: one Corral server, driven by its adapter.
//!
//! Call order: build with [`Node::new`], then repeatedly feed one event with [`Node::handle`],
//! drain [`Node::poll_output`] until it returns `None` and perform each output in order, and arm
//! one timer for [`Node::poll_timeout`]; when it fires, `handle(now, Input::Timeout)`.
//!
//! Persist, then speak: a write is answered only after an `Input::Persisted` covers its zxid.
//! A single server is an ensemble of one: its own durable log is the quorum.

mod commit;
mod conn;
mod forward;
mod fourlw;
mod leader;
mod learner;
mod read;
mod read_index;
mod role;
mod stats;
mod write;

use crate::config::Config;
use crate::ids::{ConnId, Epoch, ServerId, SessionId, Zxid};
use crate::prep::Prep;
use crate::session::SessionTable;
use crate::time::{Instant, Now};
use crate::tree::{DataTree, Restored, Snapshot};
use crate::txn::Txn;
use crate::watch::WatchManager;
use crate::zab::{AckTracker, PeerMessage};
use conn::Conn;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use role::Role;
pub use role::RoleKind;
use serde::{Deserialize, Serialize};
pub use stats::Stats;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use thiserror::Error;
use write::Proposal;

/// One event for the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A client connected from `ip` (address only, no port).
    Connected {
        /// The adapter's number for the connection.
        conn: ConnId,
        /// The peer's IP address.
        ip: String,
    },
    /// Bytes read from a client connection (any split; the node frames them).
    Bytes {
        /// Which connection.
        conn: ConnId,
        /// What was read.
        bytes: Vec<u8>,
    },
    /// The client connection closed (by the peer, or after `Output::Close`).
    Closed {
        /// Which connection.
        conn: ConnId,
    },
    /// Every appended record up to and including `through` is durable.
    Persisted {
        /// Highest durable zxid.
        through: Zxid,
    },
    /// The log can no longer be written (disk full, IO error): stop accepting writes.
    StorageFailed {
        /// What went wrong, for the logs.
        reason: String,
    },
    /// A snapshot requested with `Output::Snapshot` is durable.
    SnapshotWritten {
        /// The snapshot's zxid.
        zxid: Zxid,
    },
    /// The time returned by `poll_timeout` has come.
    Timeout,
    /// A message from another server of the ensemble.
    Peer {
        /// The sender.
        from: ServerId,
        /// The message.
        message: PeerMessage,
    },
    /// The link to `peer` broke: messages sent on it after the last one delivered are lost.
    /// The transport delivers the messages of one link in order and without gaps; a new link
    /// starts after this input.
    PeerDown {
        /// The other end.
        peer: ServerId,
    },
}

/// One effect for the adapter to perform, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send bytes (whole frames) to a client.
    Send {
        /// Which connection.
        conn: ConnId,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Close a client connection once everything sent before is flushed.
    Close {
        /// Which connection.
        conn: ConnId,
    },
    /// Append a transaction to the log (not yet durable).
    Append(Arc<Txn>),
    /// Make the log durable through `through`, then answer `Input::Persisted`.
    Sync {
        /// Highest zxid that must be durable.
        through: Zxid,
    },
    /// Write a snapshot of the state as of `zxid`, then answer `Input::SnapshotWritten`.
    Snapshot {
        /// The last zxid the snapshot contains.
        zxid: Zxid,
        /// A frozen copy of the state, cheap to take: encode it off the node's thread with
        /// [`Snapshot::encoder`]; a restart decodes it with [`SnapshotDecoder`] into
        /// [`Recovered::snapshot`].
        ///
        /// [`SnapshotDecoder`]: crate::tree::SnapshotDecoder
        snapshot: Snapshot,
    },
    /// Send a message to another server (dropped by the transport if the link is down).
    ToPeer {
        /// The receiver.
        to: ServerId,
        /// The message.
        message: PeerMessage,
    },
    /// Record the epochs durably before performing any later output.
    SaveEpochs(Epochs),
    /// Replace the durable state with this snapshot, then drop the whole log, before
    /// performing any later output (a learner received the leader's state).
    InstallSnapshot {
        /// The snapshot's last zxid.
        zxid: Zxid,
        /// The encoded state, as [`Node::snapshot_bytes`] encodes it.
        bytes: Vec<u8>,
    },
}

/// The two epochs ZAB keeps durable beside the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epochs {
    /// The newest epoch this server agreed to (a leader's LEADERINFO it acknowledged).
    pub accepted: Epoch,
    /// The epoch of the newest leader whose history this server has adopted (NEWLEADER).
    pub current: Epoch,
}

/// The state a node restarts from.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The newest valid snapshot, decoded ([`crate::tree::SnapshotDecoder`] streams it from
    /// the bytes of `Output::Snapshot`, [`crate::tree::decode_snapshot`] takes them whole).
    pub snapshot: Option<Restored>,
    /// Every logged transaction after the snapshot, in zxid order.
    pub txns: Vec<Txn>,
    /// The epochs last saved with `Output::SaveEpochs`.
    pub epochs: Epochs,
}

/// Why a node could not start.
#[derive(Debug, Error)]
pub enum NodeError {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// The snapshot could not be decoded.
    #[error("snapshot unreadable: {0}")]
    Snapshot(String),
    /// The log does not continue the snapshot.
    #[error("log gap: expected a zxid after {after}, found {found}")]
    LogGap {
        /// Last zxid before the gap.
        after: Zxid,
        /// First zxid after it.
        found: Zxid,
    },
}

/// Timers, one slot each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The earliest session deadline.
    SessionExpiry = 0,
    /// The next scan for empty containers and expired TTL nodes.
    ContainerCheck = 1,
    /// The earliest deadline of a connection that has not completed its handshake.
    Handshake = 2,
    /// The role's next duty: election messages, heartbeats, liveness checks.
    Role = 3,
}

impl Timer {
    const COUNT: usize = 4;
}

/// One server: tree, sessions, watches, connections and the commit pipeline.
pub struct Node {
    pub(crate) config: Config,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) now: Now,
    pub(crate) tree: DataTree,
    pub(crate) sessions: SessionTable,
    pub(crate) watches: WatchManager,
    pub(crate) prep: Prep,
    pub(crate) conns: BTreeMap<ConnId, Conn>,
    /// Connections without a session yet, by the time they will be closed.
    pub(crate) handshake_deadlines: BTreeSet<(Instant, ConnId)>,
    /// Which connection currently carries each session.
    pub(crate) session_conn: BTreeMap<SessionId, ConnId>,
    /// Connections per client IP, for `maxClientCnxns`.
    pub(crate) conns_per_ip: BTreeMap<String, usize>,
    /// The last zxid handed out (proposed).
    pub(crate) last_proposed: Zxid,
    /// The highest zxid known durable.
    pub(crate) persisted: Zxid,
    /// Proposed, not yet committed, in zxid order.
    pub(crate) proposals: VecDeque<Proposal>,
    /// Durable acknowledgements per voter; decides what is committed.
    pub(crate) acks: AckTracker,
    pub(crate) outputs: VecDeque<Output>,
    /// A sync to emit after this call's appends.
    pub(crate) sync_through: Option<Zxid>,
    timers: [Option<Instant>; Timer::COUNT],
    pub(crate) next_session: i64,
    pub(crate) txns_since_snapshot: u64,
    pub(crate) snapshot_after: u64,
    pub(crate) storage_failed: Option<String>,
    pub(crate) stats: Stats,
    /// Where this server stands in the ensemble.
    pub(crate) role: Role,
    /// The durable epochs.
    pub(crate) epochs: Epochs,
    /// The last election round this server took part in.
    pub(crate) election_round: u64,
    /// Committed transactions kept for DIFF synchronization, oldest first.
    pub(crate) history: VecDeque<Txn>,
    /// The zxid just before `history[0]`, which the state is known to include.
    pub(crate) history_base: Zxid,
    /// Applied zxids and the digest after each, when `config.record_applied`.
    pub(crate) applied: Vec<(Zxid, u64)>,
    /// The last zxid committed by a leader before logged proposals were applied on leaving
    /// a learner role (reported only by the planted double-apply bug).
    pub(crate) fast_forwarded_from: Option<Zxid>,
}

impl Node {
    /// Builds a node from its configuration and recovered state. `seed` drives every random
    /// choice (session passwords, snapshot jitter); `now` is the current time.
    pub fn new(
        config: Config,
        recovered: Recovered,
        seed: u64,
        now: Now,
    ) -> Result<Node, NodeError> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let snap_half = config.snap_count / 2;
        let snapshot_after = snap_half + rng.next_u64() % (snap_half + 1);
        let next_session = initial_session_id(config.server_id.0 as i64, now.wall_ms);
        let me = config.server_id;
        let mut node = Node {
            config,
            rng,
            now,
            tree: DataTree::new(),
            sessions: SessionTable::new(),
            watches: WatchManager::new(),
            prep: Prep::new(),
            conns: BTreeMap::new(),
            handshake_deadlines: BTreeSet::new(),
            session_conn: BTreeMap::new(),
            conns_per_ip: BTreeMap::new(),
            last_proposed: Zxid::ZERO,
            persisted: Zxid::ZERO,
            proposals: VecDeque::new(),
            acks: AckTracker::new([me].into_iter().collect(), Zxid::ZERO),
            outputs: VecDeque::new(),
            sync_through: None,
            timers: [None; Timer::COUNT],
            next_session,
            txns_since_snapshot: 0,
            snapshot_after,
            storage_failed: None,
            stats: Stats::default(),
            role: Role::Standalone,
            epochs: recovered.epochs,
            election_round: 0,
            history: VecDeque::new(),
            history_base: Zxid::ZERO,
            applied: Vec::new(),
            fast_forwarded_from: None,
        };
        node.recover(recovered)?;
        node.arm_container_check();
        if !node.config.is_standalone() {
            node.become_looking();
        }
        node.finish_step();
        Ok(node)
    }

    fn recover(&mut self, recovered: Recovered) -> Result<(), NodeError> {
        if let Some(restored) = recovered.snapshot {
            self.tree = restored.tree;
            for (id, s) in restored.sessions {
                self.note_session_id(id);
                self.sessions.open(id, s, self.now.mono);
            }
            self.history_base = self.tree.last_zxid();
        }
        for txn in recovered.txns {
            let last = self.tree.last_zxid();
            if txn.zxid <= last {
                continue;
            }
            if last != Zxid::ZERO
                && txn.zxid.epoch() == last.epoch()
                && txn.zxid.counter() != last.counter() + 1
            {
                return Err(NodeError::LogGap {
                    after: last,
                    found: txn.zxid,
                });
            }
            self.apply_quietly(txn);
            self.txns_since_snapshot += 1;
        }
        self.last_proposed = self.tree.last_zxid();
        self.persisted = self.last_proposed;
        let voters = [self.config.server_id].into_iter().collect();
        self.acks = AckTracker::new(voters, self.last_proposed);
        // A restarted server gives every recovered session a full timeout to come back.
        self.sessions.reset_deadlines(self.now.mono);
        tracing::info!(zxid = %self.last_proposed, sessions = self.sessions.len(), nodes = self.tree.node_count(), "recovered");
        Ok(())
    }

    /// Feeds one event. `now` must not go backwards.
    pub fn handle(&mut self, now: Now, input: Input) {
        debug_assert!(now.mono >= self.now.mono, "time went backwards");
        self.now = Now {
            mono: now.mono.max(self.now.mono),
            wall_ms: now.wall_ms,
        };
        match input {
            Input::Connected { conn, ip } => self.on_connected(conn, ip),
            Input::Bytes { conn, bytes } => self.on_bytes(conn, &bytes),
            Input::Closed { conn } => self.on_closed(conn),
            Input::Persisted { through } => self.on_persisted(through),
            Input::StorageFailed { reason } => self.on_storage_failed(reason),
            Input::SnapshotWritten { zxid } => tracing::info!(%zxid, "snapshot written"),
            Input::Timeout => self.on_timeout(),
            Input::Peer { from, message } => self.on_peer(from, message),
            Input::PeerDown { peer } => self.on_peer_down(peer),
        }
        self.finish_step();
    }

    /// The next effect to perform, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to call `handle(now, Input::Timeout)` next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.iter().flatten().min().copied()
    }

    /// The committed tree (for tests, the simulator and reports).
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// The session table.
    pub fn sessions(&self) -> &SessionTable {
        &self.sessions
    }

    /// Counters for reports.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Highest committed zxid.
    pub fn last_committed(&self) -> Zxid {
        self.tree.last_zxid()
    }

    /// This server's role, and the epoch it is in.
    pub fn role(&self) -> RoleKind {
        self.role.kind()
    }

    /// The durable epochs.
    pub fn epochs(&self) -> Epochs {
        self.epochs
    }

    /// The epoch of the leader this server leads or follows, once established.
    pub fn established_epoch(&self) -> Option<Epoch> {
        self.role.established_epoch()
    }

    /// Applied zxids with the tree digest after each, since the last call (only with
    /// `Config::record_applied`).
    pub fn drain_applied(&mut self) -> Vec<(Zxid, u64)> {
        std::mem::take(&mut self.applied)
    }

    /// Emits the coalesced sync and re-arms timers after every input.
    fn finish_step(&mut self) {
        if let Some(through) = self.sync_through.take() {
            self.outputs.push_back(Output::Sync { through });
        }
        // Only the leader (or a standalone server) decides that a session expired.
        self.timers[Timer::SessionExpiry as usize] = if self.role.expires_sessions() {
            self.sessions.next_deadline()
        } else {
            None
        };
        self.timers[Timer::Role as usize] = self.role_timeout();
        self.timers[Timer::Handshake as usize] =
            self.handshake_deadlines.first().map(|(at, _)| *at);
        #[cfg(debug_assertions)]
        self.check_invariants();
    }

    fn arm_container_check(&mut self) {
        let at = self
            .now
            .mono
            .plus_ms(self.config.container_check_interval_ms);
        self.timers[Timer::ContainerCheck as usize] = Some(at);
    }

    fn on_timeout(&mut self) {
        let now = self.now.mono;
        if self.timers[Timer::SessionExpiry as usize].is_some_and(|t| t <= now) {
            for id in self.sessions.expired(now) {
                self.expire_session(id);
            }
        }
        if self.timers[Timer::Role as usize].is_some_and(|t| t <= now) {
            self.on_role_timeout();
        }
        while let Some(&(at, conn)) = self.handshake_deadlines.first() {
            if at > now {
                break;
            }
            self.handshake_deadlines.pop_first();
            tracing::info!(
                conn = conn.0,
                "no session established in time; closing connection"
            );
            self.close_conn(conn);
        }
        if self.timers[Timer::ContainerCheck as usize].is_some_and(|t| t <= now) {
            if self.role.expires_sessions() {
                self.expire_nodes();
            }
            self.arm_container_check();
        }
        // Every due timer was handled: none may still be due, or the adapter would spin.
        debug_assert!(
            !self.role.expires_sessions() || self.sessions.next_deadline().is_none_or(|t| t > now)
        );
        debug_assert!(self.role_timeout().is_none_or(|t| t > now));
        debug_assert!(self
            .handshake_deadlines
            .first()
            .is_none_or(|(t, _)| *t > now));
    }

    fn on_storage_failed(&mut self, reason: String) {
        tracing::error!(%reason, "storage failed: refusing writes from now on");
        self.storage_failed = Some(reason);
        // Writes awaiting durability will never be answered: their clients must learn that the
        // outcome is unknown (connection loss), not wait forever or see later replies first.
        let waiting: BTreeSet<ConnId> = self
            .proposals
            .iter()
            .filter_map(|p| match &p.origin {
                write::Origin::Request { conn, .. } | write::Origin::Connect { conn } => {
                    Some(*conn)
                }
                write::Origin::Server => None,
            })
            .collect();
        for conn in waiting {
            self.close_conn(conn);
        }
    }

    /// Replaces the whole state with a decoded snapshot (a learner's SNAP).
    pub(crate) fn install_snapshot(&mut self, bytes: &[u8]) -> Result<Zxid, NodeError> {
        let restored =
            crate::tree::decode_snapshot(bytes).map_err(|e| NodeError::Snapshot(e.to_string()))?;
        self.tree = restored.tree;
        self.sessions = SessionTable::new();
        for (id, s) in restored.sessions {
            self.note_session_id(id);
            self.sessions.open(id, s, self.now.mono);
        }
        self.prep = Prep::new();
        self.history.clear();
        self.history_base = self.tree.last_zxid();
        self.last_proposed = self.tree.last_zxid();
        self.persisted = self.last_proposed;
        if self.config.record_applied {
            self.applied
                .push((self.tree.last_zxid(), self.tree.digest()));
        }
        Ok(self.tree.last_zxid())
    }

    /// A frozen copy of the state as of the last committed zxid. Cheap: it shares the tree's
    /// nodes (see [`Snapshot`]).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(&self.tree, self.sessions.to_snapshot())
    }

    /// The state as of the last committed zxid, encoded whole (for a peer that needs a full
    /// state). Walks every node: prefer [`Node::snapshot`] on the node's thread.
    pub fn snapshot_bytes(&self) -> Vec<u8> {
        self.snapshot().to_bytes()
    }

    /// A fresh session password.
    pub(crate) fn new_password(&mut self) -> Vec<u8> {
        let mut p = vec![0u8; 16];
        self.rng.fill_bytes(&mut p);
        p
    }

    #[cfg(debug_assertions)]
    fn check_invariants(&self) {
        assert!(self.persisted <= self.last_proposed || self.proposals.is_empty());
        #[cfg(not(feature = "planted-bugs"))]
        assert!(self.epochs.current <= self.epochs.accepted);
        assert!(self.history.len() <= self.config.history_txns_max);
        assert!(self.tree.last_zxid() <= self.last_proposed);
        let mut prev = self.tree.last_zxid();
        for p in &self.proposals {
            assert!(p.txn.zxid > prev, "proposals out of order");
            prev = p.txn.zxid;
        }
        for (session, conn) in &self.session_conn {
            assert!(
                self.conns.contains_key(conn),
                "session {session} bound to a closed conn"
            );
        }
    }
}

/// ZooKeeper's session id layout: server id in the top byte, then a time-derived counter.
fn initial_session_id(server_id: i64, wall_ms: i64) -> i64 {
    ((wall_ms << 24) as u64 >> 8) as i64 | (server_id << 56)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod ensemble_tests;
