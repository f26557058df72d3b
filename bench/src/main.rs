//! `corral-bench`: a load generator that speaks the ZooKeeper client protocol, so it measures
//! Apache ZooKeeper exactly as it measures Corral.
//!
//! `corral-bench run --workload get --clients 16 --in-flight 8 --duration-s 10` prepares its keys,
//! warms up, measures, prints a progress line each second on stderr, then a table and a final
//! JSON line on stdout, and removes what it created. `load`, `first-read` and `clean` are the
//! helpers of the memory and restart measurements of scripts/bench-vs-zookeeper.sh.

// The benchmark measures wall-clock time and may hash freely: the determinism bans of clippy.toml
// exist for core/ and sim/, which must replay from a seed; a load generator has no such duty.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod client;
mod fanout;
mod pace;
mod report;
mod tree;
mod workload;

use clap::{Args, Parser, Subcommand};
use client::{Client, ClientError};
use corral_core::jute::{err, Request};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use workload::{RunOptions, Workload};

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(
    name = "corral-bench",
    version,
    about = "ZooKeeper-protocol load generator"
)]
struct Cli {
    /// The servers' client addresses, comma-separated; sessions are spread round robin and
    /// setup, load, first-read and clean use the first.
    #[arg(
        long,
        global = true,
        default_value = "127.0.0.1:2181",
        value_delimiter = ','
    )]
    server: Vec<SocketAddr>,
    /// Requested session timeout, in milliseconds.
    #[arg(long, global = true, default_value_t = 30_000)]
    session_timeout_ms: i32,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one workload and report throughput and latency.
    Run(RunArgs),
    /// Create N keys of the given size under a root and leave them (for memory and restart
    /// measurements).
    Load {
        /// Number of znodes.
        #[arg(long, default_value_t = 100_000)]
        keys: usize,
        /// Bytes per znode.
        #[arg(long, default_value_t = 100)]
        value_size: usize,
        /// The parent of the keys.
        #[arg(long, default_value = "/corral-bench-load")]
        root: String,
        /// Sessions loading in parallel.
        #[arg(long, default_value_t = 4)]
        clients: usize,
    },
    /// Retry connect + getData until the server answers; print the milliseconds it took.
    FirstRead {
        /// The node to read.
        #[arg(long, default_value = "/")]
        path: String,
        /// Give up after this long.
        #[arg(long, default_value_t = 600)]
        timeout_s: u64,
    },
    /// Delete a subtree left behind by an interrupted run.
    Clean {
        /// The subtree.
        #[arg(long, default_value = "/corral-bench")]
        root: String,
    },
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The workload.
    #[arg(long, value_enum)]
    workload: Workload,
    /// Sessions, each on its own connection (watchers for watch-fanout, concurrent churners for
    /// ephemeral-churn).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    clients: u32,
    /// Requests each session keeps in flight (create, set, get, mixed, multi).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    in_flight: u32,
    /// Length of the measured phase, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration_s: f64,
    /// Unrecorded load before measuring, in seconds.
    #[arg(long, default_value_t = 1.0)]
    warmup_s: f64,
    /// Bytes per value.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Keys the set/get/mixed/multi workloads spread over, prepared before timing.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    keys: u64,
    /// setData ops per multi.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    multi_ops: u32,
    /// The subtree the run owns and removes at the end.
    #[arg(long, default_value = "/corral-bench")]
    root: String,
    /// Seed of the key choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
    /// Leave the prepared keys in place.
    #[arg(long)]
    keep: bool,
    /// Offer this many operations per second in all (rounds for watch-fanout, cycles for
    /// ephemeral-churn) on a fixed schedule instead of a closed loop; `--in-flight` caps each
    /// session, and an operation kept waiting by that cap is timed from when it fell due.
    #[arg(long, value_parser = positive_rate)]
    rate: Option<f64>,
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(rate),
        _ => Err(format!("{text:?} is not a positive number")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("corral-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("corral-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> Result<(), ClientError> {
    let Some(&first) = cli.server.first() else {
        return Err(ClientError::Unexpected(
            "--server needs an address".to_string(),
        ));
    };
    match cli.command {
        Command::Run(args) => {
            let seconds = |s: f64| Duration::from_secs_f64(s.max(0.0));
            let opts = RunOptions {
                servers: cli.server.clone(),
                workload: args.workload,
                clients: args.clients as usize,
                in_flight: args.in_flight as usize,
                duration: seconds(args.duration_s),
                warmup: seconds(args.warmup_s),
                value_bytes: args.value_size,
                keys: args.keys as usize,
                multi_ops: args.multi_ops as usize,
                root: args.root,
                session_timeout_ms: cli.session_timeout_ms,
                seed: args.seed,
                progress: !args.quiet,
                keep: args.keep,
                rate: args.rate,
            };
            let summary = workload::run(opts).await?;
            print!("{}", summary.table());
            println!("{}", summary.json());
            Ok(())
        }
        Command::Load {
            keys,
            value_size,
            root,
            clients,
        } => {
            load(
                first,
                cli.session_timeout_ms,
                keys,
                value_size,
                root,
                clients,
            )
            .await
        }
        Command::FirstRead { path, timeout_s } => {
            first_read(first, cli.session_timeout_ms, path, timeout_s).await
        }
        Command::Clean { root } => {
            let (client, _) = Client::connect(first, cli.session_timeout_ms).await?;
            tree::delete_tree(&client, &root).await?;
            client.close().await
        }
    }
}

/// Loads `keys` znodes in `clients` parallel sessions, each its own slice of the key range.
async fn load(
    server: SocketAddr,
    session_timeout_ms: i32,
    keys: usize,
    value_size: usize,
    root: String,
    clients: usize,
) -> Result<(), ClientError> {
    let clients = clients.max(1);
    let started = Instant::now();
    let (admin, _) = Client::connect(server, session_timeout_ms).await?;
    tree::ensure_paths(&admin, std::slice::from_ref(&root)).await?;
    let mut tasks = Vec::with_capacity(clients);
    for c in 0..clients {
        let (client, _) = Client::connect(server, session_timeout_ms).await?;
        let root = root.clone();
        let value = vec![b'v'; value_size];
        tasks.push(tokio::spawn(async move {
            let requests = (c..keys).step_by(clients).map(|i| {
                tree::create_request(
                    tree::key_path(&root, i),
                    value.clone(),
                    corral_core::jute::create_mode::PERSISTENT,
                )
            });
            let codes = tree::pipeline(&client, requests, tree::BULK_WINDOW).await?;
            let failed = codes
                .iter()
                .filter(|&&c| c != err::OK && c != err::NODE_EXISTS)
                .count();
            client.close().await?;
            Ok::<usize, ClientError>(failed)
        }));
    }
    let mut failed = 0;
    for task in tasks {
        failed += task
            .await
            .map_err(|e| ClientError::Unexpected(format!("loader task: {e}")))??;
    }
    admin.close().await?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"loaded": keys, "failed": failed, "value_bytes": value_size,
            "elapsed_s": elapsed, "creates_per_s": keys as f64 / elapsed.max(1e-9)})
    );
    if failed > 0 {
        return Err(ClientError::Unexpected(format!("{failed} creates failed")));
    }
    Ok(())
}

/// Retries connect + getData(path) every few milliseconds; prints the time to the first answer.
async fn first_read(
    server: SocketAddr,
    session_timeout_ms: i32,
    path: String,
    timeout_s: u64,
) -> Result<(), ClientError> {
    const RETRY_INTERVAL: Duration = Duration::from_millis(5);
    const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(100);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(timeout_s);
    let read = Request::GetData { path, watch: false };
    let mut attempts: u64 = 0;
    loop {
        attempts += 1;
        let attempt = async {
            let (client, _) = Client::connect(server, session_timeout_ms).await?;
            let reply = client.call(&read).await?;
            Ok::<i32, ClientError>(reply.header.err)
        };
        // A server may accept connections before it can answer them (ZooKeeper starts its
        // listener before loading its data): a short bound per attempt keeps the measurement's
        // resolution at a few milliseconds instead of one handshake timeout.
        let outcome = tokio::time::timeout(ATTEMPT_TIMEOUT, attempt)
            .await
            .unwrap_or(Err(ClientError::HandshakeTimeout));
        if let Ok(err::OK) = outcome {
            let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
            println!(
                "{}",
                serde_json::json!({"first_read_ms": elapsed_ms, "attempts": attempts})
            );
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ClientError::Unexpected(format!(
                "no answer within {timeout_s} s (last: {outcome:?})"
            )));
        }
        tokio::time::sleep(RETRY_INTERVAL).await;
    }
}
