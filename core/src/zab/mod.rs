//! ZAB replication, piece by piece. Today: fast leader election (votes, rounds, the decision).
//! Discovery, synchronization and broadcast build on it next.

pub mod election;
pub mod quorum;
pub mod vote;

pub use election::{Decision, Election};
pub use quorum::AckTracker;
pub use vote::{Notification, PeerState, Vote};

#[cfg(test)]
mod tests;
