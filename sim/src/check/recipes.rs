//! Recipes: sequential suffixes follow the write order, and the lock has one holder at a time.

use super::Violation;
use crate::history::History;

/// Violations reported per check.
const FOUND_MAX: usize = 10;

/// Sequential creates under one parent get strictly increasing suffixes in zxid order.
pub fn check_sequential(history: &History) -> Vec<Violation> {
    let mut creates = history.seq_creates.clone();
    creates.sort_unstable();
    creates
        .windows(2)
        .filter(|w| w[1].1 <= w[0].1)
        .take(FOUND_MAX)
        .map(|w| Violation {
            invariant: "sequential suffixes increase with zxid",
            detail: format!(
                "create at 0x{:x} got {} but the create at 0x{:x} got {}",
                w[1].0, w[1].1, w[0].0, w[0].1
            ),
        })
        .collect()
}

/// No hold of the lock begins (in zxid order) while another, released by an acknowledged
/// delete, is still held: servers answer from committed prefixes, so the listing that found a
/// node lowest cannot fall between another holder's acquisition and release.
pub fn check_lock(history: &History) -> Vec<Violation> {
    let mut out = Vec::new();
    let holds = &history.holds;
    for (i, a) in holds.iter().enumerate() {
        let Some(released) = a.released_zxid else {
            continue;
        };
        for (j, b) in holds.iter().enumerate() {
            if i != j && b.acquired_zxid > a.acquired_zxid && b.acquired_zxid < released {
                out.push(Violation {
                    invariant: "the lock has one holder at a time",
                    detail: format!(
                        "client {} held {} from 0x{:x} to 0x{released:x}; client {} acquired {} at 0x{:x}",
                        a.client, a.node, a.acquired_zxid, b.client, b.node, b.acquired_zxid
                    ),
                });
            }
        }
        if out.len() >= FOUND_MAX {
            break;
        }
    }
    out
}
