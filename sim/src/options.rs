//! Every knob of a run, derived from its seed (swarm testing: each seed picks its own ensemble,
//! fault mix and parameters).

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
    /// The leader commits a proposal once its own log holds it, without a quorum.
    CommitWithoutQuorum,
    /// A leader proposes (and learners accept) an epoch without regard to the quorum's.
    AcceptStaleEpoch,
    /// A learner applies a DIFF's transactions again after a resync.
    DoubleApplyAfterResync,
}

impl Bug {
    /// Every plantable bug, with its `--bug` name.
    pub const ALL: [(&'static str, Bug); 6] = [
        ("ack-before-fsync", Bug::AckBeforeFsync),
        ("skip-ephemeral-removal", Bug::SkipEphemeralRemoval),
        ("read-before-own-write", Bug::ReadBeforeOwnWrite),
        ("commit-without-quorum", Bug::CommitWithoutQuorum),
        ("accept-stale-epoch", Bug::AcceptStaleEpoch),
        ("double-apply-after-resync", Bug::DoubleApplyAfterResync),
    ];

    /// Parses a `--bug` value.
    pub fn parse(s: &str) -> Option<Bug> {
        Bug::ALL.iter().find(|(n, _)| *n == s).map(|(_, b)| *b)
    }

    /// The `--bug` name.
    pub fn name(self) -> &'static str {
        Bug::ALL
            .iter()
            .find(|(_, b)| *b == self)
            .map_or("?", |(n, _)| n)
    }

    /// True for bugs that only replication can show (they need an ensemble and leader faults).
    pub fn needs_ensemble(self) -> bool {
        matches!(
            self,
            Bug::CommitWithoutQuorum | Bug::AcceptStaleEpoch | Bug::DoubleApplyAfterResync
        )
    }
}

/// Options of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The seed every other choice derives from.
    pub seed: u64,
    /// Voting servers (1, 3, 5 or 7).
    pub voters: usize,
    /// Observers (0-2; only with more than one voter).
    pub observers: usize,
    /// The servers' tickTime, ms.
    pub tick_ms: u32,
    /// initLimit, ticks.
    pub init_limit_ticks: u32,
    /// syncLimit, ticks.
    pub sync_limit_ticks: u32,
    /// Committed transactions a leader keeps for DIFFs (smaller means more SNAPs).
    pub history_txns_max: usize,
    /// Transactions between snapshots.
    pub snap_count: u64,
    /// Number of simulated clients.
    pub clients: usize,
    /// Number of register keys.
    pub keys: usize,
    /// Length of the fault phase, simulated ms.
    pub safety_ms: u64,
    /// Length of the healed phase in which every client must make progress, simulated ms.
    pub liveness_ms: u64,
    /// One-way network latency bounds, µs (clients and peers).
    pub latency_us_min: u64,
    /// Upper bound of the latency.
    pub latency_us_max: u64,
    /// Probability that one peer message is lost, which breaks its link.
    pub peer_loss_probability: f64,
    /// Time for both ends to notice a broken link, bounds in ms.
    pub link_detect_ms_max: u64,
    /// Mean simulated ms between partitions (symmetric or one-way; 0 = none).
    pub partition_interval_ms: u64,
    /// Mean length of a partition, ms.
    pub partition_ms_mean: u64,
    /// Mean simulated ms between link flaps (a random peer link breaks; 0 = none).
    pub flap_interval_ms: u64,
    /// Mean simulated ms between server pauses (GC-like stalls; 0 = none).
    pub pause_interval_ms: u64,
    /// Longest server pause, ms.
    pub pause_ms_max: u64,
    /// fsync latency bounds, µs.
    pub fsync_us_min: u64,
    /// Upper bound of fsync latency.
    pub fsync_us_max: u64,
    /// Mean simulated ms between server crashes during the safety phase (0 = none).
    pub crash_interval_ms: u64,
    /// Probability that a crash picks the current leader (when there is one).
    pub crash_leader_probability: f64,
    /// Probability that a server crashes soon after it is elected leader (during discovery
    /// or synchronization, ZAB's most delicate moments).
    pub new_leader_crash_probability: f64,
    /// Longest time from election to that crash, µs.
    pub new_leader_crash_us_max: u64,
    /// Longest time a crashed server stays down, ms.
    pub restart_ms_max: u64,
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

/// `interval` with probability `p`, else 0 (the fault is off).
fn maybe(rng: &mut ChaCha8Rng, p: f64, lo: u64, hi: u64) -> u64 {
    let on = chance(rng) < p;
    let v = range(rng, lo, hi);
    if on {
        v
    } else {
        0
    }
}

impl Options {
    /// Derives every option from `seed`.
    pub fn from_seed(seed: u64) -> Options {
        Options::from_seed_with_bug(seed, None)
    }

    /// Derives every option from `seed`; a planted bug biases the ensemble and faults towards
    /// those that expose it (replication bugs need several voters and leader faults).
    pub fn from_seed_with_bug(seed: u64, bug: Option<Bug>) -> Options {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x006f_7074_696f_6e73);
        let ensemble_bias = bug.is_some_and(Bug::needs_ensemble);
        let voters = match rng.next_u64() % 8 {
            _ if ensemble_bias => [3, 3, 5][(rng.next_u64() % 3) as usize],
            // A quorum of other durable copies masks a single server's early acknowledgement.
            _ if bug == Some(Bug::AckBeforeFsync) => 1,
            0 => 1,
            1..=3 => 3,
            4..=6 => 5,
            _ => 7,
        };
        let observers = if voters > 1 && rng.next_u64() % 3 == 0 {
            range(&mut rng, 1, 2) as usize
        } else {
            0
        };
        let tick_ms = range(&mut rng, 50, 200) as u32;
        let latency_us_min = range(&mut rng, 20, 500);
        let fsync_us_min = range(&mut rng, 50, 2_000);
        let multi = voters > 1;
        let faults = rng.next_u64() % 4; // bit 0: crashes, bit 1: connection drops
        let crash_p = if ensemble_bias { 1.0 } else { 0.5 };
        let mut o = Options {
            seed,
            voters,
            observers,
            tick_ms,
            init_limit_ticks: range(&mut rng, 5, 10) as u32,
            sync_limit_ticks: range(&mut rng, 2, 5) as u32,
            history_txns_max: range(&mut rng, 5, 500) as usize,
            snap_count: range(&mut rng, 50, 1_000),
            clients: range(&mut rng, 2, 20) as usize,
            keys: range(&mut rng, 1, 8) as usize,
            safety_ms: 20_000,
            liveness_ms: 10_000,
            latency_us_min,
            latency_us_max: latency_us_min + range(&mut rng, 0, 5_000),
            peer_loss_probability: if multi && rng.next_u64() % 3 == 0 {
                chance(&mut rng) * 0.002
            } else {
                0.0
            },
            link_detect_ms_max: range(&mut rng, 5, 1_000),
            partition_interval_ms: if multi {
                maybe(&mut rng, 0.5, 1_000, 8_000)
            } else {
                0
            },
            partition_ms_mean: range(&mut rng, 200, 4_000),
            flap_interval_ms: if multi {
                maybe(&mut rng, 0.3, 200, 5_000)
            } else {
                0
            },
            pause_interval_ms: maybe(&mut rng, 0.3, 1_000, 10_000),
            pause_ms_max: range(&mut rng, 10, 3_000),
            fsync_us_min,
            fsync_us_max: fsync_us_min + range(&mut rng, 0, 20_000),
            crash_interval_ms: if faults & 1 == 1 || chance(&mut rng) < crash_p - 0.5 {
                range(&mut rng, 500, 8_000)
            } else {
                0
            },
            crash_leader_probability: chance(&mut rng),
            new_leader_crash_probability: if multi && rng.next_u64() % 5 == 0 {
                chance(&mut rng) * 0.5
            } else {
                0.0
            },
            restart_ms_max: range(&mut rng, 100, 3_000),
            new_leader_crash_us_max: range(&mut rng, 1_000, 400_000),
            unsynced_survive_probability: chance(&mut rng),
            torn_tail_probability: chance(&mut rng) * 0.5,
            conn_drop_interval_ms: if faults & 2 == 2 {
                range(&mut rng, 300, 10_000)
            } else {
                0
            },
            session_timeout_ms: range(&mut rng, 2_000, 10_000) as i32,
            client_pause_probability: chance(&mut rng) * 0.2,
            bug,
        };
        if ensemble_bias {
            o.crash_interval_ms = o.crash_interval_ms.clamp(300, 3_000);
            o.crash_leader_probability = o.crash_leader_probability.max(0.5);
            o.new_leader_crash_probability = 0.5 + chance(&mut rng) * 0.4;
            // A server away across several elections misses the epochs they proposed.
            o.restart_ms_max = range(&mut rng, 1_000, 6_000);
            // Within a few round trips: in discovery, between LEADERINFO and NEWLEADER.
            o.new_leader_crash_us_max = 4 * o.latency_us_max;
            // A partition that isolates the leader lets it run alone until it notices.
            o.partition_interval_ms = range(&mut rng, 300, 1_500);
            o.partition_ms_mean = o.partition_ms_mean.max(1_000);
        }
        o
    }

    /// Every server, voters first: indexes `0..servers()`, server ids `1..=servers()`.
    pub fn servers(&self) -> usize {
        self.voters + self.observers
    }
}

impl fmt::Display for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seed={}", self.seed)?;
        writeln!(
            f,
            "  voters={} observers={} tick_ms={} init_limit_ticks={} sync_limit_ticks={} history_txns_max={} snap_count={}",
            self.voters, self.observers, self.tick_ms, self.init_limit_ticks,
            self.sync_limit_ticks, self.history_txns_max, self.snap_count
        )?;
        writeln!(f, "  clients={} keys={}", self.clients, self.keys)?;
        writeln!(
            f,
            "  safety_ms={} liveness_ms={}",
            self.safety_ms, self.liveness_ms
        )?;
        writeln!(
            f,
            "  latency_us={}..{} peer_loss_probability={:.4} link_detect_ms_max={}",
            self.latency_us_min,
            self.latency_us_max,
            self.peer_loss_probability,
            self.link_detect_ms_max
        )?;
        writeln!(
            f,
            "  partition_interval_ms={} partition_ms_mean={} flap_interval_ms={}",
            self.partition_interval_ms, self.partition_ms_mean, self.flap_interval_ms
        )?;
        writeln!(
            f,
            "  pause_interval_ms={} pause_ms_max={}",
            self.pause_interval_ms, self.pause_ms_max
        )?;
        writeln!(f, "  fsync_us={}..{}", self.fsync_us_min, self.fsync_us_max)?;
        writeln!(
            f,
            "  crash_interval_ms={} restart_ms_max={} crash_leader_probability={:.3} new_leader_crash_probability={:.3} new_leader_crash_us_max={} unsynced_survive_probability={:.3} torn_tail_probability={:.3}",
            self.crash_interval_ms, self.restart_ms_max, self.crash_leader_probability, self.new_leader_crash_probability, self.new_leader_crash_us_max,
            self.unsynced_survive_probability, self.torn_tail_probability
        )?;
        writeln!(
            f,
            "  conn_drop_interval_ms={} session_timeout_ms={} client_pause_probability={:.3}",
            self.conn_drop_interval_ms, self.session_timeout_ms, self.client_pause_probability
        )?;
        write!(f, "  bug={}", self.bug.map_or("none", Bug::name))
    }
}
