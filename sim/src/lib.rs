//! # corral-sim
//!
//! A deterministic, discrete-event simulator for Corral. One seed derives every choice of a run:
//! its options (swarm testing: each seed picks its own ensemble of 1-7 voters and 0-2
//! observers, fault mix and parameters), network latencies, link breaks and partitions, fsync
//! times, crashes and what a crash leaves on disk, pauses, connection drops, client pauses and
//! every client operation. A run is a safety phase with faults, then a liveness phase without
//! them; checkers watch every node after every input and then judge the history and the final
//! state. The same seed replays the same run, which the trace hash shows.

#![forbid(unsafe_code)]

pub mod check;
pub mod clients;
pub mod disk;
pub mod election;
mod finish;
pub mod history;
pub mod lock;
pub mod network;
pub mod options;
mod peers;
pub mod server;
pub mod trace;
mod workload;
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
    /// Peer messages delivered.
    pub peer_messages: u64,
    /// The highest zxid committed.
    pub last_committed: i64,
    /// Lock acquisitions, and how many were released by an acknowledged delete.
    pub lock_holds: (usize, usize),
    /// Acknowledged sequential creates.
    pub seq_creates: usize,
    /// Leaders' terms begun, how many ended by a committed delete of their node, and how many
    /// of those by their session's close.
    pub election_terms: (usize, usize, usize),
    /// The trace lines, when kept.
    pub trace: Vec<String>,
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned())
}

/// Runs one seed with `options` and checks it.
pub fn run(options: Options, keep_trace: bool) -> RunReport {
    let mut world = World::new(options.clone(), keep_trace);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| world.run()));
    let mut violations = std::mem::take(&mut world.replicas.violations);
    match outcome {
        Ok(true) => violations.extend(final_checks(&world)),
        Ok(false) => violations.push(Violation {
            invariant: "run terminates",
            detail: "event limit reached".into(),
        }),
        Err(p) => violations.push(Violation {
            invariant: "no assertion fails",
            detail: format!(
                "panic at {} ms: {}",
                world.now / 1_000_000,
                panic_message(&*p)
            ),
        }),
    }
    for op in &world.history.ops {
        world
            .trace
            .mix(op.invoke_ns ^ op.complete_ns.unwrap_or(u64::MAX).rotate_left(17));
    }
    let last_committed = world.replicas.committed.last().map_or(0, |z| z.0);
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
        peer_messages: world.peer_messages,
        last_committed,
        lock_holds: (
            world.history.holds.len(),
            world
                .history
                .holds
                .iter()
                .filter(|h| h.released_zxid.is_some())
                .count(),
        ),
        seq_creates: world.history.seq_creates.len(),
        election_terms: world.election_terms(),
        trace: std::mem::take(&mut world.trace.lines),
        violations,
        options,
    }
}

/// The checks on the history and the final state.
fn final_checks(world: &World) -> Vec<Violation> {
    let mut violations = Vec::new();
    if !world.has_leader() {
        violations.push(Violation {
            invariant: "liveness: a leader is elected once faults stop",
            detail: "no server leads at the end".into(),
        });
    }
    match world.final_registers() {
        Some((state, zxid)) => {
            let committed = world.committed_writes();
            violations.extend(check::linearizable::check(
                &world.history,
                &state,
                zxid,
                &committed,
            ))
        }
        None => violations.push(Violation {
            invariant: "registers exist",
            detail: "no serving server, or a register is missing from its tree".into(),
        }),
    }
    violations.extend(check::sessions::check_monotonic(&world.history));
    violations.extend(check::sessions::check_ephemerals(&world.history));
    violations.extend(check::recipes::check_sequential(&world.history));
    violations.extend(check::recipes::check_lock(&world.history));
    let lives = world.election_lives();
    violations.extend(check::recipes::check_election(&world.history.terms, &lives));
    if let Some((children, last_zxid)) = world.final_election() {
        violations.extend(check::recipes::check_election_replay(
            &lives, &children, last_zxid,
        ));
    }
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
    violations
}
