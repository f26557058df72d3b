//! Storage tests on real files in temporary directories.

use super::*;
use corral_core::txn::TxnOp;
use corral_core::SessionId;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};
use tempfile::TempDir;
use tokio::sync::mpsc::UnboundedReceiver;

/// A small transaction whose encoding has the same length for every zxid.
pub(crate) fn txn(zxid: i64) -> Txn {
    Txn {
        zxid: Zxid(zxid),
        session: SessionId(7),
        cxid: zxid as i32,
        opcode: 5,
        time_ms: 1_700_000_000_000,
        op: TxnOp::SetData {
            path: "/a".into(),
            data: zxid.to_le_bytes().to_vec(),
            version: 1,
        },
    }
}

pub(crate) fn txns(zxids: std::ops::RangeInclusive<i64>) -> Vec<Txn> {
    zxids.map(txn).collect()
}

pub(crate) fn record_bytes() -> u64 {
    let mut bytes = Vec::new();
    encode_record(&txn(1), RECORD_BYTES_MAX_DEFAULT, &mut bytes).expect("encode");
    bytes.len() as u64
}

/// Options in `dir` whose segments hold `records_per_segment` records of `txn`.
pub(crate) fn options(dir: &TempDir, records_per_segment: u64) -> StorageOptions {
    let mut options = StorageOptions::new(dir.path().join("data"));
    options.log_dir = dir.path().join("log");
    options.segment_bytes_max = records_per_segment * record_bytes();
    // Segment boundaries here must follow from the appends alone; `prealloc_tests` covers
    // preallocated segments.
    options.preallocate = false;
    options
}

pub(crate) fn open(options: &StorageOptions) -> (Storage, Recovered) {
    Storage::open(options.clone()).expect("open")
}

/// Rewrites the file at `path` through `edit`: damage done to a log or a snapshot on disk.
pub(crate) fn damage(path: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = fs::read(path).expect("read");
    edit(&mut bytes);
    fs::write(path, bytes).expect("write");
}

/// Options in `dir` (segments of `records_per_segment`) whose log holds txns 1..=`last`, synced
/// and closed.
pub(crate) fn logged(dir: &TempDir, records_per_segment: u64, last: i64) -> StorageOptions {
    let options = options(dir, records_per_segment);
    let (mut storage, _) = open(&options);
    storage.append(&txns(1..=last)).expect("append");
    storage.sync().expect("sync");
    options
}

pub(crate) fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

pub(crate) fn segment(options: &StorageOptions, first: i64) -> PathBuf {
    options.log_dir.join(log::segment_name(Zxid(first)))
}

/// Runs `body` with tracing captured; returns what it logged.
pub(crate) fn capture_logs(body: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, body);
    let bytes = buffer
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn a_record_over_the_limit_is_refused_and_leaves_the_log_as_it_was() {
    let dir = TempDir::new().expect("tempdir");
    let mut options = options(&dir, 4);
    options.record_bytes_max = record_bytes() as usize + 64;
    let (mut storage, _) = open(&options);
    storage.append(&txns(1..=2)).expect("append");
    let mut big = txn(4);
    big.op = TxnOp::SetData {
        path: "/a".into(),
        data: vec![7; 200],
        version: 1,
    };
    let error = storage.append(&[txn(3), big]).expect_err("over the limit");
    assert!(
        matches!(error, StorageError::RecordTooLarge { zxid: Zxid(4), .. }),
        "{error}"
    );
    // Neither the oversized record nor the one batched before it was written.
    assert_eq!(storage.sync().expect("sync"), Zxid(2));
    storage
        .append(&txns(3..=3))
        .expect("append after the refusal");
    storage.sync().expect("sync");
    drop(storage);
    assert_eq!(open(&options).1.txns, txns(1..=3));
}

#[test]
fn append_sync_reopen_round_trip() {
    let dir = TempDir::new().expect("tempdir");
    let options = options(&dir, 4);
    let (mut storage, recovered) = open(&options);
    assert_eq!(recovered, Recovered::default());
    storage.append(&txns(1..=5)).expect("append");
    storage.append(&txns(6..=10)).expect("append");
    assert_eq!(storage.sync().expect("sync"), Zxid(10));
    drop(storage);

    let (mut storage, recovered) = open(&options);
    assert_eq!(recovered.txns, txns(1..=10));
    assert_eq!(recovered.snapshot, None);
    assert_eq!(
        files(&options.log_dir),
        vec![
            log::segment_name(Zxid(1)),
            log::segment_name(Zxid(5)),
            log::segment_name(Zxid(9)),
        ]
    );
    // Appends go on after recovery, and an out-of-order zxid is refused.
    storage.append(&txns(11..=11)).expect("append");
    let error = storage.append(&txns(11..=11)).expect_err("repeat zxid");
    assert!(matches!(error, StorageError::ZxidNotIncreasing { .. }));
    storage.sync().expect("sync");
    drop(storage);
    assert_eq!(open(&options).1.txns, txns(1..=11));
}

#[test]
fn appends_reach_the_file_with_the_sync_in_one_write() {
    let dir = TempDir::new().expect("tempdir");
    let options = options(&dir, 100);
    let (mut storage, _) = open(&options);
    for zxid in 1..=3 {
        storage.append(&txns(zxid..=zxid)).expect("append");
    }
    let path = segment(&options, 1);
    assert_eq!(fs::metadata(&path).expect("metadata").len(), 0);
    assert_eq!(storage.stats().log_bytes(), 0);
    assert_eq!(storage.sync().expect("sync"), Zxid(3));
    assert_eq!(
        fs::metadata(&path).expect("metadata").len(),
        3 * record_bytes()
    );
    // A failed append drops its own records, not those queued before it.
    storage.append(&txns(4..=4)).expect("append");
    let error = storage.append(&txns(4..=5)).expect_err("repeated zxid");
    assert!(matches!(error, StorageError::ZxidNotIncreasing { .. }));
    storage.sync().expect("sync");
    drop(storage);
    assert_eq!(open(&options).1.txns, txns(1..=4));
}

#[test]
fn torn_tail_is_cut() {
    let dir = TempDir::new().expect("tempdir");
    let options = logged(&dir, 100, 5);
    let path = segment(&options, 1);
    let whole = 5 * record_bytes();
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    file.set_len(whole - 3).expect("tear");
    drop(file);

    let logs = capture_logs(|| {
        let (_, recovered) = open(&options);
        assert_eq!(recovered.txns, txns(1..=4));
    });
    assert!(logs.contains("short payload"), "{logs}");
    assert_eq!(
        fs::metadata(&path).expect("metadata").len(),
        4 * record_bytes()
    );

    let (mut storage, _) = open(&options);
    storage.append(&txns(5..=6)).expect("append after the cut");
    storage.sync().expect("sync");
    drop(storage);
    assert_eq!(open(&options).1.txns, txns(1..=6));
}

#[test]
fn flipped_byte_drops_that_record_and_everything_after() {
    let dir = TempDir::new().expect("tempdir");
    let options = logged(&dir, 3, 9);
    // Segments log.1, log.4, log.7; damage txn 5, the middle record of log.4.
    let path = segment(&options, 4);
    let middle = (record_bytes() + record_bytes() / 2) as usize;
    damage(&path, |bytes| bytes[middle] ^= 0x10);

    let logs = capture_logs(|| {
        let (_, recovered) = open(&options);
        assert_eq!(recovered.txns, txns(1..=4));
    });
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("crc32c mismatch"), "{logs}");
    assert!(
        logs.contains(&format!("offset={}", record_bytes())),
        "{logs}"
    );
    assert_eq!(fs::metadata(&path).expect("metadata").len(), record_bytes());
    assert!(
        !segment(&options, 7).exists(),
        "segments after the bad record are removed"
    );
}

#[test]
fn corrupt_newest_snapshot_falls_back_to_the_previous() {
    let dir = TempDir::new().expect("tempdir");
    let options = options(&dir, 100);
    let (mut storage, _) = open(&options);
    storage.append(&txns(1..=3)).expect("append");
    storage
        .write_snapshot(Zxid(3), &SnapshotBody::Bytes(b"state at 3".to_vec()))
        .expect("snapshot");
    storage.append(&txns(4..=6)).expect("append");
    storage
        .write_snapshot(Zxid(6), &SnapshotBody::Bytes(b"state at 6".to_vec()))
        .expect("snapshot");
    storage.append(&txns(7..=8)).expect("append");
    storage.sync().expect("sync");
    drop(storage);
    assert_eq!(
        open(&options).1.snapshot,
        Some((Zxid(6), b"state at 6".to_vec()))
    );
    assert_eq!(open(&options).1.txns, txns(7..=8));

    let path = snapshot::snapshot_path(&options.data_dir, Zxid(6));
    damage(&path, |bytes| {
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
    });
    let (_, recovered) = open(&options);
    assert_eq!(recovered.snapshot, Some((Zxid(3), b"state at 3".to_vec())));
    assert_eq!(recovered.txns, txns(4..=8));
}

#[test]
fn leftover_temp_snapshot_is_removed() {
    let dir = TempDir::new().expect("tempdir");
    let options = options(&dir, 100);
    drop(open(&options));
    let temp = options.data_dir.join("snapshot.0000000000000009.tmp");
    fs::write(&temp, b"half").expect("write");
    let (_, recovered) = open(&options);
    assert_eq!(recovered.snapshot, None);
    assert!(!temp.exists());
}

#[test]
fn purge_keeps_the_newest_snapshots_and_the_log_they_need() {
    let dir = TempDir::new().expect("tempdir");
    let options = options(&dir, 100);
    let (mut storage, _) = open(&options);
    // Each snapshot rolls the log: segments log.1, log.3, log.5, log.7, log.9, log.b.
    for snap in [2, 4, 6, 8, 10] {
        storage.append(&txns(snap - 1..=snap)).expect("append");
        storage
            .write_snapshot(
                Zxid(snap),
                &SnapshotBody::Bytes(format!("at {snap}").into_bytes()),
            )
            .expect("snapshot");
    }
    storage.append(&txns(11..=11)).expect("append");
    storage.sync().expect("sync");
    let report = storage.purge(3).expect("purge");
    assert_eq!(
        report,
        PurgeReport {
            snapshots_removed: 2,
            segments_removed: 3
        }
    );
    let names = |zxids: &[i64], name: fn(Zxid) -> String| -> Vec<String> {
        zxids.iter().map(|z| name(Zxid(*z))).collect()
    };
    let snapshot_name = |zxid: Zxid| format!("snapshot.{:016x}", zxid.0);
    assert_eq!(files(&options.data_dir), names(&[6, 8, 10], snapshot_name));
    // The oldest kept snapshot is 6; log.7 holds 7 and stays, with everything after it.
    assert_eq!(
        files(&options.log_dir),
        names(&[7, 9, 11], log::segment_name)
    );
    drop(storage);
    let (_, recovered) = open(&options);
    assert_eq!(recovered.snapshot, Some((Zxid(10), b"at 10".to_vec())));
    assert_eq!(recovered.txns, txns(11..=11));
}

#[test]
fn truncate_after_drops_later_records_and_snapshots() {
    let dir = TempDir::new().expect("tempdir");
    let options = options(&dir, 3);
    let (mut storage, _) = open(&options);
    storage.append(&txns(1..=4)).expect("append");
    storage
        .write_snapshot(Zxid(4), &SnapshotBody::Bytes(b"at 4".to_vec()))
        .expect("snapshot");
    storage.append(&txns(5..=10)).expect("append");
    storage
        .write_snapshot(Zxid(9), &SnapshotBody::Bytes(b"at 9".to_vec()))
        .expect("snapshot");
    storage.sync().expect("sync");

    storage.truncate_after(Zxid(5)).expect("truncate");
    assert_eq!(storage.last_zxid(), Zxid(5));
    // Everything from 6 on is gone; new history continues after 5.
    storage.append(&[txn(7)]).expect("append after truncation");
    storage.sync().expect("sync");
    drop(storage);
    let (mut storage, recovered) = open(&options);
    assert_eq!(recovered.snapshot, Some((Zxid(4), b"at 4".to_vec())));
    assert_eq!(recovered.txns, vec![txn(5), txn(7)]);

    storage
        .truncate_after(Zxid(0))
        .expect("truncate everything");
    assert_eq!(storage.last_zxid(), Zxid::ZERO);
    assert!(files(&options.log_dir).is_empty());
    assert!(files(&options.data_dir).is_empty());
    drop(storage);
    assert_eq!(open(&options).1, Recovered::default());
}

/// Receives events until `done` says stop.
fn receive_until(
    events: &mut UnboundedReceiver<StorageEvent>,
    mut done: impl FnMut(&StorageEvent) -> bool,
) -> Vec<StorageEvent> {
    let mut received = Vec::new();
    while let Some(event) = events.blocking_recv() {
        let stop = done(&event);
        received.push(event);
        if stop {
            break;
        }
    }
    received
}

#[test]
fn group_commit_covers_queued_appends_with_few_fsyncs() {
    let dir = TempDir::new().expect("tempdir");
    let (storage, _) = open(&options(&dir, 1 << 20));
    storage.hooks().sync_delay_ms.store(50, Ordering::Relaxed);
    let (handle, mut events) = storage.spawn().expect("spawn");
    for zxid in 1..=1000 {
        handle.append(vec![txn(zxid)]).expect("append");
        handle.sync(Zxid(zxid)).expect("sync");
    }
    let received = receive_until(&mut events, |event| {
        *event
            == StorageEvent::Persisted {
                through: Zxid(1000),
            }
    });
    let mut previous = Zxid::ZERO;
    for event in &received {
        let StorageEvent::Persisted { through } = event else {
            panic!("unexpected event {event:?}");
        };
        assert!(
            *through >= previous,
            "Persisted went back: {through} after {previous}"
        );
        previous = *through;
    }
    let fsyncs = handle.stats().log_fsyncs();
    assert!(fsyncs <= 10, "{fsyncs} fsyncs for 1000 queued appends");
    handle.shutdown().expect("shutdown");
}

#[test]
fn a_sync_carrying_txns_writes_them_in_order_with_the_appends() {
    let dir = TempDir::new().expect("tempdir");
    let options = options(&dir, 1 << 20);
    let (storage, _) = open(&options);
    let (handle, mut events) = storage.spawn().expect("spawn");
    handle.append(txns(1..=2)).expect("append");
    let carried = txns(3..=5).into_iter().map(Arc::new).collect();
    handle
        .send(StorageCommand::Sync {
            txns: carried,
            through: Zxid(5),
        })
        .expect("sync");
    let received = receive_until(&mut events, |event| {
        matches!(event, StorageEvent::Persisted { .. })
    });
    assert_eq!(received, vec![StorageEvent::Persisted { through: Zxid(5) }]);
    handle.shutdown().expect("shutdown");
    let (_, recovered) = open(&options);
    assert_eq!(recovered.txns, txns(1..=5));
}

#[test]
fn snapshot_and_truncate_through_the_thread() {
    let dir = TempDir::new().expect("tempdir");
    let options = options(&dir, 100);
    let (storage, _) = open(&options);
    let (handle, mut events) = storage.spawn().expect("spawn");
    handle.append(txns(1..=5)).expect("append");
    handle
        .snapshot(Zxid(3), SnapshotBody::Bytes(b"at 3".to_vec()))
        .expect("snapshot");
    handle.truncate_after(Zxid(4)).expect("truncate");
    handle.sync(Zxid(4)).expect("sync");
    let received = receive_until(&mut events, |event| {
        matches!(event, StorageEvent::Persisted { .. })
    });
    assert_eq!(
        received,
        vec![
            StorageEvent::SnapshotWritten { zxid: Zxid(3) },
            StorageEvent::Truncated { after: Zxid(4) },
            StorageEvent::Persisted { through: Zxid(4) },
        ]
    );
    handle.shutdown().expect("shutdown");
    let (_, recovered) = open(&options);
    assert_eq!(recovered.snapshot, Some((Zxid(3), b"at 3".to_vec())));
    assert_eq!(recovered.txns, txns(4..=4));
}

#[test]
fn write_failure_stops_storage_cleanly() {
    let dir = TempDir::new().expect("tempdir");
    let options = options(&dir, 100);
    let (storage, _) = open(&options);
    let hooks = storage.hooks();
    let (handle, mut events) = storage.spawn().expect("spawn");
    handle.append(txns(1..=2)).expect("append");
    handle.sync(Zxid(2)).expect("sync");
    let received = receive_until(&mut events, |_| true);
    assert_eq!(received, vec![StorageEvent::Persisted { through: Zxid(2) }]);

    hooks.fail_writes.store(true, Ordering::Relaxed);
    handle.append(txns(3..=3)).expect("append");
    handle.sync(Zxid(3)).expect("sync");
    let received = receive_until(&mut events, |_| true);
    let [StorageEvent::Failed(message)] = received.as_slice() else {
        panic!("expected Failed, got {received:?}");
    };
    assert!(message.contains("write"), "{message}");

    // The disk has room again, but storage stays stopped: nothing more is acknowledged.
    hooks.fail_writes.store(false, Ordering::Relaxed);
    handle.append(txns(3..=3)).expect("append");
    handle.sync(Zxid(3)).expect("sync");
    handle
        .snapshot(Zxid(3), SnapshotBody::Bytes(Vec::new()))
        .expect("snapshot");
    handle.shutdown().expect("shutdown");
    // One Failed per later append and snapshot, and per batch of sync requests (syncs coalesce
    // into one answer per batch, as Persisted does).
    let received = receive_until(&mut events, |_| false);
    assert!((3..=4).contains(&received.len()), "{received:?}");
    assert!(received
        .iter()
        .all(|event| matches!(event, StorageEvent::Failed(_))));
    assert_eq!(open(&options).1.txns, txns(1..=2));
}

/// A tree of `nodes` persistent nodes under `/big`, as of zxid `nodes + 1`.
fn big_tree(nodes: i64) -> corral_core::tree::DataTree {
    let mut tree = corral_core::tree::DataTree::new();
    let create = |zxid: i64, path: String, parent_cversion: i32| Txn {
        zxid: Zxid(zxid),
        session: SessionId(7),
        cxid: 0,
        opcode: 1,
        time_ms: 1_700_000_000_000,
        op: TxnOp::Create {
            path,
            data: vec![7; 100],
            acl: corral_core::jute::Acl::open_unsafe(),
            kind: corral_core::txn::NodeKind::Persistent,
            parent_cversion,
        },
    };
    tree.apply(&create(1, "/big".into(), 1));
    for i in 0..nodes {
        tree.apply(&create(i + 2, format!("/big/n{i:06}"), i as i32 + 1));
    }
    tree
}

#[test]
fn a_state_snapshot_is_streamed_to_disk_and_decoded_while_read() {
    let dir = TempDir::new().expect("tempdir");
    let options = options(&dir, 100);
    let (mut storage, _) = open(&options);
    let tree = big_tree(20_000);
    let snapshot = corral_core::tree::Snapshot::new(&tree, Vec::new());
    let zxid = snapshot.zxid();
    storage
        .write_snapshot(zxid, &SnapshotBody::State(snapshot.clone()))
        .expect("snapshot");
    // A newer snapshot whose checksum is right but whose body is no state: the state sink
    // refuses it and recovery falls back to the older one.
    let newer = Zxid(zxid.0 + 1);
    storage
        .write_snapshot(newer, &SnapshotBody::Bytes(b"not a state".to_vec()))
        .expect("snapshot");
    drop(storage);

    let bytes = open(&options).1.snapshot.expect("a snapshot");
    assert_eq!(bytes, (newer, b"not a state".to_vec()));
    let sink = || StateSink::new(options.record_bytes_max);
    let (_, recovered) = Storage::open_with(options.clone(), sink).expect("open");
    let (at, state) = recovered.snapshot.expect("the older snapshot");
    assert_eq!(at, zxid);
    assert_eq!(state.tree.digest(), tree.digest());
    assert_eq!(state.tree.node_count(), tree.node_count());
    // The file holds exactly the core's encoding.
    let file = fs::read(snapshot::snapshot_path(&options.data_dir, zxid)).expect("read");
    assert_eq!(decode_snapshot(file, zxid), Ok(snapshot.to_bytes()));

    // A flipped byte anywhere in the body makes the checksum fail: no snapshot at all.
    let path = snapshot::snapshot_path(&options.data_dir, zxid);
    damage(&path, |file| {
        let middle = file.len() / 2;
        file[middle] ^= 0x10;
    });
    let (_, recovered) = Storage::open_with(options.clone(), sink).expect("open");
    assert!(recovered.snapshot.is_none());
}

#[test]
fn snapshots_are_written_off_the_storage_thread_in_order() {
    let dir = TempDir::new().expect("tempdir");
    let options = options(&dir, 100);
    let (storage, _) = open(&options);
    let (handle, mut events) = storage.spawn().expect("spawn");
    let tree = big_tree(5_000);
    let state = corral_core::tree::Snapshot::new(&tree, Vec::new());
    handle.append(txns(1..=3)).expect("append");
    handle
        .snapshot(Zxid(2), SnapshotBody::State(state.clone()))
        .expect("snapshot");
    handle
        .snapshot(Zxid(3), SnapshotBody::Bytes(b"at 3".to_vec()))
        .expect("snapshot");
    handle.sync(Zxid(3)).expect("sync");
    let mut written = Vec::new();
    let mut persisted = false;
    while written.len() < 2 || !persisted {
        let received = receive_until(&mut events, |_| true);
        for event in received {
            match event {
                StorageEvent::SnapshotWritten { zxid } => written.push(zxid),
                StorageEvent::Persisted { through } => {
                    assert_eq!(through, Zxid(3));
                    persisted = true;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    // One write at a time, in the order asked.
    assert_eq!(written, [Zxid(2), Zxid(3)]);
    handle.shutdown().expect("shutdown");
    let file = fs::read(snapshot::snapshot_path(&options.data_dir, Zxid(2))).expect("read");
    assert_eq!(decode_snapshot(file, Zxid(2)), Ok(state.to_bytes()));
    assert_eq!(open(&options).1.snapshot, Some((Zxid(3), b"at 3".to_vec())));
}

/// A fresh storage (4 records per segment) holding durable txns 1..=10; keep the directory.
fn ten_logged_txns() -> (TempDir, StorageOptions, Storage) {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = options(&dir, 4);
    let (mut storage, _) = open(&options);
    storage.append(&txns(1..=10)).expect("append");
    storage.sync().expect("sync");
    (dir, options, storage)
}

fn install_marker(options: &StorageOptions, zxid: u64) -> PathBuf {
    options.data_dir.join(format!("install.{zxid:016x}"))
}

#[test]
fn installing_a_snapshot_replaces_the_log_and_newer_snapshots() {
    let (_dir, options, mut storage) = ten_logged_txns();
    storage
        .write_snapshot(Zxid(9), &SnapshotBody::Bytes(b"old history".to_vec()))
        .expect("snapshot");
    storage
        .install_snapshot(Zxid(6), b"leader's state".to_vec())
        .expect("install");
    // The leader's transactions after the snapshot follow.
    storage.append(&txns(7..=8)).expect("append after install");
    storage.sync().expect("sync");
    drop(storage);
    let (_, recovered) = open(&options);
    let (zxid, body) = recovered.snapshot.expect("a snapshot");
    assert_eq!((zxid, body.as_slice()), (Zxid(6), &b"leader's state"[..]));
    let zxids: Vec<Zxid> = recovered.txns.iter().map(|t| t.zxid).collect();
    assert_eq!(
        zxids,
        vec![Zxid(7), Zxid(8)],
        "records of the replaced log came back"
    );
    assert!(!files(&options.data_dir)
        .iter()
        .any(|f| f.starts_with("install.")));
}

#[test]
fn recovery_finishes_an_install_interrupted_after_the_snapshot() {
    let (_dir, options, mut storage) = ten_logged_txns();
    // The crash came after step 2: marker and snapshot on disk, the old log still there.
    storage
        .write_snapshot(Zxid(6), &SnapshotBody::Bytes(b"leader's state".to_vec()))
        .expect("snapshot");
    drop(storage);
    fs::write(install_marker(&options, 6), b"").expect("marker");
    let (_, recovered) = open(&options);
    assert_eq!(recovered.snapshot.map(|(z, _)| z), Some(Zxid(6)));
    assert!(recovered.txns.is_empty(), "the replaced log was replayed");
}

#[test]
fn an_install_that_never_wrote_its_snapshot_keeps_the_old_state() {
    let (_dir, options, storage) = ten_logged_txns();
    drop(storage);
    fs::write(install_marker(&options, 6), b"").expect("marker");
    let (_, recovered) = open(&options);
    assert!(recovered.snapshot.is_none());
    assert_eq!(recovered.txns.len(), 10, "the old log was lost");
    assert!(!files(&options.data_dir)
        .iter()
        .any(|f| f.starts_with("install.")));
}
