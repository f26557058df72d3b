//! ZAB replication, piece by piece. Today: fast leader election, discovery (the new epoch and
//! the leader's history check), the quorum commit rule (which the standalone node already
//! commits through), the synchronization plan (DIFF / TRUNC / SNAP)
//! and the peer messages with their bounded codec. Next: the roles inside `Node`
//! (`step_looking`, `step_following`, `step_leading`, `step_observing`) that drive them.

pub mod discovery;
pub mod election;
pub mod message;
pub mod quorum;
pub mod sync;
pub mod vote;

pub use election::{Decision, Election};
pub use message::PeerMessage;
pub use quorum::AckTracker;
pub use vote::{Notification, PeerState, Vote};

#[cfg(test)]
mod tests;
