//! `corral`: a ZooKeeper-compatible server.
//!
//! With no arguments it serves on 127.0.0.1:2181 with data under ./corral-data;
//! `corral --config zoo.cfg` reads a ZooKeeper configuration file.

use clap::Parser;

/// mimalloc instead of glibc malloc: the request path allocates many small, short-lived buffers,
/// and glibc's free-list consolidation showed up as ~20% of the node thread in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::PathBuf;
use std::process::ExitCode;

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(
    name = "corral",
    version,
    about = "A ZooKeeper-compatible coordination server"
)]
struct Args {
    /// A ZooKeeper zoo.cfg file; without it, a standalone server with embedded defaults.
    #[arg(long, short)]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a terminal: log files and pipes get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    // One thread runs the node and every connection (no cross-thread wake-ups on the request
    // path); the log has its own thread, so fsyncs never block it.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(corral_net_tokio::server::run(args.config.as_deref())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "corral stopped");
            ExitCode::FAILURE
        }
    }
}
