//! Committing: applying durable proposals in zxid order, firing watches, answering clients.

use super::role::Role;
use super::write::{Origin, Proposal};
use super::{Node, Output};
use crate::ids::Zxid;
use crate::jute::{
    encode_notification, encode_reply, err, event, keeper_state, op, MultiResult, ReplyHeader,
    Response, WatcherEvent,
};
use crate::tree::{Applied, OpResult, TreeEventKind};
use crate::txn::{Txn, TxnOp};

impl Node {
    pub(crate) fn on_persisted(&mut self, through: Zxid) {
        if through > self.persisted {
            self.persisted = through;
        }
        match &self.role {
            Role::Following(_) => {
                self.on_learner_persisted(through);
                return;
            }
            Role::Leading(l) if !l.is_broadcasting() => {
                self.on_ack_newleader(self.config.server_id, through);
                return;
            }
            Role::Leading(_) | Role::Standalone => {}
            Role::Looking(_) => return,
        }
        #[cfg(feature = "planted-bugs")]
        if self.config.planted.commit_without_quorum {
            // The planted bug: the leader's own log is taken for a quorum.
            self.acks.ack(self.config.server_id, through);
            self.commit_through(through);
            return;
        }
        // The leader's own durable log counts as its acknowledgement; with one voter that is
        // the quorum. Followers' acknowledgements arrive through the same tracker.
        let Some(committed) = self.acks.ack(self.config.server_id, through) else {
            return;
        };
        self.commit_through(committed);
    }

    /// Commits every proposal through `committed`, in zxid order, and tells the learners.
    pub(crate) fn commit_through(&mut self, committed: Zxid) {
        while self
            .proposals
            .front()
            .is_some_and(|p| p.txn.zxid <= committed)
        {
            let Some(p) = self.proposals.pop_front() else {
                break;
            };
            self.commit(p);
        }
        if let Role::Leading(_) = self.role {
            self.broadcast_commit(committed);
        }
    }

    pub(crate) fn commit(&mut self, p: Proposal) {
        let Proposal { txn, origin } = p;
        // The log has normally dropped its share by now (it was written before it was synced).
        let txn = std::sync::Arc::unwrap_or_clone(txn);
        #[cfg(feature = "planted-bugs")]
        if self.config.planted.skip_ephemeral_removal
            && txn.op == TxnOp::CloseSession
            && origin == Origin::Server
        {
            self.apply_sessions(&txn);
            self.prep.committed(txn.zxid);
            self.remember(txn);
            return;
        }
        let applied = self.tree.apply(&txn);
        self.apply_sessions(&txn);
        self.prep.committed(txn.zxid);
        self.notify_watchers(&applied);
        self.answer(&txn, &applied, origin);
        self.remember(txn);
        self.count_for_snapshot();
    }

    pub(crate) fn take_snapshot(&mut self) {
        self.txns_since_snapshot = 0;
        self.snapshot_after = self.config.snap_count;
        let zxid = self.tree.last_zxid();
        // A frozen copy, not an encoding: the adapter encodes it off this thread.
        let snapshot = self.snapshot();
        tracing::info!(%zxid, nodes = snapshot.node_count(), "taking snapshot");
        self.outputs.push_back(Output::Snapshot { zxid, snapshot });
    }

    /// Sends every watch notification a committed txn triggers, before its reply.
    fn notify_watchers(&mut self, applied: &Applied) {
        for ev in &applied.events {
            let event_type = match ev.kind {
                TreeEventKind::Created => event::NODE_CREATED,
                TreeEventKind::Deleted => event::NODE_DELETED,
                TreeEventKind::DataChanged => event::NODE_DATA_CHANGED,
                TreeEventKind::ChildrenChanged => event::NODE_CHILDREN_CHANGED,
            };
            let conns = self.watches.trigger(&ev.path, event_type);
            if conns.is_empty() {
                continue;
            }
            let frame = encode_notification(
                &WatcherEvent {
                    event_type,
                    state: keeper_state::SYNC_CONNECTED,
                    path: ev.path.clone(),
                },
                -1,
            );
            for conn in conns {
                self.send(conn, frame.clone());
            }
        }
    }

    fn answer(&mut self, txn: &Txn, applied: &Applied, origin: Origin) {
        match origin {
            Origin::Server => {
                if let TxnOp::CloseSession = txn.op {
                    // The expired session's connection, if any, learns it on reconnect.
                    if let Some(conn) = self.session_conn.get(&txn.session).copied() {
                        self.close_conn(conn);
                    }
                }
            }
            Origin::Connect { conn } => {
                let timeout = match &txn.op {
                    TxnOp::CreateSession { timeout_ms, .. } => *timeout_ms,
                    _ => 0,
                };
                self.activate(conn, txn.session, timeout);
            }
            Origin::Request {
                conn,
                xid,
                multi_ops,
            } => {
                let (code, body) = reply_body(txn, applied, &multi_ops);
                let header = ReplyHeader {
                    xid,
                    zxid: txn.zxid.0,
                    err: code,
                };
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.last_zxid = txn.zxid.0;
                }
                self.send(conn, encode_reply(&header, body.as_ref()));
                if txn.op == TxnOp::CloseSession {
                    self.close_conn(conn);
                } else {
                    self.write_answered(conn);
                }
            }
        }
    }
}

/// The error code and response record for a committed write.
fn reply_body(txn: &Txn, applied: &Applied, multi_ops: &[i32]) -> (i32, Option<Response>) {
    if let TxnOp::Multi(ops) = &txn.op {
        // A failed multi changed nothing: every op reports an error result (OK before the op
        // that failed, its code, then RUNTIME_INCONSISTENCY), as ZooKeeper reports it.
        let failed = ops.iter().any(|o| matches!(o, TxnOp::Error { .. }));
        let results = applied
            .results
            .iter()
            .zip(
                multi_ops
                    .iter()
                    .copied()
                    .chain(std::iter::repeat(op::ERROR)),
            )
            .map(|(r, opcode)| multi_result(r, if failed { op::ERROR } else { opcode }))
            .collect();
        return (err::OK, Some(Response::Multi(results)));
    }
    let Some(r) = applied.results.first() else {
        return (err::OK, Some(Response::Empty));
    };
    if r.err != err::OK {
        return (r.err, None);
    }
    let stat = r.stat.unwrap_or_default();
    let body = match txn.opcode {
        op::CREATE => Response::Create {
            path: r.path.clone(),
        },
        op::CREATE2 | op::CREATE_TTL | op::CREATE_CONTAINER => Response::Create2 {
            path: r.path.clone(),
            stat,
        },
        op::SET_DATA | op::SET_ACL => Response::Stat { stat },
        _ => Response::Empty,
    };
    (err::OK, Some(body))
}

fn multi_result(r: &OpResult, opcode: i32) -> MultiResult {
    if r.err != err::OK || opcode == op::ERROR {
        return MultiResult::Error { err: r.err };
    }
    let stat = r.stat.unwrap_or_default();
    match opcode {
        // ZooKeeper answers a create2 inside a multi with a plain create result.
        op::CREATE | op::CREATE2 => MultiResult::Create {
            path: r.path.clone(),
        },
        op::CREATE_TTL | op::CREATE_CONTAINER => MultiResult::Create2 {
            path: r.path.clone(),
            stat,
        },
        op::DELETE => MultiResult::Delete,
        op::SET_DATA => MultiResult::SetData { stat },
        _ => MultiResult::Check,
    }
}
