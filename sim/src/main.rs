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
    if let Some(range) = args.seeds {
        return swarm(&range, bug);
    }
    let seed = args.seed.unwrap_or(0);
    let options = Options::from_seed_with_bug(seed, bug);
    println!("{options}");
    // Wall time of the simulator itself, for the report; nothing inside the run reads it.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let report = corral_sim::run(options, true);
    let wall = started.elapsed();
    println!(
        "ops={} ok={} crashes={} fsyncs={} peer_messages={} last_committed=0x{:x} wall_ms={}",
        report.ops,
        report.ops_ok,
        report.crashes,
        report.fsyncs,
        report.peer_messages,
        report.last_committed,
        wall.as_millis()
    );
    println!("trace_hash={:016x}", report.trace_hash);
    let trace_path = args.trace.or_else(|| {
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
    println!("replay: cargo run --release -p corral-sim -- --seed {seed}{bug_flag}");
    ExitCode::FAILURE
}

fn swarm(range: &str, bug: Option<Bug>) -> ExitCode {
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
        let options = Options::from_seed_with_bug(seed, bug);
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
