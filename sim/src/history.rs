//! What clients did and saw: the input of the checkers.

/// What an operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpKind {
    /// Unconditional setData of a register.
    Set {
        /// The unique value written.
        value: Vec<u8>,
    },
    /// setData with the version last read.
    CasSet {
        /// The unique value written.
        value: Vec<u8>,
        /// The expected version.
        version: i32,
    },
    /// getData of a register.
    Get,
    /// sync then getData: must see every write acknowledged before it was issued.
    SyncGet,
    /// getData that also leaves a one-shot data watch on the register.
    GetWatch,
    /// Create the client's ephemeral node for its current session (`/eph/c<client>`).
    CreateEphemeral,
    /// exists on the client's ephemeral node: it must be there while its session lives.
    CheckEphemeral,
    /// Create a persistent sequential node under `/seq`.
    CreateSequential,
}

impl OpKind {
    /// True for writes.
    pub fn is_write(&self) -> bool {
        matches!(self, OpKind::Set { .. } | OpKind::CasSet { .. })
    }

    /// True for register reads.
    pub fn is_read(&self) -> bool {
        matches!(self, OpKind::Get | OpKind::SyncGet | OpKind::GetWatch)
    }

    /// The value a write writes.
    pub fn value(&self) -> Option<&[u8]> {
        match self {
            OpKind::Set { value } | OpKind::CasSet { value, .. } => Some(value),
            _ => None,
        }
    }
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Still waiting, or its connection died before the reply: it may or may not have happened.
    Unknown,
    /// Answered with success.
    Ok {
        /// Reply header zxid (for a write: its own zxid).
        zxid: i64,
        /// For reads: the data read.
        data: Vec<u8>,
        /// For reads and writes: the node's mzxid in the returned Stat.
        mzxid: i64,
        /// The node's version in the returned Stat.
        version: i32,
    },
    /// Answered with an error code (the write did not happen).
    Failed {
        /// ZooKeeper error code.
        code: i32,
    },
}

/// One client operation.
#[derive(Debug, Clone)]
pub struct Op {
    /// Which client.
    pub client: usize,
    /// Which session (id as on the wire).
    pub session: i64,
    /// Register index.
    pub key: usize,
    /// What it did.
    pub kind: OpKind,
    /// Simulated ns when issued.
    pub invoke_ns: u64,
    /// Simulated ns when answered.
    pub complete_ns: Option<u64>,
    /// How it ended.
    pub outcome: Outcome,
    /// For a read pipelined right behind a write of the same session: that write's index.
    pub follows: Option<usize>,
}

/// Everything the clients did, in issue order.
#[derive(Debug, Default)]
pub struct History {
    /// Operations in the order they were issued.
    pub ops: Vec<Op>,
    /// Reply header zxids per (client, session), in arrival order.
    pub session_zxids: Vec<(usize, i64, i64)>,
    /// Watch-order violations seen by clients as they happened (the client is the only place
    /// where the order of a notification and a reply on one connection is visible).
    pub watch_violations: Vec<String>,
    /// Acknowledged sequential creates: (zxid, sequence number).
    pub seq_creates: Vec<(i64, u64)>,
    /// Every acquisition of the lock.
    pub holds: Vec<crate::lock::Hold>,
    /// Every leader's term, as its candidate saw it begin.
    pub terms: Vec<crate::election::Term>,
}
