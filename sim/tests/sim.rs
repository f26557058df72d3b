//! The simulator replays exactly, passes on the real code, and catches planted bugs.

use corral_sim::options::{Bug, Options};

fn short(seed: u64) -> Options {
    let mut o = Options::from_seed(seed);
    o.safety_ms = 6_000;
    o.liveness_ms = 4_000;
    o
}

#[test]
fn a_seed_replays_bit_for_bit() {
    let a = corral_sim::run(short(42), false);
    let b = corral_sim::run(short(42), true);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.ops, b.ops);
    let c = corral_sim::run(short(43), false);
    assert_ne!(a.trace_hash, c.trace_hash, "different seeds, same run");
}

#[test]
fn real_code_passes_a_small_swarm() {
    for seed in 0..12 {
        let report = corral_sim::run(short(seed), false);
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
        assert!(report.ops_ok > 100, "seed {seed} did almost nothing");
    }
}

#[test]
fn planted_ack_before_fsync_is_caught_within_twenty_seeds() {
    let caught = (0..20).find(|&seed| {
        let mut o = short(seed);
        o.bug = Some(Bug::AckBeforeFsync);
        // Crashes are what expose the bug: force them in this test's runs.
        o.crash_interval_ms = o.crash_interval_ms.clamp(1, 1_500);
        !corral_sim::run(o, false).violations.is_empty()
    });
    assert!(
        caught.is_some(),
        "acknowledging before fsync went unnoticed for 20 seeds"
    );
}

#[test]
fn planted_skip_ephemeral_removal_is_caught_within_twenty_seeds() {
    let caught = (0..20).find(|&seed| {
        let mut o = short(seed);
        o.bug = Some(Bug::SkipEphemeralRemoval);
        // Session expiry is what exposes the bug: make clients pause past their timeouts.
        o.client_pause_probability = o.client_pause_probability.max(0.1);
        !corral_sim::run(o, false).violations.is_empty()
    });
    assert!(
        caught.is_some(),
        "ephemerals outliving their sessions went unnoticed for 20 seeds"
    );
}

#[test]
fn planted_read_before_own_write_is_caught_within_twenty_seeds() {
    let caught = (0..20).find(|&seed| {
        let mut o = short(seed);
        o.bug = Some(Bug::ReadBeforeOwnWrite);
        !corral_sim::run(o, false).violations.is_empty()
    });
    assert!(
        caught.is_some(),
        "a read overtaking its session's write went unnoticed"
    );
}
