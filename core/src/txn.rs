//! Transactions: the replicated, self-contained state changes.
//!
//! A `Txn` carries everything a replica needs to apply it (resolved sequential names, the
//! leader's clock reading, the parent's new cversion), so applying one is a pure function of the
//! tree and the txn: every replica that applies the same txns in the same order holds the same tree.

use crate::ids::{SessionId, Zxid};
use crate::jute::Acl;
use serde::{Deserialize, Serialize};

/// The kind of node a create makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeKind {
    /// Stays until deleted.
    Persistent,
    /// Deleted when its owner session ends.
    Ephemeral {
        /// The owning session.
        owner: SessionId,
    },
    /// Deleted by the server once it has had a child and has none left.
    Container,
    /// Persistent, but deleted by the server once it has had no children and no modification for
    /// `ttl_ms`.
    Ttl {
        /// Time to live in milliseconds.
        ttl_ms: i64,
    },
}

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOp {
    /// Open a session.
    CreateSession {
        /// Negotiated timeout.
        timeout_ms: i32,
        /// The session's password, checked on reconnect.
        password: Vec<u8>,
    },
    /// Close a session (by the client or by expiry) and delete its ephemerals.
    CloseSession,
    /// Create a node. The path is final (sequential suffix already resolved).
    Create {
        /// Full path.
        path: String,
        /// Initial data.
        data: Vec<u8>,
        /// ACL list.
        acl: Vec<Acl>,
        /// What kind of node.
        kind: NodeKind,
        /// The parent's child-creation count after this create (ZooKeeper's stored cversion;
        /// clients see 2 × creations − children). The sequential suffix is the count before.
        parent_cversion: i32,
    },
    /// Delete a node.
    Delete {
        /// Full path.
        path: String,
    },
    /// Replace a node's data.
    SetData {
        /// Full path.
        path: String,
        /// New data.
        data: Vec<u8>,
        /// The node's version after this change.
        version: i32,
    },
    /// Replace a node's ACL.
    SetAcl {
        /// Full path.
        path: String,
        /// New ACL.
        acl: Vec<Acl>,
        /// The node's aversion after this change.
        aversion: i32,
    },
    /// A version check inside a multi; applying it changes nothing.
    Check {
        /// Full path.
        path: String,
    },
    /// A failed request: consumes a zxid, changes nothing, answers with `code`.
    Error {
        /// The ZooKeeper error code.
        code: i32,
    },
    /// Several ops applied atomically. If any failed in prep, every op is an `Error` and none
    /// changes the tree.
    Multi(Vec<TxnOp>),
}

/// A transaction with its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    /// Its position in the history.
    pub zxid: Zxid,
    /// The session that issued it.
    pub session: SessionId,
    /// The client's xid for the request (0 for server-made txns such as expiry).
    pub cxid: i32,
    /// The request opcode it answers (`jute::op::*`).
    pub opcode: i32,
    /// Leader's wall clock when it prepared the txn, ms since the epoch (ctime / mtime).
    pub time_ms: i64,
    /// The change.
    pub op: TxnOp,
}
