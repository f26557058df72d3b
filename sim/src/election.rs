//! The leader-election recipe, as ZooKeeper's documentation gives it: each candidate creates an
//! ephemeral sequential node under `/election`; the lowest is the leader; every other candidate
//! watches only the node just before its own and, when that one is deleted, lists again.
//!
//! Unlike the lock, a leader keeps leadership until its node goes, which is usually its session
//! ending (expiry while the client is paused, a close) and which the client may never learn. So
//! a term is recorded with the zxid of the listing that found the node lowest, and its end is
//! read from the committed history ([`NodeLife`]), never from the client's view. A leader may
//! also abdicate by deleting its node; on a lost connection it deletes its node as soon as it
//! reconnects (or the node vanishes with the session), as the lock does.

use crate::clients::Client;
use crate::history::History;
use crate::lock::{create_frame, delete_frame, list_frame, listed, own_nodes, predecessor};
use crate::lock::{watch_frame, LockStep as ElectionStep};
use corral_core::jute::{err, op, Reader, ReplyHeader, Response};
use corral_core::txn::{NodeKind, Txn, TxnOp};

/// Parent of the candidates' nodes.
pub const ELECTION_PARENT: &str = "/election";

/// One leader's term, as the candidate saw it begin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Which client.
    pub client: usize,
    /// Its session (id as on the wire).
    pub session: i64,
    /// Its node (full path).
    pub node: String,
    /// Header zxid of the listing that found the node lowest: the term starts here.
    pub start_zxid: i64,
}

/// An `/election` node's life in the committed history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLife {
    /// The owning session.
    pub owner: i64,
    /// The zxid of its create.
    pub created_zxid: i64,
    /// The zxid of the delete or the session close that removed it, if committed.
    pub deleted_zxid: Option<i64>,
    /// Whether that was its session's close (which its client may never have learnt of).
    pub closed: bool,
}

/// What a committed transaction does to `/election` nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElectionTxn {
    /// An ephemeral node created for `owner`.
    Create {
        /// Full path.
        path: String,
        /// The owning session.
        owner: i64,
    },
    /// A node deleted by a client.
    Delete {
        /// Full path.
        path: String,
    },
    /// A session closed (by its client or by expiry): its ephemerals go with it.
    Close {
        /// The session.
        session: i64,
    },
}

/// The `/election` effects of `txn` (a multi's ops in order).
pub fn election_txns(txn: &Txn) -> Vec<ElectionTxn> {
    let under = |path: &str| {
        path.strip_prefix(ELECTION_PARENT)
            .is_some_and(|rest| rest.starts_with('/'))
    };
    let ops = match &txn.op {
        TxnOp::Multi(ops) => ops.as_slice(),
        op => std::slice::from_ref(op),
    };
    let mut out = Vec::new();
    for o in ops {
        match o {
            TxnOp::Create {
                path,
                kind: NodeKind::Ephemeral { owner },
                ..
            } if under(path) => out.push(ElectionTxn::Create {
                path: path.clone(),
                owner: owner.0,
            }),
            TxnOp::Delete { path } if under(path) => {
                out.push(ElectionTxn::Delete { path: path.clone() })
            }
            TxnOp::CloseSession => out.push(ElectionTxn::Close {
                session: txn.session.0,
            }),
            _ => {}
        }
    }
    out
}

/// Replays committed `/election` effects, in zxid order, into each node's life.
pub fn node_lives<'a>(
    txns: impl IntoIterator<Item = (i64, &'a [ElectionTxn])>,
) -> std::collections::BTreeMap<String, NodeLife> {
    let mut lives = std::collections::BTreeMap::<String, NodeLife>::new();
    for (zxid, effects) in txns {
        for e in effects {
            match e {
                ElectionTxn::Create { path, owner } => {
                    let life = NodeLife {
                        owner: *owner,
                        created_zxid: zxid,
                        deleted_zxid: None,
                        closed: false,
                    };
                    lives.entry(path.clone()).or_insert(life);
                }
                ElectionTxn::Delete { path } => {
                    if let Some(life) = lives.get_mut(path) {
                        life.deleted_zxid.get_or_insert(zxid);
                    }
                }
                ElectionTxn::Close { session } => {
                    let owned = lives.values_mut().filter(|l| l.owner == *session);
                    for life in owned.filter(|l| l.deleted_zxid.is_none()) {
                        life.deleted_zxid = Some(zxid);
                        life.closed = true;
                    }
                }
            }
        }
    }
    lives
}

/// Where a client is in the recipe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ElectionState {
    /// Not a candidate.
    #[default]
    Idle,
    /// Create sent.
    Creating,
    /// Children listed, for our node.
    Listing(String),
    /// Watching `pred` (exists with a watch sent, or set).
    Waiting { node: String, pred: String },
    /// Leading; abdicates at `abdicate_ns` if set, else until its session or connection ends.
    Leading {
        node: String,
        abdicate_ns: Option<u64>,
    },
    /// Abdication delete sent.
    Abdicating,
    /// A new connection of the same session: list and delete nodes an abandoned attempt left.
    Cleanup,
}

impl Client {
    pub(crate) fn election_send(&mut self, step: ElectionStep, frame: impl FnOnce(i32) -> Vec<u8>) {
        let x = self.next_xid;
        self.next_xid += 1;
        self.election_xids.insert(x, step);
        let bytes = frame(x);
        self.out.extend(bytes);
    }

    pub(crate) fn election_list(&mut self, step: ElectionStep) {
        self.election_send(step, |x| list_frame(x, ELECTION_PARENT));
    }

    /// Becomes a candidate: create our node.
    pub fn election_join(&mut self, now_ns: u64) -> Vec<u8> {
        debug_assert_eq!(self.election, ElectionState::Idle);
        self.election = ElectionState::Creating;
        let id = self.id;
        self.election_send(ElectionStep::Create, |x| {
            create_frame(x, ELECTION_PARENT, id)
        });
        self.last_send_ns = now_ns;
        std::mem::take(&mut self.out)
    }

    /// Whether the leader's chosen time to abdicate has come.
    pub fn election_due(&self, now_ns: u64) -> bool {
        matches!(self.election, ElectionState::Leading { abdicate_ns: Some(t), .. } if t <= now_ns)
    }

    /// Abdicates: delete our node (the term ends at that delete's commit).
    pub fn election_abdicate(&mut self, now_ns: u64) -> Vec<u8> {
        let ElectionState::Leading { node, .. } = self.election.clone() else {
            return Vec::new();
        };
        self.election = ElectionState::Abdicating;
        self.election_send(ElectionStep::Release, |x| delete_frame(x, &node));
        self.last_send_ns = now_ns;
        std::mem::take(&mut self.out)
    }

    /// A notification for `path`: if it is our predecessor's, list again.
    pub(crate) fn election_notified(&mut self, path: &str) -> bool {
        let ElectionState::Waiting { node, pred } = &self.election else {
            return false;
        };
        if pred != path {
            return false;
        }
        self.election = ElectionState::Listing(node.clone());
        self.election_list(ElectionStep::List);
        true
    }

    /// An election reply: advance the recipe.
    pub(crate) fn election_reply(
        &mut self,
        step: ElectionStep,
        h: &ReplyHeader,
        r: &mut Reader<'_>,
        now_ns: u64,
        history: &mut History,
    ) -> bool {
        let opcode = match step {
            ElectionStep::Create => op::CREATE,
            ElectionStep::List | ElectionStep::Cleanup => op::GET_CHILDREN,
            ElectionStep::Watch => op::EXISTS,
            ElectionStep::Release => op::DELETE,
        };
        let body = if h.err == err::OK {
            match Response::decode(opcode, r) {
                Ok(b) => Some(b),
                Err(_) if step == ElectionStep::Cleanup => None,
                Err(_) => return false,
            }
        } else {
            None
        };
        match (step, body) {
            (ElectionStep::Create, Some(Response::Create { path })) => {
                self.election = ElectionState::Listing(path);
                self.election_list(ElectionStep::List);
            }
            (ElectionStep::List, Some(Response::GetChildren { children })) => {
                self.election_listed(&children, h.zxid, now_ns, history);
            }
            (ElectionStep::Watch, _) if h.err == err::NO_NODE => {
                // The predecessor went before the watch was set: list again.
                if let ElectionState::Waiting { node, .. } = self.election.clone() {
                    self.election = ElectionState::Listing(node);
                    self.election_list(ElectionStep::List);
                }
            }
            (ElectionStep::Watch, _) => {} // the watch is set: wait for the event
            (ElectionStep::Release, _) => self.election = ElectionState::Idle,
            (ElectionStep::Cleanup, Some(Response::GetChildren { children })) => {
                for path in own_nodes(&children, ELECTION_PARENT, self.id) {
                    self.election_send(ElectionStep::Cleanup, |x| delete_frame(x, &path));
                }
                self.election = ElectionState::Idle;
            }
            (ElectionStep::Cleanup, _) => {}
            (_, _) => self.election = ElectionState::Cleanup,
        }
        true
    }

    /// Our node is listed among `children` (at header zxid `zxid`): lead, or watch the
    /// predecessor only.
    fn election_listed(
        &mut self,
        children: &[String],
        zxid: i64,
        now_ns: u64,
        history: &mut History,
    ) {
        let ElectionState::Listing(node) = self.election.clone() else {
            return;
        };
        if !listed(children, &node) {
            self.election = ElectionState::Idle; // our node is gone (the session ended)
            return;
        }
        let Some(pred) = predecessor(children, &node) else {
            history.terms.push(Term {
                client: self.id,
                session: self.session.as_ref().map_or(0, |s| s.0),
                node: node.clone(),
                start_zxid: zxid,
            });
            // Half the leaders abdicate after 50-499 ms; the others lead until their session or
            // connection ends (derived from the zxid: no extra randomness needed).
            let abdicate_ms = 50 + (zxid >> 1) as u64 % 450;
            let abdicate_ns = (zxid % 2 == 0).then_some(now_ns + abdicate_ms * 1_000_000);
            self.election = ElectionState::Leading { node, abdicate_ns };
            return;
        };
        let p = pred.clone();
        self.election = ElectionState::Waiting { node, pred };
        self.election_send(ElectionStep::Watch, |x| watch_frame(x, &p));
    }
}
