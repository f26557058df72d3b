//! # corral-sim
//!
//! A deterministic, discrete-event simulator for Corral. One seed derives every choice of a run:
//! its options (swarm testing: each seed picks its own fault mix), network latencies, fsync
//! times, crashes and what a crash leaves on disk, connection drops, client pauses and every
//! client operation. A run is a safety phase with faults, then a liveness phase without them;
//! checkers then judge the history and the final state. The same seed replays the same run,
//! which the trace hash shows.
//!
//! Today the simulated ensemble is one server (ZooKeeper standalone); replication comes with ZAB.

#![forbid(unsafe_code)]

pub mod check;
pub mod clients;
pub mod disk;
pub mod history;
pub mod options;
pub mod trace;
pub mod world;

use check::Violation;
use options::Options;
use world::World;

/// What one run produced.
#[derive(Debug)]
pub struct RunReport {
    /// The options it ran with.
    pub options: Options,
    /// Hash of the trace and the history: equal for two runs of one seed.
    pub trace_hash: u64,
    /// Broken invariants.
    pub violations: Vec<Violation>,
    /// Client operations issued.
    pub ops: usize,
    /// Operations answered with success.
    pub ops_ok: usize,
    /// Server crashes.
    pub crashes: u64,
    /// fsyncs completed.
    pub fsyncs: u64,
    /// The trace lines, when kept.
    pub trace: Vec<String>,
}

/// Runs one seed with `options` and checks it.
pub fn run(options: Options, keep_trace: bool) -> RunReport {
    let mut world = World::new(options.clone(), keep_trace);
    let finished = world.run();
    let mut violations = Vec::new();
    if !finished {
        violations.push(Violation {
            invariant: "run terminates",
            detail: "event limit reached".into(),
        });
    }
    match world.final_registers() {
        Some(state) => violations.extend(check::linearizable::check(&world.history, &state)),
        None => violations.push(Violation {
            invariant: "registers exist",
            detail: "a register is missing from the final tree".into(),
        }),
    }
    violations.extend(check::sessions::check_monotonic(&world.history));
    violations.extend(check::sessions::check_ephemerals(&world.history));
    for v in world.history.watch_violations.iter().take(5) {
        violations.push(Violation {
            invariant: "watches fire once, before the data that triggered them",
            detail: v.clone(),
        });
    }
    for path in world.orphan_ephemerals().into_iter().take(5) {
        violations.push(Violation {
            invariant: "ephemerals end with their session",
            detail: format!("{path} outlived its session"),
        });
    }
    for (c, client) in world.clients.iter().enumerate() {
        let before = world.liveness_baseline.get(c).copied().unwrap_or(0);
        if client.completed_ok <= before {
            violations.push(Violation {
                invariant: "liveness: every client progresses once faults stop",
                detail: format!("client {c} completed nothing in the liveness phase"),
            });
        }
    }
    for op in &world.history.ops {
        world
            .trace
            .mix(op.invoke_ns ^ op.complete_ns.unwrap_or(u64::MAX).rotate_left(17));
    }
    RunReport {
        trace_hash: world.trace.hash(),
        ops: world.history.ops.len(),
        ops_ok: world
            .history
            .ops
            .iter()
            .filter(|o| matches!(o.outcome, history::Outcome::Ok { .. }))
            .count(),
        crashes: world.crashes,
        fsyncs: world.fsyncs(),
        trace: std::mem::take(&mut world.trace.lines),
        violations,
        options,
    }
}
