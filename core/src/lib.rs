//! # corral-core
//!
//! The sans-IO heart of Corral, a coordination service that speaks Apache ZooKeeper's client
//! protocol. This crate performs no IO of any kind: no sockets, no files, no clock reads, no
//! threads and no global randomness. Time comes in as an argument to every call, randomness as a
//! seed, and every effect (bytes for a client, records to persist, a request to fsync) goes out as
//! an [`Output`](node::Output) that the embedding adapter performs.
//!
//! The same code runs inside the deterministic simulator (`corral-sim`) and inside the tokio
//! adapter (`corral-net-tokio`).

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod acl;
pub mod config;
pub mod ids;
pub mod jute;
pub mod node;
pub mod prep;
pub mod session;
pub mod time;
pub mod tree;
pub mod txn;
pub mod watch;
pub mod zab;

pub use config::{Config, Ensemble};
pub use ids::{ConnId, Epoch, ServerId, SessionId, Zxid};
pub use node::{Epochs, Input, Node, Output, Recovered, RoleKind};
pub use time::{Instant, Now};
pub use zab::PeerMessage;
