//! The lock recipe, as ZooKeeper's documentation gives it: create an ephemeral sequential node
//! under `/lock`; list the children; the lowest holds the lock; any other waits for a watch on
//! its predecessor's deletion, then lists again; the holder releases by deleting its node.
//!
//! Each hold is recorded with the zxid at which its node was seen lowest (the listing's reply
//! header) and, when its delete is acknowledged, the zxid of that delete. Since servers answer
//! from committed prefixes, two holds must never overlap in zxid order.

use crate::clients::Client;
use crate::history::History;
use corral_core::jute::{
    create_mode, encode_request, err, op, Acl, CreateRequest, Reader, ReplyHeader, Request,
    Response,
};

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

/// The name prefix of `client`'s sequential nodes (under `/lock` or `/election`).
pub fn prefix(client: usize) -> String {
    format!("c{client}-")
}

/// The create request of `client`'s ephemeral sequential node under `parent`.
pub fn create_frame(xid: i32, parent: &str, client: usize) -> Vec<u8> {
    let req = CreateRequest {
        path: format!("{parent}/{}", prefix(client)),
        data: Vec::new(),
        acl: Acl::open_unsafe(),
        flags: create_mode::EPHEMERAL_SEQUENTIAL,
    };
    encode_request(xid, &Request::Create(req))
}

/// The listing of `parent`'s children.
pub fn list_frame(xid: i32, parent: &str) -> Vec<u8> {
    let path = parent.to_owned();
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

/// Given the children of our node's parent and our node's full path: `None` if ours is the
/// lowest (we hold the lock, or lead), else our predecessor's full path (the only node the
/// recipe watches, so one deletion wakes one waiter).
pub fn predecessor(children: &[String], node: &str) -> Option<String> {
    let (parent, _) = node.rsplit_once('/')?;
    let mine = sequence(node)?;
    children
        .iter()
        .filter_map(|c| sequence(c).map(|s| (s, c)))
        .filter(|(s, _)| *s < mine)
        .max()
        .map(|(_, c)| format!("{parent}/{c}"))
}

/// Whether `node` (a full path) is among `children` of its parent.
pub fn listed(children: &[String], node: &str) -> bool {
    let name = node.rsplit('/').next().unwrap_or_default();
    children.iter().any(|c| c == name)
}

/// Full paths of `client`'s nodes among `children` of `parent`: what a cleanup deletes.
pub fn own_nodes(children: &[String], parent: &str, client: usize) -> Vec<String> {
    let mine = prefix(client);
    children
        .iter()
        .filter(|c| c.starts_with(&mine))
        .map(|c| format!("{parent}/{c}"))
        .collect()
}

/// The recipe's steps, run by each client on its own connection.
impl Client {
    pub(crate) fn lock_send(&mut self, step: LockStep, frame: impl FnOnce(i32) -> Vec<u8>) {
        let x = self.next_xid;
        self.next_xid += 1;
        self.lock_xids.insert(x, step);
        let bytes = frame(x);
        self.out.extend(bytes);
    }

    pub(crate) fn lock_list(&mut self) {
        self.lock_send(LockStep::List, |x| list_frame(x, LOCK_PARENT));
    }

    /// Starts the lock recipe: create our node.
    pub fn lock_acquire(&mut self, now_ns: u64) -> Vec<u8> {
        debug_assert_eq!(self.lock, LockState::Idle);
        self.lock = LockState::Creating;
        let id = self.id;
        self.lock_send(LockStep::Create, |x| create_frame(x, LOCK_PARENT, id));
        self.last_send_ns = now_ns;
        std::mem::take(&mut self.out)
    }

    /// Releases a lock held long enough.
    pub fn lock_release(&mut self, now_ns: u64) -> Vec<u8> {
        let LockState::Holding { node, hold, .. } = self.lock.clone() else {
            return Vec::new();
        };
        let path = node.clone();
        self.lock = LockState::Releasing { node, hold };
        self.lock_send(LockStep::Release, |x| delete_frame(x, &path));
        self.last_send_ns = now_ns;
        std::mem::take(&mut self.out)
    }

    /// Whether the lock is held past `now_ns`, to be released.
    pub fn lock_due(&self, now_ns: u64) -> bool {
        matches!(self.lock, LockState::Holding { until_ns, .. } if until_ns <= now_ns)
    }

    /// A lock reply: advance the recipe.
    pub(crate) fn lock_reply(
        &mut self,
        step: LockStep,
        h: &ReplyHeader,
        r: &mut Reader<'_>,
        now_ns: u64,
        history: &mut History,
    ) -> bool {
        let body = if h.err == err::OK {
            let opcode = match step {
                LockStep::Create => op::CREATE,
                LockStep::List => op::GET_CHILDREN,
                LockStep::Watch => op::EXISTS,
                LockStep::Release => op::DELETE,
                LockStep::Cleanup => op::GET_CHILDREN,
            };
            match Response::decode(opcode, r) {
                Ok(b) => Some(b),
                Err(_) if step == LockStep::Cleanup => None,
                Err(_) => return false,
            }
        } else {
            None
        };
        match (step, body) {
            (LockStep::Create, Some(Response::Create { path })) => {
                self.lock = LockState::Listing(path);
                self.lock_list();
            }
            (LockStep::List, Some(Response::GetChildren { children })) => {
                self.lock_listed(&children, h.zxid, now_ns, history);
            }
            (LockStep::Watch, _) if h.err == err::NO_NODE => {
                if let LockState::Waiting { node, .. } = self.lock.clone() {
                    self.lock = LockState::Listing(node);
                    self.lock_list();
                }
            }
            (LockStep::Watch, _) => {} // the watch is set: wait for the event
            (LockStep::Release, _) => {
                if let LockState::Releasing { hold, .. } = self.lock {
                    if h.err == err::OK {
                        history.holds[hold].released_zxid = Some(h.zxid);
                    }
                }
                self.lock = LockState::Idle;
            }
            (LockStep::Cleanup, Some(Response::GetChildren { children })) => {
                for path in own_nodes(&children, LOCK_PARENT, self.id) {
                    self.lock_send(LockStep::Cleanup, |x| delete_frame(x, &path));
                }
                self.lock = LockState::Idle;
            }
            (LockStep::Cleanup, _) => {}
            (_, _) => self.lock = LockState::Cleanup,
        }
        true
    }

    /// Our node is listed among `children` (at header zxid `zxid`): hold, or watch the
    /// predecessor.
    fn lock_listed(&mut self, children: &[String], zxid: i64, now_ns: u64, history: &mut History) {
        let LockState::Listing(node) = self.lock.clone() else {
            return;
        };
        if !listed(children, &node) {
            self.lock = LockState::Idle; // our node is gone (the session ended)
            return;
        }
        match predecessor(children, &node) {
            None => {
                history.holds.push(Hold {
                    client: self.id,
                    node: node.clone(),
                    acquired_zxid: zxid,
                    released_zxid: None,
                });
                // Held for 5-55 ms (derived from the zxid: no extra randomness needed).
                let until_ns = now_ns + 5_000_000 + (zxid as u64 % 50) * 1_000_000;
                let hold = history.holds.len() - 1;
                self.lock = LockState::Holding {
                    node,
                    until_ns,
                    hold,
                };
            }
            Some(pred) => {
                let p = pred.clone();
                self.lock = LockState::Waiting { node, pred };
                self.lock_send(LockStep::Watch, |x| watch_frame(x, &p));
            }
        }
    }
}
