//! Learning (following or observing): accept the leader's epoch, take its history (DIFF or
//! SNAP), acknowledge NEWLEADER once durable, then log proposals, acknowledge them once
//! durable (followers), apply commits, forward client writes and session management to the
//! leader, answer pings with session touches, and confirm `sync` through the leader.

use super::conn::ConnState;
use super::role::Role;
use super::write::Origin;
use super::{Node, Output};
use crate::ids::{ConnId, Epoch, ServerId, SessionId, Zxid};
use crate::jute::{encode_request, MultiOp, Request};
use crate::time::Instant;
use crate::txn::{Txn, TxnOp};
use crate::zab::discovery::accept_epoch;
use crate::zab::{Notification, PeerMessage};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// Read-index requests a learner keeps outstanding; more are refused.
const READS_MAX: usize = 10_000;

/// Where a learner is with its leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Told the leader its accepted epoch; waiting for the new epoch.
    Discovery,
    /// Accepted the epoch; receiving the leader's history.
    Synchronizing,
    /// Serving clients (after UPTODATE).
    Serving,
}

/// A client write forwarded to the leader, answered when its transaction commits.
#[derive(Debug)]
pub(crate) struct Forwarded {
    conn: ConnId,
    xid: i32,
    multi_ops: Vec<i32>,
}

/// Why a learner waits for the leader's commit point.
#[derive(Debug, Clone)]
pub(crate) enum Waiter {
    /// A client's `sync`.
    Sync(ConnId),
    /// A reconnecting session this server does not know yet: look again once current.
    Reattach {
        conn: ConnId,
        session: SessionId,
        password: Vec<u8>,
    },
}

/// A learner's state.
#[derive(Debug)]
pub(crate) struct Learner {
    pub(crate) leader: ServerId,
    pub(crate) observer: bool,
    /// The election's outcome, told to servers still looking.
    pub(crate) vote: Notification,
    phase: Phase,
    epoch: Option<Epoch>,
    last_heard: Instant,
    /// Logged proposals not yet committed, in zxid order.
    pub(crate) pending: VecDeque<Arc<Txn>>,
    /// Sessions with client activity since the last ping.
    touched: BTreeSet<SessionId>,
    /// Forwarded writes per session, in order.
    forwarded: BTreeMap<SessionId, VecDeque<Forwarded>>,
    /// New sessions asked of the leader, by the connection waiting for them.
    connecting: BTreeMap<SessionId, ConnId>,
    next_read_id: u64,
    /// Read-index requests sent, by id.
    reads: BTreeMap<u64, Waiter>,
    /// Confirmed, waiting to apply through the zxid.
    reads_ready: Vec<(Zxid, Waiter)>,
    /// NEWLEADER received: acknowledge once the log is durable through this zxid.
    newleader_zxid: Option<Zxid>,
    /// Highest zxid acknowledged to the leader.
    acked: Zxid,
    /// While in discovery: when to repeat FOLLOWERINFO (the leader may still have been
    /// electing when the first one arrived, and dropped it).
    pub(crate) hello_at: Option<Instant>,
}

impl Learner {
    pub(crate) fn is_serving(&self) -> bool {
        self.phase == Phase::Serving
    }

    pub(crate) fn epoch(&self) -> Option<Epoch> {
        self.epoch
    }

    /// The learner's next duty: repeating FOLLOWERINFO, or giving up on a silent leader
    /// (syncLimit while serving, initLimit before).
    pub(crate) fn deadline(&self, config: &crate::config::Config) -> Instant {
        let ticks = if self.phase == Phase::Serving {
            config.sync_limit_ticks
        } else {
            config.init_limit_ticks
        };
        let silent_by = self
            .last_heard
            .plus_ms(u64::from(config.tick_time_ms) * u64::from(ticks));
        self.hello_at.map_or(silent_by, |at| at.min(silent_by))
    }

    /// When the leader's silence ends this learner's role.
    pub(crate) fn silent_by(&self, config: &crate::config::Config) -> Instant {
        let ticks = if self.phase == Phase::Serving {
            config.sync_limit_ticks
        } else {
            config.init_limit_ticks
        };
        self.last_heard
            .plus_ms(u64::from(config.tick_time_ms) * u64::from(ticks))
    }
}

impl Node {
    pub(crate) fn learner(&mut self) -> Option<&mut Learner> {
        match &mut self.role {
            Role::Following(l) => Some(l),
            _ => None,
        }
    }

    /// The zxid reported to a leader. The planted double-apply bug reports the last zxid
    /// committed by a leader rather than the end of the log, so the DIFF repeats transactions.
    fn reported_last_zxid(&self) -> Zxid {
        #[cfg(feature = "planted-bugs")]
        if self.config.planted.double_apply_after_resync {
            if let Some(z) = self.fast_forwarded_from {
                return z;
            }
        }
        self.last_logged()
    }

    pub(crate) fn become_learner(&mut self, leader: ServerId, vote: Notification) {
        let observer = self.config.is_observer();
        self.role = Role::Following(Box::new(Learner {
            leader,
            observer,
            vote,
            phase: Phase::Discovery,
            epoch: None,
            last_heard: self.now.mono,
            pending: VecDeque::new(),
            touched: BTreeSet::new(),
            forwarded: BTreeMap::new(),
            connecting: BTreeMap::new(),
            next_read_id: 1,
            reads: BTreeMap::new(),
            reads_ready: Vec::new(),
            newleader_zxid: None,
            acked: Zxid::ZERO,
            hello_at: None,
        }));
        tracing::info!(leader = leader.0, observer, "learning: discovery");
        self.send_follower_info();
    }

    /// Tells the leader what this learner has, and when to tell it again if it says nothing.
    pub(crate) fn send_follower_info(&mut self) {
        let at = self.now.mono.plus_ms(u64::from(self.config.tick_time_ms));
        let message = PeerMessage::FollowerInfo {
            accepted_epoch: self.epochs.accepted,
            last_zxid: self.reported_last_zxid(),
            observer: self.config.is_observer(),
        };
        let Some(l) = self.learner() else {
            return;
        };
        if l.phase != Phase::Discovery {
            l.hello_at = None;
            return;
        }
        l.hello_at = Some(at);
        let leader = l.leader;
        self.send_peer(leader, message);
    }

    /// Everything a learner receives from its leader.
    pub(crate) fn step_learning(&mut self, from: ServerId, message: PeerMessage) {
        let now = self.now.mono;
        let Some(l) = self.learner() else {
            return;
        };
        if from != l.leader {
            tracing::debug!(
                from = from.0,
                "message from a server that is not our leader; ignored"
            );
            return;
        }
        l.last_heard = now;
        match message {
            PeerMessage::LeaderInfo { new_epoch } => self.on_leader_info(new_epoch),
            PeerMessage::Diff { after } => {
                tracing::debug!(%after, "synchronizing by DIFF");
            }
            PeerMessage::Snap { zxid, state } => self.on_snap(zxid, state),
            PeerMessage::SyncTxn(txn) => self.on_sync_txn(txn),
            PeerMessage::NewLeader { epoch, zxid } => self.on_newleader(epoch, zxid),
            PeerMessage::UpToDate => {
                if let Some(l) = self.learner() {
                    l.phase = Phase::Serving;
                    tracing::info!(leader = l.leader.0, "up to date: serving clients");
                }
            }
            PeerMessage::Proposal(txn) => self.on_proposal(txn),
            PeerMessage::Commit { zxid } => self.on_commit(zxid),
            PeerMessage::Ping { round } => {
                let sessions = match self.learner() {
                    Some(l) => std::mem::take(&mut l.touched).into_iter().collect(),
                    None => return,
                };
                self.send_peer(from, PeerMessage::Touches { round, sessions });
            }
            PeerMessage::ReadIndexReply { id, zxid } => {
                if let Some(waiter) = self.learner().and_then(|l| l.reads.remove(&id)) {
                    if let Some(l) = self.learner() {
                        l.reads_ready.push((zxid, waiter));
                    }
                    self.check_ready_reads();
                }
            }
            other => {
                tracing::warn!(message = ?other, "unexpected message for a learner");
            }
        }
    }

    fn on_leader_info(&mut self, proposed: Epoch) {
        #[cfg(feature = "planted-bugs")]
        let accepted = if self.config.planted.accept_stale_epoch {
            Some(proposed)
        } else {
            accept_epoch(self.epochs.accepted, proposed)
        };
        #[cfg(not(feature = "planted-bugs"))]
        let accepted = accept_epoch(self.epochs.accepted, proposed);
        let Some(epoch) = accepted else {
            tracing::warn!(
                proposed = proposed.0,
                accepted = self.epochs.accepted.0,
                "leader proposed a stale epoch"
            );
            self.become_looking();
            return;
        };
        let Some(l) = self.learner() else {
            return;
        };
        if l.phase != Phase::Discovery {
            return;
        }
        l.phase = Phase::Synchronizing;
        l.epoch = Some(epoch);
        l.hello_at = None;
        let leader = l.leader;
        self.epochs.accepted = epoch;
        self.save_epochs();
        let message = PeerMessage::AckEpoch {
            current_epoch: self.epochs.current,
            last_zxid: self.reported_last_zxid(),
        };
        self.send_peer(leader, message);
    }

    fn on_snap(&mut self, zxid: Zxid, state: Vec<u8>) {
        if !self
            .learner()
            .is_some_and(|l| l.phase == Phase::Synchronizing)
        {
            return;
        }
        match self.install_snapshot(&state) {
            Ok(installed) if installed == zxid => {
                tracing::info!(%zxid, bytes = state.len(), "installed the leader's snapshot");
                self.txns_since_snapshot = 0;
                self.outputs
                    .push_back(Output::InstallSnapshot { zxid, bytes: state });
            }
            Ok(installed) => {
                tracing::error!(%zxid, %installed, "leader's snapshot disagrees with its zxid");
                self.become_looking();
            }
            Err(e) => {
                tracing::error!(error = %e, "leader's snapshot unreadable");
                self.become_looking();
            }
        }
    }

    fn on_sync_txn(&mut self, txn: Txn) {
        if !self
            .learner()
            .is_some_and(|l| l.phase == Phase::Synchronizing)
        {
            return;
        }
        #[cfg(feature = "planted-bugs")]
        let skip = !self.config.planted.double_apply_after_resync;
        #[cfg(not(feature = "planted-bugs"))]
        let skip = true;
        if skip && txn.zxid <= self.tree.last_zxid() {
            return;
        }
        self.append(Arc::new(txn.clone()));
        self.apply_quietly(txn);
        self.count_for_snapshot();
    }

    fn on_newleader(&mut self, epoch: Epoch, zxid: Zxid) {
        let persisted = self.persisted;
        let last = self.last_proposed;
        let Some(l) = self.learner() else {
            return;
        };
        if l.phase != Phase::Synchronizing || l.epoch != Some(epoch) {
            tracing::warn!(epoch = epoch.0, "NEWLEADER for another epoch; ignored");
            return;
        }
        l.newleader_zxid = Some(zxid);
        self.epochs.current = epoch;
        self.save_epochs();
        if persisted >= zxid {
            self.on_learner_persisted(persisted);
        } else {
            self.sync_through = Some(last.max(zxid));
        }
    }

    fn append(&mut self, txn: Arc<Txn>) {
        self.last_proposed = self.last_proposed.max(txn.zxid);
        self.sync_through = Some(self.last_proposed);
        self.outputs.push_back(Output::Append(txn));
    }

    fn on_proposal(&mut self, txn: Arc<Txn>) {
        let Some(l) = self.learner() else {
            return;
        };
        if l.phase == Phase::Discovery || l.pending.back().is_some_and(|p| p.zxid >= txn.zxid) {
            tracing::warn!(zxid = %txn.zxid, "proposal out of order; ignored");
            return;
        }
        l.pending.push_back(Arc::clone(&txn));
        self.append(txn);
    }

    fn on_commit(&mut self, zxid: Zxid) {
        loop {
            let Some(l) = self.learner() else {
                return;
            };
            if l.pending.front().is_none_or(|p| p.zxid > zxid) {
                break;
            }
            let Some(txn) = l.pending.pop_front() else {
                break;
            };
            let origin = l.origin_of(&txn);
            self.commit(super::write::Proposal { txn, origin });
        }
        self.check_ready_reads();
    }

    /// The log is durable through `through`: acknowledge NEWLEADER and proposals.
    pub(crate) fn on_learner_persisted(&mut self, through: Zxid) {
        let Some(l) = self.learner() else {
            return;
        };
        let leader = l.leader;
        if let Some(zxid) = l.newleader_zxid {
            if through < zxid {
                return;
            }
            l.newleader_zxid = None;
            l.acked = l.acked.max(zxid);
            self.send_peer(leader, PeerMessage::AckNewLeader { zxid });
            return;
        }
        let Some(l) = self.learner() else {
            return;
        };
        if l.observer || l.phase == Phase::Discovery || through <= l.acked {
            return;
        }
        l.acked = through;
        self.send_peer(leader, PeerMessage::Ack { zxid: through });
    }

    /// A client session asked this learner for a new session: the leader creates it.
    pub(crate) fn learner_create_session(&mut self, conn: ConnId, timeout_ms: i32) {
        let session = SessionId(self.next_session);
        self.next_session += 1;
        let password = self.new_password();
        if let Some(c) = self.conns.get_mut(&conn) {
            c.state = ConnState::Connecting;
        }
        let Some(l) = self.learner() else {
            return;
        };
        l.connecting.insert(session, conn);
        let leader = l.leader;
        self.send_peer(
            leader,
            PeerMessage::CreateSession {
                session,
                timeout_ms,
                password,
            },
        );
    }

    /// A client write on a learner goes to the leader; the learner answers at commit.
    pub(crate) fn learner_forward(
        &mut self,
        conn: ConnId,
        session: SessionId,
        xid: i32,
        request: &Request,
    ) {
        let frame = encode_request(xid, request);
        let auth = self
            .conns
            .get(&conn)
            .map(|c| {
                c.auth
                    .ids
                    .iter()
                    .map(|id| (id.scheme.clone(), id.id.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let multi_ops = match request {
            Request::Multi(ops) => ops.iter().map(MultiOp::opcode).collect(),
            _ => Vec::new(),
        };
        let Some(l) = self.learner() else {
            return;
        };
        l.forwarded
            .entry(session)
            .or_default()
            .push_back(Forwarded {
                conn,
                xid,
                multi_ops,
            });
        l.touched.insert(session);
        let leader = l.leader;
        self.send_peer(
            leader,
            PeerMessage::Forward {
                session,
                frame,
                auth,
            },
        );
    }

    /// Activity on a session, reported to the leader with the next ping answer.
    pub(crate) fn learner_touch(&mut self, session: SessionId) {
        if let Some(l) = self.learner() {
            l.touched.insert(session);
        }
    }

    /// Asks the leader to confirm its leadership and its commit point; `waiter` proceeds once
    /// this server has applied through it.
    pub(crate) fn learner_read_index(&mut self, waiter: Waiter) {
        let Some(l) = self.learner() else {
            return;
        };
        if l.reads.len() >= READS_MAX {
            let conn = match waiter {
                Waiter::Sync(conn) | Waiter::Reattach { conn, .. } => conn,
            };
            tracing::warn!(
                conn = conn.0,
                "too many read-index requests outstanding; closing"
            );
            self.close_conn(conn);
            return;
        }
        let id = l.next_read_id;
        l.next_read_id += 1;
        l.reads.insert(id, waiter);
        let leader = l.leader;
        self.send_peer(leader, PeerMessage::ReadIndex { id });
    }

    fn check_ready_reads(&mut self) {
        let applied = self.tree.last_zxid();
        let Some(l) = self.learner() else {
            return;
        };
        if l.reads_ready.is_empty() {
            return;
        }
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut l.reads_ready)
            .into_iter()
            .partition(|(zxid, _)| *zxid <= applied);
        l.reads_ready = waiting;
        for (_, waiter) in done {
            match waiter {
                Waiter::Sync(conn) => self.finish_sync(conn),
                Waiter::Reattach {
                    conn,
                    session,
                    password,
                } => self.reattach_checked(conn, session, &password),
            }
        }
    }
}

impl Learner {
    /// Who waits for a committed transaction on this learner.
    fn origin_of(&mut self, txn: &Txn) -> Origin {
        if let TxnOp::CreateSession { .. } = txn.op {
            if let Some(conn) = self.connecting.remove(&txn.session) {
                return Origin::Connect { conn };
            }
            return Origin::Server;
        }
        let Some(queue) = self.forwarded.get_mut(&txn.session) else {
            return Origin::Server;
        };
        if queue.front().is_none_or(|f| f.xid != txn.cxid) {
            return Origin::Server;
        }
        let Some(f) = queue.pop_front() else {
            return Origin::Server;
        };
        if queue.is_empty() {
            self.forwarded.remove(&txn.session);
        }
        Origin::Request {
            conn: f.conn,
            xid: f.xid,
            multi_ops: f.multi_ops,
        }
    }
}
