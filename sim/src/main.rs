//! `corral-sim`: run one seed (`--seed 42`) or a swarm (`--seeds 0..10000`).

use clap::Parser;
use corral_sim::options::{Bug, Options};
use std::process::ExitCode;

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(
    name = "corral-sim",
    about = "Deterministic simulation of Corral with fault injection"
)]
struct Args {
    /// Run this one seed, printing its options, a summary and the trace hash.
    #[arg(long)]
    seed: Option<u64>,
    /// Run a range of seeds, `start..end`.
    #[arg(long)]
    seeds: Option<String>,
    /// Plant a known bug: ack-before-fsync, skip-ephemeral-removal, read-before-own-write,
    /// commit-without-quorum, accept-stale-epoch, double-apply-after-resync.
    #[arg(long)]
    bug: Option<String>,
    /// Write the trace of a single run to this file.
    #[arg(long)]
    trace: Option<std::path::PathBuf>,
    /// Override the seed's number of voters (1, 3, 5 or 7).
    #[arg(long)]
    voters: Option<usize>,
    /// Override the seed's number of clients.
    #[arg(long)]
    clients: Option<usize>,
    /// Override the length of the safety phase, simulated ms.
    #[arg(long)]
    safety_ms: Option<u64>,
    /// Override the length of the liveness phase, simulated ms.
    #[arg(long)]
    liveness_ms: Option<u64>,
}

impl Args {
    /// The options of `seed`, with the overrides given on the command line.
    fn options(&self, seed: u64, bug: Option<Bug>) -> Options {
        let mut o = Options::from_seed_with_bug(seed, bug);
        if let Some(v) = self.voters {
            o.voters = v.max(1);
            if o.voters == 1 {
                o.observers = 0;
            }
        }
        if let Some(c) = self.clients {
            o.clients = c.max(1);
        }
        o.safety_ms = self.safety_ms.unwrap_or(o.safety_ms);
        o.liveness_ms = self.liveness_ms.unwrap_or(o.liveness_ms);
        o
    }

    /// The overrides, as command-line flags (for the replay line).
    fn override_flags(&self) -> String {
        let mut out = String::new();
        let flags = [
            ("--voters", self.voters.map(|v| v as u64)),
            ("--clients", self.clients.map(|v| v as u64)),
            ("--safety-ms", self.safety_ms),
            ("--liveness-ms", self.liveness_ms),
        ];
        for (flag, value) in flags {
            if let Some(v) = value {
                out.push_str(&format!(" {flag} {v}"));
            }
        }
        out
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let bug = match args.bug.as_deref().map(Bug::parse) {
        Some(None) => {
            let known: Vec<&str> = Bug::ALL.iter().map(|(n, _)| *n).collect();
            eprintln!("unknown --bug; known: {}", known.join(", "));
            return ExitCode::from(2);
        }
        Some(b) => b,
        None => None,
    };
    if let Some(range) = &args.seeds {
        return swarm(&args, range, bug);
    }
    let seed = args.seed.unwrap_or(0);
    let options = args.options(seed, bug);
    println!("{options}");
    // Wall time of the simulator itself, for the report; nothing inside the run reads it.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    // Lines are kept only when asked for; a failing run is replayed with them (same seed,
    // same run) to write its trace.
    let mut report = corral_sim::run(options.clone(), args.trace.is_some());
    let wall = started.elapsed();
    if !report.violations.is_empty() && args.trace.is_none() {
        let hash = report.trace_hash;
        report = corral_sim::run(options, true);
        assert_eq!(hash, report.trace_hash, "the replay with a trace diverged");
    }
    println!(
        "ops={} ok={} crashes={} fsyncs={} peer_messages={} last_committed=0x{:x} lock_holds={}/{} seq_creates={} election_terms={}/{}/{} wall_ms={}",
        report.ops,
        report.ops_ok,
        report.crashes,
        report.fsyncs,
        report.peer_messages,
        report.last_committed,
        report.lock_holds.0,
        report.lock_holds.1,
        report.seq_creates,
        report.election_terms.0,
        report.election_terms.1,
        report.election_terms.2,
        wall.as_millis()
    );
    println!("trace_hash={:016x}", report.trace_hash);
    let trace_path = args.trace.clone().or_else(|| {
        (!report.violations.is_empty()).then(|| format!("corral-sim-{seed}.trace").into())
    });
    if let Some(path) = trace_path {
        let text = report.trace.join("\n") + "\n";
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("cannot write {}: {e}", path.display());
        } else {
            println!("trace written to {}", path.display());
        }
    }
    if report.violations.is_empty() {
        println!("ok");
        return ExitCode::SUCCESS;
    }
    for v in &report.violations {
        println!("VIOLATION {v}");
    }
    let bug_flag = bug
        .map(|b| format!(" --bug {}", b.name()))
        .unwrap_or_default();
    let overrides = args.override_flags();
    println!("replay: cargo run --release -p corral-sim -- --seed {seed}{bug_flag}{overrides}");
    ExitCode::FAILURE
}

fn swarm(args: &Args, range: &str, bug: Option<Bug>) -> ExitCode {
    let Some((a, b)) = range.split_once("..") else {
        eprintln!("--seeds takes start..end");
        return ExitCode::from(2);
    };
    let (Ok(start), Ok(end)) = (a.parse::<u64>(), b.parse::<u64>()) else {
        eprintln!("--seeds takes start..end");
        return ExitCode::from(2);
    };
    let bar = indicatif::ProgressBar::new(end.saturating_sub(start));
    let mut failing = Vec::new();
    for seed in start..end {
        let options = args.options(seed, bug);
        let report = corral_sim::run(options, false);
        if let Some(v) = report.violations.first() {
            let line = format!("seed {seed}: {v}");
            if bar.is_hidden() {
                println!("{line}");
            } else {
                bar.println(line);
            }
            failing.push(seed);
        }
        bar.inc(1);
    }
    bar.finish();
    println!(
        "{} seeds, {} failing: {:?}",
        end.saturating_sub(start),
        failing.len(),
        failing
    );
    if failing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
