//! Client writes and new sessions that learners forward to the leader: prepared and proposed
//! here, answered by the learner when the commit reaches it.

use super::write::{prepare_write, Origin};
use super::Node;
use crate::acl::AuthInfo;
use crate::ids::SessionId;
use crate::jute::{decode_request, err, op, Id};
use crate::prep::PrepContext;
use crate::txn::TxnOp;

impl Node {
    /// A learner forwarded a client write: prepare and propose it; the learner answers.
    pub(crate) fn on_forward(
        &mut self,
        session: SessionId,
        frame: &[u8],
        auth: Vec<(String, String)>,
    ) {
        if !self.leader().is_some_and(|l| l.is_broadcasting()) || self.storage_failed.is_some() {
            return;
        }
        let Some(payload) = frame.get(4..) else {
            return;
        };
        let (header, request) = match decode_request(payload) {
            Ok((h, r)) if r.is_write() => (h, r),
            Ok((h, _)) => {
                tracing::warn!(%session, opcode = h.opcode, "forwarded request is not a write; ignored");
                return;
            }
            Err(e) => {
                tracing::warn!(%session, error = %e, "undecodable forwarded request; ignored");
                return;
            }
        };
        let auth = AuthInfo {
            ids: auth.iter().map(|(s, i)| Id::new(s, i)).collect(),
        };
        self.sessions.touch(session, self.now.mono);
        let zxid = self.next_zxid();
        let op = if self.sessions.is_live(session) {
            let cx = PrepContext {
                tree: &self.tree,
                auth: &auth,
                session,
                zxid,
                time_ms: self.now.wall_ms,
            };
            prepare_write(&mut self.prep, &mut self.sessions, &cx, request)
        } else {
            TxnOp::Error {
                code: err::SESSION_EXPIRED,
            }
        };
        self.propose(session, header.xid, header.opcode, op, Origin::Server, zxid);
    }

    pub(crate) fn on_forwarded_session(
        &mut self,
        session: SessionId,
        timeout_ms: i32,
        password: Vec<u8>,
    ) {
        if !self.leader().is_some_and(|l| l.is_broadcasting()) || self.storage_failed.is_some() {
            return;
        }
        if self.sessions.get(session).is_some() {
            return;
        }
        let zxid = self.next_zxid();
        let op = TxnOp::CreateSession {
            timeout_ms,
            password,
        };
        self.propose(session, 0, op::CREATE_SESSION, op, Origin::Server, zxid);
    }
}
