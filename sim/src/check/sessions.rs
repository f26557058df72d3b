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
