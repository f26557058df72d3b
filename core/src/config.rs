//! The node's configuration, validated before use.

use crate::ids::ServerId;
use std::collections::BTreeSet;
use thiserror::Error;

/// Largest frame a client may send, ZooKeeper's default `jute.maxbuffer` (1 MiB - 1).
pub const FRAME_BYTES_MAX_DEFAULT: usize = 0xfffff;

/// Every four-letter word the server knows.
pub const FOUR_LETTER_WORDS: [&str; 10] = [
    "ruok", "srvr", "stat", "mntr", "conf", "cons", "envi", "wchs", "dump", "isro",
];

/// What a node needs to know about itself and its limits.
#[derive(Debug, Clone)]
pub struct Config {
    /// This server's id (`myid`); the top byte of every session id it creates.
    pub server_id: ServerId,
    /// ZooKeeper's tickTime in milliseconds.
    pub tick_time_ms: u32,
    /// Smallest session timeout granted (default 2 × tick).
    pub session_timeout_ms_min: i32,
    /// Largest session timeout granted (default 20 × tick).
    pub session_timeout_ms_max: i32,
    /// Connections allowed from one IP address; 0 = unlimited.
    pub client_cnxns_per_ip_max: usize,
    /// Largest client frame accepted (`jute.maxbuffer`).
    pub frame_bytes_max: usize,
    /// Transactions between snapshots (ZooKeeper's snapCount; the first is randomized to half..full).
    pub snap_count: u64,
    /// How often empty containers and expired TTL nodes are looked for.
    pub container_check_interval_ms: u64,
    /// Four-letter words allowed on the client port.
    pub four_letter_words: BTreeSet<String>,
    /// A connection that has not established a session within this time is closed
    /// (ZooKeeper's sessionless connection timeout, 10 s).
    pub handshake_timeout_ms: u64,
    /// Requests queued on one connection before it is closed as abusive.
    pub conn_queue_max: usize,
    /// Known protocol bugs planted on purpose, to prove the simulator's checkers catch them.
    /// Every field is false unless the simulator sets it; production never does.
    pub planted: PlantedBugs,
    /// Text shown by `conf` and `envi` (set by the adapter: ports, dirs).
    pub info: Vec<(String, String)>,
}

impl Config {
    /// A standalone server with ZooKeeper's defaults for `tick_time_ms`.
    pub fn standalone(tick_time_ms: u32) -> Config {
        let tick = tick_time_ms as i32;
        Config {
            server_id: ServerId(1),
            tick_time_ms,
            session_timeout_ms_min: tick.saturating_mul(2),
            session_timeout_ms_max: tick.saturating_mul(20),
            client_cnxns_per_ip_max: 60,
            frame_bytes_max: FRAME_BYTES_MAX_DEFAULT,
            snap_count: 100_000,
            container_check_interval_ms: 60_000,
            four_letter_words: ["srvr".to_owned()].into_iter().collect(),
            conn_queue_max: 10_000,
            handshake_timeout_ms: 10_000,
            info: Vec::new(),
            planted: PlantedBugs::default(),
        }
    }

    /// Checks the fields against each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tick_time_ms == 0 {
            return Err(ConfigError::TickTimeZero);
        }
        if self.session_timeout_ms_min > self.session_timeout_ms_max
            || self.session_timeout_ms_min <= 0
        {
            return Err(ConfigError::SessionTimeouts {
                min: self.session_timeout_ms_min,
                max: self.session_timeout_ms_max,
            });
        }
        if self.frame_bytes_max < 1024 {
            return Err(ConfigError::FrameLimit(self.frame_bytes_max));
        }
        if self.server_id.0 > 254 {
            return Err(ConfigError::ServerId(self.server_id.0));
        }
        if self.snap_count < 2 {
            return Err(ConfigError::SnapCount(self.snap_count));
        }
        Ok(())
    }
}

/// Bugs the simulator can plant (see corral-sim's `--bug`).
#[derive(Debug, Clone, Default)]
pub struct PlantedBugs {
    /// Commit and answer a write as soon as it is appended, before it is durable.
    pub ack_before_fsync: bool,
    /// On session expiry, close the session but leave its ephemerals in the tree.
    pub skip_ephemeral_removal: bool,
    /// Serve a read without waiting for the same connection's earlier writes.
    pub read_before_own_write: bool,
}

/// A configuration that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// tickTime must be positive.
    #[error("tickTime must be positive")]
    TickTimeZero,
    /// The session timeout bounds are inverted or not positive.
    #[error("session timeout bounds invalid: min {min} ms, max {max} ms")]
    SessionTimeouts {
        /// Lower bound.
        min: i32,
        /// Upper bound.
        max: i32,
    },
    /// jute.maxbuffer is too small to carry a handshake.
    #[error("jute.maxbuffer {0} is too small")]
    FrameLimit(usize),
    /// Server ids must fit the top byte of a session id (1..=254).
    #[error("server id {0} out of range 1..=254")]
    ServerId(u64),
    /// snapCount must be at least 2.
    #[error("snapCount {0} too small")]
    SnapCount(u64),
}
