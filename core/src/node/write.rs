//! Proposing writes: zxid assignment, preparation, and the append/sync outputs.

use super::{Node, Output};
use crate::ids::{ConnId, SessionId, Zxid};
use crate::jute::{err, op, MultiOp, Request};
use crate::prep::PrepContext;
use crate::session::Session;
use crate::txn::{Txn, TxnOp};
use std::sync::Arc;

/// Who is waiting for a proposal's commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A new session's handshake on `conn`.
    Connect {
        /// The connection that asked.
        conn: ConnId,
    },
    /// A client request.
    Request {
        /// The connection that asked.
        conn: ConnId,
        /// The request's xid.
        xid: i32,
        /// For a multi: each op's opcode, to shape the results.
        multi_ops: Vec<i32>,
    },
    /// The server itself (session expiry, container and TTL cleanup).
    Server,
}

/// A transaction proposed and not yet committed.
#[derive(Debug, Clone)]
pub(crate) struct Proposal {
    /// Shared with the log's append (no copy of the data per write).
    pub(crate) txn: Arc<Txn>,
    pub(crate) origin: Origin,
}

impl Node {
    pub(crate) fn next_zxid(&self) -> Zxid {
        // A counter overflow needs a new epoch; a standalone server moves to the next one.
        self.last_proposed
            .next()
            .unwrap_or_else(|| Zxid::new(crate::ids::Epoch(self.last_proposed.epoch().0 + 1), 1))
    }

    /// Appends `op` as the next transaction, sends it to the learners, and queues it for
    /// commit.
    pub(crate) fn propose(
        &mut self,
        session: SessionId,
        cxid: i32,
        opcode: i32,
        op: TxnOp,
        origin: Origin,
        zxid: Zxid,
    ) {
        debug_assert!(zxid > self.last_proposed);
        let txn = Arc::new(Txn {
            zxid,
            session,
            cxid,
            opcode,
            time_ms: self.now.wall_ms,
            op,
        });
        self.last_proposed = zxid;
        self.outputs.push_back(Output::Append(Arc::clone(&txn)));
        self.sync_through = Some(zxid);
        if let super::role::Role::Leading(_) = self.role {
            self.broadcast_proposal(&txn);
        }
        self.proposals
            .push_back(super::write::Proposal { txn, origin });
        #[cfg(feature = "planted-bugs")]
        if self.config.planted.ack_before_fsync {
            self.on_persisted(zxid);
        }
    }

    pub(crate) fn create_session(&mut self, conn: ConnId, timeout_ms: i32) {
        if self.storage_failed.is_some() {
            tracing::warn!(conn = conn.0, "storage failed: refusing new session");
            self.close_conn(conn);
            return;
        }
        if let super::role::Role::Following(_) = self.role {
            self.learner_create_session(conn, timeout_ms);
            return;
        }
        let session = SessionId(self.next_session);
        self.next_session += 1;
        let password = self.new_password();
        if let Some(c) = self.conns.get_mut(&conn) {
            c.state = super::conn::ConnState::Connecting;
        }
        let zxid = self.next_zxid();
        let op = TxnOp::CreateSession {
            timeout_ms,
            password,
        };
        self.propose(
            session,
            0,
            op::CREATE_SESSION,
            op,
            Origin::Connect { conn },
            zxid,
        );
    }

    pub(crate) fn expire_session(&mut self, session: SessionId) {
        tracing::info!(%session, "session expired");
        // Stop tracking it either way, so its deadline does not fire again and again.
        self.sessions.mark_closing(session);
        if self.storage_failed.is_some() {
            // The close cannot be logged; the session stays refused until a restart.
            return;
        }
        let zxid = self.next_zxid();
        let auth = crate::acl::AuthInfo::default();
        let cx = PrepContext {
            tree: &self.tree,
            auth: &auth,
            session,
            zxid,
            time_ms: self.now.wall_ms,
        };
        let op = self.prep.close_session(&cx);
        self.propose(session, 0, op::CLOSE_SESSION, op, Origin::Server, zxid);
    }

    /// Proposes the removal of every empty container and expired TTL node.
    pub(crate) fn expire_nodes(&mut self) {
        if self.storage_failed.is_some() {
            return;
        }
        let auth = crate::acl::AuthInfo::default();
        for path in self.tree.expiry_candidates(self.now.wall_ms) {
            let zxid = self.next_zxid();
            let cx = PrepContext {
                tree: &self.tree,
                auth: &auth,
                session: SessionId(0),
                zxid,
                time_ms: self.now.wall_ms,
            };
            if let Some(op) = self.prep.expire_node(&cx, &path) {
                tracing::debug!(%path, "removing empty container or expired TTL node");
                self.propose(
                    SessionId(0),
                    0,
                    op::DELETE_CONTAINER,
                    op,
                    Origin::Server,
                    zxid,
                );
            }
        }
    }

    pub(crate) fn submit_write(
        &mut self,
        conn: ConnId,
        session: SessionId,
        xid: i32,
        request: Request,
    ) {
        if self.storage_failed.is_some() {
            // Never acknowledge what cannot be made durable.
            self.reply_error(conn, xid, err::SYSTEM_ERROR);
            // Answered synchronously, inside `pump`'s loop: no recursion into `pump`.
            if let Some(c) = self.conns.get_mut(&conn) {
                c.writes_in_flight = c.writes_in_flight.saturating_sub(1);
            }
            return;
        }
        if let super::role::Role::Following(_) = self.role {
            if let Request::CloseSession = request {
                self.sessions.mark_closing(session);
            }
            self.learner_forward(conn, session, xid, &request);
            return;
        }
        let opcode = request.opcode();
        let zxid = self.next_zxid();
        // Borrow the connection's ids in place: no copy on the write path.
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let cx = PrepContext {
            tree: &self.tree,
            auth: &c.auth,
            session,
            zxid,
            time_ms: self.now.wall_ms,
        };
        let multi_ops = match &request {
            Request::Multi(ops) => ops.iter().map(MultiOp::opcode).collect(),
            _ => Vec::new(),
        };
        let op = prepare_write(&mut self.prep, &mut self.sessions, &cx, request);
        let origin = Origin::Request {
            conn,
            xid,
            multi_ops,
        };
        self.propose(session, xid, opcode, op, origin, zxid);
    }

    /// A write of `conn` has been answered: later reads may proceed.
    pub(crate) fn write_answered(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.writes_in_flight = c.writes_in_flight.saturating_sub(1);
        }
        self.pump(conn);
    }

    /// Applies a committed transaction without answering anyone (recovery, synchronization,
    /// logged proposals when a role ends).
    pub(crate) fn apply_quietly(&mut self, txn: Txn) {
        self.tree.apply(&txn);
        self.apply_sessions(&txn);
        self.remember(txn);
    }

    /// Keeps an applied transaction in the history for DIFFs, and records its digest for
    /// the simulator.
    pub(crate) fn remember(&mut self, txn: Txn) {
        if self.config.record_applied {
            self.applied.push((txn.zxid, self.tree.digest()));
        }
        if self.config.is_standalone() {
            return;
        }
        self.history.push_back(txn);
        while self.history.len() > self.config.history_txns_max {
            if let Some(old) = self.history.pop_front() {
                self.history_base = old.zxid;
            }
        }
    }

    /// Counts an applied transaction towards the next snapshot, and takes it when due.
    pub(crate) fn count_for_snapshot(&mut self) {
        self.txns_since_snapshot += 1;
        if self.txns_since_snapshot >= self.snapshot_after {
            self.take_snapshot();
        }
    }

    /// A session id created by this server: later ones must not reuse it after a restart.
    pub(crate) fn note_session_id(&mut self, id: SessionId) {
        if (id.0 >> 56) as u64 == self.config.server_id.0 {
            self.next_session = self.next_session.max(id.0 + 1);
        }
    }

    pub(crate) fn apply_sessions(&mut self, txn: &Txn) {
        match &txn.op {
            TxnOp::CreateSession {
                timeout_ms,
                password,
            } => {
                let s = Session {
                    timeout_ms: *timeout_ms,
                    password: password.clone(),
                };
                self.sessions.open(txn.session, s, self.now.mono);
                self.note_session_id(txn.session);
            }
            TxnOp::CloseSession => self.sessions.close(txn.session),
            _ => {}
        }
    }
}

/// Turns a client write (local or forwarded) into its transaction: reconfig is refused as
/// ZooKeeper refuses it by default, and a session whose close is prepared takes no more requests.
pub(crate) fn prepare_write(
    prep: &mut crate::prep::Prep,
    sessions: &mut crate::session::SessionTable,
    cx: &PrepContext<'_>,
    request: Request,
) -> TxnOp {
    let op = match request {
        Request::Reconfig { .. } => TxnOp::Error {
            code: err::RECONFIG_DISABLED,
        },
        _ => prep.prepare(cx, request),
    };
    if let TxnOp::CloseSession = op {
        sessions.mark_closing(cx.session);
    }
    op
}
