//! Autopurge: drop old snapshots and the log segments that only they needed.
//!
//! The newest `retain` snapshots are kept (never fewer than [`SNAP_RETAIN_COUNT_MIN`], as in
//! ZooKeeper), and every log segment whose records are all covered by the oldest kept snapshot
//! is removed. A segment's records all lie below the next segment's first zxid, so a segment is
//! covered when the next one starts at or before `oldest kept + 1`; the segment holding
//! `oldest kept + 1` itself stays. The newest segment is never removed.

use super::snapshot::{list_snapshots, remove_snapshot};
use super::{sync_dir, Storage, StorageError};
use corral_core::Zxid;

/// The fewest snapshots autopurge keeps, whatever it is asked (ZooKeeper's floor too).
pub const SNAP_RETAIN_COUNT_MIN: usize = 3;

/// What to remove, decided from file names alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PurgePlan {
    /// Snapshots to remove, by zxid.
    pub snapshots: Vec<Zxid>,
    /// Log segments to remove, by first zxid.
    pub segments: Vec<Zxid>,
}

/// What a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Snapshot files removed.
    pub snapshots_removed: usize,
    /// Log segment files removed.
    pub segments_removed: usize,
}

/// Decides a purge from the ascending snapshot zxids and ascending segment first zxids.
pub(crate) fn plan_purge(snapshots: &[Zxid], segments: &[Zxid], retain: usize) -> PurgePlan {
    let retain = retain.max(SNAP_RETAIN_COUNT_MIN);
    let first_kept = snapshots.len().saturating_sub(retain);
    let Some(&oldest_kept) = snapshots.get(first_kept) else {
        return PurgePlan::default();
    };
    let covered_below = Zxid(oldest_kept.0.saturating_add(1));
    let segments = segments
        .windows(2)
        .take_while(|pair| pair[1] <= covered_below)
        .map(|pair| pair[0])
        .collect();
    PurgePlan {
        snapshots: snapshots[..first_kept].to_vec(),
        segments,
    }
}

impl Storage {
    /// Keeps the newest `retain` snapshots (at least [`SNAP_RETAIN_COUNT_MIN`]) and removes the
    /// older ones and every log segment that only they needed.
    pub fn purge(&mut self, retain: usize) -> Result<PurgeReport, StorageError> {
        let snapshots = list_snapshots(&self.options.data_dir)?;
        let snapshot_zxids: Vec<Zxid> = snapshots.iter().map(|(zxid, _)| *zxid).collect();
        let segment_firsts: Vec<Zxid> = self.log.segments().iter().map(|s| s.first).collect();
        let plan = plan_purge(&snapshot_zxids, &segment_firsts, retain);
        let mut report = PurgeReport::default();
        for (zxid, path) in &snapshots {
            if plan.snapshots.contains(zxid) {
                tracing::info!(path = %path.display(), "purge: removing snapshot");
                remove_snapshot(path)?;
                report.snapshots_removed += 1;
            }
        }
        for first in &plan.segments {
            if self.log.remove_segment(*first)? {
                tracing::info!(first = %first, "purge: removed log segment");
                report.segments_removed += 1;
            }
        }
        if report.snapshots_removed > 0 {
            sync_dir(&self.options.data_dir)?;
        }
        self.log.sync()?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zxids(values: &[i64]) -> Vec<Zxid> {
        values.iter().map(|v| Zxid(*v)).collect()
    }

    #[test]
    fn keeps_newest_snapshots_and_the_segment_after_the_oldest() {
        let plan = plan_purge(
            &zxids(&[10, 20, 30, 40, 50]),
            &zxids(&[1, 11, 25, 31, 45]),
            3,
        );
        assert_eq!(plan.snapshots, zxids(&[10, 20]));
        // Oldest kept is 30: segment 25 ends below 31, so it is covered; segment 31 holds 31.
        assert_eq!(plan.segments, zxids(&[1, 11, 25]));
    }

    #[test]
    fn segment_holding_the_next_zxid_stays() {
        let plan = plan_purge(&zxids(&[10, 20, 30]), &zxids(&[1, 21, 29, 40]), 3);
        assert!(plan.snapshots.is_empty());
        // Oldest kept is 10; segment 1 may hold 11, so nothing goes.
        assert!(plan.segments.is_empty());
    }

    #[test]
    fn retain_has_a_floor_and_no_snapshot_means_nothing() {
        let plan = plan_purge(&zxids(&[10, 20, 30, 40]), &zxids(&[1]), 1);
        assert_eq!(plan.snapshots, zxids(&[10]));
        assert!(
            plan.segments.is_empty(),
            "the newest segment is never removed"
        );
        assert_eq!(plan_purge(&[], &zxids(&[1, 5, 9]), 3), PurgePlan::default());
    }
}
