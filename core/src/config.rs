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
    /// The ensemble's members: voters (which include this server unless it observes) and
    /// observers. A single voter and no observer is a standalone server.
    pub ensemble: Ensemble,
    /// Ticks a learner may take to connect to and synchronize with a new leader (initLimit).
    pub init_limit_ticks: u32,
    /// Ticks a learner or the leader may stay silent before the other gives up (syncLimit).
    pub sync_limit_ticks: u32,
    /// Committed transactions kept in memory to bring a lagging learner up to date with a
    /// DIFF instead of a whole snapshot (ZooKeeper's commitLogCount).
    pub history_txns_max: usize,
    /// Keep a record of every applied zxid and the tree digest after it, for the simulator's
    /// replica checkers (drained with `Node::drain_applied`). Off in production.
    pub record_applied: bool,
}

/// Who takes part in replication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ensemble {
    /// Servers that vote in elections and acknowledge proposals.
    pub voters: BTreeSet<ServerId>,
    /// Servers that only learn committed transactions and serve clients.
    pub observers: BTreeSet<ServerId>,
}

impl Ensemble {
    /// An ensemble of one voter.
    pub fn standalone(me: ServerId) -> Ensemble {
        Ensemble {
            voters: [me].into_iter().collect(),
            observers: BTreeSet::new(),
        }
    }

    /// Every member, voters and observers.
    pub fn members(&self) -> BTreeSet<ServerId> {
        self.voters.union(&self.observers).copied().collect()
    }

    /// Voters needed for a quorum.
    pub fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }
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
            ensemble: Ensemble::standalone(ServerId(1)),
            init_limit_ticks: 10,
            sync_limit_ticks: 5,
            history_txns_max: 500,
            record_applied: false,
        }
    }

    /// True when this server is the whole ensemble.
    pub fn is_standalone(&self) -> bool {
        self.ensemble.observers.is_empty()
            && self.ensemble.voters.len() == 1
            && self.ensemble.voters.contains(&self.server_id)
    }

    /// True when this server observes (never votes).
    pub fn is_observer(&self) -> bool {
        self.ensemble.observers.contains(&self.server_id)
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
        let e = &self.ensemble;
        let me = self.server_id;
        if e.voters.is_empty()
            || e.voters.contains(&me) == e.observers.contains(&me)
            || e.voters.intersection(&e.observers).next().is_some()
        {
            return Err(ConfigError::Ensemble(me.0));
        }
        if self.init_limit_ticks == 0 || self.sync_limit_ticks == 0 {
            return Err(ConfigError::Limits);
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
    /// The leader commits a proposal as soon as it has logged it, without a quorum.
    pub commit_without_quorum: bool,
    /// A follower accepts a leader's epoch even when it is older than its accepted epoch.
    pub accept_stale_epoch: bool,
    /// A learner applies the transactions of a DIFF again when it already applied them.
    pub double_apply_after_resync: bool,
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
    /// The ensemble has no voter, overlaps voters and observers, or omits this server.
    #[error("ensemble invalid: server {0} must be exactly one of voter or observer, and voters must not be empty")]
    Ensemble(u64),
    /// initLimit and syncLimit must be positive.
    #[error("initLimit and syncLimit must be positive")]
    Limits,
}
