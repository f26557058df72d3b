//! ZAB's pieces, each a small state machine or pure function: fast leader election, discovery
//! (the new epoch and the leader's history check), the quorum commit rule, the synchronization
//! plan (DIFF / TRUNC / SNAP) and the peer messages with their bounded codec. The roles that
//! drive them live in `node/` (`role.rs` looking, `leader.rs`, `learner.rs`); the whole design
//! is in docs/replication.md.

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
