//! Leading: discovery (a new epoch above every epoch a quorum accepted), synchronization of each
//! learner (DIFF or SNAP, then NEWLEADER), broadcast (PROPOSAL, quorum of ACKs, COMMIT),
//! heartbeats carrying session touches, and read-index confirmation for `sync`.

use super::role::Role;
use super::Node;
use crate::ids::{Epoch, ServerId, Zxid};
use crate::time::Instant;
use crate::zab::discovery::{DiscoveryStep, EpochProposal};
use crate::zab::sync::{plan, SyncPlan};
use crate::zab::{AckTracker, Notification, PeerMessage};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Where the leader is in establishing its epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Collecting learners' accepted epochs and their acknowledgements of the new one.
    Discovering,
    /// The epoch is established; waiting for a quorum to hold the leader's history durably.
    Synchronizing,
    /// Serving: proposing, committing, answering clients.
    Broadcasting,
}

/// How far a learner has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Reported its accepted epoch; waiting for the epoch to be proposed.
    Reported,
    /// Told the new epoch.
    EpochSent,
    /// Acknowledged the epoch, with its last zxid; waiting to be synchronized.
    EpochAcked(Zxid),
    /// Sent its state and NEWLEADER; receives proposals and commits from here on.
    Synced,
    /// Acknowledged NEWLEADER; told UPTODATE once the leader broadcasts.
    Acked,
    /// Serving.
    Active,
}

#[derive(Debug)]
pub(crate) struct Link {
    stage: Stage,
    last_heard: Instant,
    /// The newest ping round it answered.
    pub(crate) round_answered: u64,
}

impl Link {
    fn receives_broadcast(&self) -> bool {
        matches!(self.stage, Stage::Synced | Stage::Acked | Stage::Active)
    }
}

/// The leader's state.
#[derive(Debug)]
pub(crate) struct Leader {
    /// The election's outcome, told to servers still looking.
    pub(crate) vote: Notification,
    discovery: EpochProposal,
    phase: Phase,
    epoch: Option<Epoch>,
    /// The end of the history imposed on learners at NEWLEADER.
    newleader_zxid: Zxid,
    newleader_acks: BTreeSet<ServerId>,
    pub(crate) links: BTreeMap<ServerId, Link>,
    /// Discovery and synchronization must finish by then (initLimit).
    established_by: Instant,
    pub(crate) next_tick_at: Instant,
    ping_round: u64,
    pub(crate) reads: Vec<super::read_index::ReadWait>,
}

impl Leader {
    pub(crate) fn is_broadcasting(&self) -> bool {
        self.phase == Phase::Broadcasting
    }

    pub(crate) fn epoch(&self) -> Option<Epoch> {
        self.epoch
    }
}

impl Node {
    pub(crate) fn leader(&mut self) -> Option<&mut Leader> {
        match &mut self.role {
            Role::Leading(l) => Some(l),
            _ => None,
        }
    }

    fn tick_ms(&self) -> u64 {
        u64::from(self.config.tick_time_ms)
    }

    pub(crate) fn become_leader(&mut self, vote: Notification) {
        let me = self.config.server_id;
        let now = self.now.mono;
        let init_ms = self.tick_ms() * u64::from(self.config.init_limit_ticks);
        let discovery = EpochProposal::new(
            self.config.ensemble.voters.clone(),
            me,
            self.epochs.accepted,
            self.epochs.current,
            self.last_logged(),
        );
        self.role = Role::Leading(Box::new(Leader {
            vote,
            discovery,
            phase: Phase::Discovering,
            epoch: None,
            newleader_zxid: self.last_logged(),
            newleader_acks: BTreeSet::new(),
            links: BTreeMap::new(),
            established_by: now.plus_ms(init_ms),
            next_tick_at: now.plus_ms(self.tick_ms() / 2),
            ping_round: 0,
            reads: Vec::new(),
        }));
        tracing::info!(zxid = %self.last_logged(), "leading: discovering");
        // The leader's own report: with a single voter it is the quorum.
        let accepted = self.epochs.accepted;
        let step = match self.leader() {
            Some(l) => l.discovery.on_follower_info(me, accepted),
            None => return,
        };
        self.on_discovery_step(step);
    }

    /// Everything a leader receives from a learner.
    pub(crate) fn step_leading(&mut self, from: ServerId, message: PeerMessage) {
        let now = self.now.mono;
        let Some(l) = self.leader() else {
            return;
        };
        if let Some(link) = l.links.get_mut(&from) {
            link.last_heard = now;
        }
        match message {
            PeerMessage::FollowerInfo {
                accepted_epoch,
                last_zxid: _,
                observer,
            } => self.on_follower_info(from, accepted_epoch, observer),
            PeerMessage::AckEpoch {
                current_epoch,
                last_zxid,
            } => self.on_ack_epoch(from, current_epoch, last_zxid),
            PeerMessage::AckNewLeader { zxid } => self.on_ack_newleader(from, zxid),
            PeerMessage::Ack { zxid } => {
                if self.leader().is_some_and(|l| l.is_broadcasting()) {
                    if let Some(committed) = self.acks.ack(from, zxid) {
                        self.commit_through(committed);
                    }
                }
            }
            PeerMessage::Touches { round, sessions } => {
                if let Some(link) = self.leader().and_then(|l| l.links.get_mut(&from)) {
                    link.round_answered = link.round_answered.max(round);
                }
                for s in sessions {
                    self.sessions.touch(s, now);
                }
                self.check_reads();
            }
            PeerMessage::Forward {
                session,
                frame,
                auth,
            } => self.on_forward(session, &frame, auth),
            PeerMessage::CreateSession {
                session,
                timeout_ms,
                password,
            } => self.on_forwarded_session(session, timeout_ms, password),
            PeerMessage::ReadIndex { id } => {
                self.start_read_index(super::read_index::Reader::Remote { learner: from, id })
            }
            other => {
                tracing::warn!(from = from.0, message = ?other, "unexpected message for a leader");
            }
        }
    }

    fn on_follower_info(&mut self, from: ServerId, accepted: Epoch, observer: bool) {
        let now = self.now.mono;
        if observer != self.config.ensemble.observers.contains(&from) {
            tracing::warn!(
                from = from.0,
                observer,
                "learner's role disagrees with the configuration"
            );
            return;
        }
        let Some(l) = self.leader() else {
            return;
        };
        // A learner that accepted a newer epoch than ours: another leader got further.
        if l.epoch.is_some_and(|e| accepted > e) && !planted_stale_epoch(&self.config) {
            tracing::warn!(
                from = from.0,
                accepted = accepted.0,
                "a learner accepted a newer epoch; stepping down"
            );
            self.become_looking();
            return;
        }
        let Some(l) = self.leader() else {
            return;
        };
        // A repeated FOLLOWERINFO (the learner heard nothing yet): answer it again.
        match (l.links.get(&from).map(|link| link.stage), l.epoch) {
            (Some(Stage::EpochSent), Some(epoch)) => {
                self.send_peer(from, PeerMessage::LeaderInfo { new_epoch: epoch });
                return;
            }
            (Some(Stage::Reported), _) | (None, _) => {}
            (Some(_), _) => {
                // The learner started over on the same link (it gave up on us while we were
                // stalled, and re-elected us): what we knew of it is void. Ignoring it left
                // it in discovery forever while its pings kept us leading.
                tracing::info!(
                    learner = from.0,
                    "learner started over; synchronizing it anew"
                );
                self.leader_lost_learner(from);
            }
        }
        let Some(l) = self.leader() else {
            return;
        };
        l.links.insert(
            from,
            Link {
                stage: Stage::Reported,
                last_heard: now,
                round_answered: 0,
            },
        );
        let step = l.discovery.on_follower_info(from, accepted);
        self.on_discovery_step(step);
    }

    fn on_ack_epoch(&mut self, from: ServerId, current: Epoch, last_zxid: Zxid) {
        let Some(l) = self.leader() else {
            return;
        };
        let Some(link) = l.links.get_mut(&from) else {
            return;
        };
        if link.stage != Stage::EpochSent {
            return;
        }
        link.stage = Stage::EpochAcked(last_zxid);
        let step = l.discovery.on_ack_epoch(from, current, last_zxid);
        #[cfg(feature = "planted-bugs")]
        let step = match step {
            // The planted bug: the leader never checks whether a learner knows a newer history.
            DiscoveryStep::StepDown { .. } if self.config.planted.accept_stale_epoch => {
                DiscoveryStep::Wait
            }
            step => step,
        };
        if self.leader().is_some_and(|l| l.phase == Phase::Discovering) {
            self.on_discovery_step(step);
            return;
        }
        // A late learner too: one that adopted a newer history (the NEWLEADER of a leader this
        // one never heard of) proves this leader stale.
        let ours = (
            self.epochs.current,
            self.last_proposed.max(self.tree.last_zxid()),
        );
        if (current, last_zxid) > ours && !planted_stale_epoch(&self.config) {
            self.on_discovery_step(DiscoveryStep::StepDown { newer: from });
            return;
        }
        self.sync_learner(from);
    }

    fn on_discovery_step(&mut self, step: DiscoveryStep) {
        match step {
            DiscoveryStep::Wait => {}
            DiscoveryStep::ProposeEpoch(epoch) => self.propose_epoch(epoch),
            DiscoveryStep::Established(epoch) => self.establish(epoch),
            DiscoveryStep::StepDown { newer } => {
                tracing::warn!(
                    newer = newer.0,
                    "a follower has a newer history; stepping down"
                );
                self.become_looking();
            }
        }
    }

    fn propose_epoch(&mut self, epoch: Epoch) {
        #[cfg(feature = "planted-bugs")]
        let epoch = if self.config.planted.accept_stale_epoch {
            // The planted bug: the leader's own accepted epoch + 1, whatever the quorum accepted.
            Epoch(self.epochs.accepted.0 + 1)
        } else {
            epoch
        };
        let me = self.config.server_id;
        let (current, last) = (self.epochs.current, self.last_logged());
        let Some(l) = self.leader() else {
            return;
        };
        if l.epoch.is_none() {
            l.epoch = Some(epoch);
            self.epochs.accepted = epoch;
            self.save_epochs();
            tracing::info!(epoch = epoch.0, "proposing epoch");
        }
        let Some(l) = self.leader() else {
            return;
        };
        let told: Vec<ServerId> = l
            .links
            .iter_mut()
            .filter(|(_, link)| link.stage == Stage::Reported)
            .map(|(id, link)| {
                link.stage = Stage::EpochSent;
                *id
            })
            .collect();
        // The leader accepts its own epoch: with a single voter that establishes it.
        let step = l.discovery.on_ack_epoch(me, current, last);
        for to in told {
            self.send_peer(to, PeerMessage::LeaderInfo { new_epoch: epoch });
        }
        if let DiscoveryStep::Established(e) = step {
            self.establish(e);
        }
    }

    fn establish(&mut self, epoch: Epoch) {
        let Some(l) = self.leader() else {
            return;
        };
        if l.phase != Phase::Discovering {
            return;
        }
        l.phase = Phase::Synchronizing;
        let waiting: Vec<ServerId> = l
            .links
            .iter()
            .filter(|(_, link)| matches!(link.stage, Stage::EpochAcked(_)))
            .map(|(id, _)| *id)
            .collect();
        self.epochs.current = epoch;
        self.save_epochs();
        tracing::info!(epoch = epoch.0, zxid = %self.last_logged(), "epoch established: synchronizing");
        for id in waiting {
            self.sync_learner(id);
        }
        // The leader's own NEWLEADER acknowledgement: its log durable through its history.
        let through = self.last_logged();
        if self.persisted >= through {
            self.on_ack_newleader(self.config.server_id, through);
        } else {
            self.sync_through = Some(self.last_proposed.max(through));
        }
    }

    /// Sends a learner what it lacks (DIFF or SNAP), the outstanding proposals, and NEWLEADER.
    fn sync_learner(&mut self, id: ServerId) {
        let Some(l) = self.leader() else {
            return;
        };
        let (Some(epoch), Some(link)) = (l.epoch, l.links.get_mut(&id)) else {
            return;
        };
        let Stage::EpochAcked(follower_last) = link.stage else {
            return;
        };
        link.stage = Stage::Synced;
        let broadcasting = l.phase == Phase::Broadcasting;
        // The last zxid this learner will have logged once it has what is sent below.
        let newleader_zxid = if broadcasting {
            self.proposals
                .back()
                .map_or(self.tree.last_zxid(), |p| p.txn.zxid)
        } else {
            l.newleader_zxid
        };
        let history: Vec<Zxid> = self.history.iter().map(|t| t.zxid).collect();
        match plan(&history, self.history_base, follower_last) {
            SyncPlan::Diff { after } => {
                tracing::debug!(learner = id.0, %after, "synchronizing with a DIFF");
                self.send_peer(id, PeerMessage::Diff { after });
                let txns: Vec<_> = self
                    .history
                    .iter()
                    .filter(|t| t.zxid > after)
                    .cloned()
                    .collect();
                for txn in txns {
                    self.send_peer(id, PeerMessage::SyncTxn(txn));
                }
            }
            // The tree cannot be rolled back, so a learner holding transactions the leader
            // never committed is replaced wholesale, as one too far behind is.
            SyncPlan::TruncThenDiff { .. } | SyncPlan::Snap => {
                let zxid = self.tree.last_zxid();
                tracing::info!(learner = id.0, %zxid, "synchronizing with a snapshot");
                let state = self.snapshot_bytes();
                self.send_peer(id, PeerMessage::Snap { zxid, state });
            }
        }
        if broadcasting {
            let outstanding: Vec<_> = self.proposals.iter().map(|p| Arc::clone(&p.txn)).collect();
            for txn in outstanding {
                self.send_peer(id, PeerMessage::Proposal(txn));
            }
        }
        self.send_peer(
            id,
            PeerMessage::NewLeader {
                epoch,
                zxid: newleader_zxid,
            },
        );
    }

    pub(crate) fn on_ack_newleader(&mut self, from: ServerId, zxid: Zxid) {
        let me = self.config.server_id;
        let quorum = self.config.ensemble.quorum();
        let voter = self.config.ensemble.voters.contains(&from);
        let Some(l) = self.leader() else {
            return;
        };
        if from != me {
            let Some(link) = l.links.get_mut(&from) else {
                return;
            };
            if link.stage != Stage::Synced {
                return;
            }
            link.stage = Stage::Acked;
        }
        match l.phase {
            Phase::Discovering => {}
            Phase::Synchronizing => {
                if voter && zxid >= l.newleader_zxid {
                    l.newleader_acks.insert(from);
                }
                if l.newleader_acks.len() >= quorum {
                    self.start_broadcasting();
                }
            }
            Phase::Broadcasting => {
                if from != me {
                    if let Some(committed) = self.acks.ack(from, zxid) {
                        self.commit_through(committed);
                    }
                    self.activate_learner(from);
                }
            }
        }
    }

    fn start_broadcasting(&mut self) {
        let now = self.now.mono;
        let voters = self.config.ensemble.voters.clone();
        let Some(l) = self.leader() else {
            return;
        };
        let (Some(epoch), history_end) = (l.epoch, l.newleader_zxid) else {
            return;
        };
        l.phase = Phase::Broadcasting;
        let acked: Vec<ServerId> = l
            .links
            .iter()
            .filter(|(_, link)| link.stage == Stage::Acked)
            .map(|(id, _)| *id)
            .collect();
        // The imposed history is committed: a quorum holds it durably.
        self.acks = AckTracker::new(voters, history_end);
        self.last_proposed = Zxid::new(epoch, 0);
        // A new leader gives every session a full timeout to find a server again.
        self.sessions.reset_deadlines(now);
        tracing::info!(epoch = epoch.0, zxid = %history_end, "leading: broadcasting");
        for id in acked {
            self.activate_learner(id);
        }
    }

    fn activate_learner(&mut self, id: ServerId) {
        let Some(link) = self.leader().and_then(|l| l.links.get_mut(&id)) else {
            return;
        };
        if link.stage == Stage::Acked {
            link.stage = Stage::Active;
            self.send_peer(id, PeerMessage::UpToDate);
        }
    }

    /// Sends `message()` to every learner that receives the broadcast (synchronized or later).
    fn broadcast(&mut self, message: impl Fn() -> PeerMessage) {
        let Some(l) = self.leader() else {
            return;
        };
        let to: Vec<ServerId> = l
            .links
            .iter()
            .filter(|(_, link)| link.receives_broadcast())
            .map(|(id, _)| *id)
            .collect();
        for id in to {
            self.send_peer(id, message());
        }
    }

    /// Sends a proposal to every learner that receives the broadcast.
    pub(crate) fn broadcast_proposal(&mut self, txn: &Arc<crate::txn::Txn>) {
        self.broadcast(|| PeerMessage::Proposal(Arc::clone(txn)));
    }

    /// Tells every learner that everything through `zxid` is committed.
    pub(crate) fn broadcast_commit(&mut self, zxid: Zxid) {
        self.broadcast(|| PeerMessage::Commit { zxid });
        self.check_reads();
    }

    pub(crate) fn leader_lost_learner(&mut self, peer: ServerId) {
        if let Some(l) = self.leader() {
            if l.links.remove(&peer).is_some() {
                tracing::info!(learner = peer.0, "learner disconnected");
            }
        }
        self.acks.forget(peer);
    }

    /// Every half tick: heartbeat, and check that a quorum is still with us.
    pub(crate) fn leader_tick(&mut self) {
        let now = self.now.mono;
        let half_tick = (self.tick_ms() / 2).max(1);
        let sync_ms = self.tick_ms() * u64::from(self.config.sync_limit_ticks);
        let quorum = self.config.ensemble.quorum();
        let me = self.config.server_id;
        let voters = self.config.ensemble.voters.clone();
        let Some(l) = self.leader() else {
            return;
        };
        l.next_tick_at = now.plus_ms(half_tick);
        if l.phase != Phase::Broadcasting {
            if now >= l.established_by {
                tracing::warn!("no quorum synchronized within initLimit; stepping down");
                self.become_looking();
            }
            return;
        }
        let silent: Vec<ServerId> = l
            .links
            .iter()
            .filter(|(_, link)| now.ms_since(link.last_heard) > sync_ms)
            .map(|(id, _)| *id)
            .collect();
        for id in silent {
            tracing::info!(learner = id.0, "learner silent for too long; dropping it");
            self.leader_lost_learner(id);
        }
        let Some(l) = self.leader() else {
            return;
        };
        let live_voters = l
            .links
            .iter()
            .filter(|(id, link)| voters.contains(id) && link.stage == Stage::Active)
            .count()
            + usize::from(voters.contains(&me));
        if live_voters < quorum {
            tracing::warn!(live_voters, quorum, "lost the quorum; stepping down");
            self.become_looking();
            return;
        }
        self.ping();
    }

    /// Starts a heartbeat round; returns its number.
    pub(crate) fn ping(&mut self) -> u64 {
        let Some(l) = self.leader() else {
            return 0;
        };
        l.ping_round += 1;
        let round = l.ping_round;
        self.broadcast(|| PeerMessage::Ping { round });
        round
    }
}

/// Whether the planted stale-epoch bug is on (never in production builds).
fn planted_stale_epoch(config: &crate::config::Config) -> bool {
    #[cfg(feature = "planted-bugs")]
    return config.planted.accept_stale_epoch;
    #[cfg(not(feature = "planted-bugs"))]
    {
        let _ = config;
        false
    }
}
