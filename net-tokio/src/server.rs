//! Wiring: configuration -> storage recovery -> `Node` -> driver, plus signal handling.

use crate::config::{ConfigError, FourLetterWords, ServerConfig};
use crate::conn::accept_loop;
use crate::driver::{Clock, Driver};
use crate::storage::{StateSink, Storage, StorageError};
use corral_core::node::NodeError;
use corral_core::{Config, Ensemble, Node, Recovered, ServerId};
use std::collections::BTreeMap;
use std::path::Path;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration file is unreadable or invalid.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// The data directory could not be recovered or opened.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The recovered state could not be loaded.
    #[error("recovery: {0}")]
    Node(#[from] NodeError),
    /// `myid` is missing or invalid while `server.N` lines make an ensemble.
    #[error("myid: {0}")]
    MyId(String),
    /// The epoch files could not be read.
    #[error("epochs: {0}")]
    Epochs(#[from] crate::epochs::EpochsError),
    /// The client port could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// Reads `myid` from the data directory (an ensemble member's id, as ZooKeeper's).
pub fn read_myid(sc: &ServerConfig) -> Result<ServerId, ServerError> {
    let path = sc.data_dir.join("myid");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ServerError::MyId(format!("{}: {e}", path.display())))?;
    let id = text
        .trim()
        .parse::<u64>()
        .map_err(|_| ServerError::MyId(format!("{}: not a number: {text:?}", path.display())))?;
    if !sc.servers.contains_key(&ServerId(id)) {
        return Err(ServerError::MyId(format!(
            "no server.{id} line for this id"
        )));
    }
    Ok(ServerId(id))
}

/// The core's configuration for a server configuration; `me` is this server's id in an
/// ensemble (None: standalone).
pub fn node_config(sc: &ServerConfig, me: Option<ServerId>) -> Config {
    let mut c = Config::standalone(sc.tick_time_ms);
    c.server_id = ServerId(1);
    if let Some(me) = me {
        c.server_id = me;
        c.ensemble = Ensemble {
            voters: sc
                .servers
                .iter()
                .filter(|(_, s)| !s.observer)
                .map(|(id, _)| *id)
                .collect(),
            observers: sc
                .servers
                .iter()
                .filter(|(_, s)| s.observer)
                .map(|(id, _)| *id)
                .collect(),
        };
        c.init_limit_ticks = sc.init_limit;
        c.sync_limit_ticks = sc.sync_limit;
    }
    c.session_timeout_ms_min = sc.min_session_timeout_ms as i32;
    c.session_timeout_ms_max = sc.max_session_timeout_ms as i32;
    c.client_cnxns_per_ip_max = sc.max_client_cnxns as usize;
    c.frame_bytes_max = sc.jute_maxbuffer;
    c.snap_count = sc.snap_count;
    c.container_check_interval_ms = sc.container_check_interval_ms;
    c.four_letter_words = match &sc.four_letter_words {
        FourLetterWords::All => ["*".to_owned()].into_iter().collect(),
        FourLetterWords::Only(words) => words.clone(),
    };
    c.info = vec![
        ("clientPort".into(), sc.client_port.to_string()),
        ("clientPortAddress".into(), sc.client_port_address.clone()),
        ("dataDir".into(), sc.data_dir.display().to_string()),
        ("dataLogDir".into(), sc.data_log_dir.display().to_string()),
    ];
    c
}

/// Loads the configuration (embedded defaults without a file) and runs until SIGTERM / ctrl-c.
pub async fn run(config_path: Option<&Path>) -> Result<(), ServerError> {
    let sc = match config_path {
        Some(p) => ServerConfig::from_file(p)?,
        None => {
            let mut sc = ServerConfig::default_standalone();
            // Without a file, the admin words a newcomer reaches for are on.
            sc.four_letter_words =
                FourLetterWords::parse("ruok,srvr,stat,mntr,conf,isro,envi,cons,wchs");
            sc
        }
    };
    sc.validate()?;
    for key in &sc.unknown_keys {
        tracing::warn!(%key, "unknown configuration key ignored");
    }
    serve(sc, shutdown_signal()).await
}

/// Runs a server with `sc` until `shutdown` resolves.
pub async fn serve(
    sc: ServerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServerError> {
    let clock = Clock::new();
    let started = std::time::Instant::now();
    // A single server.N line is a standalone server, as in ZooKeeper.
    let me = if sc.servers.len() > 1 {
        Some(read_myid(&sc)?)
    } else {
        None
    };
    // The snapshot is decoded while it is read, straight into the tree.
    let options = sc.storage_options();
    let record_bytes_max = options.record_bytes_max;
    let (storage, recovered) = Storage::open_with(options, || StateSink::new(record_bytes_max))?;
    let epochs = match me {
        Some(_) => crate::epochs::read(&sc.data_dir)?,
        None => Default::default(),
    };
    let recovered = Recovered {
        snapshot: recovered.snapshot.map(|(_, state)| state),
        txns: recovered.txns,
        epochs,
    };
    let seed = clock.now().wall_ms as u64 ^ u64::from(std::process::id());
    let node = Node::new(node_config(&sc, me), recovered, seed, clock.now())?;
    let (storage, storage_events) = storage.spawn()?;
    let addr = format!("{}:{}", sc.client_port_address, sc.client_port);
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr: addr.clone(),
            source,
        })?;
    tracing::info!(%addr, recovered_in_ms = started.elapsed().as_millis() as u64, "serving clients");
    let (net_tx, net_rx) = mpsc::unbounded_channel();
    let mut driver = Driver::new(node, clock, storage);
    if let Some(me) = me {
        let addrs: BTreeMap<ServerId, String> = sc
            .servers
            .iter()
            .map(|(id, s)| (*id, format!("{}:{}", s.host, s.peer_port)))
            .collect();
        let peer_addr = addrs.get(&me).cloned().unwrap_or_default();
        let peers = crate::peer::start(me, addrs, net_tx.clone())
            .await
            .map_err(|source| ServerError::Bind {
                addr: peer_addr,
                source,
            })?;
        tracing::info!(id = me.0, members = sc.servers.len(), "ensemble member");
        driver = driver.with_peers(peers, sc.data_dir.clone());
    }
    let acceptor = tokio::spawn(accept_loop(listener, net_tx, sc.client_backlog));
    driver.run(net_rx, storage_events, shutdown).await;
    acceptor.abort();
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("signal received: stopping");
}
