//! The simulator replays exactly, passes on the real code, and catches planted bugs.

use corral_sim::check::recipes::{check_election, check_election_replay};
use corral_sim::election::{node_lives, ElectionTxn, NodeLife, Term};
use corral_sim::options::{Bug, Options};
use std::collections::BTreeMap;

fn shorten(mut o: Options) -> Options {
    o.safety_ms = 6_000;
    o.liveness_ms = 6_000;
    o
}

fn short(seed: u64) -> Options {
    shorten(Options::from_seed(seed))
}

/// The first seed below `seeds` whose run with `bug` planted breaks an invariant.
fn caught_within(bug: Bug, seeds: u64, tweak: impl Fn(&mut Options)) -> Option<u64> {
    (0..seeds).find(|&seed| {
        let mut o = shorten(Options::from_seed_with_bug(seed, Some(bug)));
        tweak(&mut o);
        let report = corral_sim::run(o, false);
        if let Some(v) = report.violations.first() {
            eprintln!("{}: seed {seed}: {v}", bug.name());
        }
        !report.violations.is_empty()
    })
}

#[test]
fn a_seed_replays_bit_for_bit() {
    // Seed 2 is a seven-voter ensemble.
    let a = corral_sim::run(short(2), false);
    let b = corral_sim::run(short(2), true);
    assert!(a.options.voters > 1);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.ops, b.ops);
    let c = corral_sim::run(short(3), false);
    assert_ne!(a.trace_hash, c.trace_hash, "different seeds, same run");
}

#[test]
fn real_code_passes_a_small_swarm() {
    let mut ensembles = 0;
    let (mut terms, mut ended) = (0, 0);
    for seed in 0..12 {
        let report = corral_sim::run(short(seed), false);
        terms += report.election_terms.0;
        ended += report.election_terms.1;
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
        assert!(report.ops_ok > 100, "seed {seed} did almost nothing");
        ensembles += usize::from(report.options.voters > 1);
    }
    assert!(ensembles >= 6, "the swarm should mostly run ensembles");
    // The election checker has terms to judge, and some of them end.
    assert!(terms >= 12 && ended > 0, "{terms} terms, {ended} ended");
}

#[test]
fn planted_ack_before_fsync_is_caught_within_twenty_seeds() {
    // Crashes are what expose the bug: force them in this test's runs.
    let caught = caught_within(Bug::AckBeforeFsync, 20, |o| {
        o.crash_interval_ms = o.crash_interval_ms.clamp(1, 1_500);
    });
    assert!(
        caught.is_some(),
        "acknowledging before fsync went unnoticed"
    );
}

#[test]
fn planted_skip_ephemeral_removal_is_caught_within_twenty_seeds() {
    // Session expiry is what exposes the bug: make clients pause past their timeouts.
    let caught = caught_within(Bug::SkipEphemeralRemoval, 20, |o| {
        o.client_pause_probability = o.client_pause_probability.max(0.1);
    });
    assert!(
        caught.is_some(),
        "ephemerals outliving their sessions went unnoticed"
    );
}

#[test]
fn planted_read_before_own_write_is_caught_within_twenty_seeds() {
    let caught = caught_within(Bug::ReadBeforeOwnWrite, 20, |_| {});
    assert!(
        caught.is_some(),
        "a read overtaking its session's write went unnoticed"
    );
}

#[test]
fn planted_commit_without_quorum_is_caught_within_twenty_seeds() {
    let caught = caught_within(Bug::CommitWithoutQuorum, 20, |_| {});
    assert!(caught.is_some(), "commits without a quorum went unnoticed");
}

#[test]
fn planted_accept_stale_epoch_is_caught_within_forty_seeds() {
    // Rarer: it only matters when the elected leader missed an epoch its quorum accepted
    // (failed discoveries while it was away); new-leader crashes make that happen.
    let caught = caught_within(Bug::AcceptStaleEpoch, 40, |_| {});
    assert!(caught.is_some(), "a stale epoch went unnoticed");
}

#[test]
fn planted_double_apply_after_resync_is_caught_within_twenty_seeds() {
    let caught = caught_within(Bug::DoubleApplyAfterResync, 20, |_| {});
    assert!(caught.is_some(), "applying a DIFF twice went unnoticed");
}

fn term(client: usize, node: &str, start_zxid: i64) -> Term {
    let node = format!("/election/{node}");
    let session = client as i64 + 100;
    Term {
        client,
        session,
        node,
        start_zxid,
    }
}

fn life(owner: i64, created_zxid: i64, deleted_zxid: Option<i64>, closed: bool) -> NodeLife {
    NodeLife {
        owner,
        created_zxid,
        deleted_zxid,
        closed,
    }
}

#[test]
fn the_election_checker_catches_two_leaders() {
    // Client 0 leads from 0x10 until its session's close commits at 0x30.
    let mut lives = BTreeMap::new();
    lives.insert(
        "/election/c0-0000000000".into(),
        life(100, 0x5, Some(0x30), true),
    );
    lives.insert(
        "/election/c1-0000000001".into(),
        life(101, 0x6, Some(0x50), false),
    );
    let first = term(0, "c0-0000000000", 0x10);
    // A correct successor starts at or after the close.
    let fine = [first.clone(), term(1, "c1-0000000001", 0x30)];
    assert!(check_election(&fine, &lives).is_empty());
    // A successor seeing itself lowest before the close commits (as a client that trusted its
    // own view, or a server answering from a state no replica committed, would): two leaders.
    let broken = [first.clone(), term(1, "c1-0000000001", 0x20)];
    let found = check_election(&broken, &lives);
    assert!(!found.is_empty());
    assert!(found
        .iter()
        .any(|v| v.detail.contains("during client 0's term")));
    // A term that starts before its own node's create.
    let early = [term(1, "c1-0000000001", 0x4)];
    assert!(!check_election(&early, &lives).is_empty());
    // A term whose node's create never committed.
    let ghost = [term(2, "c2-0000000002", 0x40)];
    assert!(!check_election(&ghost, &lives).is_empty());
}

#[test]
fn the_election_replay_matches_the_final_tree() {
    let lives: Vec<(i64, Vec<ElectionTxn>)> = vec![
        (
            3,
            vec![ElectionTxn::Create {
                path: "/election/c0-0000000000".into(),
                owner: 7,
            }],
        ),
        (
            4,
            vec![ElectionTxn::Create {
                path: "/election/c1-0000000001".into(),
                owner: 8,
            }],
        ),
        (9, vec![ElectionTxn::Close { session: 7 }]),
    ];
    let lives = node_lives(lives.iter().map(|(z, e)| (*z, e.as_slice())));
    assert_eq!(lives["/election/c0-0000000000"].deleted_zxid, Some(9));
    assert!(lives["/election/c0-0000000000"].closed);
    assert_eq!(lives["/election/c1-0000000001"].deleted_zxid, None);
    let tree = vec!["c1-0000000001".to_owned()];
    assert!(check_election_replay(&lives, &tree, 10).is_empty());
    // A close that left the ephemeral in the tree.
    let stale = vec!["c0-0000000000".to_owned(), "c1-0000000001".to_owned()];
    assert!(!check_election_replay(&lives, &stale, 10).is_empty());
}
