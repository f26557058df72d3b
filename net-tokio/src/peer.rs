//! Peer links: one TCP connection per pair of servers, carrying the core's `PeerMessage`s as
//! length-prefixed bincode frames. The transport has no protocol logic; it keeps the core's
//! contract: the messages of one connection arrive in order and without gaps, and when a
//! connection breaks the node hears `PeerDown` before any message of the next connection.
//!
//! The server with the larger id dials (and redials with backoff); the smaller one accepts. A
//! dialer opens with its server id (8 bytes, big endian). Everything travels on the
//! `server.N` peer port; the election port is accepted in zoo.cfg and unused (elections are
//! messages like the others).

use crate::driver::NetEvent;
use corral_core::zab::message::{decode, encode_into};
use corral_core::{PeerMessage, ServerId};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The largest peer frame accepted (a SNAP carries the whole state).
pub const PEER_FRAME_BYTES_MAX: usize = 1 << 30;
/// Dial backoff bounds.
const DIAL_BACKOFF_MS_MIN: u64 = 50;
const DIAL_BACKOFF_MS_MAX: u64 = 2_000;
/// How long a dialer or acceptor waits for the peer's id.
const HELLO_TIMEOUT_MS: u64 = 5_000;

/// Sends messages to peers; one queue per peer link.
pub struct PeerNet {
    links: BTreeMap<ServerId, mpsc::UnboundedSender<PeerMessage>>,
}

impl PeerNet {
    /// Queues `message` for `to`; dropped if `to` is unknown or its link is down.
    pub fn send(&self, to: ServerId, message: PeerMessage) {
        if let Some(link) = self.links.get(&to) {
            let _ = link.send(message);
        }
    }
}

/// Starts the peer listener and one link task per other member. `addrs` maps every member
/// (this server included) to its peer address.
pub async fn start(
    me: ServerId,
    addrs: BTreeMap<ServerId, String>,
    events: mpsc::UnboundedSender<NetEvent>,
) -> std::io::Result<PeerNet> {
    let my_addr = addrs.get(&me).cloned().unwrap_or_default();
    let listener = TcpListener::bind(&my_addr).await?;
    tracing::info!(addr = %my_addr, "listening for peers");
    let mut links = BTreeMap::new();
    let mut incoming = BTreeMap::new();
    for (id, addr) in &addrs {
        if *id == me {
            continue;
        }
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        links.insert(*id, out_tx);
        incoming.insert(*id, in_tx);
        let dial = (me > *id).then(|| addr.clone());
        tokio::spawn(link_task(me, *id, dial, in_rx, out_rx, events.clone()));
    }
    tokio::spawn(accept_task(listener, incoming));
    Ok(PeerNet { links })
}

async fn accept_task(
    listener: TcpListener,
    incoming: BTreeMap<ServerId, mpsc::UnboundedSender<TcpStream>>,
) {
    loop {
        let (mut stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "peer accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let hello =
            tokio::time::timeout(Duration::from_millis(HELLO_TIMEOUT_MS), stream.read_u64()).await;
        let id = match hello {
            Ok(Ok(id)) => ServerId(id),
            _ => {
                tracing::warn!(%addr, "peer connection without a valid hello; closed");
                continue;
            }
        };
        match incoming.get(&id) {
            Some(tx) => {
                let _ = stream.set_nodelay(true);
                let _ = tx.send(stream);
            }
            None => {
                tracing::warn!(%addr, id = id.0, "connection from a server outside the ensemble; closed")
            }
        }
    }
}

/// Owns the link to one peer: obtains a connection (dialing or accepting), runs it until it
/// breaks or is replaced, reports `PeerDown`, and starts over.
async fn link_task(
    me: ServerId,
    peer: ServerId,
    dial: Option<String>,
    mut incoming: mpsc::UnboundedReceiver<TcpStream>,
    mut outbox: mpsc::UnboundedReceiver<PeerMessage>,
    events: mpsc::UnboundedSender<NetEvent>,
) {
    let mut backoff_ms = DIAL_BACKOFF_MS_MIN;
    let mut next: Option<TcpStream> = None;
    loop {
        // Messages queued while there was no connection belonged to a broken link: drop them.
        while outbox.try_recv().is_ok() {}
        let stream = match next.take() {
            Some(s) => s,
            None => match &dial {
                Some(addr) => match dial_once(me, addr).await {
                    Ok(s) => {
                        backoff_ms = DIAL_BACKOFF_MS_MIN;
                        s
                    }
                    Err(e) => {
                        tracing::debug!(peer = peer.0, error = %e, "dial failed");
                        tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
                        backoff_ms = (backoff_ms * 2).min(DIAL_BACKOFF_MS_MAX);
                        continue;
                    }
                },
                None => match incoming.recv().await {
                    Some(s) => s,
                    None => return,
                },
            },
        };
        tracing::info!(peer = peer.0, "peer link up");
        next = run_link(peer, stream, &mut incoming, &mut outbox, &events).await;
        tracing::info!(peer = peer.0, "peer link down");
        if events.send(NetEvent::PeerDown(peer)).is_err() {
            return;
        }
    }
}

async fn dial_once(me: ServerId, addr: &str) -> std::io::Result<TcpStream> {
    let mut stream = tokio::time::timeout(
        Duration::from_millis(HELLO_TIMEOUT_MS),
        TcpStream::connect(addr),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "dial timed out"))??;
    stream.set_nodelay(true)?;
    stream.write_u64(me.0).await?;
    Ok(stream)
}

/// Runs one connection until it breaks; returns a replacement connection if one arrived.
async fn run_link(
    peer: ServerId,
    stream: TcpStream,
    incoming: &mut mpsc::UnboundedReceiver<TcpStream>,
    outbox: &mut mpsc::UnboundedReceiver<PeerMessage>,
    events: &mpsc::UnboundedSender<NetEvent>,
) -> Option<TcpStream> {
    let (read_half, mut write_half) = stream.into_split();
    let reader = read_frames(peer, read_half, events.clone());
    tokio::pin!(reader);
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            _ = &mut reader => return None,
            replacement = incoming.recv() => return replacement,
            message = outbox.recv() => {
                let message = message?;
                batch.clear();
                push_frame(&mut batch, &message);
                // Coalesce what is already queued into one write.
                while let Ok(m) = outbox.try_recv() {
                    push_frame(&mut batch, &m);
                }
                if let Err(e) = write_half.write_all(&batch).await {
                    tracing::debug!(peer = peer.0, error = %e, "peer write failed");
                    return None;
                }
            }
        }
    }
}

/// Appends `[u32 BE length][message]` to `batch`, encoding in place.
fn push_frame(batch: &mut Vec<u8>, message: &PeerMessage) {
    let start = batch.len();
    batch.extend_from_slice(&[0; 4]);
    encode_into(message, batch);
    let length = (batch.len() - start - 4) as u32;
    batch[start..start + 4].copy_from_slice(&length.to_be_bytes());
}

/// Reads frames until the connection breaks or a frame is invalid.
async fn read_frames(
    peer: ServerId,
    read_half: tokio::net::tcp::OwnedReadHalf,
    events: mpsc::UnboundedSender<NetEvent>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, read_half);
    loop {
        let len = match reader.read_u32().await {
            Ok(len) => len as usize,
            Err(_) => return,
        };
        if len == 0 || len > PEER_FRAME_BYTES_MAX {
            tracing::warn!(
                peer = peer.0,
                len,
                "invalid peer frame length; dropping the link"
            );
            return;
        }
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        match decode(&body, PEER_FRAME_BYTES_MAX) {
            Ok(message) => {
                if events.send(NetEvent::Peer(peer, message)).is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(peer = peer.0, error = %e, "undecodable peer frame; dropping the link");
                return;
            }
        }
    }
}
