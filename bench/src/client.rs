//! A small pipelined ZooKeeper client: one TCP connection per session.
//!
//! [`Client::send`] assigns the xid, records the request as pending and hands the frame to a writer
//! task in one critical section, so the pending queue is in wire order. The server answers the
//! requests of one connection in order, so the reader task matches each reply with the front of
//! that queue. A third task pings at a third of the negotiated session timeout so that idle
//! sessions (watchers, sessions waiting for a slow server) stay alive during long runs.

use corral_core::jute::{
    encode_request, op, xid, ConnectRequest, ConnectResponse, Reader, Record, ReplyHeader, Request,
    Response, WatcherEvent, Writer,
};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The largest reply frame accepted; ZooKeeper's default `jute.maxbuffer` is 1 MiB, with slack for
/// big child lists.
const FRAME_BYTES_MAX: usize = 64 << 20;
/// How many queued frames the writer coalesces into one `write` call.
const WRITE_BATCH_FRAMES_MAX: usize = 256;
/// How long the handshake may take before the connection counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request or a connection failed. Server reply codes are not errors: they are in [`Reply`].
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The connection closed, or its reader failed, before the reply arrived.
    #[error("connection closed: {0}")]
    Closed(String),
    /// The server sent bytes that do not decode.
    #[error("malformed reply: {0}")]
    Malformed(String),
    /// The server answered a setup or cleanup request with an error code the benchmark cannot
    /// work around.
    #[error("unexpected reply: {0}")]
    Unexpected(String),
    /// The handshake did not finish within the connect timeout.
    #[error("handshake timed out")]
    HandshakeTimeout,
}

/// One reply: its header (with the error code) and, when `err == 0`, the decoded body.
#[derive(Debug)]
pub struct Reply {
    /// The reply header.
    pub header: ReplyHeader,
    /// The body of a successful reply.
    pub body: Option<Response>,
}

/// A watch notification and when the reader task took it off the socket.
#[derive(Debug)]
pub struct Notification {
    /// The event.
    pub event: WatcherEvent,
    /// When the frame was decoded.
    pub received_at: Instant,
}

/// The receiving end of one request; resolves when its reply arrives.
pub type ReplyFuture = oneshot::Receiver<Result<Reply, String>>;

struct Pending {
    xid: i32,
    opcode: i32,
    reply: oneshot::Sender<Result<Reply, String>>,
}

struct State {
    xid_next: i32,
    pending: VecDeque<Pending>,
    /// Set once the connection has failed; later sends fail at once with this reason.
    closed: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    frames: mpsc::UnboundedSender<Vec<u8>>,
}

/// One session on one connection. Dropping it stops its tasks and closes the socket.
pub struct Client {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Client {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Client {
    /// Connects, performs the handshake and starts the reader, writer and ping tasks. Returns the
    /// client and the stream of its watch notifications.
    pub async fn connect(
        addr: SocketAddr,
        timeout_ms: i32,
    ) -> Result<(Client, mpsc::UnboundedReceiver<Notification>), ClientError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (read_half, mut write_half) = stream.into_split();
        let mut reader = BufReader::with_capacity(64 << 10, read_half);
        let handshake = async {
            let mut w = Writer::framed();
            ConnectRequest::new_session(timeout_ms).write(&mut w);
            write_half.write_all(&w.finish_frame()).await?;
            let frame = read_frame(&mut reader).await?;
            ConnectResponse::from_bytes(&frame).map_err(|e| ClientError::Malformed(e.to_string()))
        };
        let response = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
            .await
            .map_err(|_| ClientError::HandshakeTimeout)??;
        if response.session_id == 0 || response.timeout_ms <= 0 {
            return Err(ClientError::Closed(
                "the server refused the session".to_string(),
            ));
        }
        let (frames_tx, frames_rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                xid_next: 1,
                pending: VecDeque::new(),
                closed: None,
            }),
            frames: frames_tx,
        });
        let ping_interval = Duration::from_millis((response.timeout_ms / 3).max(1) as u64);
        let tasks = vec![
            tokio::spawn(write_loop(write_half, frames_rx, shared.clone())),
            tokio::spawn(read_loop(reader, shared.clone(), events_tx)),
            tokio::spawn(ping_loop(shared.clone(), ping_interval)),
        ];
        let client = Client { shared, tasks };
        Ok((client, events_rx))
    }

    /// Queues `request` and returns the future of its reply. Never blocks: the caller decides how
    /// many requests it keeps in flight.
    pub fn send(&self, request: &Request) -> ReplyFuture {
        let (tx, rx) = oneshot::channel();
        let mut state = lock(&self.shared.state);
        if let Some(reason) = &state.closed {
            let _ = tx.send(Err(reason.clone()));
            return rx;
        }
        let request_xid = state.xid_next;
        // Positive xids only: the negative ones are reserved for pings, notifications, auth.
        state.xid_next = if request_xid == i32::MAX {
            1
        } else {
            request_xid + 1
        };
        let frame = encode_request(request_xid, request);
        if self.shared.frames.send(frame).is_err() {
            let _ = tx.send(Err("writer stopped".to_string()));
            return rx;
        }
        state.pending.push_back(Pending {
            xid: request_xid,
            opcode: request.opcode(),
            reply: tx,
        });
        rx
    }

    /// Sends `request` and waits for its reply.
    pub async fn call(&self, request: &Request) -> Result<Reply, ClientError> {
        let future = self.send(request);
        wait(future).await
    }

    /// Closes the session (a `closeSession` request) and waits for the server's answer.
    pub async fn close(self) -> Result<(), ClientError> {
        self.call(&Request::CloseSession).await.map(|_| ())
    }
}

/// Waits for a reply future, turning a lost connection into [`ClientError::Closed`].
pub async fn wait(future: ReplyFuture) -> Result<Reply, ClientError> {
    into_reply(future.await)
}

/// What a [`ReplyFuture`] resolved to, with a lost connection turned into [`ClientError::Closed`].
pub fn into_reply(
    received: Result<Result<Reply, String>, oneshot::error::RecvError>,
) -> Result<Reply, ClientError> {
    match received {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(reason)) => Err(ClientError::Closed(reason)),
        Err(_) => Err(ClientError::Closed("client dropped".to_string())),
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A panic while holding the lock leaves only plain data behind; keep going.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Marks the connection failed and fails every pending request with `reason`.
fn fail_all(shared: &Shared, reason: String) {
    let pending = {
        let mut state = lock(&shared.state);
        state.closed.get_or_insert(reason.clone());
        std::mem::take(&mut state.pending)
    };
    for p in pending {
        let _ = p.reply.send(Err(reason.clone()));
    }
}

async fn read_frame<R: AsyncReadExt + Unpin>(reader: &mut R) -> Result<Vec<u8>, ClientError> {
    let length = reader.read_i32().await?;
    if length < 0 || length as usize > FRAME_BYTES_MAX {
        return Err(ClientError::Malformed(format!("frame length {length}")));
    }
    let mut frame = vec![0; length as usize];
    reader.read_exact(&mut frame).await?;
    Ok(frame)
}

async fn write_loop(
    mut socket: OwnedWriteHalf,
    mut frames: mpsc::UnboundedReceiver<Vec<u8>>,
    shared: Arc<Shared>,
) {
    let mut batch = Vec::with_capacity(64 << 10);
    while let Some(frame) = frames.recv().await {
        batch.clear();
        batch.extend_from_slice(&frame);
        // Coalesce what is already queued: one syscall for many pipelined requests.
        for _ in 1..WRITE_BATCH_FRAMES_MAX {
            match frames.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if let Err(e) = socket.write_all(&batch).await {
            fail_all(&shared, format!("write failed: {e}"));
            return;
        }
    }
}

async fn read_loop(
    mut socket: BufReader<OwnedReadHalf>,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<Notification>,
) {
    let reason = loop {
        let frame = match read_frame(&mut socket).await {
            Ok(frame) => frame,
            Err(e) => break e.to_string(),
        };
        if let Err(e) = dispatch(&frame, &shared, &events) {
            break e.to_string();
        }
    };
    fail_all(&shared, reason);
}

fn dispatch(
    frame: &[u8],
    shared: &Shared,
    events: &mpsc::UnboundedSender<Notification>,
) -> Result<(), ClientError> {
    let malformed = |e: &dyn std::fmt::Display| ClientError::Malformed(e.to_string());
    let mut r = Reader::new(frame);
    let header = ReplyHeader::read(&mut r).map_err(|e| malformed(&e))?;
    match header.xid {
        xid::NOTIFICATION => {
            let event = WatcherEvent::read(&mut r).map_err(|e| malformed(&e))?;
            let received_at = Instant::now();
            // Nobody listening is fine: most sessions never set a watch.
            let _ = events.send(Notification { event, received_at });
            return Ok(());
        }
        xid::PING => return Ok(()),
        _ => {}
    }
    let pending = lock(&shared.state).pending.pop_front();
    let Some(pending) = pending else {
        return Err(ClientError::Malformed(format!(
            "reply xid {} with nothing pending",
            header.xid
        )));
    };
    if pending.xid != header.xid {
        return Err(ClientError::Malformed(format!(
            "reply xid {} but {} was next",
            header.xid, pending.xid
        )));
    }
    let body = if header.err == 0 && pending.opcode != op::CLOSE_SESSION {
        Some(Response::decode(pending.opcode, &mut r).map_err(|e| malformed(&e))?)
    } else {
        None
    };
    let _ = pending.reply.send(Ok(Reply { header, body }));
    Ok(())
}

async fn ping_loop(shared: Arc<Shared>, interval: Duration) {
    let mut w = Writer::framed();
    w.write_i32(xid::PING);
    w.write_i32(op::PING);
    let frame = w.finish_frame();
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        if shared.frames.send(frame.clone()).is_err() {
            return;
        }
    }
}
