//! The simulator replays exactly, passes on the real code, and catches planted bugs.

use corral_sim::options::{Bug, Options};

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
    for seed in 0..12 {
        let report = corral_sim::run(short(seed), false);
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
        assert!(report.ops_ok > 100, "seed {seed} did almost nothing");
        ensembles += usize::from(report.options.voters > 1);
    }
    assert!(ensembles >= 6, "the swarm should mostly run ensembles");
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
