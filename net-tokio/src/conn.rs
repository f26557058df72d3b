//! A client connection's socket I/O: a read task that forwards bytes to the node task, and a
//! write task that writes what the node task sends it.

use crate::driver::NetEvent;
use corral_core::ConnId;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The most bytes read from a socket at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// The first read of a connection takes at most this many bytes; a read that fills its buffer
/// doubles the next one, up to [`READ_CHUNK_BYTES`].
const READ_CHUNK_MIN_BYTES: usize = 2 * 1024;

/// What the node task tells a connection's writer.
#[derive(Debug)]
pub enum ConnCommand {
    /// Write these bytes.
    Send(Vec<u8>),
    /// Flush and close.
    Close,
}

/// Accepts client connections and spawns their reader and writer tasks.
pub async fn accept_loop(listener: TcpListener, events: mpsc::UnboundedSender<NetEvent>) {
    let mut next_conn: u64 = 1;
    loop {
        let (stream, addr) = match listener.accept().await {
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
        let (tx, rx) = mpsc::unbounded_channel();
        if events.send(NetEvent::Connected(conn, addr, tx)).is_err() {
            return;
        }
        let (read_half, write_half) = stream.into_split();
        tokio::spawn(read_loop(conn, read_half, events.clone()));
        tokio::spawn(write_loop(write_half, rx));
    }
}

/// Forwards what a connection reads to the node task until the connection closes.
pub(crate) async fn read_loop(
    conn: ConnId,
    socket: OwnedReadHalf,
    events: mpsc::UnboundedSender<NetEvent>,
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

pub(crate) async fn write_loop(
    mut socket: tokio::net::tcp::OwnedWriteHalf,
    mut commands: mpsc::UnboundedReceiver<ConnCommand>,
) {
    let mut batch: Vec<u8> = Vec::new();
    while let Some(first) = commands.recv().await {
        let mut close = false;
        let mut next = Some(first);
        // Coalesce every frame already queued into one write.
        while let Some(cmd) = next {
            match cmd {
                ConnCommand::Send(bytes) => batch.extend_from_slice(&bytes),
                ConnCommand::Close => {
                    close = true;
                    break;
                }
            }
            next = commands.try_recv().ok();
        }
        if !batch.is_empty() && socket.write_all(&batch).await.is_err() {
            break;
        }
        batch.clear();
        if close {
            break;
        }
    }
    let _ = socket.shutdown().await;
}

#[cfg(test)]
mod tests;
