//! The lock recipe, as ZooKeeper's documentation gives it: create an ephemeral sequential node
//! under `/lock`; list the children; the lowest holds the lock; any other waits for a watch on
//! its predecessor's deletion, then lists again; the holder releases by deleting its node.
//!
//! Each hold is recorded with the zxid at which its node was seen lowest (the listing's reply
//! header) and, when its delete is acknowledged, the zxid of that delete. Since servers answer
//! from committed prefixes, two holds must never overlap in zxid order.

use corral_core::jute::{create_mode, encode_request, Acl, CreateRequest, Request};

/// Parent of the lock's nodes.
pub const LOCK_PARENT: &str = "/lock";

/// One acquisition of the lock.
#[derive(Debug, Clone)]
pub struct Hold {
    /// Which client.
    pub client: usize,
    /// Its node.
    pub node: String,
    /// Header zxid of the listing that found the node lowest.
    pub acquired_zxid: i64,
    /// The zxid of the acknowledged delete that released it (unknown if the connection or
    /// the session ended first).
    pub released_zxid: Option<i64>,
}

/// Where a client is in the recipe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LockState {
    /// Not trying.
    #[default]
    Idle,
    /// Create sent.
    Creating,
    /// Children listed, for our node.
    Listing(String),
    /// Watching `pred` (exists with a watch sent, or set).
    Waiting { node: String, pred: String },
    /// Holding until `until_ns` (index in the history's holds).
    Holding {
        node: String,
        until_ns: u64,
        hold: usize,
    },
    /// Delete sent.
    Releasing { node: String, hold: usize },
    /// A new connection of the same session: list and delete nodes an abandoned attempt left.
    Cleanup,
}

/// What a lock request was, by xid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockStep {
    /// The create of our node.
    Create,
    /// A listing.
    List,
    /// Exists-with-watch on the predecessor.
    Watch,
    /// The release delete.
    Release,
    /// A cleanup listing or delete.
    Cleanup,
}

/// Sequence number of a sequential node name (its last ten digits).
pub fn sequence(name: &str) -> Option<u64> {
    let digits = name.get(name.len().checked_sub(10)?..)?;
    digits.parse().ok()
}

/// The name prefix of `client`'s lock nodes.
pub fn prefix(client: usize) -> String {
    format!("c{client}-")
}

/// The create request of a lock node.
pub fn create_frame(xid: i32, client: usize) -> Vec<u8> {
    let req = CreateRequest {
        path: format!("{LOCK_PARENT}/{}", prefix(client)),
        data: Vec::new(),
        acl: Acl::open_unsafe(),
        flags: create_mode::EPHEMERAL_SEQUENTIAL,
    };
    encode_request(xid, &Request::Create(req))
}

/// The listing request.
pub fn list_frame(xid: i32) -> Vec<u8> {
    let path = LOCK_PARENT.to_owned();
    encode_request(xid, &Request::GetChildren { path, watch: false })
}

/// A delete of `node` (a full path), any version.
pub fn delete_frame(xid: i32, node: &str) -> Vec<u8> {
    let path = node.to_owned();
    encode_request(xid, &Request::Delete { path, version: -1 })
}

/// Exists with a watch on `node` (a full path).
pub fn watch_frame(xid: i32, node: &str) -> Vec<u8> {
    let path = node.to_owned();
    encode_request(xid, &Request::Exists { path, watch: true })
}

/// Given the children of `/lock` and our node's full path: `None` if we hold the lock, else
/// our predecessor's full path.
pub fn predecessor(children: &[String], node: &str) -> Option<String> {
    let mine = sequence(node)?;
    children
        .iter()
        .filter_map(|c| sequence(c).map(|s| (s, c)))
        .filter(|(s, _)| *s < mine)
        .max()
        .map(|(_, c)| format!("{LOCK_PARENT}/{c}"))
}
