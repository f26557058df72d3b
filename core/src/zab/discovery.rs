//! Discovery: a newly elected leader establishes an epoch above every epoch a quorum has
//! accepted, and learns whether its own history is the newest (it must be, or it steps down).
//!
//! Leader side: [`EpochProposal`] collects `FollowerInfo` until a quorum (the leader included)
//! has reported, proposes `max(accepted epochs) + 1`, then collects `AckEpoch` until a quorum has
//! accepted it. Follower side: [`accept_epoch`] decides whether to accept a proposed epoch. The
//! accepted epoch must be durable before the follower acknowledges it (the caller persists it).

use crate::ids::{Epoch, ServerId, Zxid};
use std::collections::{BTreeMap, BTreeSet};

/// What the leader does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryStep {
    /// Keep waiting for more learners.
    Wait,
    /// A quorum reported: send `LeaderInfo { new_epoch }` to every learner that reported.
    ProposeEpoch(Epoch),
    /// A quorum accepted the epoch: synchronize the followers.
    Established(Epoch),
    /// A follower has a newer history than the leader: the leader must not lead.
    StepDown {
        /// The follower with the newer history.
        newer: ServerId,
    },
}

/// The leader's side of discovery.
#[derive(Debug)]
pub struct EpochProposal {
    voters: BTreeSet<ServerId>,
    leader: ServerId,
    /// The leader's (current epoch, last zxid): the history it will impose.
    leader_history: (Epoch, Zxid),
    /// Accepted epochs reported by voters, the leader's own included.
    accepted: BTreeMap<ServerId, Epoch>,
    proposed: Option<Epoch>,
    acked: BTreeSet<ServerId>,
}

impl EpochProposal {
    /// Starts discovery for `leader` with its accepted epoch and its history.
    pub fn new(
        voters: BTreeSet<ServerId>,
        leader: ServerId,
        accepted_epoch: Epoch,
        current_epoch: Epoch,
        last_zxid: Zxid,
    ) -> EpochProposal {
        assert!(voters.contains(&leader), "only a voter leads");
        let mut accepted = BTreeMap::new();
        accepted.insert(leader, accepted_epoch);
        EpochProposal {
            voters,
            leader,
            leader_history: (current_epoch, last_zxid),
            accepted,
            proposed: None,
            acked: [leader].into_iter().collect(),
        }
    }

    fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    /// The epoch proposed, once a quorum has reported.
    pub fn proposed(&self) -> Option<Epoch> {
        self.proposed
    }

    /// A learner reported its accepted epoch (`FollowerInfo`). Observers never count.
    pub fn on_follower_info(&mut self, from: ServerId, accepted_epoch: Epoch) -> DiscoveryStep {
        if !self.voters.contains(&from) {
            return self
                .proposed
                .map_or(DiscoveryStep::Wait, DiscoveryStep::ProposeEpoch);
        }
        if self.proposed.is_some() {
            // Late reporters are told the epoch already proposed.
            return self
                .proposed
                .map_or(DiscoveryStep::Wait, DiscoveryStep::ProposeEpoch);
        }
        self.accepted.insert(from, accepted_epoch);
        if self.accepted.len() < self.quorum() {
            return DiscoveryStep::Wait;
        }
        let highest = self.accepted.values().max().copied().unwrap_or_default();
        let epoch = Epoch(highest.0 + 1);
        self.proposed = Some(epoch);
        DiscoveryStep::ProposeEpoch(epoch)
    }

    /// A follower accepted the proposed epoch (`AckEpoch`) and reported its history.
    pub fn on_ack_epoch(
        &mut self,
        from: ServerId,
        current_epoch: Epoch,
        last_zxid: Zxid,
    ) -> DiscoveryStep {
        let Some(epoch) = self.proposed else {
            return DiscoveryStep::Wait;
        };
        if !self.voters.contains(&from) {
            return DiscoveryStep::Wait;
        }
        // The leader must hold the newest history of the quorum; election should guarantee
        // it, and discovery checks it rather than trusting it.
        if (current_epoch, last_zxid) > self.leader_history {
            return DiscoveryStep::StepDown { newer: from };
        }
        self.acked.insert(from);
        if self.acked.len() >= self.quorum() {
            DiscoveryStep::Established(epoch)
        } else {
            DiscoveryStep::Wait
        }
    }

    /// The leader's own id.
    pub fn leader(&self) -> ServerId {
        self.leader
    }
}

/// Follower side: accept `proposed` when it is not older than the epoch already accepted.
/// Returns the epoch to persist as accepted (then acknowledge), or `None` to go back to
/// electing (the proposer is stale).
pub fn accept_epoch(accepted_epoch: Epoch, proposed: Epoch) -> Option<Epoch> {
    (proposed >= accepted_epoch).then_some(proposed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voters(n: u64) -> BTreeSet<ServerId> {
        (1..=n).map(ServerId).collect()
    }

    #[test]
    fn the_new_epoch_is_above_every_reported_accepted_epoch() {
        let mut d = EpochProposal::new(voters(5), ServerId(1), Epoch(3), Epoch(3), Zxid(9));
        assert_eq!(
            d.on_follower_info(ServerId(2), Epoch(7)),
            DiscoveryStep::Wait
        );
        assert_eq!(
            d.on_follower_info(ServerId(3), Epoch(2)),
            DiscoveryStep::ProposeEpoch(Epoch(8))
        );
        assert_eq!(
            d.on_follower_info(ServerId(4), Epoch(9)),
            DiscoveryStep::ProposeEpoch(Epoch(8))
        );
        assert_eq!(
            d.on_ack_epoch(ServerId(2), Epoch(3), Zxid(9)),
            DiscoveryStep::Wait
        );
        assert_eq!(
            d.on_ack_epoch(ServerId(3), Epoch(2), Zxid(4)),
            DiscoveryStep::Established(Epoch(8))
        );
    }

    #[test]
    fn observers_do_not_make_a_quorum() {
        let mut d = EpochProposal::new(voters(3), ServerId(1), Epoch(1), Epoch(1), Zxid(1));
        assert_eq!(
            d.on_follower_info(ServerId(9), Epoch(50)),
            DiscoveryStep::Wait
        );
        assert_eq!(d.proposed(), None);
        assert_eq!(
            d.on_follower_info(ServerId(2), Epoch(1)),
            DiscoveryStep::ProposeEpoch(Epoch(2))
        );
    }

    #[test]
    fn a_follower_with_a_newer_history_makes_the_leader_step_down() {
        let mut d = EpochProposal::new(
            voters(3),
            ServerId(1),
            Epoch(2),
            Epoch(2),
            Zxid::new(Epoch(2), 5),
        );
        d.on_follower_info(ServerId(2), Epoch(2));
        let newer = Zxid::new(Epoch(2), 6);
        assert_eq!(
            d.on_ack_epoch(ServerId(2), Epoch(2), newer),
            DiscoveryStep::StepDown { newer: ServerId(2) }
        );
    }

    #[test]
    fn followers_refuse_a_stale_epoch() {
        assert_eq!(accept_epoch(Epoch(4), Epoch(5)), Some(Epoch(5)));
        assert_eq!(accept_epoch(Epoch(5), Epoch(5)), Some(Epoch(5)));
        assert_eq!(accept_epoch(Epoch(6), Epoch(5)), None);
    }

    #[test]
    fn a_single_voter_proposes_at_once_when_it_reports_itself() {
        let mut d = EpochProposal::new(voters(1), ServerId(1), Epoch(4), Epoch(4), Zxid(0));
        // With one voter the leader's own report is the quorum; the caller asks with itself.
        assert_eq!(
            d.on_follower_info(ServerId(1), Epoch(4)),
            DiscoveryStep::ProposeEpoch(Epoch(5))
        );
        assert_eq!(
            d.on_ack_epoch(ServerId(1), Epoch(4), Zxid(0)),
            DiscoveryStep::Established(Epoch(5))
        );
    }
}
