//! Durability of the real binary: SIGKILL under load, torn and corrupted log tails, snapshots
//! and autopurge, and a full disk.
//!
//! Run with `CORRAL_BIN=<target>/debug/corral cargo test -p corral-tests --test durability`.

// End-to-end tests drive real processes over real sockets: they must read the wall clock
// (clippy.toml forbids that for the deterministic core and simulator).
#![allow(clippy::disallowed_methods)]

mod common;
mod raw;

use corral_tests::Server;
use raw::{create_all, read_all, Op, RawClient};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zookeeper_client as zk;

/// Sessions used by the crash tests: long enough to outlive a test phase.
const SESSION_TIMEOUT_MS: i32 = 10_000;

// ---------------------------------------------------------------------------------------------
// 1. SIGKILL in the middle of a write load.
// ---------------------------------------------------------------------------------------------

/// Concurrent sessions writing during each kill cycle.
const KILL_WORKERS: usize = 8;
/// Requests each worker keeps on the wire at once.
const KILL_WINDOW: usize = 16;
/// Kill / restart cycles in one test.
const KILL_CYCLES: usize = 3;
/// How long the load runs before the SIGKILL.
const KILL_LOAD: Duration = Duration::from_millis(1500);

/// What became of one issued write.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// A success reply arrived, carrying this zxid.
    Acked { zxid: i64 },
    /// Sent (or about to be), no reply before the connection died.
    InFlight,
}

/// One write issued by a worker, in issue order.
#[derive(Debug, Clone)]
struct Issued {
    /// The index of the node in its worker's directory.
    node: usize,
    /// Whether it is the node's create (else a setData).
    create: bool,
    value: Vec<u8>,
    outcome: Outcome,
}

/// The op a worker issues `k`-th: even ones create node k/2, odd ones set an earlier node.
fn kill_op(cycle: usize, worker: usize, k: usize) -> (usize, bool, Vec<u8>) {
    let value = format!("c{cycle}w{worker}k{k}").into_bytes();
    match k % 2 {
        0 => (k / 2, true, value),
        _ => ((k - 1) / 4, false, value),
    }
}

fn kill_dir(cycle: usize, worker: usize) -> String {
    format!("/kill/c{cycle}/w{worker}")
}

fn node_path(dir: &str, node: usize) -> String {
    format!("{dir}/n{node:06}")
}

/// Writes as fast as the window allows until the connection dies; returns every write issued.
fn kill_worker(addr: String, cycle: usize, worker: usize, started: Arc<AtomicBool>) -> Vec<Issued> {
    let mut client = RawClient::connect(&addr, SESSION_TIMEOUT_MS).expect("worker connects");
    let dir = kill_dir(cycle, worker);
    let mut issued: Vec<Issued> = Vec::new();
    started.store(true, Ordering::SeqCst);
    loop {
        let first = issued.len();
        let mut ops = Vec::with_capacity(KILL_WINDOW);
        for k in first..first + KILL_WINDOW {
            let (node, create, value) = kill_op(cycle, worker, k);
            let path = node_path(&dir, node);
            ops.push(if create {
                Op::Create {
                    path,
                    data: value.clone(),
                }
            } else {
                Op::SetData {
                    path,
                    data: value.clone(),
                }
            });
            issued.push(Issued {
                node,
                create,
                value,
                outcome: Outcome::InFlight,
            });
        }
        let Ok(xids) = client.send(&ops) else {
            return issued;
        };
        for (offset, xid) in xids.into_iter().enumerate() {
            let reply = match client.recv() {
                Ok(reply) => reply,
                Err(error) => {
                    assert_ne!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock,
                        "worker {worker}: no reply within {:?} while the server ran",
                        raw::READ_TIMEOUT
                    );
                    return issued;
                }
            };
            assert_eq!(reply.xid, xid, "worker {worker}: replies out of order");
            assert_eq!(
                reply.err,
                0,
                "worker {worker}: write {} failed",
                first + offset
            );
            issued[first + offset].outcome = Outcome::Acked { zxid: reply.zxid };
        }
    }
}

/// Checks one worker's writes against the restarted server; returns how many writes that were
/// in flight at the kill survived it.
fn verify_worker(client: &mut RawClient, cycle: usize, worker: usize, issued: &[Issued]) -> usize {
    let dir = kill_dir(cycle, worker);
    let nodes = issued.iter().map(|w| w.node + 1).max().unwrap_or(0);
    // Each node's writes in issue order: index 0 is the create, index m the m-th set.
    let mut per_node: Vec<Vec<usize>> = vec![Vec::new(); nodes];
    for (k, write) in issued.iter().enumerate() {
        assert_eq!(write.create, per_node[write.node].is_empty());
        per_node[write.node].push(k);
    }
    let paths: Vec<String> = (0..nodes).map(|n| node_path(&dir, n)).collect();
    let found = read_all(client, &paths);
    let mut landed = vec![false; issued.len()];
    let (mut children, mut pzxid_max) = (0, 0);
    for (node, state) in found.iter().enumerate() {
        let writes = &per_node[node];
        let last_acked = writes
            .iter()
            .rposition(|&k| matches!(issued[k].outcome, Outcome::Acked { .. }));
        let Some((data, stat)) = state else {
            assert!(
                last_acked.is_none(),
                "{}: acknowledged writes {:?} lost",
                paths[node],
                writes
            );
            continue;
        };
        children += 1;
        pzxid_max = pzxid_max.max(stat.czxid);
        let m = writes
            .iter()
            .position(|&k| &issued[k].value == data)
            .unwrap_or_else(|| panic!("{}: value {data:?} was never written", paths[node]));
        if let Some(acked) = last_acked {
            assert!(
                m >= acked,
                "{}: holds write #{m} but write #{acked} was acknowledged",
                paths[node]
            );
        }
        assert_eq!(stat.version as usize, m, "{}: version", paths[node]);
        if let Outcome::Acked { zxid } = issued[writes[m]].outcome {
            assert_eq!(stat.mzxid, zxid, "{}: mzxid of its last write", paths[node]);
        }
        if let Outcome::Acked { zxid } = issued[writes[0]].outcome {
            assert_eq!(stat.czxid, zxid, "{}: czxid", paths[node]);
        }
        for &k in &writes[..=m] {
            landed[k] = true;
        }
    }
    // One session's writes are logged in order, so what survived is a prefix of what was sent.
    let survived = landed.iter().take_while(|l| **l).count();
    assert!(
        landed[survived..].iter().all(|l| !l),
        "worker {worker}: writes after #{survived} survived although #{survived} did not"
    );
    let parent = read_all(client, std::slice::from_ref(&dir));
    let (_, stat) = parent[0].clone().expect("worker directory exists");
    assert_eq!(stat.num_children, children, "{dir}: numChildren");
    assert_eq!(stat.cversion, children, "{dir}: cversion (creates only)");
    if children > 0 {
        assert_eq!(
            stat.pzxid, pzxid_max,
            "{dir}: pzxid is the last child's czxid"
        );
    }
    landed
        .iter()
        .zip(issued)
        .filter(|(l, w)| **l && w.outcome == Outcome::InFlight)
        .count()
}

/// Returns (acknowledged, in flight) counts.
fn tally(issued: &[Issued]) -> (usize, usize) {
    let acked = issued
        .iter()
        .filter(|w| matches!(w.outcome, Outcome::Acked { .. }))
        .count();
    (acked, issued.len() - acked)
}

#[test]
fn sigkill_under_write_load_keeps_every_acknowledged_write() {
    let mut server = Server::start("");
    let mut history: Vec<Vec<Vec<Issued>>> = Vec::new();
    let mut setup = RawClient::connect(&server.addr(), SESSION_TIMEOUT_MS).expect("connect");
    create_all(&mut setup, &["/kill".to_owned()]);
    drop(setup);
    for cycle in 0..KILL_CYCLES {
        let mut setup = RawClient::connect(&server.addr(), SESSION_TIMEOUT_MS).expect("connect");
        let mut dirs = vec![format!("/kill/c{cycle}")];
        dirs.extend((0..KILL_WORKERS).map(|w| kill_dir(cycle, w)));
        create_all(&mut setup, &dirs);
        drop(setup);

        let started: Vec<Arc<AtomicBool>> = (0..KILL_WORKERS)
            .map(|_| Arc::new(AtomicBool::new(false)))
            .collect();
        let workers: Vec<_> = (0..KILL_WORKERS)
            .map(|w| {
                let (addr, flag) = (server.addr(), started[w].clone());
                std::thread::spawn(move || kill_worker(addr, cycle, w, flag))
            })
            .collect();
        let load_start = Instant::now();
        while !started.iter().all(|f| f.load(Ordering::SeqCst)) {
            assert!(
                load_start.elapsed() < Duration::from_secs(10),
                "workers start"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(KILL_LOAD);
        server.kill();
        let load_ms = load_start.elapsed().as_millis().max(1);
        let issued: Vec<Vec<Issued>> = workers
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .collect();
        let (acked, in_flight) = issued
            .iter()
            .map(|w| tally(w))
            .fold((0, 0), |(a, f), (x, y)| (a + x, f + y));
        assert!(acked > 0, "cycle {cycle}: no write was acknowledged");
        assert!(
            in_flight > 0,
            "cycle {cycle}: the kill caught no write in flight"
        );

        let restart_start = Instant::now();
        server.restart();
        let restart_ms = restart_start.elapsed().as_millis();
        println!(
            "cycle {cycle}: {acked} writes acknowledged in {load_ms} ms ({} per s), \
             {in_flight} in flight at the kill, restart {restart_ms} ms",
            acked as u128 * 1000 / load_ms
        );
        history.push(issued);
        // Every cycle so far must still hold: later crashes must not disturb earlier writes.
        let mut client = RawClient::connect(&server.addr(), SESSION_TIMEOUT_MS).expect("connect");
        let mut survived = 0;
        for (c, cycle_writes) in history.iter().enumerate() {
            for (w, writes) in cycle_writes.iter().enumerate() {
                let landed = verify_worker(&mut client, c, w, writes);
                if c == cycle {
                    survived += landed;
                }
            }
        }
        println!("cycle {cycle}: {survived} of the {in_flight} writes in flight survived the kill");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Snapshots and autopurge.
// ---------------------------------------------------------------------------------------------

/// zoo.cfg lines for the snapshot tests.
const SNAPSHOT_CFG: &str = "snapCount=100\nautopurge.snapRetainCount=3\nautopurge.purgeInterval=1";
/// Nodes written by the snapshot tests; each is created then set, so twice as many txns.
const SNAPSHOT_NODES: usize = 500;

/// Creates `/snap/nXXX` for every node then sets each once, pipelined 64 at a time.
async fn write_snapshot_load(client: &zk::Client) {
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    common::bounded("create /snap", client.create("/snap", b"", &options))
        .await
        .expect("create /snap");
    let paths: Vec<String> = (0..SNAPSHOT_NODES)
        .map(|i| format!("/snap/n{i:03}"))
        .collect();
    for chunk in paths.chunks(64) {
        let pending: Vec<_> = chunk
            .iter()
            .map(|p| client.create(p, p.as_bytes(), &options))
            .collect();
        for (future, path) in pending.into_iter().zip(chunk) {
            common::bounded("create", future)
                .await
                .unwrap_or_else(|e| panic!("create {path}: {e}"));
        }
    }
    for chunk in paths.chunks(64) {
        let pending: Vec<_> = chunk
            .iter()
            .map(|p| client.set_data(p, format!("{p}=set").as_bytes(), Some(0)))
            .collect();
        for (future, path) in pending.into_iter().zip(chunk) {
            common::bounded("setData", future)
                .await
                .unwrap_or_else(|e| panic!("setData {path}: {e}"));
        }
    }
}

/// Writes rounds of more than snapCount txns until `data` holds at least `count` snapshots. A
/// snapshot asked for while another is being written is replaced by the newer one (the newest
/// always lands), so how many land during a burst depends on timing: each round waits for its
/// own snapshot before the next.
async fn write_until_snapshots(client: &zk::Client, data: &Path, count: usize) {
    let mut round = 0;
    loop {
        let seen = common::named_files(data, "snapshot.").len();
        if seen >= count {
            return;
        }
        round += 1;
        assert!(round <= count + 1, "no snapshot after {round} rounds");
        rewrite_snapshot_nodes(client, 150, round).await;
        common::wait_until("a new snapshot on disk", Duration::from_secs(10), || {
            common::named_files(data, "snapshot.").len() > seen
        })
        .await;
    }
}

/// Sets the first `count` nodes of [`write_snapshot_load`] again (one txn each).
async fn rewrite_snapshot_nodes(client: &zk::Client, count: usize, round: usize) {
    for i in 0..count {
        let path = format!("/snap/n{i:03}");
        common::bounded(
            "setData",
            client.set_data(&path, format!("round {round}").as_bytes(), None),
        )
        .await
        .unwrap_or_else(|e| panic!("setData {path}: {e}"));
    }
}

#[tokio::test]
async fn snapshots_are_written_and_restart_recovers_from_snapshot_and_log() {
    let mut server = Server::start(SNAPSHOT_CFG);
    let client = common::connect(&server, Duration::from_secs(10)).await;
    write_snapshot_load(&client).await;
    let data = common::data_dir(&server);
    write_until_snapshots(&client, &data, 3).await;
    let snapshots = common::named_files(&data, "snapshot.");
    let segments = common::named_files(&data, "log.");
    println!(
        "{} snapshots, {} log segments after {} txns",
        snapshots.len(),
        segments.len(),
        2 * SNAPSHOT_NODES + 2 + 300
    );
    assert!(segments.len() > 1, "each snapshot rolls the log");
    let before = common::dump(&client, "/").await;
    drop(client);

    // A clean stop, then a crash: both restarts must rebuild the same tree from the newest
    // snapshot plus the log after it.
    for crash in [false, true] {
        if crash {
            server.kill();
            server.restart();
        } else {
            assert_eq!(server.terminate(), Some(0), "SIGTERM exit code");
            server.restart();
        }
        let log = server.log();
        assert!(log.contains("snapshot loaded"), "no snapshot used:\n{log}");
        let client = common::connect(&server, Duration::from_secs(10)).await;
        let after = common::dump(&client, "/").await;
        common::assert_same_tree(&before, &after);
        drop(client);
    }
    // Autopurge runs at every startup (as ZooKeeper's DatadirCleanupManager), keeping at least
    // snapRetainCount snapshots; the restarts above may have purged older ones.
    let kept = common::named_files(&data, "snapshot.").len();
    assert!(
        (3..=snapshots.len()).contains(&kept),
        "{kept} snapshots left of {}",
        snapshots.len()
    );
}

/// ZooKeeper's DatadirCleanupManager schedules the purge task with delay 0, so a restart with
/// `autopurge.purgeInterval` set purges at once down to `snapRetainCount` snapshots.
#[tokio::test]
async fn autopurge_runs_at_startup_like_zookeeper() {
    let mut server = Server::start(SNAPSHOT_CFG);
    let client = common::connect(&server, Duration::from_secs(10)).await;
    write_snapshot_load(&client).await;
    let data = common::data_dir(&server);
    // More snapshots than snapRetainCount, or the purge below would have nothing to do.
    write_until_snapshots(&client, &data, 5).await;
    drop(client);
    assert_eq!(server.terminate(), Some(0), "SIGTERM exit code");
    server.restart();
    common::wait_until("startup purge", Duration::from_secs(10), || {
        common::named_files(&data, "snapshot.").len() <= 3
    })
    .await;
    let client = common::connect(&server, Duration::from_secs(10)).await;
    let after = common::dump(&client, "/snap").await;
    assert_eq!(after.len(), SNAPSHOT_NODES + 1, "purge lost state");
}

// ---------------------------------------------------------------------------------------------
// 4. Torn or corrupted log tail on the real binary.
// ---------------------------------------------------------------------------------------------

/// How the last log record is damaged.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// Cut the file in the middle of the record's payload (a torn write).
    Truncate,
    /// Flip one byte of the record's payload (a checksum failure).
    FlipByte,
}

/// The offset of every record in a segment (`[u32 LE length][u32 LE crc32c][payload]`), and
/// where the records end: the newest segment may go on with zeros (it was preallocated).
fn record_starts(bytes: &[u8]) -> (Vec<usize>, usize) {
    let mut starts = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() && bytes[at..at + 8] != [0; 8] {
        starts.push(at);
        let length = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        at += 8 + length as usize;
    }
    assert!(
        bytes[at.min(bytes.len())..].iter().all(|&b| b == 0),
        "the records end on a record boundary, followed by nothing or zeros"
    );
    (starts, at)
}

/// Damages the newest segment's last record, which must be the txn that mentions `marker`.
fn damage_last_record(data: &Path, marker: &[u8], damage: Damage) {
    let segment = common::named_files(data, "log.")
        .pop()
        .expect("a log segment exists");
    let mut bytes = std::fs::read(&segment).expect("read segment");
    let (starts, end) = record_starts(&bytes);
    let last = *starts.last().expect("a record");
    assert!(
        bytes[last..end].windows(marker.len()).any(|w| w == marker),
        "the last record is not the txn of {}",
        String::from_utf8_lossy(marker)
    );
    let middle = last + 8 + (end - last - 8) / 2;
    match damage {
        Damage::Truncate => bytes.truncate(middle),
        Damage::FlipByte => bytes[middle] ^= 0x5a,
    }
    std::fs::write(&segment, &bytes).expect("write segment");
}

async fn damaged_tail_is_cut(damage: Damage) {
    const NODES: usize = 20;
    let mut server = Server::start("");
    let client = common::connect_detached(&server, Duration::from_secs(10)).await;
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let paths: Vec<String> = std::iter::once("/torn".to_owned())
        .chain((0..NODES).map(|i| format!("/torn/n{i:02}")))
        .chain(std::iter::once("/torn/last".to_owned()))
        .collect();
    for path in &paths {
        common::bounded("create", client.create(path, path.as_bytes(), &options))
            .await
            .unwrap_or_else(|e| panic!("create {path}: {e}"));
    }
    let before = common::dump(&client, "/torn").await;
    // Detached: dropping the client writes nothing, so the create of /torn/last stays last.
    drop(client);
    server.kill();
    damage_last_record(&common::data_dir(&server), b"/torn/last", damage);

    server.restart();
    let log = server.log();
    assert!(
        log.contains("log: bad record, cutting the log here"),
        "no warning about the cut ({damage:?}):\n{log}"
    );
    let client = common::connect(&server, Duration::from_secs(10)).await;
    let after = common::dump(&client, "/torn").await;
    for path in &paths[1..=NODES] {
        assert_eq!(before.get(path), after.get(path), "{path} after the cut");
    }
    assert!(
        !after.contains_key("/torn/last"),
        "the damaged record was applied"
    );
    let parent = &after["/torn"];
    let last_child = &before[&paths[NODES]];
    assert_eq!(parent.stat.num_children, NODES as i32);
    assert_eq!(parent.stat.cversion, NODES as i32);
    assert_eq!(parent.stat.pzxid, last_child.stat.czxid);
    // The server writes again and the zxids continue from the cut: the new session took the lost
    // record's zxid, this create the next. The repaired log must then be stable.
    let (stat, _) = common::bounded("create", client.create("/torn/after", b"", &options))
        .await
        .expect("create after the cut");
    assert_eq!(stat.czxid, before["/torn/last"].stat.czxid + 1);
    let expected = common::dump(&client, "/torn").await;
    drop(client);
    assert_eq!(server.terminate(), Some(0));
    server.restart();
    assert!(!server.log().contains("bad record"), "{}", server.log());
    let client = common::connect(&server, Duration::from_secs(10)).await;
    common::assert_same_tree(&expected, &common::dump(&client, "/torn").await);
}

#[tokio::test]
async fn torn_log_tail_is_cut_with_a_warning() {
    damaged_tail_is_cut(Damage::Truncate).await;
}

#[tokio::test]
async fn flipped_byte_in_last_record_is_cut_with_a_warning() {
    damaged_tail_is_cut(Damage::FlipByte).await;
}
