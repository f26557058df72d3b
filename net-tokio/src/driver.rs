//! The adapter loop: one task owns the `Node`, feeds it socket, storage and timer events, and
//! performs its outputs. It makes no protocol decisions.

use crate::conn::{ConnWriter, Outbox};
use crate::peer::PeerNet;
use crate::storage::{SnapshotBody, StorageCommand, StorageEvent, StorageHandle};
use corral_core::{ConnId, Input, Instant, Node, Now, Output, PeerMessage, ServerId};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Events handled per wake-up before outputs are flushed, so one busy source cannot starve the
/// others and replies leave in batches.
const EVENTS_PER_WAKE_MAX: usize = 256;

/// What the connection tasks tell the node task.
#[derive(Debug)]
pub enum NetEvent {
    /// A client connected; the node task writes to it with the writer.
    Connected(ConnId, SocketAddr, ConnWriter),
    /// Bytes arrived.
    Bytes(ConnId, Vec<u8>),
    /// The socket closed.
    Closed(ConnId),
    /// A message from a peer.
    Peer(ServerId, PeerMessage),
    /// The link to a peer broke.
    PeerDown(ServerId),
}

/// The monotonic and wall clocks, read once per wake-up.
pub struct Clock {
    origin: std::time::Instant,
}

impl Clock {
    /// A clock whose monotonic origin is now.
    pub fn new() -> Clock {
        Clock {
            origin: std::time::Instant::now(),
        }
    }

    /// Both clocks now.
    pub fn now(&self) -> Now {
        let mono = Instant(self.origin.elapsed().as_nanos() as u64);
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Now { mono, wall_ms }
    }

    fn until(&self, at: Instant) -> Duration {
        let now = self.origin.elapsed().as_nanos() as u64;
        Duration::from_nanos(at.0.saturating_sub(now))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// The node task's state: the node, its connections and its storage.
pub struct Driver {
    node: Node,
    clock: Clock,
    conns: BTreeMap<ConnId, ConnWriter>,
    /// Client frames produced during this wake-up, written at its end.
    outbox: Outbox,
    storage: StorageHandle,
    appends: Vec<std::sync::Arc<corral_core::txn::Txn>>,
    /// Peer links and where the epochs live (ensembles only).
    peers: Option<(PeerNet, PathBuf)>,
}

impl Driver {
    /// Wraps a recovered node and its storage.
    pub fn new(node: Node, clock: Clock, storage: StorageHandle) -> Driver {
        Driver {
            node,
            clock,
            conns: BTreeMap::new(),
            outbox: Outbox::default(),
            storage,
            appends: Vec::new(),
            peers: None,
        }
    }

    /// Adds the peer links of an ensemble member, and the directory of its epoch files.
    pub fn with_peers(mut self, peers: PeerNet, epochs_dir: PathBuf) -> Driver {
        self.peers = Some((peers, epochs_dir));
        self
    }

    /// Runs until `shutdown` resolves, then flushes storage.
    pub async fn run(
        mut self,
        mut net: mpsc::UnboundedReceiver<NetEvent>,
        mut storage_events: mpsc::UnboundedReceiver<StorageEvent>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            let sleep = match self.node.poll_timeout() {
                Some(at) => self.clock.until(at),
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                Some(ev) = storage_events.recv() => self.on_storage(ev),
                Some(ev) = net.recv() => {
                    self.on_net(ev);
                    for _ in 1..EVENTS_PER_WAKE_MAX {
                        let Ok(ev) = net.try_recv() else {
                            break;
                        };
                        // Between client events, not only after the batch: appends reach the
                        // log thread and replies their connections as soon as they exist, and a
                        // finished fsync commits without waiting for the rest of the batch. A
                        // write's latency would otherwise include up to two batches of reads.
                        self.perform_outputs();
                        while let Ok(done) = storage_events.try_recv() {
                            self.on_storage(done);
                            self.perform_outputs();
                        }
                        self.on_net(ev);
                    }
                }
                _ = tokio::time::sleep(sleep) => {
                    let now = self.clock.now();
                    self.node.handle(now, Input::Timeout);
                }
            }
            self.perform_outputs();
            // Every arm above ends here: replies are written once per wake-up, each
            // connection's in one system call, where a write task per connection used to be
            // woken for each.
            self.outbox.flush(&mut self.conns);
        }
        tracing::info!("shutting down: flushing the log");
        if let Err(e) = self.storage.shutdown() {
            tracing::error!(error = %e, "storage did not shut down cleanly");
        }
    }

    fn on_net(&mut self, ev: NetEvent) {
        let now = self.clock.now();
        let input = match ev {
            NetEvent::Connected(conn, addr, writer) => {
                self.conns.insert(conn, writer);
                Input::Connected {
                    conn,
                    ip: addr.ip().to_string(),
                }
            }
            NetEvent::Bytes(conn, bytes) => Input::Bytes { conn, bytes },
            NetEvent::Closed(conn) => {
                // Frames queued for it in this wake-up are still written (a client that shut
                // down only its sending side reads them), then its write side is closed.
                self.outbox.close(conn);
                Input::Closed { conn }
            }
            NetEvent::Peer(from, message) => Input::Peer { from, message },
            NetEvent::PeerDown(peer) => Input::PeerDown { peer },
        };
        self.node.handle(now, input);
    }

    fn on_storage(&mut self, ev: StorageEvent) {
        let now = self.clock.now();
        let input = match ev {
            StorageEvent::Persisted { through } => Input::Persisted { through },
            StorageEvent::SnapshotWritten { zxid } => Input::SnapshotWritten { zxid },
            StorageEvent::Failed(reason) if self.peers.is_some() => {
                // An ensemble member that cannot log can neither acknowledge nor lead; the
                // others go on without it (as ZooKeeper exits on a log failure).
                tracing::error!(%reason, "storage failed: leaving the ensemble");
                std::process::exit(2);
            }
            StorageEvent::Failed(reason) => Input::StorageFailed { reason },
            // Only replication truncates the log; a standalone node never asks for it.
            StorageEvent::Truncated { after } => {
                tracing::info!(%after, "log truncated");
                return;
            }
        };
        self.node.handle(now, input);
    }

    /// Epochs are written synchronously: the core's next outputs may depend on them being
    /// durable, and they change once per leader election.
    fn save_epochs(&mut self, epochs: corral_core::Epochs) {
        let Some((_, dir)) = &self.peers else {
            return;
        };
        if let Err(e) = crate::epochs::write(dir, epochs) {
            // The outputs after this one (an epoch acknowledgement) promise that the epochs
            // are durable: a replica that cannot keep that promise must stop.
            tracing::error!(error = %e, "cannot save the epochs durably; stopping");
            std::process::exit(2);
        }
    }

    fn send_storage(&mut self, command: StorageCommand) {
        if let Err(e) = self.storage.send(command) {
            // The storage thread is gone: nothing more can be made durable.
            let now = self.clock.now();
            let reason = e.to_string();
            self.node.handle(now, Input::StorageFailed { reason });
        }
    }

    fn perform_outputs(&mut self) {
        while let Some(out) = self.node.poll_output() {
            match out {
                Output::Send { conn, bytes } => self.outbox.send(conn, bytes),
                Output::Close { conn } => self.outbox.close(conn),
                Output::Append(txn) => self.appends.push(txn),
                Output::Sync { through } => {
                    let txns = std::mem::take(&mut self.appends);
                    self.send_storage(StorageCommand::Sync { txns, through });
                }
                Output::Snapshot { zxid, snapshot } => {
                    // Encoded and written on the snapshot thread, not here.
                    let body = SnapshotBody::State(snapshot);
                    self.send_storage(StorageCommand::Snapshot { zxid, body });
                }
                Output::ToPeer { to, message } => match &self.peers {
                    Some((peers, _)) => peers.send(to, message),
                    None => tracing::error!("a peer message from a standalone node; dropped"),
                },
                Output::SaveEpochs(epochs) => self.save_epochs(epochs),
                Output::InstallSnapshot { zxid, bytes } => {
                    // In order: what was appended before belongs to the log being replaced.
                    let batch = std::mem::take(&mut self.appends);
                    self.send_storage(StorageCommand::Append(batch));
                    self.send_storage(StorageCommand::InstallSnapshot { zxid, bytes });
                }
            }
        }
        if !self.appends.is_empty() {
            let batch = std::mem::take(&mut self.appends);
            self.send_storage(StorageCommand::Append(batch));
        }
    }
}
