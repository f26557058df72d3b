//! Connection I/O on real loopback sockets: writes the socket does not take at once, closes
//! behind queued frames, and reads that clear the readiness they drained.

use super::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Small socket buffers on both sides, so a few hundred KiB fill them.
const SOCKET_BUFFER_BYTES: u32 = 16 * 1024;
/// How long a test waits for bytes before it is declared stuck.
const WAIT: Duration = Duration::from_secs(10);
const CONN: ConnId = ConnId(7);

/// A connected pair: the server's halves and the client, both with small buffers.
async fn pair() -> (OwnedReadHalf, OwnedWriteHalf, TcpStream) {
    let listener = TcpSocket::new_v4().expect("socket");
    // Accepted sockets inherit the listener's send buffer size.
    listener
        .set_send_buffer_size(SOCKET_BUFFER_BYTES)
        .expect("sndbuf");
    listener
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let listener = listener.listen(1).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let client = TcpSocket::new_v4().expect("socket");
    client
        .set_recv_buffer_size(SOCKET_BUFFER_BYTES)
        .expect("rcvbuf");
    let client = client.connect(addr).await.expect("connect");
    let (server, _) = listener.accept().await.expect("accept");
    let (read, write) = server.into_split();
    (read, write, client)
}

/// Frame `index`: a 4-byte length, the index, then `bytes` bytes of the index's low byte.
fn frame(index: u32, bytes: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + bytes);
    f.extend_from_slice(&((4 + bytes) as u32).to_be_bytes());
    f.extend_from_slice(&index.to_be_bytes());
    f.resize(8 + bytes, index as u8);
    f
}

/// Reads frames `indexes` in order and checks each is whole and the one due.
async fn expect_frames(client: &mut TcpStream, indexes: std::ops::Range<u32>, bytes: usize) {
    for index in indexes {
        let mut got = vec![0; 8 + bytes];
        tokio::time::timeout(WAIT, client.read_exact(&mut got))
            .await
            .expect("frames stopped coming")
            .expect("read");
        assert_eq!(got, frame(index, bytes), "frame {index}");
    }
}

async fn expect_eof(stream: &mut (impl AsyncReadExt + Unpin)) {
    let mut byte = [0u8; 1];
    let n = tokio::time::timeout(WAIT, stream.read(&mut byte))
        .await
        .expect("no end of stream")
        .expect("read");
    assert_eq!(n, 0, "bytes after the last frame");
}

/// Queues frames `indexes` for `CONN` and flushes them as one wake-up would.
fn flush(
    outbox: &mut Outbox,
    conns: &mut BTreeMap<ConnId, ConnWriter>,
    indexes: std::ops::Range<u32>,
    bytes: usize,
) {
    for index in indexes {
        outbox.send(CONN, frame(index, bytes));
    }
    outbox.flush(conns);
}

/// Splits a stream of length-prefixed frames.
fn split_frames(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    while bytes.len() >= 4 {
        let len = 4 + u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        assert!(bytes.len() >= len, "a torn frame");
        frames.push(bytes[..len].to_vec());
        bytes = &bytes[len..];
    }
    assert!(bytes.is_empty(), "a torn length");
    frames
}

/// Reads whatever the client's socket holds without blocking and without letting other tasks
/// run (the writer task among them): a std read on the runtime's only thread.
fn drain_without_yielding(client: TcpStream, into: &mut Vec<u8>) -> TcpStream {
    let client = client.into_std().expect("into_std");
    let mut chunk = [0u8; 16 * 1024];
    // Twice, so the kernel moves what the server's send buffer held into the room made.
    for _ in 0..2 {
        loop {
            match std::io::Read::read(&mut &client, &mut chunk) {
                Ok(0) => panic!("end of stream"),
                Ok(n) => into.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    TcpStream::from_std(client).expect("from_std")
}

#[tokio::test]
async fn frames_the_socket_does_not_take_follow_in_order() {
    let (_read, write, client) = pair().await;
    let mut conns = BTreeMap::from([(CONN, ConnWriter::new(CONN, write))]);
    let mut outbox = Outbox::default();
    let bytes = 64 * 1024;
    // 1 MiB against buffers of a few dozen KiB: the rest waits for the writer task.
    flush(&mut outbox, &mut conns, 0..16, bytes);
    assert!(conns[&CONN].is_backlogged());
    // The client makes room before the writer task runs: a frame of a later wake-up must
    // still queue behind the backlog, not take the room.
    let mut received = Vec::new();
    let mut client = drain_without_yielding(client, &mut received);
    assert!(!received.is_empty() && received.len() < 16 * bytes);
    flush(&mut outbox, &mut conns, 16..17, 10);
    flush(&mut outbox, &mut conns, 17..33, bytes);
    assert!(conns[&CONN].is_backlogged());
    let mut expected: Vec<Vec<u8>> = (0..16).map(|i| frame(i, bytes)).collect();
    expected.push(frame(16, 10));
    expected.extend((17..33).map(|i| frame(i, bytes)));
    let total: usize = expected.iter().map(Vec::len).sum();
    let have = received.len();
    received.resize(total, 0);
    tokio::time::timeout(WAIT, client.read_exact(&mut received[have..]))
        .await
        .expect("frames stopped coming")
        .expect("read");
    assert!(split_frames(&received) == expected, "frames out of order");
    // Drained (the writer task counts a frame off in the same poll that writes it), the node
    // task writes directly again.
    assert!(!conns[&CONN].is_backlogged());
    flush(&mut outbox, &mut conns, 33..35, 10);
    assert!(!conns[&CONN].is_backlogged());
    expect_frames(&mut client, 33..35, 10).await;
}

#[tokio::test]
async fn a_connection_that_keeps_up_gets_no_writer_task() {
    let (_read, write, mut client) = pair().await;
    let mut conns = BTreeMap::from([(CONN, ConnWriter::new(CONN, write))]);
    let mut outbox = Outbox::default();
    for wake_up in 0..10 {
        flush(&mut outbox, &mut conns, wake_up * 3..wake_up * 3 + 3, 100);
        expect_frames(&mut client, wake_up * 3..wake_up * 3 + 3, 100).await;
    }
    assert!(conns[&CONN].backlog.is_none());
}

#[tokio::test]
async fn a_close_behind_queued_frames_writes_them_all_first() {
    let (_read, write, mut client) = pair().await;
    let mut conns = BTreeMap::from([(CONN, ConnWriter::new(CONN, write))]);
    let mut outbox = Outbox::default();
    let bytes = 64 * 1024;
    flush(&mut outbox, &mut conns, 0..8, bytes);
    assert!(conns[&CONN].is_backlogged());
    for index in 8..16 {
        outbox.send(CONN, frame(index, bytes));
    }
    outbox.close(CONN);
    outbox.flush(&mut conns);
    assert!(conns.is_empty());
    // Frames for a closed connection are dropped.
    flush(&mut outbox, &mut conns, 16..17, 10);
    expect_frames(&mut client, 0..16, bytes).await;
    expect_eof(&mut client).await;
}

#[tokio::test]
async fn a_close_in_the_same_wake_up_follows_its_frames() {
    let (_read, write, mut client) = pair().await;
    let mut conns = BTreeMap::from([(CONN, ConnWriter::new(CONN, write))]);
    let mut outbox = Outbox::default();
    outbox.send(CONN, frame(0, 100));
    outbox.send(CONN, frame(1, 100));
    outbox.close(CONN);
    outbox.flush(&mut conns);
    assert!(conns.is_empty());
    expect_frames(&mut client, 0..2, 100).await;
    expect_eof(&mut client).await;
}

#[tokio::test]
async fn a_connection_whose_peer_is_gone_is_dropped() {
    let (_read, write, client) = pair().await;
    let mut conns = BTreeMap::from([(CONN, ConnWriter::new(CONN, write))]);
    let mut outbox = Outbox::default();
    client.set_zero_linger().expect("linger");
    drop(client);
    // The reset may take a moment to arrive; a write after it fails.
    for index in 0..100 {
        if conns.is_empty() {
            return;
        }
        flush(&mut outbox, &mut conns, index..index + 1, 100);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("writes to a reset connection kept succeeding");
}

#[tokio::test]
async fn a_read_that_drains_the_socket_clears_its_readiness() {
    let (read, _write, mut client) = pair().await;
    client.write_all(b"hello").await.expect("write");
    read.readable().await.expect("readable");
    let mut buf = Vec::with_capacity(64);
    assert_eq!(read_draining(&read, &mut buf).expect("read"), 5);
    assert_eq!(buf, b"hello");
    // No second `recv` until new bytes are reported: try_io does not even call its closure.
    let mut called = false;
    let again = read.as_ref().try_io(Interest::READABLE, || {
        called = true;
        Ok(())
    });
    assert!(!called && again.is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock));
    // A read that fills its buffer may have left bytes behind: the readiness stays.
    client.write_all(&[1; 100]).await.expect("write");
    read.readable().await.expect("readable");
    let mut buf = Vec::with_capacity(64);
    assert_eq!(read_draining(&read, &mut buf).expect("read"), 64);
    let mut rest = Vec::with_capacity(64);
    assert_eq!(read_draining(&read, &mut rest).expect("read"), 36);
}

/// Bytes sent after a drained read wake the read task again, whether the client pauses first
/// or not, and the end of the stream arrives after the last of them.
#[tokio::test]
async fn bytes_after_a_drained_read_still_arrive() {
    let (read, write, mut client) = pair().await;
    let writer = ConnWriter::new(CONN, write);
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(read_loop(CONN, read, tx, writer.read_throttle()));
    let mut sent = Vec::new();
    for round in 0u8..20 {
        let message = vec![round; 10 + usize::from(round)];
        client.write_all(&message).await.expect("write");
        sent.extend_from_slice(&message);
        if round % 2 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    // 300 KiB more: reads fill their buffers and grow.
    let large: Vec<u8> = (0..300 * 1024).map(|i| (i % 251) as u8).collect();
    client.write_all(&large).await.expect("write");
    sent.extend_from_slice(&large);
    client.shutdown().await.expect("shutdown");
    let mut got = Vec::new();
    loop {
        match tokio::time::timeout(WAIT, rx.recv()).await.expect("stuck") {
            Some(NetEvent::Bytes(conn, bytes)) => {
                assert_eq!(conn, CONN);
                assert!(!bytes.is_empty() && bytes.len() <= READ_CHUNK_BYTES);
                got.extend_from_slice(&bytes);
            }
            Some(NetEvent::Closed(conn)) => {
                assert_eq!(conn, CONN);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, sent);
}

/// Bytes and the end of the stream already there at the first read: both are reported.
#[tokio::test]
async fn bytes_then_end_of_stream_in_one_arrival() {
    let (read, write, mut client) = pair().await;
    client.write_all(b"last words").await.expect("write");
    client.shutdown().await.expect("shutdown");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let writer = ConnWriter::new(CONN, write);
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(read_loop(CONN, read, tx, writer.read_throttle()));
    let first = tokio::time::timeout(WAIT, rx.recv()).await.expect("stuck");
    assert!(matches!(first, Some(NetEvent::Bytes(CONN, ref b)) if b == b"last words"));
    let second = tokio::time::timeout(WAIT, rx.recv()).await.expect("stuck");
    assert!(matches!(second, Some(NetEvent::Closed(CONN))));
}

/// Limits small enough for a test: 1 MiB, 1 s (fifty times the slow reader's pause), 8 MiB.
const LIMITS: BacklogLimits = BacklogLimits {
    bytes_max: 1 << 20,
    stall: Duration::from_secs(1),
    bytes_hard_max: 8 << 20,
};
const BIG_FRAME_BYTES: usize = 64 << 10;

/// Checks that `received` is frames 0, 1, ... of [`BIG_FRAME_BYTES`], whole and in order (a
/// last one may be torn by a close); returns how many.
fn expect_prefix(received: &[u8]) -> usize {
    let whole = received.len() - received.len() % (8 + BIG_FRAME_BYTES);
    let got = split_frames(&received[..whole]);
    for (index, f) in got.iter().enumerate() {
        assert_eq!(*f, frame(index as u32, BIG_FRAME_BYTES), "frame {index}");
    }
    got.len()
}

/// Reads what the client gets until the end of the stream: [`expect_prefix`].
async fn expect_prefix_then_eof(client: &mut TcpStream) -> usize {
    let mut received = Vec::new();
    tokio::time::timeout(WAIT, client.read_to_end(&mut received))
        .await
        .expect("no end of stream")
        .expect("read");
    expect_prefix(&received)
}

#[tokio::test]
async fn a_connection_that_does_not_read_is_closed_once_its_backlog_stalls() {
    let (mut read, write, mut client) = pair().await;
    let mut conns = BTreeMap::from([(CONN, ConnWriter::with_limits(CONN, write, LIMITS))]);
    let mut outbox = Outbox::default();
    // 2 MiB at once: past `bytes_max`, but the backlog has only just started.
    flush(&mut outbox, &mut conns, 0..32, BIG_FRAME_BYTES);
    assert!(conns.contains_key(&CONN), "closed before it could stall");
    let started = std::time::Instant::now();
    // Nothing is read for `stall`: the writer task resets the connection by itself, with no
    // further frame to prompt it, and the read side sees the end of the stream.
    expect_eof(&mut read).await;
    assert!(
        started.elapsed() >= LIMITS.stall - Duration::from_millis(50),
        "closed after {:?}, before a stall",
        started.elapsed()
    );
    // The next frame finds it gone.
    flush(&mut outbox, &mut conns, 32..33, BIG_FRAME_BYTES);
    assert!(!conns.contains_key(&CONN), "kept after the reset");
    let got = expect_prefix_then_eof(&mut client).await;
    assert!(
        got < 32,
        "all {got} frames were written to a client that read none"
    );
}

#[tokio::test]
async fn a_slow_reader_keeps_its_connection_past_the_soft_limit_but_not_the_hard_one() {
    let (_read, write, client) = pair().await;
    let mut conns = BTreeMap::from([(CONN, ConnWriter::with_limits(CONN, write, LIMITS))]);
    let mut outbox = Outbox::default();
    // A reader that takes 16 KiB every 20 ms: the writer keeps making progress.
    let (mut client_read, _client_write) = client.into_split();
    let reader = tokio::spawn(async move {
        let mut received = Vec::new();
        let mut chunk = vec![0u8; 16 << 10];
        loop {
            match client_read.read(&mut chunk).await {
                Ok(0) | Err(_) => return received,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let mut next = 0;
    for _ in 0..4 {
        flush(&mut outbox, &mut conns, next..next + 32, BIG_FRAME_BYTES);
        next += 32;
        tokio::time::sleep(LIMITS.stall).await;
        assert!(
            conns.contains_key(&CONN),
            "a reading client was cut off at frame {next}"
        );
    }
    // 8 MiB more at once passes the hard limit, progress or not.
    flush(&mut outbox, &mut conns, next..next + 128, BIG_FRAME_BYTES);
    assert!(!conns.contains_key(&CONN), "kept past the hard limit");
    let received = tokio::time::timeout(WAIT, reader)
        .await
        .expect("no end")
        .expect("reader");
    let got = expect_prefix(&received);
    // 16 KiB per 20 ms for the 4 s the loop took: about 3 MB, dozens of frames.
    assert!(got >= 16, "the slow reader got only {got} frames");
    assert!(got < next as usize + 128, "a refused frame was sent");
}

#[tokio::test]
async fn a_closed_connection_whose_client_does_not_read_is_reset_after_a_stall() {
    let (mut read, write, mut client) = pair().await;
    let mut conns = BTreeMap::from([(CONN, ConnWriter::with_limits(CONN, write, LIMITS))]);
    let mut outbox = Outbox::default();
    // 512 KiB: under `bytes_max`, so only the stall after the close can end it.
    for index in 0..8 {
        outbox.send(CONN, frame(index, BIG_FRAME_BYTES));
    }
    outbox.close(CONN);
    outbox.flush(&mut conns);
    assert!(conns.is_empty());
    tokio::time::sleep(LIMITS.stall * 2 + Duration::from_millis(200)).await;
    // The writer task gave up: the read side ends, as it would for the node's read task...
    expect_eof(&mut read).await;
    drop(read);
    // ...and the client, reading at last, gets what the kernel held and then the reset, not
    // the frames the writer task still had.
    let mut received = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        match tokio::time::timeout(WAIT, client.read(&mut chunk)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
                break;
            }
            Err(_) => panic!("neither the frames nor a reset came"),
        }
    }
    let got = expect_prefix(&received);
    assert!(
        got < 8,
        "a stalled writer task still wrote all {got} frames"
    );
}

/// A connection with a read task, whose writer holds 2 MiB the client has not read: past
/// [`LIMITS`]' `bytes_max`, where reads pause.
async fn paused() -> (
    mpsc::UnboundedReceiver<NetEvent>,
    BTreeMap<ConnId, ConnWriter>,
    TcpStream,
) {
    let (read, write, client) = pair().await;
    let writer = ConnWriter::with_limits(CONN, write, LIMITS);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(read_loop(CONN, read, tx, writer.read_throttle()));
    let mut conns = BTreeMap::from([(CONN, writer)]);
    flush(&mut Outbox::default(), &mut conns, 0..32, BIG_FRAME_BYTES);
    assert!(conns[&CONN].is_backlogged());
    (rx, conns, client)
}

#[tokio::test]
async fn a_client_that_does_not_read_its_replies_is_not_read_from_until_it_does() {
    let (mut rx, conns, mut client) = paused().await;
    client.write_all(b"next request").await.expect("write");
    let early = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await;
    assert!(early.is_err(), "read while the replies wait: {early:?}");
    // The client reads its replies; once half of `bytes_max` is left, its request is read.
    expect_frames(&mut client, 0..32, BIG_FRAME_BYTES).await;
    let read = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("never read");
    assert!(
        matches!(read, Some(NetEvent::Bytes(CONN, ref b)) if b == b"next request"),
        "{read:?}"
    );
    assert!(conns.contains_key(&CONN), "a reading client was cut off");
}

#[tokio::test]
async fn a_paused_read_task_ends_as_soon_as_its_connection_breaks() {
    let (mut rx, _conns, client) = paused().await;
    // The client goes away with a reset: the writer task's write fails and it ends, which must
    // wake the paused read task at once, not after a stall.
    client.set_zero_linger().expect("linger");
    drop(client);
    let closed = tokio::time::timeout(LIMITS.stall / 2, async {
        loop {
            match rx.recv().await {
                Some(NetEvent::Closed(conn)) => return conn,
                Some(_) => continue,
                None => panic!("the read task ended without reporting the close"),
            }
        }
    })
    .await
    .expect("the paused read task did not notice the broken connection");
    assert_eq!(closed, CONN);
}

#[tokio::test]
async fn a_paused_connection_whose_client_never_reads_is_closed_after_a_stall() {
    let (mut rx, conns, mut client) = paused().await;
    client.write_all(b"request").await.expect("write");
    let started = std::time::Instant::now();
    let closed = tokio::time::timeout(LIMITS.stall + WAIT, rx.recv())
        .await
        .expect("a client that never reads kept its connection");
    assert!(matches!(closed, Some(NetEvent::Closed(CONN))), "{closed:?}");
    assert!(
        started.elapsed() >= LIMITS.stall - Duration::from_millis(50),
        "closed after {:?}, before a stall",
        started.elapsed()
    );
    assert!(
        conns.contains_key(&CONN),
        "the node still holds it until it hears"
    );
}
