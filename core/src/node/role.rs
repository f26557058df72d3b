//! The node's place in the ensemble (electing, leading, following, observing) and the moves
//! between roles. Each role has its own step function: `step_looking` here, `step_leading` in
//! leader.rs, `step_learning` (followers and observers) in learner.rs.

use super::leader::Leader;
use super::learner::Learner;
use super::{Node, Output};
use crate::ids::{Epoch, ServerId, Zxid};
use crate::prep::Prep;
use crate::time::Instant;
use crate::zab::{Decision, Election, Notification, PeerMessage, PeerState};

/// How often a looking server re-sends its vote when nothing is decided (lost messages,
/// links that came back).
pub(crate) const ELECTION_RESEND_MS: u64 = 400;

/// This server's role, as reports and the simulator's checkers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RoleKind {
    /// The whole ensemble: commits alone.
    Standalone,
    /// Electing a leader.
    Looking,
    /// Leading (from discovery on).
    Leading,
    /// Following a leader (from discovery on).
    Following,
    /// Observing a leader: learns commits, serves clients, never votes.
    Observing,
}

/// Electing.
#[derive(Debug)]
pub(crate) struct Looking {
    pub(crate) election: Election,
    pub(crate) resend_at: Instant,
}

/// The role and its state.
#[derive(Debug)]
pub(crate) enum Role {
    Standalone,
    Looking(Box<Looking>),
    Leading(Box<Leader>),
    Following(Box<Learner>),
}

impl Role {
    pub(crate) fn kind(&self) -> RoleKind {
        match self {
            Role::Standalone => RoleKind::Standalone,
            Role::Looking(_) => RoleKind::Looking,
            Role::Leading(_) => RoleKind::Leading,
            Role::Following(l) if l.observer => RoleKind::Observing,
            Role::Following(_) => RoleKind::Following,
        }
    }

    /// Only the serving leader (or a standalone server) expires sessions and cleans up
    /// containers: both are replicated decisions.
    pub(crate) fn expires_sessions(&self) -> bool {
        match self {
            Role::Standalone => true,
            Role::Leading(l) => l.is_broadcasting(),
            _ => false,
        }
    }

    /// Whether client connections are accepted.
    pub(crate) fn serves_clients(&self) -> bool {
        match self {
            Role::Standalone => true,
            Role::Leading(l) => l.is_broadcasting(),
            Role::Following(l) => l.is_serving(),
            Role::Looking(_) => false,
        }
    }

    pub(crate) fn established_epoch(&self) -> Option<Epoch> {
        match self {
            Role::Leading(l) if l.is_broadcasting() => l.epoch(),
            Role::Following(l) if l.is_serving() => l.epoch(),
            _ => None,
        }
    }
}

impl Node {
    pub(crate) fn send_peer(&mut self, to: ServerId, message: PeerMessage) {
        debug_assert!(to != self.config.server_id, "a message to itself");
        self.outputs.push_back(Output::ToPeer { to, message });
    }

    pub(crate) fn save_epochs(&mut self) {
        self.outputs.push_back(Output::SaveEpochs(self.epochs));
    }

    /// The last zxid this server reports in votes and to a leader: the end of its log (every
    /// logged proposal is applied when a role ends, as a restart would).
    pub(crate) fn last_logged(&self) -> Zxid {
        self.tree.last_zxid()
    }

    /// Leaves the current role: clients are disconnected (they reconnect to a serving server
    /// and keep their sessions), logged proposals are applied as recovery would apply them,
    /// and every pending wait is dropped.
    fn leave_role(&mut self) {
        let role = std::mem::replace(&mut self.role, Role::Standalone);
        let conns: Vec<_> = self.conns.keys().copied().collect();
        for conn in conns {
            self.close_conn(conn);
        }
        match role {
            Role::Leading(_) => {
                let proposals = std::mem::take(&mut self.proposals);
                for p in proposals {
                    self.apply_quietly(std::sync::Arc::unwrap_or_clone(p.txn));
                }
            }
            Role::Following(learner) => {
                if !learner.pending.is_empty() {
                    self.fast_forwarded_from = Some(self.tree.last_zxid());
                }
                for txn in learner.pending {
                    self.apply_quietly(std::sync::Arc::unwrap_or_clone(txn));
                }
            }
            Role::Looking(_) | Role::Standalone => {}
        }
        self.prep = Prep::new();
        self.last_proposed = self.last_proposed.max(self.tree.last_zxid());
    }

    /// Starts (or restarts) electing.
    pub(crate) fn become_looking(&mut self) {
        debug_assert!(!self.config.is_standalone());
        let from = self.role.kind();
        self.leave_role();
        tracing::info!(?from, zxid = %self.last_logged(), "looking for a leader");
        let election = Election::new(
            self.config.server_id,
            self.config.ensemble.voters.clone(),
            self.config.ensemble.members(),
            self.last_logged(),
            self.epochs.current,
            self.election_round,
        );
        self.role = Role::Looking(Box::new(Looking {
            election,
            resend_at: self.now.mono.plus_ms(ELECTION_RESEND_MS),
        }));
        self.step_looking();
    }

    /// Sends what the election has to say and acts on its decision.
    fn step_looking(&mut self) {
        let Role::Looking(looking) = &mut self.role else {
            return;
        };
        let mut messages = Vec::new();
        while let Some((to, n)) = looking.election.poll_message() {
            messages.push((to, n));
        }
        let decision = looking.election.decision();
        for (to, n) in messages {
            self.send_peer(to, PeerMessage::Vote(n));
        }
        if let Some(d) = decision {
            self.on_elected(d);
        }
    }

    fn on_elected(&mut self, d: Decision) {
        self.election_round = d.round;
        let me = self.config.server_id;
        let state = if d.leader == me {
            PeerState::Leading
        } else if self.config.is_observer() {
            PeerState::Observing
        } else {
            PeerState::Following
        };
        let vote = Notification {
            vote: d.vote,
            round: d.round,
            state,
        };
        tracing::info!(leader = d.leader.0, round = d.round, "election decided");
        if d.leader == me {
            self.become_leader(vote);
        } else {
            self.become_learner(d.leader, vote);
        }
    }

    pub(crate) fn on_peer(&mut self, from: ServerId, message: PeerMessage) {
        let e = &self.config.ensemble;
        // Two lookups, not `members()`: that builds a set, and this runs for every message.
        if from == self.config.server_id
            || !(e.voters.contains(&from) || e.observers.contains(&from))
        {
            tracing::warn!(
                from = from.0,
                "message from a server outside the ensemble; ignored"
            );
            return;
        }
        if let PeerMessage::Vote(n) = message {
            self.on_vote(from, n);
            return;
        }
        match self.role {
            Role::Leading(_) => self.step_leading(from, message),
            Role::Following(_) => self.step_learning(from, message),
            Role::Looking(_) | Role::Standalone => {}
        }
    }

    fn on_vote(&mut self, from: ServerId, n: Notification) {
        let now = self.now.mono;
        let reply = match &mut self.role {
            Role::Looking(looking) => {
                looking.election.on_notification(now, from, n);
                None
            }
            // A looking server learns who leads from those that already follow or lead. An
            // observer only sends votes while it looks for a leader.
            Role::Leading(l) if looking(n.state) => Some(l.vote),
            Role::Following(l) if looking(n.state) => Some(l.vote),
            _ => None,
        };
        if let Some(vote) = reply {
            self.send_peer(from, PeerMessage::Vote(vote));
        }
        self.step_looking();
    }

    pub(crate) fn on_peer_down(&mut self, peer: ServerId) {
        match &self.role {
            Role::Leading(_) => self.leader_lost_learner(peer),
            Role::Following(l) if l.leader == peer => {
                tracing::info!(leader = peer.0, "link to the leader broke");
                self.become_looking();
            }
            _ => {}
        }
    }

    pub(crate) fn role_timeout(&self) -> Option<Instant> {
        match &self.role {
            Role::Standalone => None,
            Role::Looking(l) => Some(
                l.election
                    .poll_timeout()
                    .map_or(l.resend_at, |t| t.min(l.resend_at)),
            ),
            Role::Leading(l) => Some(l.next_tick_at),
            Role::Following(l) => Some(l.deadline(&self.config)),
        }
    }

    pub(crate) fn on_role_timeout(&mut self) {
        let now = self.now.mono;
        match &mut self.role {
            Role::Standalone => {}
            Role::Looking(l) => {
                l.election.on_timeout(now);
                if l.resend_at <= now {
                    l.election.rebroadcast();
                    l.resend_at = now.plus_ms(ELECTION_RESEND_MS);
                }
                self.step_looking();
            }
            Role::Leading(_) => self.leader_tick(),
            Role::Following(l) => {
                if l.silent_by(&self.config) <= now {
                    tracing::info!(leader = l.leader.0, "leader silent for too long");
                    self.become_looking();
                } else if l.hello_at.is_some_and(|at| at <= now) {
                    self.send_follower_info();
                }
            }
        }
    }
}

fn looking(state: PeerState) -> bool {
    matches!(state, PeerState::Looking | PeerState::Observing)
}
