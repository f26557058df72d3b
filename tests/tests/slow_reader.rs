//! A client that stops reading while the server answers it: the replies fill the socket
//! buffers, the rest wait in the server, and all of them arrive whole and in order once the
//! client reads again — with a close behind them coming last.
//!
//! Run with `CORRAL_BIN=<target>/debug/corral cargo test -p corral-tests --test slow_reader`.

mod raw;

use corral_tests::Server;
use raw::{parse_get_data, Op, RawClient};
use std::io::ErrorKind;
use std::time::Duration;

/// A value near ZooKeeper's 1 MB frame limit: a few of its replies fill any socket buffer.
const VALUE_BYTES: usize = 1_000_000;
/// Replies of [`VALUE_BYTES`] asked for at once: 32 MB, far beyond the kernel's buffers.
const READS: usize = 32;
/// Long enough for the server to answer everything it was sent.
const PAUSE: Duration = Duration::from_millis(500);

/// A value no two offsets of which are easily confused.
fn big_value() -> Vec<u8> {
    (0..VALUE_BYTES).map(|i| (i % 253) as u8).collect()
}

fn get_big() -> Vec<Op> {
    (0..READS)
        .map(|_| Op::GetData {
            path: "/big".into(),
        })
        .collect()
}

fn setup(server: &Server) -> RawClient {
    let mut client = RawClient::connect(&server.addr(), 10_000).expect("session");
    let ops = [
        Op::Create {
            path: "/big".into(),
            data: big_value(),
        },
        Op::Create {
            path: "/small".into(),
            data: b"before".to_vec(),
        },
    ];
    for reply in client.call_all(&ops).expect("setup") {
        assert_eq!(reply.err, 0);
    }
    client
}

/// Reads the replies to `xids` in order and checks the big values are whole.
fn expect_big_replies(client: &mut RawClient, xids: &[i32]) {
    for &xid in xids {
        expect_big_reply(client, xid);
    }
}

fn expect_big_reply(client: &mut RawClient, xid: i32) {
    let reply = client.recv().expect("a reply");
    assert_eq!((reply.xid, reply.err), (xid, 0));
    let (data, stat) = parse_get_data(&reply.body).expect("getData body");
    assert_eq!(stat.data_length as usize, VALUE_BYTES);
    assert!(
        data == big_value(),
        "reply {xid}: the value came back altered"
    );
}

fn expect_small_reply(client: &mut RawClient, xid: i32, value: &[u8]) {
    let reply = client.recv().expect("a reply");
    assert_eq!(
        (reply.xid, reply.err),
        (xid, 0),
        "a small reply out of order"
    );
    let (data, _) = parse_get_data(&reply.body).expect("getData body");
    assert_eq!(data, value);
}

#[test]
fn replies_to_a_client_that_does_not_read_arrive_whole_and_in_order() {
    let server = Server::start("");
    let mut client = setup(&server);
    let xids = client.send(&get_big()).expect("send");
    std::thread::sleep(PAUSE);
    // A write and a read sent while those replies wait in the server: theirs come after.
    let later = [
        Op::SetData {
            path: "/small".into(),
            data: b"after".to_vec(),
        },
        Op::GetData {
            path: "/small".into(),
        },
    ];
    let later_xids = client.send(&later).expect("send");
    std::thread::sleep(PAUSE);
    // Each reply read makes room in the socket while the rest still wait; a small request sent
    // right then is answered after them all, not into that room.
    let small = [Op::GetData {
        path: "/small".into(),
    }];
    let mut small_xids = Vec::new();
    for &xid in &xids {
        expect_big_reply(&mut client, xid);
        small_xids.extend(client.send(&small).expect("send"));
    }
    let set = client.recv().expect("setData reply");
    assert_eq!((set.xid, set.err), (later_xids[0], 0));
    expect_small_reply(&mut client, later_xids[1], b"after");
    for xid in small_xids {
        expect_small_reply(&mut client, xid, b"after");
    }
}

#[test]
fn a_close_behind_waiting_replies_comes_after_them() {
    let server = Server::start("");
    let mut client = setup(&server);
    let mut ops = get_big();
    ops.push(Op::CloseSession);
    let xids = client.send(&ops).expect("send");
    std::thread::sleep(PAUSE);
    let (close_xid, big_xids) = xids.split_last().expect("xids");
    expect_big_replies(&mut client, big_xids);
    let close = client.recv().expect("closeSession reply");
    assert_eq!((close.xid, close.err), (*close_xid, 0));
    let end = client
        .recv()
        .expect_err("the server closes after the reply");
    assert_eq!(end.kind(), ErrorKind::UnexpectedEof, "{end}");
}
