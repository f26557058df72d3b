//! Fast leader election, sans-IO: one server's side of it.
//!
//! Every looking voter proposes itself, then adopts any greater vote (by epoch, last zxid, id)
//! it hears in its round, re-broadcasting each time. Once a quorum of the round's votes equals
//! its own, it waits a short finalize window for a better vote and then decides. A server that
//! finds a quorum of peers already following or leading under one vote joins that leader. The
//! caller sends what [`Election::poll_message`] yields, feeds what arrives to
//! [`Election::on_notification`], and calls [`Election::on_timeout`] at [`Election::poll_timeout`].

use super::vote::{Notification, PeerState, Vote};
use crate::ids::{Epoch, ServerId, Zxid};
use crate::time::Instant;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How long a server waits for a better vote once a quorum agrees with it (ZooKeeper: 200 ms).
pub const FINALIZE_WAIT_MS: u64 = 200;

/// The result of an election, from this server's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The elected leader.
    pub leader: ServerId,
    /// The vote it was elected with.
    pub vote: Vote,
    /// The round it was decided in.
    pub round: u64,
}

/// One server's election state.
#[derive(Debug)]
pub struct Election {
    me: ServerId,
    voters: BTreeSet<ServerId>,
    /// Every other server that takes part (voters and observers), to broadcast to.
    peers: BTreeSet<ServerId>,
    my_vote: Vote,
    round: u64,
    vote: Vote,
    /// Votes heard from looking voters in the current round, own included.
    received: BTreeMap<ServerId, Vote>,
    /// Latest (round, vote) heard from servers that already follow or lead.
    established: BTreeMap<ServerId, (u64, Vote, PeerState)>,
    outbox: VecDeque<(ServerId, Notification)>,
    /// When the quorum on our vote is final unless a better vote comes.
    finalize_at: Option<Instant>,
    decision: Option<Decision>,
}

impl Election {
    /// Starts looking in the round after `last_round`, proposing this server (a voter) or
    /// nobody (an observer, which only learns the leader).
    pub fn new(
        me: ServerId,
        voters: BTreeSet<ServerId>,
        peers: BTreeSet<ServerId>,
        last_zxid: Zxid,
        accepted_epoch: Epoch,
        last_round: u64,
    ) -> Election {
        let my_vote = Vote {
            leader: me,
            zxid: last_zxid,
            peer_epoch: accepted_epoch,
        };
        let mut e = Election {
            me,
            voters,
            peers: peers.into_iter().filter(|p| *p != me).collect(),
            my_vote,
            round: last_round + 1,
            vote: my_vote,
            received: BTreeMap::new(),
            established: BTreeMap::new(),
            outbox: VecDeque::new(),
            finalize_at: None,
            decision: None,
        };
        if e.is_voter() {
            e.received.insert(me, my_vote);
            if e.voters.len() == 1 {
                e.decide(my_vote, e.round);
                return e;
            }
        }
        e.broadcast();
        e
    }

    fn is_voter(&self) -> bool {
        self.voters.contains(&self.me)
    }

    fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    fn state(&self) -> PeerState {
        if self.is_voter() {
            PeerState::Looking
        } else {
            PeerState::Observing
        }
    }

    fn notification(&self) -> Notification {
        Notification {
            vote: self.vote,
            round: self.round,
            state: self.state(),
        }
    }

    fn broadcast(&mut self) {
        let n = self.notification();
        for p in &self.peers {
            self.outbox.push_back((*p, n));
        }
    }

    /// The current round.
    pub fn round(&self) -> u64 {
        self.round
    }

    /// The current vote.
    pub fn vote(&self) -> Vote {
        self.vote
    }

    /// The decision, once made.
    pub fn decision(&self) -> Option<Decision> {
        self.decision
    }

    /// The next message to send.
    pub fn poll_message(&mut self) -> Option<(ServerId, Notification)> {
        self.outbox.pop_front()
    }

    /// When to call [`Election::on_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.finalize_at
    }

    /// The finalize window may have passed.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.decision.is_none() && self.finalize_at.is_some_and(|t| t <= now) {
            self.finalize_at = None;
            if self.has_quorum_for(self.vote) {
                self.decide(self.vote, self.round);
            }
        }
    }

    /// Re-sends the current vote to everyone (after a link came up, or periodically).
    pub fn rebroadcast(&mut self) {
        if self.decision.is_none() {
            self.broadcast();
        }
    }

    fn has_quorum_for(&self, vote: Vote) -> bool {
        let agreeing = self
            .received
            .iter()
            .filter(|(id, v)| self.voters.contains(id) && **v == vote)
            .count();
        agreeing >= self.quorum()
    }

    fn decide(&mut self, vote: Vote, round: u64) {
        debug_assert!(self.decision.is_none());
        self.round = round;
        self.vote = vote;
        self.decision = Some(Decision {
            leader: vote.leader,
            vote,
            round,
        });
    }

    /// Handles a notification from `from` at `now`.
    pub fn on_notification(&mut self, now: Instant, from: ServerId, n: Notification) {
        if self.decision.is_some() || from == self.me {
            return;
        }
        match n.state {
            PeerState::Looking => self.on_looking(now, from, n),
            PeerState::Following | PeerState::Leading => self.on_established(from, n),
            PeerState::Observing => {}
        }
    }

    fn on_looking(&mut self, now: Instant, from: ServerId, n: Notification) {
        if !self.voters.contains(&from) {
            return;
        }
        if n.round < self.round {
            // A lagging peer: tell it where we are so it catches up.
            self.outbox.push_back((from, self.notification()));
            return;
        }
        if n.round > self.round {
            self.round = n.round;
            self.received.clear();
            self.vote = if self.is_voter() {
                n.vote.max(self.my_vote)
            } else {
                n.vote
            };
            if self.is_voter() {
                self.received.insert(self.me, self.vote);
            }
            self.finalize_at = None;
            self.broadcast();
        } else if n.vote > self.vote && self.is_voter() {
            self.vote = n.vote;
            self.received.insert(self.me, self.vote);
            self.finalize_at = None;
            self.broadcast();
        }
        self.received.insert(from, n.vote);
        if !self.is_voter() {
            return;
        }
        if self.has_quorum_for(self.vote) {
            let everyone = self
                .voters
                .iter()
                .all(|v| self.received.get(v) == Some(&self.vote));
            if everyone {
                self.decide(self.vote, self.round);
            } else if self.finalize_at.is_none() {
                self.finalize_at = Some(now.plus_ms(FINALIZE_WAIT_MS));
            }
        }
    }

    fn on_established(&mut self, from: ServerId, n: Notification) {
        self.established.insert(from, (n.round, n.vote, n.state));
        if n.round == self.round && self.voters.contains(&from) {
            self.received.insert(from, n.vote);
        }
        // Join a leader that a quorum of voters already follows (or leads), in its round.
        let agreeing = self
            .established
            .iter()
            .filter(|(id, (r, v, _))| self.voters.contains(id) && *r == n.round && *v == n.vote)
            .count();
        // A vote naming this server counts only in this server's own round (ZooKeeper's
        // checkLeader): claims from an older round describe a leadership it has left.
        let leader_confirms = (n.vote.leader == self.me && n.round == self.round)
            || self
                .established
                .get(&n.vote.leader)
                .is_some_and(|(r, v, s)| *r == n.round && *v == n.vote && *s == PeerState::Leading);
        if agreeing >= self.quorum() && leader_confirms {
            self.decide(n.vote, n.round);
        }
    }
}
