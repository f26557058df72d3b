//! How a new leader brings a follower up to date (ZAB's synchronization phase).
//!
//! The leader keeps the tail of its committed history in memory. Comparing it with the last
//! zxid the follower has logged decides what to send: nothing or the missing transactions
//! (DIFF), an instruction to drop transactions the leader never committed first (TRUNC, then
//! DIFF), or the whole state (SNAP) when the follower is too far behind for the in-memory tail.

use crate::ids::Zxid;

/// What the leader sends a follower whose log ends at some zxid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPlan {
    /// Send the committed transactions after `after` (none if the follower is current).
    Diff {
        /// The follower's last zxid, which the leader also has.
        after: Zxid,
    },
    /// The follower holds transactions the leader does not: truncate its log after `to`, then
    /// send the committed transactions after `to`.
    TruncThenDiff {
        /// The last zxid both logs share.
        to: Zxid,
    },
    /// The follower is older than the leader's in-memory history: send a snapshot.
    Snap,
}

/// Plans the synchronization of a follower whose log ends at `follower_last`, given the
/// leader's committed history tail `history` (ascending zxids, gap-free within an epoch) and
/// `oldest_known`, the zxid just before `history[0]` that the leader's state is known to
/// include (`Zxid::ZERO` when the history starts at the beginning).
pub fn plan(history: &[Zxid], oldest_known: Zxid, follower_last: Zxid) -> SyncPlan {
    debug_assert!(
        history.windows(2).all(|w| w[0] < w[1]),
        "history out of order"
    );
    let leader_last = history.last().copied().unwrap_or(oldest_known);
    if follower_last == leader_last {
        return SyncPlan::Diff {
            after: follower_last,
        };
    }
    if follower_last < oldest_known {
        return SyncPlan::Snap;
    }
    if follower_last > leader_last {
        return SyncPlan::TruncThenDiff { to: leader_last };
    }
    // Within the history: the follower either has exactly one of the leader's zxids (DIFF), or
    // a zxid the leader never committed (an old epoch's proposal): cut back to the last shared
    // zxid before it.
    if follower_last == oldest_known || history.binary_search(&follower_last).is_ok() {
        return SyncPlan::Diff {
            after: follower_last,
        };
    }
    let shared = history.partition_point(|z| *z < follower_last);
    let to = if shared == 0 {
        oldest_known
    } else {
        history[shared - 1]
    };
    SyncPlan::TruncThenDiff { to }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Epoch;

    fn z(epoch: u32, counter: u32) -> Zxid {
        Zxid::new(Epoch(epoch), counter)
    }

    fn history() -> Vec<Zxid> {
        vec![z(1, 5), z(1, 6), z(1, 7), z(2, 1), z(2, 2)]
    }

    #[test]
    fn a_current_follower_gets_an_empty_diff() {
        assert_eq!(
            plan(&history(), z(1, 4), z(2, 2)),
            SyncPlan::Diff { after: z(2, 2) }
        );
    }

    #[test]
    fn a_follower_inside_the_history_gets_a_diff() {
        assert_eq!(
            plan(&history(), z(1, 4), z(1, 6)),
            SyncPlan::Diff { after: z(1, 6) }
        );
        assert_eq!(
            plan(&history(), z(1, 4), z(1, 4)),
            SyncPlan::Diff { after: z(1, 4) }
        );
    }

    #[test]
    fn a_follower_ahead_of_the_leader_truncates() {
        assert_eq!(
            plan(&history(), z(1, 4), z(2, 3)),
            SyncPlan::TruncThenDiff { to: z(2, 2) }
        );
    }

    #[test]
    fn an_uncommitted_proposal_of_an_old_epoch_is_cut_back() {
        // The follower logged (1, 8), proposed by a leader that died before committing it; the
        // new leader's history jumped from (1, 7) to epoch 2.
        assert_eq!(
            plan(&history(), z(1, 4), z(1, 8)),
            SyncPlan::TruncThenDiff { to: z(1, 7) }
        );
    }

    #[test]
    fn a_follower_older_than_the_history_gets_a_snapshot() {
        assert_eq!(plan(&history(), z(1, 4), z(1, 2)), SyncPlan::Snap);
        assert_eq!(
            plan(&[], Zxid::ZERO, Zxid::ZERO),
            SyncPlan::Diff { after: Zxid::ZERO }
        );
    }
}
