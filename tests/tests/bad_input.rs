//! Misbehaving peers on raw TCP: malformed frames, unknown opcodes, dead sessions, silent and
//! excessive connections. After each one a normal client must still be served.

#[path = "e2e/mod.rs"]
mod common;

use common::{assert_served, connect_request, frame, wait_for, wait_for_log, Raw, Read1};
use corral_core::jute::{err, op, Reader, Record, ReplyHeader, Request, Writer};
use corral_tests::Server;
use std::time::Duration;

/// Bytes of a frame with `len` in its prefix and `body` after it (which may disagree).
fn with_length(len: i32, body: &[u8]) -> Vec<u8> {
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

#[test]
fn garbage_before_the_handshake_closes_the_connection() {
    let server = Server::start("");
    let mut raw = Raw::connect(&server);
    // An HTTP request: "GET " read as a length is 0x47455420, far over jute.maxbuffer.
    raw.send(b"GET / HTTP/1.1\r\nHost: zk\r\n\r\n");
    assert!(raw.expect_closed().is_empty(), "garbage got an answer");
    wait_for_log(&server, &["invalid frame length", "len=1195725856"]);
    assert_served(&server);
}

#[test]
fn zero_frame_length_closes_the_connection() {
    let server = Server::start("");
    let mut raw = Raw::connect(&server);
    raw.send(&with_length(0, &[]));
    assert!(raw.expect_closed().is_empty());
    wait_for_log(&server, &["invalid frame length", "len=0"]);
    assert_served(&server);
}

#[test]
fn negative_frame_length_closes_the_connection() {
    let server = Server::start("");
    let mut raw = Raw::connect(&server);
    raw.send(&with_length(-1, &[0; 8]));
    assert!(raw.expect_closed().is_empty());
    wait_for_log(&server, &["invalid frame length", "len=-1"]);
    assert_served(&server);
}

#[test]
fn negative_frame_length_after_the_handshake_closes_the_session_connection() {
    let server = Server::start("");
    let mut raw = Raw::connect(&server);
    raw.handshake(4000);
    raw.send(&with_length(i32::MIN, &[]));
    assert!(raw.expect_closed().is_empty());
    wait_for_log(&server, &["invalid frame length", "len=-2147483648"]);
    assert_served(&server);
}

#[test]
fn frame_over_jute_maxbuffer_is_refused_before_its_body_arrives() {
    let server = Server::start("");
    // One byte over 1 MiB - 1: only the prefix is sent, the server must not wait for the body.
    let mut raw = Raw::connect(&server);
    raw.send(&with_length(0x10_0000, &[]));
    assert!(raw.expect_closed().is_empty());
    wait_for_log(
        &server,
        &["invalid frame length", "len=1048576", "limit=1048575"],
    );
    assert_served(&server);
}

#[test]
fn frame_of_exactly_jute_maxbuffer_is_accepted() {
    let server = Server::start("");
    let mut raw = Raw::connect(&server);
    raw.handshake(4000);
    // A setData whose whole frame body is exactly 1 MiB - 1 bytes.
    let overhead = {
        let mut w = Writer::new();
        w.write_i32(1);
        w.write_i32(op::SET_DATA);
        w.write_string("/");
        w.write_buffer(&[]);
        w.write_i32(-1);
        w.len()
    };
    let data = vec![7u8; 0xf_ffff - overhead];
    let (h, _) = raw.call(&Request::Create(corral_core::jute::CreateRequest {
        path: "/big".into(),
        data: Vec::new(),
        acl: corral_core::jute::Acl::open_unsafe(),
        flags: 0,
    }));
    assert_eq!(h.err, err::OK);
    let mut w = Writer::framed();
    w.write_i32(77);
    w.write_i32(op::SET_DATA);
    w.write_string("/");
    w.write_buffer(&data);
    w.write_i32(-1);
    let bytes = w.finish_frame();
    assert_eq!(bytes.len(), 4 + 0xf_ffff);
    raw.send(&bytes);
    let body = raw.expect_frame();
    let header = ReplyHeader::read(&mut Reader::new(&body)).expect("reply header");
    assert_eq!((header.xid, header.err), (77, err::OK));
    assert_served(&server);
}

#[test]
fn truncated_connect_request_closes_the_connection() {
    let server = Server::start("");
    let mut raw = Raw::connect(&server);
    // A consistent 10-byte frame whose body stops inside the ConnectRequest.
    let full = frame(&connect_request(4000, 0, vec![0; 16]));
    raw.send(&with_length(10, &full[4..14]));
    assert!(raw.expect_closed().is_empty());
    wait_for_log(&server, &["malformed connect request"]);
    assert_served(&server);
}

#[test]
fn connect_request_cut_short_mid_frame_is_awaited_not_misparsed() {
    let server = Server::start("");
    let mut raw = Raw::connect(&server);
    let full = frame(&connect_request(4000, 0, vec![0; 16]));
    // The prefix promises the whole record; only half arrives, then the client waits.
    raw.send(&full[..full.len() / 2]);
    raw.stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    assert!(matches!(raw.read_frame(), Read1::Silent));
    // The rest completes the handshake.
    raw.stream
        .set_read_timeout(Some(common::STEP_TIMEOUT))
        .expect("timeout");
    raw.send(&full[full.len() / 2..]);
    let body = raw.expect_frame();
    let rsp = corral_core::jute::ConnectResponse::from_bytes(&body).expect("connect response");
    assert!(rsp.session_id != 0 && rsp.timeout_ms == 4000);
    assert_served(&server);
}

#[test]
fn malformed_request_body_closes_the_connection() {
    let server = Server::start("");
    let mut raw = Raw::connect(&server);
    raw.handshake(4000);
    // getData whose path claims 100 bytes but carries 3.
    let mut w = Writer::framed();
    w.write_i32(1);
    w.write_i32(op::GET_DATA);
    w.write_i32(100);
    w.write_i32(0x2f6162); // "/ab" and one zero byte, not 100 bytes
    raw.send(&w.finish_frame());
    assert!(
        raw.expect_closed().is_empty(),
        "malformed request got a reply"
    );
    wait_for_log(&server, &["malformed request; closing", "opcode=4"]);
    assert_served(&server);
}

#[test]
fn request_header_cut_short_closes_the_connection() {
    let server = Server::start("");
    let mut raw = Raw::connect(&server);
    raw.handshake(4000);
    raw.send(&with_length(3, &[0, 0, 1]));
    assert!(raw.expect_closed().is_empty());
    wait_for_log(&server, &["malformed request header"]);
    assert_served(&server);
}

/// What ZooKeeper 3.8 does (UnimplementedRequestProcessor): reply UNIMPLEMENTED, then
/// `cnxn.sendCloseSession()` closes the connection.
#[test]
fn unknown_opcode_closes_the_connection_like_zookeeper() {
    let server = Server::start("");
    let mut raw = Raw::connect(&server);
    raw.handshake(10_000);
    let mut w = Writer::framed();
    w.write_i32(41);
    w.write_i32(999);
    raw.send(&w.finish_frame());
    assert_eq!(raw.expect_reply(41).err, err::UNIMPLEMENTED);
    wait_for_log(&server, &["unknown opcode", "opcode=999"]);
    // Well within the 10 s session timeout, so only the unknown opcode can close it.
    raw.stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    assert!(
        matches!(raw.read_frame(), Read1::Closed),
        "connection kept open"
    );
    assert_served(&server);
}

#[test]
fn reconnecting_to_an_expired_session_is_refused() {
    let server = Server::start("");
    let mut owner = Raw::connect(&server);
    let rsp = owner.handshake(1000);
    assert_eq!(rsp.timeout_ms, 1000);
    let (h, _) = owner.call(&Request::Create(corral_core::jute::CreateRequest {
        path: "/mine".into(),
        data: Vec::new(),
        acl: corral_core::jute::Acl::open_unsafe(),
        flags: 1,
    }));
    assert_eq!(h.err, err::OK);
    // A watcher learns when the session is gone: its ephemeral is deleted at expiry.
    let mut watcher = Raw::connect(&server);
    watcher.handshake(10_000);
    let (h, _) = watcher.call(&Request::Exists {
        path: "/mine".into(),
        watch: true,
    });
    assert_eq!(h.err, err::OK);
    // The owner goes away without closing its session.
    drop(owner);
    let ev = watcher.expect_notification();
    assert_eq!((ev.event_type, ev.path.as_str()), (2, "/mine"));
    wait_for_log(&server, &["session expired"]);

    let mut late = Raw::connect(&server);
    let answer = late.handshake_with(&connect_request(1000, rsp.session_id, rsp.password));
    assert_eq!((answer.timeout_ms, answer.session_id), (0, 0), "{answer:?}");
    assert!(late.expect_closed().is_empty());
    wait_for_log(&server, &["reconnect to an unknown or expired session"]);
    assert_served(&server);
}

#[test]
fn reconnecting_with_a_wrong_password_is_refused() {
    let server = Server::start("");
    let mut owner = Raw::connect(&server);
    let rsp = owner.handshake(10_000);
    let mut thief = Raw::connect(&server);
    let answer = thief.handshake_with(&connect_request(10_000, rsp.session_id, vec![1; 16]));
    assert_eq!((answer.timeout_ms, answer.session_id), (0, 0));
    assert!(thief.expect_closed().is_empty());
    // The owner's connection is untouched.
    let (h, _) = owner.call(&Request::Exists {
        path: "/".into(),
        watch: false,
    });
    assert_eq!(h.err, err::OK);
    assert_served(&server);
}

/// A connection that has not sent its ConnectRequest yet stays open (until the 10 s sessionless
/// timeout) while others are served, and may still complete its handshake.
#[test]
fn a_silent_connection_does_not_block_others() {
    let server = Server::start("");
    let mut silent = Raw::connect(&server);
    assert_served(&server);
    assert_served(&server);
    silent
        .stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    assert!(
        matches!(silent.read_frame(), Read1::Silent),
        "silent connection was closed"
    );
    // It is listed by `cons` as a connection without a session.
    let cons = server.four_letter("cons").expect("cons");
    assert!(cons.contains("sid=0x0"), "{cons}");
    // It can still complete a handshake later.
    silent
        .stream
        .set_read_timeout(Some(common::STEP_TIMEOUT))
        .expect("timeout");
    let rsp = silent.handshake(4000);
    assert!(rsp.session_id != 0);
}

/// ZooKeeper's NIO server closes a connection without a session after
/// `zookeeper.nio.sessionlessCnxnTimeout` (10 s by default).
#[test]
fn a_silent_connection_is_closed_like_zookeeper() {
    let server = Server::start("");
    let mut silent = Raw::connect(&server);
    silent
        .stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    assert!(matches!(silent.read_frame(), Read1::Closed));
}

#[test]
fn a_thousand_connections_complete_their_handshakes() {
    const CONNS: usize = 1000;
    let server = Server::start("maxClientCnxns=0");
    let request = frame(&connect_request(30_000, 0, vec![0; 16]));
    let mut raws: Vec<Raw> = (0..CONNS).map(|_| Raw::connect(&server)).collect();
    for raw in &mut raws {
        raw.send(&request);
    }
    let mut sessions = std::collections::BTreeSet::new();
    for raw in &mut raws {
        let body = raw.expect_frame();
        let rsp = corral_core::jute::ConnectResponse::from_bytes(&body).expect("response");
        assert_eq!(
            rsp.timeout_ms, 10_000,
            "clamped to maxSessionTimeout = 20 ticks"
        );
        sessions.insert(rsp.session_id);
    }
    assert_eq!(sessions.len(), CONNS, "session ids are unique");
    assert_served(&server);
    let mntr = server.four_letter("mntr").expect("mntr");
    assert!(mntr.contains("zk_num_alive_connections\t1000"), "{mntr}");
    drop(raws);
}

#[test]
fn connections_over_max_client_cnxns_are_closed() {
    let server = Server::start("maxClientCnxns=5");
    // The harness's `ruok` probes may linger for a moment and count against the limit; a slot
    // refused because of them is retried until the five are established.
    let mut five: Vec<Raw> = (0..5).map(|_| handshake_retrying(&server)).collect();
    let mut sixth = Raw::connect(&server);
    sixth.send(&frame(&connect_request(4000, 0, vec![0; 16])));
    assert!(
        sixth.expect_closed().is_empty(),
        "sixth connection was answered"
    );
    wait_for_log(
        &server,
        &[
            "too many connections from this address",
            "ip=127.0.0.1",
            "limit=5",
        ],
    );
    for raw in &mut five {
        let (h, _) = raw.call(&Request::Exists {
            path: "/".into(),
            watch: false,
        });
        assert_eq!(h.err, err::OK);
    }
    // Once the five are gone a newcomer is served again.
    drop(five);
    wait_for("a free connection slot", common::STEP_TIMEOUT, || {
        server.four_letter("ruok").as_deref() == Some("imok")
    });
    assert_served(&server);
}

/// A raw connection with a session, retried while the server refuses it for lack of a slot.
fn handshake_retrying(server: &Server) -> Raw {
    let deadline = std::time::Instant::now() + common::STEP_TIMEOUT;
    while std::time::Instant::now() < deadline {
        let mut raw = Raw::connect(server);
        raw.send(&frame(&connect_request(4000, 0, vec![0; 16])));
        if let Read1::Frame(body) = raw.read_frame() {
            let rsp = corral_core::jute::ConnectResponse::from_bytes(&body).expect("response");
            assert!(rsp.session_id != 0);
            return raw;
        }
    }
    panic!("no connection slot became free");
}
