//! A client connection's socket I/O: its read task, and its write side, which the node task
//! writes to directly. Only what the socket does not take at once goes to a writer task.
//!
//! The frames the node produces during one wake-up are gathered in an [`Outbox`] and written at
//! its end, one system call per connection: a reply leaves from the node task itself, without a
//! channel, a task wake-up and an eventfd write between the node and the socket.

use crate::driver::NetEvent;
use corral_core::ConnId;
use std::collections::BTreeMap;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::Interest;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The most bytes read from a socket at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// The first read of a connection takes at most this many bytes; a read that fills its buffer
/// doubles the next one, up to [`READ_CHUNK_BYTES`].
const READ_CHUNK_MIN_BYTES: usize = 2 * 1024;
/// Frames handed to one `writev`; a connection with more in one wake-up takes several calls.
const FRAMES_PER_WRITE_MAX: usize = 64;
/// How much a connection may leave unwritten, and for how long. A client that stops reading
/// while replies and notifications keep coming (a stuck process, persistent watches on a busy
/// tree) would otherwise grow the server's memory without bound. Past `bytes_max` its requests
/// are no longer read (its own TCP window then holds them back) until half is written; past
/// `bytes_max` with nothing written for `stall`, or past `bytes_hard_max` at all, it is
/// disconnected like any client whose connection breaks: its session lives on until its
/// timeout, and a real client reconnects and sets its watches again. A client that reads, even
/// slowly, is not cut off by a burst of large replies it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogLimits {
    /// Unwritten bytes past which the connection is not read from, and past which its writer
    /// may not go `stall` without progress.
    pub bytes_max: usize,
    /// How long the writer may go without writing a byte while it holds more than `bytes_max`,
    /// or anything at all once the node has dropped the connection.
    pub stall: Duration,
    /// Unwritten bytes past which a connection is closed whatever its progress.
    pub bytes_hard_max: usize,
}

impl Default for BacklogLimits {
    /// 64 frames of the largest size `jute.maxbuffer` allows by default, 10 s (a third of a
    /// typical session timeout), and 1 GiB. `bytes_max` is not lower because a client that
    /// reads only once it has sent all its requests stops reading there for good (its sends
    /// block): below it such a client works.
    fn default() -> Self {
        BacklogLimits {
            bytes_max: 64 << 20,
            stall: Duration::from_secs(10),
            bytes_hard_max: 1 << 30,
        }
    }
}

/// Accepts client connections and spawns their read tasks; the node task gets the write half,
/// which keeps to `limits`.
pub async fn accept_loop(
    listener: TcpListener,
    events: mpsc::UnboundedSender<NetEvent>,
    limits: BacklogLimits,
) {
    let mut next_conn: u64 = 1;
    loop {
        let (stream, addr): (_, SocketAddr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let conn = ConnId(next_conn);
        next_conn += 1;
        let (read_half, write_half) = stream.into_split();
        let writer = ConnWriter::with_limits(conn, write_half, limits);
        let throttle = writer.read_throttle();
        if events
            .send(NetEvent::Connected(conn, addr, writer))
            .is_err()
        {
            return;
        }
        tokio::spawn(read_loop(conn, read_half, events.clone(), throttle));
    }
}

/// Forwards what a connection reads to the node task until the connection closes; reads
/// nothing while `throttle` says its replies are not being read.
pub(crate) async fn read_loop(
    conn: ConnId,
    socket: OwnedReadHalf,
    events: mpsc::UnboundedSender<NetEvent>,
    throttle: ReadThrottle,
) {
    // A buffer exists only while bytes are there to read: an idle connection holds none, and
    // what was read goes to the node as it is (no copy, no zeroing). A fixed 64 KiB zeroed
    // buffer per connection cost half the instructions of a connect-create-close cycle and
    // 640 MB for 10,000 idle watchers.
    let mut chunk = READ_CHUNK_MIN_BYTES;
    loop {
        if socket.readable().await.is_err() {
            break;
        }
        // After the readiness, so a wait for it that began before a backlog cannot let a
        // request through.
        if !throttle.wait(conn).await {
            break;
        }
        let mut buf = Vec::with_capacity(chunk);
        match read_draining(&socket, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if n == chunk {
                    chunk = (chunk * 2).min(READ_CHUNK_BYTES);
                }
                if events.send(NetEvent::Bytes(conn, buf)).is_err() {
                    return;
                }
            }
            Err(e) if retry_later(&e) => continue,
            Err(_) => break,
        }
    }
    let _ = events.send(NetEvent::Closed(conn));
}

/// Reads what the socket holds into `buf`'s spare capacity with one `recv`; `Ok(0)` is the end
/// of the stream.
///
/// A read that leaves room in `buf` took everything the kernel held, so it also clears the
/// socket's read readiness, as a `WouldBlock` would: the next `readable()` then waits for new
/// bytes instead of returning at once for a `recv` that finds nothing (one wasted system call
/// per message otherwise). No arrival is lost by that:
/// - bytes that arrive after the `recv` make the edge-triggered epoll report the socket again,
///   which sets the readiness anew and wakes `readable()`;
/// - bytes whose event tokio records between its sampling of the readiness (before the `recv`)
///   and the clearing are not forgotten either: `try_io` clears only the readiness it sampled,
///   and an event recorded since has a newer tick, so the clear is skipped;
/// - the end of the stream, if it came with the last bytes, is kept too: tokio never clears a
///   read-closed readiness, so the next `recv` runs and returns 0.
///
/// The `recv` is rustix's, not tokio's `try_read_buf`: a closure given to `try_io` must not use
/// the `TcpStream`'s own methods (they handle readiness themselves), and rustix reads into the
/// vector's spare capacity without zeroing it first.
fn read_draining(socket: &OwnedReadHalf, buf: &mut Vec<u8>) -> io::Result<usize> {
    let stream: &tokio::net::TcpStream = socket.as_ref();
    let room = buf.capacity() - buf.len();
    assert!(room > 0, "a read needs room");
    let mut read = 0;
    let outcome = stream.try_io(Interest::READABLE, || {
        let flags = rustix::net::RecvFlags::empty();
        let (n, _) = rustix::net::recv(stream, rustix::buffer::spare_capacity(buf), flags)?;
        read = n;
        if n > 0 && n < room {
            // Drained: tell tokio so, with the bytes kept in `read`.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    });
    match outcome {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock && read > 0 => Ok(read),
        other => other,
    }
}

/// Whether a socket error only means "not now".
fn retry_later(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// The connection cannot be written any more (reset, broken pipe): the read side reports it
/// closed, and nothing more is written to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection is gone")]
pub struct ConnGone;

/// The write side of a client connection, held by the node task.
///
/// The node task writes frames itself. What the socket does not take at once (it would block,
/// or took part of a write) goes to a writer task, which waits until the socket is writable;
/// while that task holds any frame, later frames go to it too, so they leave in order.
///
/// The writer task is spawned the first time a connection backs up and lives as long as the
/// connection: a connection that backed up once (a client reading slowly, large replies) is
/// likely to again, and a task that ended when it ran dry could miss a frame sent to it while it
/// ended. A connection that never backs up holds no task, no channel and no buffer (10,000
/// idle watchers hold their sockets and a few counters each).
///
/// Dropping the writer closes the connection for writing once everything queued is written:
/// the write half shuts its direction down when its last holder (this, or the writer task once
/// it has written everything) drops it. A client that never reads what is left would keep the
/// writer task and its frames for as long as TCP keeps probing its closed window (without end:
/// a zero window is not a timeout), so once the writer has been dropped, a writer task that
/// makes no progress for [`BacklogLimits::stall`] resets the connection and drops the rest.
#[derive(Debug)]
pub struct ConnWriter {
    conn: ConnId,
    socket: Arc<OwnedWriteHalf>,
    /// The channel to the writer task, once there is one.
    backlog: Option<mpsc::UnboundedSender<Vec<u8>>>,
    pending: Arc<Pending>,
    limits: BacklogLimits,
}

/// What a writer task holds, shared with the node task and the connection's read task.
#[derive(Debug)]
struct Pending {
    /// Frames sent to the writer task and not yet written by it: the node task writes directly
    /// only when this is 0.
    frames: AtomicUsize,
    /// The bytes of those frames.
    bytes: AtomicUsize,
    /// When the writer last wrote something, or the backlog last started from empty, in
    /// nanoseconds since `origin`.
    progress_ns: AtomicU64,
    origin: Instant,
    /// Set when the node task drops the connection's [`ConnWriter`]: from then on nobody else
    /// can close the connection, so the writer task gives up on its own after a stall.
    orphaned: AtomicBool,
    /// Set when the writer task has ended (everything written, or the connection broken).
    ended: AtomicBool,
    /// Wakes a read task paused by the backlog, when the backlog falls to half the pause mark
    /// or the writer task ends.
    drained: tokio::sync::Notify,
}

impl Pending {
    fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    fn progressed(&self) {
        self.progress_ns.store(self.now_ns(), Ordering::Release);
    }

    /// How long since the writer last made progress.
    fn idle(&self) -> Duration {
        let since = self.progress_ns.load(Ordering::Acquire);
        Duration::from_nanos(self.now_ns().saturating_sub(since))
    }
}

impl Drop for ConnWriter {
    fn drop(&mut self) {
        self.pending.orphaned.store(true, Ordering::Release);
    }
}

/// A read task's view of its connection's backlog: it stops reading requests while the
/// client leaves more than [`BacklogLimits::bytes_max`] of replies unread. It needs no timer of
/// its own: a pause that lasts a stall ends with the writer task resetting the connection.
#[derive(Debug)]
pub(crate) struct ReadThrottle {
    pending: Arc<Pending>,
    pause_bytes: usize,
}

impl ReadThrottle {
    /// Returns at once unless the backlog has passed the pause mark; then when it has fallen to
    /// half of it (`true`: read on), or when the writer task has ended (`false`: the connection
    /// is broken, reset or dropped by the node, and what it still holds is not to be read).
    async fn wait(&self, conn: ConnId) -> bool {
        let pending = &self.pending;
        if pending.bytes.load(Ordering::Acquire) <= self.pause_bytes {
            return true;
        }
        tracing::debug!(
            conn = conn.0,
            "reads paused: the client does not read its replies"
        );
        loop {
            let drained = pending.drained.notified();
            tokio::pin!(drained);
            // Registered before the check, so a wake-up between the two is not lost.
            drained.as_mut().enable();
            if pending.ended.load(Ordering::Acquire) {
                return false;
            }
            if pending.bytes.load(Ordering::Acquire) <= self.pause_bytes / 2 {
                tracing::debug!(conn = conn.0, "reads resumed");
                return true;
            }
            drained.await;
        }
    }
}

impl ConnWriter {
    /// The write side of a connection with nothing queued.
    pub fn new(conn: ConnId, socket: OwnedWriteHalf) -> ConnWriter {
        ConnWriter::with_limits(conn, socket, BacklogLimits::default())
    }

    /// The same with other limits on what may wait unwritten.
    pub fn with_limits(conn: ConnId, socket: OwnedWriteHalf, limits: BacklogLimits) -> ConnWriter {
        assert!(limits.bytes_max <= limits.bytes_hard_max);
        let pending = Arc::new(Pending {
            frames: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            progress_ns: AtomicU64::new(0),
            origin: Instant::now(),
            orphaned: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            drained: tokio::sync::Notify::new(),
        });
        ConnWriter {
            conn,
            socket: Arc::new(socket),
            backlog: None,
            pending,
            limits,
        }
    }

    /// The handle the connection's read task pauses on.
    pub(crate) fn read_throttle(&self) -> ReadThrottle {
        ReadThrottle {
            pending: Arc::clone(&self.pending),
            pause_bytes: self.limits.bytes_max,
        }
    }

    /// Whether a writer task holds frames of this connection.
    pub fn is_backlogged(&self) -> bool {
        self.pending.frames.load(Ordering::Acquire) > 0
    }

    /// Writes `frames` (all this connection's) in order: with one system call when the socket
    /// takes them all, else the rest goes to the writer task, which gets the bytes moved out.
    pub fn write(&mut self, frames: &mut [(ConnId, Vec<u8>)]) -> Result<(), ConnGone> {
        assert!(frames.iter().all(|(conn, _)| *conn == self.conn));
        if self.is_backlogged() {
            return self.queue(frames);
        }
        let at = match write_now(&self.socket, frames, Cursor::default()) {
            Ok(at) => at,
            Err(e) => {
                tracing::debug!(conn = self.conn.0, error = %e, "client write failed");
                return Err(ConnGone);
            }
        };
        let Some(rest) = frames.get_mut(at.frame..).filter(|rest| !rest.is_empty()) else {
            return Ok(());
        };
        // The part of the first frame already written is not sent again.
        rest[0].1.drain(..at.byte);
        self.queue(rest)
    }

    /// Hands `frames` to the writer task, spawning it the first time; closes the connection
    /// instead if that would pass [`BacklogLimits::bytes_hard_max`] (a stall past `bytes_max`
    /// is the writer task's to notice: it sees the progress, and needs no new frame to act).
    fn queue(&mut self, frames: &mut [(ConnId, Vec<u8>)]) -> Result<(), ConnGone> {
        let (conn, socket, limits, pending) = (self.conn, &self.socket, self.limits, &self.pending);
        let backlog = self.backlog.get_or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(write_loop(
                conn,
                Arc::clone(socket),
                rx,
                Arc::clone(pending),
                limits,
            ));
            tx
        });
        if pending.frames.load(Ordering::Acquire) == 0 {
            // A backlog that starts now has not stalled, however long ago the last one ended.
            pending.progressed();
        }
        let bytes = frames_bytes(frames);
        let held = pending.bytes.load(Ordering::Acquire);
        if held + bytes > limits.bytes_hard_max {
            tracing::warn!(
                conn = conn.0,
                held,
                bytes,
                "client connection closed: it does not read what it is sent"
            );
            // The writer task's next write fails and it ends, dropping what it holds; the read
            // task sees the end of the stream and reports the connection closed, which ends it
            // in the node like any broken connection.
            reset(socket.as_ref().as_ref());
            return Err(ConnGone);
        }
        // Counted before they are sent, so the writer never sees a frame it has not counted.
        pending.bytes.fetch_add(bytes, Ordering::AcqRel);
        pending.frames.fetch_add(frames.len(), Ordering::AcqRel);
        for (_, frame) in frames.iter_mut() {
            if backlog.send(std::mem::take(frame)).is_err() {
                // The writer task ended on a write error.
                return Err(ConnGone);
            }
        }
        Ok(())
    }
}

/// Ends a connection both ways at once, dropping what its socket has not sent: its read task
/// sees the end of the stream, and when the last half is dropped the client gets a reset, not
/// the rest of a send buffer it does not read (which would keep the closed socket in the kernel
/// for as long as the client keeps its window shut).
fn reset(stream: &tokio::net::TcpStream) {
    let _ = rustix::net::sockopt::set_socket_linger(stream, Some(Duration::ZERO));
    let _ = rustix::net::shutdown(stream, rustix::net::Shutdown::Both);
}

/// Why a writer task stops waiting for its socket.
enum Stop {
    /// The socket cannot be written any more.
    Gone,
    /// The writer may not stall and made no progress for a stall.
    Stalled,
}

/// Whether the writer may not go [`BacklogLimits::stall`] without progress: it holds more
/// than `bytes_max`, or anything once the node has dropped the connection (nobody else could
/// close it then).
fn may_not_stall(pending: &Pending, limits: BacklogLimits) -> bool {
    pending.orphaned.load(Ordering::Acquire)
        || pending.bytes.load(Ordering::Acquire) > limits.bytes_max
}

/// Waits until `socket` is writable, or until the writer has stalled where it may not.
async fn writable(
    socket: &OwnedWriteHalf,
    pending: &Pending,
    limits: BacklogLimits,
) -> Result<(), Stop> {
    loop {
        // A writer that may stall still wakes up once a stall to see whether that changed (more
        // frames, or the node's drop), so a stall is noticed within two of them.
        let wait = if may_not_stall(pending, limits) {
            limits.stall.saturating_sub(pending.idle())
        } else {
            limits.stall
        };
        if let Ok(ready) = tokio::time::timeout(wait, socket.writable()).await {
            return ready.map_err(|_| Stop::Gone);
        }
        if may_not_stall(pending, limits) && pending.idle() >= limits.stall {
            return Err(Stop::Stalled);
        }
    }
}

/// A connection's writer task: writes what the node task could not, as the socket takes it.
/// Ends when the node task drops the connection (after writing everything sent before), when a
/// write fails, or when its client stops reading where it may not (see [`may_not_stall`]).
async fn write_loop(
    conn: ConnId,
    socket: Arc<OwnedWriteHalf>,
    incoming: mpsc::UnboundedReceiver<Vec<u8>>,
    pending: Arc<Pending>,
    limits: BacklogLimits,
) {
    write_backlog(conn, &socket, incoming, &pending, limits).await;
    pending.ended.store(true, Ordering::Release);
    pending.drained.notify_waiters();
}

/// The body of [`write_loop`]: returns when the task is to end, for whatever reason.
async fn write_backlog(
    conn: ConnId,
    socket: &OwnedWriteHalf,
    mut incoming: mpsc::UnboundedReceiver<Vec<u8>>,
    pending: &Pending,
    limits: BacklogLimits,
) {
    let mut frames: Vec<(ConnId, Vec<u8>)> = Vec::new();
    while let Some(first) = incoming.recv().await {
        frames.push((conn, first));
        while frames.len() < FRAMES_PER_WRITE_MAX {
            let Ok(frame) = incoming.try_recv() else {
                break;
            };
            frames.push((conn, frame));
        }
        let mut at = Cursor::default();
        while at.frame < frames.len() {
            if let Err(stop) = writable(socket, pending, limits).await {
                if let Stop::Stalled = stop {
                    let unwritten = pending.bytes.load(Ordering::Acquire);
                    if pending.orphaned.load(Ordering::Acquire) {
                        tracing::warn!(
                            conn = conn.0,
                            unwritten,
                            "closed client connection reset: it does not read what is left"
                        );
                    } else {
                        tracing::warn!(
                            conn = conn.0,
                            unwritten,
                            "client connection closed: it does not read what it is sent"
                        );
                    }
                    reset(socket.as_ref());
                }
                return;
            }
            at = match write_now(socket, &frames, at) {
                Ok(now) => {
                    if now != at {
                        pending.progressed();
                    }
                    now
                }
                Err(e) => {
                    tracing::debug!(conn = conn.0, error = %e, "client write failed");
                    return;
                }
            };
        }
        let bytes = frames_bytes(&frames);
        let before = pending.bytes.fetch_sub(bytes, Ordering::AcqRel);
        pending.frames.fetch_sub(frames.len(), Ordering::AcqRel);
        frames.clear();
        let resume = limits.bytes_max / 2;
        if before > resume && before - bytes <= resume {
            pending.drained.notify_waiters();
        }
    }
}

/// The bytes of `frames`, as the writer task's backlog counts them.
fn frames_bytes(frames: &[(ConnId, Vec<u8>)]) -> usize {
    frames.iter().map(|(_, frame)| frame.len()).sum()
}

/// A position in a list of frames: whole frames written, and bytes written of the next.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    frame: usize,
    byte: usize,
}

impl Cursor {
    fn advance(&mut self, frames: &[(ConnId, Vec<u8>)], mut bytes: usize) {
        while let Some((_, frame)) = frames.get(self.frame) {
            let left = frame.len() - self.byte;
            if bytes < left {
                self.byte += bytes;
                return;
            }
            bytes -= left;
            self.frame += 1;
            self.byte = 0;
        }
        assert_eq!(bytes, 0, "the socket took more bytes than it was given");
    }
}

/// Writes `frames` from `at` without waiting: one `writev` (or `send` for a single frame) per
/// [`FRAMES_PER_WRITE_MAX`] frames, until all are written or the socket takes less than it was
/// offered or would block. Returns how far it got; errors other than `WouldBlock` are returned.
fn write_now(
    socket: &OwnedWriteHalf,
    frames: &[(ConnId, Vec<u8>)],
    mut at: Cursor,
) -> io::Result<Cursor> {
    while at.frame < frames.len() {
        let batch = &frames[at.frame..frames.len().min(at.frame + FRAMES_PER_WRITE_MAX)];
        let mut slices = [IoSlice::new(&[]); FRAMES_PER_WRITE_MAX];
        for (slice, (_, frame)) in slices.iter_mut().zip(batch) {
            *slice = IoSlice::new(frame);
        }
        slices[0] = IoSlice::new(&batch[0].1[at.byte..]);
        let slices = &slices[..batch.len()];
        let offered: usize = slices.iter().map(|s| s.len()).sum();
        let written = match slices {
            [one] => socket.try_write(one),
            _ => socket.try_write_vectored(slices),
        };
        let written = match written {
            Ok(0) if offered > 0 => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if retry_later(&e) => return Ok(at),
            Err(e) => return Err(e),
        };
        at.advance(frames, written);
        if written < offered {
            // The send buffer is full: a second try now would only block.
            break;
        }
    }
    Ok(at)
}

/// What the node sent during one wake-up, written at its end: every frame of a connection in
/// one system call, as the replies to a pipeline of requests leave together.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Frames in the order the node produced them.
    frames: Vec<(ConnId, Vec<u8>)>,
    /// Connections to close once their frames are written.
    closes: Vec<ConnId>,
}

impl Outbox {
    /// Queues a frame for `conn`.
    pub fn send(&mut self, conn: ConnId, frame: Vec<u8>) {
        self.frames.push((conn, frame));
    }

    /// Closes `conn` after the frames queued for it. The node sends nothing to a connection
    /// after closing it, so its frames all come before the close.
    pub fn close(&mut self, conn: ConnId) {
        self.closes.push(conn);
    }

    /// Writes every connection's frames, then drops the connections closed (their writer tasks
    /// finish what they hold first). Frames for a connection not in `conns` (closed already)
    /// are dropped, and so is a connection whose write fails.
    pub fn flush(&mut self, conns: &mut BTreeMap<ConnId, ConnWriter>) {
        // Stable: each connection's frames stay in the order the node produced them.
        self.frames.sort_by_key(|(conn, _)| *conn);
        let mut rest = &mut self.frames[..];
        while let Some(&(conn, _)) = rest.first() {
            let mine = rest.iter().take_while(|(c, _)| *c == conn).count();
            let (frames, after) = rest.split_at_mut(mine);
            rest = after;
            if let Some(writer) = conns.get_mut(&conn) {
                if writer.write(frames).is_err() {
                    conns.remove(&conn);
                }
            }
        }
        self.frames.clear();
        for conn in self.closes.drain(..) {
            conns.remove(&conn);
        }
    }
}

#[cfg(test)]
mod tests;
