//! The leader's commit rule: a proposal commits once a quorum of voters has made it durable,
//! and proposals commit in zxid order.

use crate::ids::{ServerId, Zxid};
use std::collections::{BTreeMap, BTreeSet};

/// Acknowledgements of outstanding proposals, per voter.
#[derive(Debug, Clone)]
pub struct AckTracker {
    voters: BTreeSet<ServerId>,
    /// Highest zxid each voter has acknowledged as durable (acks are cumulative: a follower
    /// logs proposals in order, so acking Z covers everything before Z).
    acked: BTreeMap<ServerId, Zxid>,
    /// Highest zxid known committed.
    committed: Zxid,
}

impl AckTracker {
    /// Tracks `voters`, with everything up to `committed` already committed.
    pub fn new(voters: BTreeSet<ServerId>, committed: Zxid) -> AckTracker {
        assert!(!voters.is_empty(), "an ensemble needs a voter");
        AckTracker {
            voters,
            acked: BTreeMap::new(),
            committed,
        }
    }

    /// Voters needed for a quorum.
    pub fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    /// Highest zxid known committed.
    pub fn committed(&self) -> Zxid {
        self.committed
    }

    /// Records that `voter` has made everything through `zxid` durable. Returns the new commit
    /// point if it advanced. Acks from non-voters (observers) are ignored.
    pub fn ack(&mut self, voter: ServerId, zxid: Zxid) -> Option<Zxid> {
        if !self.voters.contains(&voter) {
            return None;
        }
        let e = self.acked.entry(voter).or_insert(Zxid::ZERO);
        if zxid > *e {
            *e = zxid;
        }
        // The commit point is the highest zxid that a quorum has acknowledged: the quorum-th
        // largest acknowledged zxid.
        let mut acks: Vec<Zxid> = self
            .voters
            .iter()
            .map(|v| self.acked.get(v).copied().unwrap_or(Zxid::ZERO))
            .collect();
        acks.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = acks[self.quorum() - 1];
        if candidate > self.committed {
            self.committed = candidate;
            return Some(candidate);
        }
        None
    }

    /// Forgets a voter's acknowledgements (it disconnected and must resynchronize).
    pub fn forget(&mut self, voter: ServerId) {
        self.acked.remove(&voter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u64) -> BTreeSet<ServerId> {
        (1..=n).map(ServerId).collect()
    }

    #[test]
    fn a_single_voter_is_its_own_quorum() {
        let mut t = AckTracker::new(ids(1), Zxid::ZERO);
        assert_eq!(t.ack(ServerId(1), Zxid(3)), Some(Zxid(3)));
    }

    #[test]
    fn commit_needs_a_majority_and_advances_in_order() {
        let mut t = AckTracker::new(ids(5), Zxid(10));
        assert_eq!(t.ack(ServerId(1), Zxid(13)), None);
        assert_eq!(t.ack(ServerId(2), Zxid(12)), None);
        assert_eq!(t.ack(ServerId(3), Zxid(11)), Some(Zxid(11)));
        assert_eq!(t.ack(ServerId(3), Zxid(13)), Some(Zxid(12)));
        assert_eq!(t.ack(ServerId(4), Zxid(13)), Some(Zxid(13)));
        assert_eq!(t.committed(), Zxid(13));
    }

    #[test]
    fn observers_and_stale_acks_do_not_count() {
        let mut t = AckTracker::new(ids(3), Zxid::ZERO);
        assert_eq!(
            t.ack(ServerId(9), Zxid(5)),
            None,
            "an observer's ack counted"
        );
        assert_eq!(t.ack(ServerId(1), Zxid(5)), None);
        assert_eq!(t.ack(ServerId(1), Zxid(2)), None, "acks are cumulative");
        assert_eq!(t.ack(ServerId(2), Zxid(4)), Some(Zxid(4)));
        t.forget(ServerId(2));
        assert_eq!(
            t.ack(ServerId(3), Zxid(3)),
            None,
            "the commit point never goes back"
        );
        assert_eq!(t.committed(), Zxid(4));
    }
}
