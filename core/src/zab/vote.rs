//! Votes of fast leader election, and their order.

use crate::ids::{Epoch, ServerId, Zxid};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// A proposal for who should lead: the candidate with the newest history wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// The proposed leader.
    pub leader: ServerId,
    /// The proposed leader's last logged zxid.
    pub zxid: Zxid,
    /// The proposed leader's accepted epoch.
    pub peer_epoch: Epoch,
}

impl Vote {
    /// Votes are ordered by (epoch, last zxid, server id): the greatest one should lead, since
    /// it holds every transaction any quorum may have acknowledged.
    pub fn key(&self) -> (Epoch, Zxid, ServerId) {
        (self.peer_epoch, self.zxid, self.leader)
    }
}

impl PartialOrd for Vote {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Vote {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// What a server says it is doing when it sends a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerState {
    /// Electing.
    Looking,
    /// Following the leader in its vote.
    Following,
    /// Leading.
    Leading,
    /// Observing (never votes).
    Observing,
}

/// One election message: the sender's current vote, its round and its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The sender's vote.
    pub vote: Vote,
    /// The sender's election round (ZooKeeper's logical clock / electionEpoch).
    pub round: u64,
    /// The sender's state.
    pub state: PeerState,
}
