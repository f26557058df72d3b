//! Preallocated log segments: the log moves to a zeroed spare once it has written enough to
//! want one, records in it read back, and the zeros never hide or resurrect anything.

use super::tests::{
    capture_logs, damage, files, logged, open, options, record_bytes, segment, txns,
};
use super::*;
use corral_core::txn::TxnOp;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Records per segment in these tests; the first spare is wanted at half a segment.
const SEGMENT_RECORDS: u64 = 100;

/// Preallocated options whose segments hold [`SEGMENT_RECORDS`] records.
fn preallocated(dir: &TempDir) -> StorageOptions {
    let mut options = options(dir, SEGMENT_RECORDS);
    options.preallocate = true;
    options
}

/// Waits until the storage's spare segment is written (a thread does it in the background).
fn wait_for_spare(storage: &Storage) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !storage.log.spare_ready() {
        assert!(Instant::now() < deadline, "no spare segment after 30 s");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn len(path: &Path) -> u64 {
    fs::metadata(path).expect("metadata").len()
}

fn segment_names(options: &StorageOptions) -> Vec<String> {
    let mut names = files(&options.log_dir);
    names.retain(|name| name != prealloc::SPARE_NAME);
    names
}

/// Appends and syncs 1..=60 (a growing log.1, which wants a spare at 50 written), waits for the spare, appends
/// 61..=`last` (into the spare, now log.61) and syncs.
fn into_the_spare(options: &StorageOptions, last: i64) -> Storage {
    let (mut storage, _) = open(options);
    storage.append(&txns(1..=60)).expect("append");
    storage.sync().expect("sync");
    wait_for_spare(&storage);
    storage.append(&txns(61..=last)).expect("append");
    storage.sync().expect("sync");
    assert_eq!(
        segment_names(options),
        [log::segment_name(Zxid(1)), log::segment_name(Zxid(61))]
    );
    assert_eq!(len(&segment(options, 1)), 60 * record_bytes());
    assert_eq!(
        len(&segment(options, 61)),
        SEGMENT_RECORDS * record_bytes(),
        "log.61 is the spare"
    );
    storage
}

#[test]
fn no_spare_until_the_log_has_taken_enough() {
    let dir = TempDir::new().expect("tempdir");
    let options = preallocated(&dir);
    let (mut storage, _) = open(&options);
    storage.append(&txns(1..=49)).expect("append");
    storage.sync().expect("sync");
    std::thread::sleep(Duration::from_millis(50));
    assert!(!storage.log.spare_ready());
    assert!(!options.log_dir.join(prealloc::SPARE_NAME).exists());
    storage.append(&txns(50..=50)).expect("append");
    storage.sync().expect("sync");
    wait_for_spare(&storage);
    assert_eq!(
        len(&options.log_dir.join(prealloc::SPARE_NAME)),
        SEGMENT_RECORDS * record_bytes()
    );
}

#[test]
fn records_in_a_preallocated_segment_read_back_and_its_zeros_are_cut_on_open() {
    let dir = TempDir::new().expect("tempdir");
    let options = preallocated(&dir);
    drop(into_the_spare(&options, 70));

    let (_, recovered) = open(&options);
    assert_eq!(recovered.txns, txns(1..=70));
    assert_eq!(
        len(&segment(&options, 61)),
        10 * record_bytes(),
        "the zeros after the records are cut"
    );
}

#[test]
fn records_after_lost_ones_are_not_resurrected_by_later_appends() {
    // A crash can leave the records of a later, unsynced write on disk behind a block that
    // never reached it (zeros). Recovery stops at the zeros; if it did not cut the stale records
    // behind them, appends after the restart would overwrite up to them and the next recovery
    // would read them as if they followed.
    let dir = TempDir::new().expect("tempdir");
    let options = preallocated(&dir);
    drop(into_the_spare(&options, 80));
    let rb = record_bytes() as usize;
    damage(&segment(&options, 61), |bytes| {
        bytes[10 * rb..12 * rb].fill(0)
    }); // txns 71, 72

    let (mut storage, recovered) = open(&options);
    assert_eq!(recovered.txns, txns(1..=70));
    // The same zxids again, with other payloads, after the restart.
    let mut again = txns(71..=73);
    for txn in &mut again {
        txn.cxid = -1;
    }
    storage.append(&again).expect("append");
    storage.sync().expect("sync");
    drop(storage);

    let mut expected = txns(1..=70);
    expected.extend(again);
    assert_eq!(
        open(&options).1.txns,
        expected,
        "stale records 74..=80 came back"
    );
}

#[test]
fn zeros_in_a_segment_with_a_successor_are_a_fault() {
    let dir = TempDir::new().expect("tempdir");
    let options = logged(&dir, 3, 6);
    // log.1 holds 1..=3, log.4 holds 4..=6; zero the last record of log.1.
    let rb = record_bytes() as usize;
    damage(&segment(&options, 1), |bytes| bytes[2 * rb..].fill(0));

    let logs = capture_logs(|| {
        let (_, recovered) = open(&options);
        assert_eq!(recovered.txns, txns(1..=2));
    });
    assert!(logs.contains("zeroes where a record should be"), "{logs}");
    assert!(!segment(&options, 4).exists(), "the successor is removed");
}

#[test]
fn a_snapshot_roll_keeps_a_preallocated_segment_and_a_full_one_is_cut_to_its_records() {
    let dir = TempDir::new().expect("tempdir");
    let options = preallocated(&dir);
    let mut storage = into_the_spare(&options, 62);
    // Asked after a snapshot: the zeroed segment goes on.
    storage.roll_log();
    storage.append(&txns(63..=63)).expect("append");
    storage.sync().expect("sync");
    assert_eq!(
        segment_names(&options),
        [log::segment_name(Zxid(1)), log::segment_name(Zxid(61))]
    );
    // A record that does not fit in what is left of log.61 (97 records' room) starts log.64,
    // and log.61 is cut to its three records first.
    let mut big = txns(64..=64);
    let TxnOp::SetData { data, .. } = &mut big[0].op else {
        unreachable!("txn() makes a setData")
    };
    data.resize(97 * record_bytes() as usize, 7);
    wait_for_spare(&storage);
    storage.append(&big).expect("append");
    storage.sync().expect("sync");
    assert_eq!(len(&segment(&options, 61)), 3 * record_bytes());
    assert_eq!(
        len(&segment(&options, 64)),
        SEGMENT_RECORDS * record_bytes(),
        "log.64 is the next spare"
    );
    drop(storage);
    let mut expected = txns(1..=63);
    expected.extend(big);
    assert_eq!(open(&options).1.txns, expected);
}
