//! Connection I/O on real loopback sockets: reads that clear the readiness they drained.

use super::*;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
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
    let (read, _write, mut client) = pair().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(read_loop(CONN, read, tx));
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
    let (read, _write, mut client) = pair().await;
    client.write_all(b"last words").await.expect("write");
    client.shutdown().await.expect("shutdown");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(read_loop(CONN, read, tx));
    let first = tokio::time::timeout(WAIT, rx.recv()).await.expect("stuck");
    assert!(matches!(first, Some(NetEvent::Bytes(CONN, ref b)) if b == b"last words"));
    let second = tokio::time::timeout(WAIT, rx.recv()).await.expect("stuck");
    assert!(matches!(second, Some(NetEvent::Closed(CONN))));
}
