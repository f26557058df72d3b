//! # corral-net-tokio
//!
//! The production adapter around `corral-core`: it moves bytes between sockets and the core's
//! `Node`, performs the core's storage outputs on disk (durable log with group commit, snapshots),
//! arms the one timer the core asks for, and reads ZooKeeper-style configuration.

#![forbid(unsafe_code)]
// The adapter is where clocks are read; the workspace-wide ban applies to core and sim.
#![allow(clippy::disallowed_methods)]

pub mod config;
pub mod conn;
pub mod driver;
pub mod epochs;
pub mod peer;
pub mod server;
pub mod storage;
