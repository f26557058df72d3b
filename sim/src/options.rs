//! Every knob of a run, derived from its seed (swarm testing: each seed picks its own fault mix).

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::fmt;

/// A protocol bug the simulator can plant in a run, to prove the checkers catch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// The server answers a write before its log record is durable.
    AckBeforeFsync,
    /// The server skips removing a session's ephemerals when the session expires.
    SkipEphemeralRemoval,
    /// The server answers a read before the same session's earlier write is applied.
    ReadBeforeOwnWrite,
}

impl Bug {
    /// Parses a `--bug` value.
    pub fn parse(s: &str) -> Option<Bug> {
        match s {
            "ack-before-fsync" => Some(Bug::AckBeforeFsync),
            "skip-ephemeral-removal" => Some(Bug::SkipEphemeralRemoval),
            "read-before-own-write" => Some(Bug::ReadBeforeOwnWrite),
            _ => None,
        }
    }
}

/// Options of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The seed every other choice derives from.
    pub seed: u64,
    /// Number of simulated clients.
    pub clients: usize,
    /// Number of register keys.
    pub keys: usize,
    /// Length of the fault phase, simulated ms.
    pub safety_ms: u64,
    /// Length of the healed phase in which every client must make progress, simulated ms.
    pub liveness_ms: u64,
    /// One-way network latency bounds, µs.
    pub latency_us_min: u64,
    /// Upper bound of the latency.
    pub latency_us_max: u64,
    /// fsync latency bounds, µs.
    pub fsync_us_min: u64,
    /// Upper bound of fsync latency.
    pub fsync_us_max: u64,
    /// Mean simulated ms between server crashes during the safety phase (0 = none).
    pub crash_interval_ms: u64,
    /// Probability that a record written but not fsynced survives a crash (prefix of the tail).
    pub unsynced_survive_probability: f64,
    /// Probability that a crash also corrupts the last record on disk (the checksum must cut it).
    pub torn_tail_probability: f64,
    /// Mean simulated ms between a client's connection drops (0 = none).
    pub conn_drop_interval_ms: u64,
    /// Session timeout clients ask for, ms.
    pub session_timeout_ms: i32,
    /// Probability that a client stops pinging for a while (its session may expire).
    pub client_pause_probability: f64,
    /// Planted bug, if any.
    pub bug: Option<Bug>,
}

fn range(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> u64 {
    lo + rng.next_u64() % (hi - lo + 1)
}

fn chance(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

impl Options {
    /// Derives every option from `seed`.
    pub fn from_seed(seed: u64) -> Options {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x006f_7074_696f_6e73);
        let latency_us_min = range(&mut rng, 20, 500);
        let fsync_us_min = range(&mut rng, 50, 2_000);
        let faults = rng.next_u64() % 4; // 0: none, 1: crashes, 2: connection drops, 3: both
        Options {
            seed,
            clients: range(&mut rng, 2, 20) as usize,
            keys: range(&mut rng, 1, 8) as usize,
            safety_ms: 20_000,
            liveness_ms: 10_000,
            latency_us_min,
            latency_us_max: latency_us_min + range(&mut rng, 0, 5_000),
            fsync_us_min,
            fsync_us_max: fsync_us_min + range(&mut rng, 0, 20_000),
            crash_interval_ms: if faults & 1 == 1 {
                range(&mut rng, 500, 8_000)
            } else {
                0
            },
            unsynced_survive_probability: chance(&mut rng),
            torn_tail_probability: chance(&mut rng) * 0.5,
            conn_drop_interval_ms: if faults & 2 == 2 {
                range(&mut rng, 300, 10_000)
            } else {
                0
            },
            session_timeout_ms: range(&mut rng, 2_000, 10_000) as i32,
            client_pause_probability: chance(&mut rng) * 0.2,
            bug: None,
        }
    }
}

impl fmt::Display for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seed={}", self.seed)?;
        writeln!(f, "  clients={} keys={}", self.clients, self.keys)?;
        writeln!(
            f,
            "  safety_ms={} liveness_ms={}",
            self.safety_ms, self.liveness_ms
        )?;
        writeln!(
            f,
            "  latency_us={}..{}",
            self.latency_us_min, self.latency_us_max
        )?;
        writeln!(f, "  fsync_us={}..{}", self.fsync_us_min, self.fsync_us_max)?;
        writeln!(
            f,
            "  crash_interval_ms={} unsynced_survive_probability={:.3} torn_tail_probability={:.3}",
            self.crash_interval_ms, self.unsynced_survive_probability, self.torn_tail_probability
        )?;
        writeln!(
            f,
            "  conn_drop_interval_ms={} session_timeout_ms={} client_pause_probability={:.3}",
            self.conn_drop_interval_ms, self.session_timeout_ms, self.client_pause_probability
        )?;
        write!(f, "  bug={:?}", self.bug)
    }
}
