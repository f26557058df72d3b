//! Ordered sequential consistency per session: the zxids a session sees never go back.

use super::Violation;
use crate::history::History;
use std::collections::BTreeMap;

/// Checks that the reply zxids of each session never decrease.
pub fn check_monotonic(history: &History) -> Vec<Violation> {
    let mut last: BTreeMap<(usize, i64), i64> = BTreeMap::new();
    let mut out = Vec::new();
    for &(client, session, zxid) in &history.session_zxids {
        let prev = last.entry((client, session)).or_insert(0);
        if zxid < *prev {
            out.push(Violation {
                invariant: "session zxids never go back",
                detail: format!(
                    "client {client} session 0x{session:x} saw zxid 0x{zxid:x} after 0x{prev:x}"
                ),
            });
        }
        *prev = (*prev).max(zxid);
    }
    out
}

/// Ephemerals live exactly as long as their session: a client's ephemeral, once created in a
/// session, is seen by that session until it ends, and a new session can create it again
/// (the old session's copy is gone).
pub fn check_ephemerals(history: &History) -> Vec<Violation> {
    use crate::history::{OpKind, Outcome};
    use corral_core::jute::err;
    // Per client: (session, whether its ephemeral was created for certain).
    let mut state: BTreeMap<usize, (i64, bool)> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, op) in history.ops.iter().enumerate() {
        let entry = state.entry(op.client).or_insert((op.session, false));
        if entry.0 != op.session {
            *entry = (op.session, false);
        }
        match (&op.kind, &op.outcome) {
            (OpKind::CreateEphemeral, Outcome::Ok { .. }) => entry.1 = true,
            (OpKind::CreateEphemeral, Outcome::Failed { code }) if *code == err::NODE_EXISTS => {
                out.push(Violation {
                    invariant: "ephemerals end with their session",
                    detail: format!("op #{i}: client {} in a new session 0x{:x} found its ephemeral still there", op.client, op.session),
                });
            }
            (OpKind::CheckEphemeral, Outcome::Failed { code })
                if *code == err::NO_NODE && entry.1 =>
            {
                out.push(Violation {
                    invariant: "ephemerals live as long as their session",
                    detail: format!(
                        "op #{i}: client {}'s ephemeral vanished while session 0x{:x} lives",
                        op.client, op.session
                    ),
                });
            }
            _ => {}
        }
        if out.len() >= 20 {
            break;
        }
    }
    out
}
