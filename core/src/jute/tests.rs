//! Round trips, golden bytes and totality of the protocol records.

use super::*;
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};

// ---------------------------------------------------------------------------------------------
// Strategies.

fn text() -> BoxedStrategy<String> {
    "\\PC{0,6}".boxed()
}

fn texts() -> BoxedStrategy<Vec<String>> {
    prop::collection::vec(text(), 0..4).boxed()
}

fn bytes() -> BoxedStrategy<Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..12).boxed()
}

fn acls() -> BoxedStrategy<Vec<Acl>> {
    let acl = (any::<i32>(), text(), text()).prop_map(|(perms, scheme, id)| Acl {
        perms,
        id: Id { scheme, id },
    });
    prop::collection::vec(acl, 0..3).boxed()
}

fn stat() -> BoxedStrategy<Stat> {
    (
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()),
        (any::<i32>(), any::<i32>(), any::<i32>()),
        (any::<i64>(), any::<i32>(), any::<i32>(), any::<i64>()),
    )
        .prop_map(
            |((czxid, mzxid, ctime, mtime), (version, cversion, aversion), rest)| {
                let (ephemeral_owner, data_length, num_children, pzxid) = rest;
                Stat {
                    czxid,
                    mzxid,
                    ctime,
                    mtime,
                    version,
                    cversion,
                    aversion,
                    ephemeral_owner,
                    data_length,
                    num_children,
                    pzxid,
                }
            },
        )
        .boxed()
}

fn create() -> BoxedStrategy<CreateRequest> {
    (text(), bytes(), acls(), any::<i32>())
        .prop_map(|(path, data, acl, flags)| CreateRequest {
            path,
            data,
            acl,
            flags,
        })
        .boxed()
}

fn create_ttl() -> BoxedStrategy<CreateTtlRequest> {
    (create(), any::<i64>())
        .prop_map(|(c, ttl)| CreateTtlRequest {
            path: c.path,
            data: c.data,
            acl: c.acl,
            flags: c.flags,
            ttl,
        })
        .boxed()
}

fn write_op() -> BoxedStrategy<MultiOp> {
    Union::new(vec![
        create().prop_map(MultiOp::Create).boxed(),
        create().prop_map(MultiOp::Create2).boxed(),
        create().prop_map(MultiOp::CreateContainer).boxed(),
        create_ttl().prop_map(MultiOp::CreateTtl).boxed(),
        (text(), any::<i32>())
            .prop_map(|(path, version)| MultiOp::Delete { path, version })
            .boxed(),
        (text(), bytes(), any::<i32>())
            .prop_map(|(path, data, version)| MultiOp::SetData {
                path,
                data,
                version,
            })
            .boxed(),
        (text(), any::<i32>())
            .prop_map(|(path, version)| MultiOp::Check { path, version })
            .boxed(),
    ])
    .boxed()
}

fn read_op() -> BoxedStrategy<MultiOp> {
    prop_oneof![
        text().prop_map(|path| MultiOp::GetChildren { path }),
        text().prop_map(|path| MultiOp::GetData { path }),
    ]
    .boxed()
}

fn set_watches(with_persistent: bool) -> BoxedStrategy<SetWatches> {
    (any::<i64>(), texts(), texts(), texts(), texts(), texts())
        .prop_map(
            move |(relative_zxid, data, exist, child, p, pr)| SetWatches {
                relative_zxid,
                data,
                exist,
                child,
                persistent: if with_persistent { p } else { Vec::new() },
                persistent_recursive: if with_persistent { pr } else { Vec::new() },
            },
        )
        .boxed()
}

fn node_request() -> Vec<BoxedStrategy<Request>> {
    let path_watch = || (text(), any::<bool>());
    let path_version = || (text(), any::<i32>());
    vec![
        create().prop_map(Request::Create).boxed(),
        create().prop_map(Request::Create2).boxed(),
        create().prop_map(Request::CreateContainer).boxed(),
        create_ttl().prop_map(Request::CreateTtl).boxed(),
        path_version()
            .prop_map(|(path, version)| Request::Delete { path, version })
            .boxed(),
        path_watch()
            .prop_map(|(path, watch)| Request::Exists { path, watch })
            .boxed(),
        path_watch()
            .prop_map(|(path, watch)| Request::GetData { path, watch })
            .boxed(),
        (text(), bytes(), any::<i32>())
            .prop_map(|(path, data, version)| Request::SetData {
                path,
                data,
                version,
            })
            .boxed(),
        text().prop_map(|path| Request::GetAcl { path }).boxed(),
        (text(), acls(), any::<i32>())
            .prop_map(|(path, acl, version)| Request::SetAcl { path, acl, version })
            .boxed(),
        path_watch()
            .prop_map(|(path, watch)| Request::GetChildren { path, watch })
            .boxed(),
        path_watch()
            .prop_map(|(path, watch)| Request::GetChildren2 { path, watch })
            .boxed(),
        text()
            .prop_map(|path| Request::GetAllChildrenNumber { path })
            .boxed(),
        text()
            .prop_map(|prefix| Request::GetEphemerals { prefix })
            .boxed(),
        text().prop_map(|path| Request::Sync { path }).boxed(),
        path_version()
            .prop_map(|(path, version)| Request::Check { path, version })
            .boxed(),
        prop::collection::vec(write_op(), 0..4)
            .prop_map(Request::Multi)
            .boxed(),
        prop::collection::vec(read_op(), 0..4)
            .prop_map(Request::MultiRead)
            .boxed(),
    ]
}

fn session_request() -> Vec<BoxedStrategy<Request>> {
    let path_int = || (text(), any::<i32>());
    vec![
        Just(Request::Ping).boxed(),
        Just(Request::WhoAmI).boxed(),
        Just(Request::CloseSession).boxed(),
        text()
            .prop_map(|path| Request::DeleteContainer { path })
            .boxed(),
        set_watches(false).prop_map(Request::SetWatches).boxed(),
        set_watches(true).prop_map(Request::SetWatches2).boxed(),
        path_int()
            .prop_map(|(path, mode)| Request::AddWatch { path, mode })
            .boxed(),
        path_int()
            .prop_map(|(path, watcher_type)| Request::CheckWatches { path, watcher_type })
            .boxed(),
        path_int()
            .prop_map(|(path, watcher_type)| Request::RemoveWatches { path, watcher_type })
            .boxed(),
        (any::<i32>(), text(), bytes())
            .prop_map(|(auth_type, scheme, auth)| Request::Auth {
                auth_type,
                scheme,
                auth,
            })
            .boxed(),
        bytes().prop_map(|token| Request::Sasl { token }).boxed(),
        (text(), text(), text(), any::<i64>())
            .prop_map(
                |(joining, leaving, new_members, cur_config_id)| Request::Reconfig {
                    joining,
                    leaving,
                    new_members,
                    cur_config_id,
                },
            )
            .boxed(),
    ]
}

fn request() -> BoxedStrategy<Request> {
    let mut all = node_request();
    all.extend(session_request());
    Union::new(all).boxed()
}

fn multi_result() -> BoxedStrategy<MultiResult> {
    prop_oneof![
        text().prop_map(|path| MultiResult::Create { path }),
        (text(), stat()).prop_map(|(path, stat)| MultiResult::Create2 { path, stat }),
        Just(MultiResult::Delete),
        stat().prop_map(|stat| MultiResult::SetData { stat }),
        Just(MultiResult::Check),
        any::<i32>().prop_map(|err| MultiResult::Error { err }),
    ]
    .boxed()
}

fn multi_read_result() -> BoxedStrategy<MultiReadResult> {
    prop_oneof![
        texts().prop_map(|children| MultiReadResult::GetChildren { children }),
        (bytes(), stat()).prop_map(|(data, stat)| MultiReadResult::GetData { data, stat }),
        any::<i32>().prop_map(|err| MultiReadResult::Error { err }),
    ]
    .boxed()
}

/// A response together with an opcode it answers.
fn response() -> BoxedStrategy<(i32, Response)> {
    let empty_ops = prop::sample::select(vec![
        op::DELETE,
        op::PING,
        op::CHECK,
        op::SET_WATCHES,
        op::SET_WATCHES2,
        op::CHECK_WATCHES,
        op::REMOVE_WATCHES,
        op::CLOSE_SESSION,
        op::AUTH,
    ]);
    let client = (text(), text()).prop_map(|(auth_scheme, user)| ClientInfo { auth_scheme, user });
    Union::new(vec![
        text()
            .prop_map(|path| (op::CREATE, Response::Create { path }))
            .boxed(),
        (
            prop::sample::select(vec![op::CREATE2, op::CREATE_TTL, op::CREATE_CONTAINER]),
            text(),
            stat(),
        )
            .prop_map(|(o, path, stat)| (o, Response::Create2 { path, stat }))
            .boxed(),
        (
            prop::sample::select(vec![op::EXISTS, op::SET_DATA, op::SET_ACL]),
            stat(),
        )
            .prop_map(|(o, stat)| (o, Response::Stat { stat }))
            .boxed(),
        (
            prop::sample::select(vec![op::GET_DATA, op::RECONFIG]),
            bytes(),
            stat(),
        )
            .prop_map(|(o, data, stat)| (o, Response::GetData { data, stat }))
            .boxed(),
        (acls(), stat())
            .prop_map(|(acl, stat)| (op::GET_ACL, Response::GetAcl { acl, stat }))
            .boxed(),
        texts()
            .prop_map(|children| (op::GET_CHILDREN, Response::GetChildren { children }))
            .boxed(),
        (texts(), stat())
            .prop_map(|(children, stat)| {
                (op::GET_CHILDREN2, Response::GetChildren2 { children, stat })
            })
            .boxed(),
        any::<i32>()
            .prop_map(|total| {
                let r = Response::GetAllChildrenNumber { total };
                (op::GET_ALL_CHILDREN_NUMBER, r)
            })
            .boxed(),
        texts()
            .prop_map(|paths| (op::GET_EPHEMERALS, Response::GetEphemerals { paths }))
            .boxed(),
        text()
            .prop_map(|path| (op::SYNC, Response::Sync { path }))
            .boxed(),
        prop::collection::vec(multi_result(), 0..4)
            .prop_map(|v| (op::MULTI, Response::Multi(v)))
            .boxed(),
        prop::collection::vec(multi_read_result(), 0..4)
            .prop_map(|v| (op::MULTI_READ, Response::MultiRead(v)))
            .boxed(),
        prop::collection::vec(client, 0..3)
            .prop_map(|clients| (op::WHO_AM_I, Response::WhoAmI { clients }))
            .boxed(),
        Just((op::ADD_WATCH, Response::AddWatch)).boxed(),
        empty_ops.prop_map(|o| (o, Response::Empty)).boxed(),
    ])
    .boxed()
}

/// Every opcode a client may send, plus a few that it may not.
fn any_opcode() -> BoxedStrategy<i32> {
    prop_oneof![
        prop::sample::select(vec![
            op::CREATE,
            op::DELETE,
            op::EXISTS,
            op::GET_DATA,
            op::SET_DATA,
            op::GET_ACL,
            op::SET_ACL,
            op::GET_CHILDREN,
            op::SYNC,
            op::PING,
            op::GET_CHILDREN2,
            op::CHECK,
            op::MULTI,
            op::CREATE2,
            op::RECONFIG,
            op::CHECK_WATCHES,
            op::REMOVE_WATCHES,
            op::CREATE_CONTAINER,
            op::CREATE_TTL,
            op::MULTI_READ,
            op::AUTH,
            op::SET_WATCHES,
            op::SASL,
            op::GET_EPHEMERALS,
            op::GET_ALL_CHILDREN_NUMBER,
            op::SET_WATCHES2,
            op::ADD_WATCH,
            op::WHO_AM_I,
            op::CLOSE_SESSION,
        ]),
        any::<i32>(),
    ]
    .boxed()
}

fn encode_body(req: &Request) -> Vec<u8> {
    let mut w = Writer::new();
    req.encode(&mut w);
    w.into_bytes()
}

fn encode_response(resp: &Response) -> Vec<u8> {
    let mut w = Writer::new();
    resp.encode(&mut w);
    w.into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Round trips.

proptest! {
    #[test]
    fn request_round_trips(req in request()) {
        let body = encode_body(&req);
        let mut r = Reader::new(&body);
        let back = Request::decode(req.opcode(), &mut r).map_err(|e| e.to_string());
        prop_assert_eq!(back, Ok(req.clone()));
        prop_assert_eq!(r.remaining(), 0);

        let frame = encode_request(42, &req);
        prop_assert_eq!(&frame[..4], &((frame.len() - 4) as i32).to_be_bytes()[..]);
        let (header, back) = decode_request(&frame[4..]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(header, RequestHeader { xid: 42, opcode: req.opcode() });
        prop_assert_eq!(back, req);
    }

    #[test]
    fn truncated_request_is_an_error(req in request(), cut in any::<prop::sample::Index>()) {
        let body = encode_body(&req);
        if body.is_empty() || matches!(req, Request::DeleteContainer { .. }) {
            // Ping, whoAmI and closeSession have nothing to cut; deleteContainer's body is a raw
            // path, so any prefix of it is a (different) path.
            return Ok(());
        }
        let cut = cut.index(body.len());
        let result = Request::decode(req.opcode(), &mut Reader::new(&body[..cut]));
        prop_assert!(result.is_err(), "{:?} cut at {} decoded as {:?}", req, cut, result);
    }

    #[test]
    fn response_round_trips((opcode, resp) in response()) {
        let body = encode_response(&resp);
        let mut r = Reader::new(&body);
        let back = Response::decode(opcode, &mut r).map_err(|e| e.to_string());
        prop_assert_eq!(back, Ok(resp));
        prop_assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn connect_records_round_trip(
        (protocol_version, last_zxid_seen, timeout_ms, session_id) in
            (any::<i32>(), any::<i64>(), any::<i32>(), any::<i64>()),
        password in bytes(),
        read_only in any::<bool>(),
    ) {
        let req = ConnectRequest {
            protocol_version,
            last_zxid_seen,
            timeout_ms,
            session_id,
            password: password.clone(),
            read_only,
        };
        prop_assert_eq!(ConnectRequest::from_bytes(&req.to_bytes()), Ok(req));
        let resp = ConnectResponse { protocol_version, timeout_ms, session_id, password, read_only };
        prop_assert_eq!(ConnectResponse::from_bytes(&resp.to_bytes()), Ok(resp));
    }

    #[test]
    fn headers_and_events_round_trip(
        (xid, opcode, zxid, err) in (any::<i32>(), any::<i32>(), any::<i64>(), any::<i32>()),
        (event_type, state, path) in (any::<i32>(), any::<i32>(), text()),
    ) {
        let rq = RequestHeader { xid, opcode };
        prop_assert_eq!(RequestHeader::from_bytes(&rq.to_bytes()), Ok(rq));
        let rp = ReplyHeader { xid, zxid, err };
        prop_assert_eq!(ReplyHeader::from_bytes(&rp.to_bytes()), Ok(rp));
        let ev = WatcherEvent { event_type, state, path };
        prop_assert_eq!(WatcherEvent::from_bytes(&ev.to_bytes()), Ok(ev.clone()));

        let frame = encode_notification(&ev, zxid);
        let mut r = Reader::new(&frame[4..]);
        let header = ReplyHeader::read(&mut r);
        prop_assert_eq!(header, Ok(ReplyHeader { xid: -1, zxid, err: 0 }));
        prop_assert_eq!(WatcherEvent::read(&mut r), Ok(ev));
    }

    // ------------------------------------------------------------------------------------------
    // Totality.

    #[test]
    fn request_decode_never_panics(
        opcode in any_opcode(),
        input in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let _ = Request::decode(opcode, &mut Reader::new(&input));
        let _ = Response::decode(opcode, &mut Reader::new(&input));
        let _ = decode_request(&input);
    }

    #[test]
    fn multi_decode_never_panics(
        entries in prop::collection::vec(
            (prop::sample::select(vec![-1, 1, 2, 4, 5, 8, 13, 15, 19, 21, 99]), any::<bool>(), any::<i32>(), bytes()),
            0..8,
        ),
    ) {
        // Well-formed headers around arbitrary bodies reach deeper than random bytes do.
        let mut w = Writer::new();
        for (op_type, done, err, body) in &entries {
            w.write_i32(*op_type);
            w.write_bool(*done);
            w.write_i32(*err);
            for b in body {
                w.write_bool(*b != 0);
            }
        }
        let input = w.into_bytes();
        for opcode in [op::MULTI, op::MULTI_READ] {
            let _ = Request::decode(opcode, &mut Reader::new(&input));
            let _ = Response::decode(opcode, &mut Reader::new(&input));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Golden bytes, written by hand from zookeeper.jute.

/// Hex to bytes, ignoring spaces.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert_eq!(digits.len() % 2, 0, "odd hex length");
    digits
        .chunks(2)
        .map(|p| {
            let s = std::str::from_utf8(p).expect("ascii");
            u8::from_str_radix(s, 16).expect("hex digit")
        })
        .collect()
}

#[test]
fn connect_request_without_read_only_byte() {
    // protocolVersion 0, lastZxidSeen 0x10, timeOut 30000, sessionId 0x55, passwd "pw".
    let old = hex("00000000 0000000000000010 00007530 0000000000000055 00000002 7077");
    let expected = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0x10,
        timeout_ms: 30_000,
        session_id: 0x55,
        password: b"pw".to_vec(),
        read_only: false,
    };
    assert_eq!(ConnectRequest::from_bytes(&old), Ok(expected.clone()));

    let mut new = old.clone();
    new.push(1);
    let read_only = ConnectRequest {
        read_only: true,
        ..expected.clone()
    };
    assert_eq!(ConnectRequest::from_bytes(&new), Ok(read_only));

    // The writer always includes the flag.
    let mut written = old;
    written.push(0);
    assert_eq!(expected.to_bytes(), written);
}

#[test]
fn connect_response_without_read_only_byte() {
    let old = hex("00000000 00002710 0123456789abcdef 00000000");
    let resp = ConnectResponse::from_bytes(&old);
    let expected = ConnectResponse {
        protocol_version: 0,
        timeout_ms: 10_000,
        session_id: 0x0123_4567_89ab_cdef,
        password: Vec::new(),
        read_only: false,
    };
    assert_eq!(resp, Ok(expected));
}

#[test]
fn reply_header_bytes() {
    let h = ReplyHeader {
        xid: 5,
        zxid: 0x1_0000_0002,
        err: err::NO_NODE,
    };
    assert_eq!(h.to_bytes(), hex("00000005 0000000100000002 ffffff9b"));
    let frame = encode_reply(&h, None);
    assert_eq!(frame, hex("00000010 00000005 0000000100000002 ffffff9b"));
}

#[test]
fn multi_request_with_two_ops() {
    let create = MultiOp::Create(CreateRequest {
        path: "/a".into(),
        data: b"x".to_vec(),
        acl: Acl::open_unsafe(),
        flags: create_mode::EPHEMERAL,
    });
    let delete = MultiOp::Delete {
        path: "/a".into(),
        version: -1,
    };
    let body = hex(concat!(
        "00000001 00 ffffffff",      // header: create
        "00000002 2f61 00000001 78", // path "/a", data "x"
        "00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65", // [31 world:anyone]
        "00000001",                  // flags: ephemeral
        "00000002 00 ffffffff",      // header: delete
        "00000002 2f61 ffffffff",    // path "/a", version -1
        "ffffffff 01 ffffffff",      // end
    ));
    let req = Request::Multi(vec![create, delete]);
    assert_eq!(encode_body(&req), body);
    let decoded = Request::decode(op::MULTI, &mut Reader::new(&body));
    assert_eq!(decoded, Ok(req));
}

#[test]
fn multi_response_with_create_and_error() {
    let resp = Response::Multi(vec![
        MultiResult::Create { path: "/a".into() },
        MultiResult::Error { err: err::NO_NODE },
    ]);
    let body = hex(concat!(
        "00000001 00 00000000 00000002 2f61", // create: CreateResponse{"/a"}
        "ffffffff 00 ffffff9b ffffff9b",      // error: ErrorResponse{-101}
        "ffffffff 01 ffffffff",               // end
    ));
    assert_eq!(encode_response(&resp), body);
    assert_eq!(
        Response::decode(op::MULTI, &mut Reader::new(&body)),
        Ok(resp)
    );
}

#[test]
fn notification_frame_bytes() {
    let ev = WatcherEvent {
        event_type: event::NODE_DELETED,
        state: keeper_state::SYNC_CONNECTED,
        path: "/a".into(),
    };
    let frame = encode_notification(&ev, 7);
    let expected =
        hex("0000001e ffffffff 0000000000000007 00000000 00000002 00000003 00000002 2f61");
    assert_eq!(frame, expected);
}

#[test]
fn ping_and_close_have_empty_bodies() {
    assert_eq!(
        encode_request(xid::PING, &Request::Ping),
        hex("00000008 fffffffe 0000000b")
    );
    assert_eq!(
        encode_request(3, &Request::CloseSession),
        hex("00000008 00000003 fffffff5")
    );
    assert_eq!(
        Request::decode(op::PING, &mut Reader::new(&[])),
        Ok(Request::Ping)
    );
}

#[test]
fn set_watches_layouts_differ_by_opcode() {
    let sw = SetWatches {
        relative_zxid: 9,
        data: vec!["/d".into()],
        exist: Vec::new(),
        child: Vec::new(),
        persistent: vec!["/p".into()],
        persistent_recursive: Vec::new(),
    };
    let v1 = hex("0000000000000009 00000001 00000002 2f64 00000000 00000000");
    let v2 = [v1.clone(), hex("00000001 00000002 2f70 00000000")].concat();
    assert_eq!(encode_body(&Request::SetWatches2(sw.clone())), v2);
    let decoded = Request::decode(op::SET_WATCHES, &mut Reader::new(&v2));
    let without_persistent = SetWatches {
        persistent: Vec::new(),
        ..sw
    };
    assert_eq!(decoded, Ok(Request::SetWatches(without_persistent)));
}

#[test]
fn mixed_multi_and_unknown_opcode_are_rejected() {
    let read_in_multi = encode_body(&Request::MultiRead(vec![MultiOp::GetData {
        path: "/a".into(),
    }]));
    let bad_value = |value: i64| {
        Err(DecodeError::Jute(JuteError::BadValue {
            field: "multi op type",
            value,
        }))
    };
    let decoded = Request::decode(op::MULTI, &mut Reader::new(&read_in_multi));
    assert_eq!(decoded, bad_value(op::GET_DATA.into()));

    let write_in_read = encode_body(&Request::Multi(vec![MultiOp::Check {
        path: "/a".into(),
        version: 1,
    }]));
    let decoded = Request::decode(op::MULTI_READ, &mut Reader::new(&write_in_read));
    assert_eq!(decoded, bad_value(op::CHECK.into()));

    assert_eq!(
        Request::decode(op::NOTIFICATION, &mut Reader::new(&[])),
        Err(DecodeError::UnknownOpcode(op::NOTIFICATION))
    );
    assert_eq!(
        Request::decode(op::CREATE_SESSION, &mut Reader::new(&[])),
        Err(DecodeError::UnknownOpcode(op::CREATE_SESSION))
    );
}

#[test]
fn multi_without_end_marker_is_truncated() {
    let mut body = encode_body(&Request::Multi(vec![MultiOp::Delete {
        path: "/a".into(),
        version: 0,
    }]));
    body.truncate(body.len() - MULTI_END_BYTES);
    let decoded = Request::decode(op::MULTI, &mut Reader::new(&body));
    assert!(matches!(
        decoded,
        Err(DecodeError::Jute(JuteError::Truncated { .. }))
    ));
}

/// Size of the `{-1, true, -1}` end marker.
const MULTI_END_BYTES: usize = 9;

#[test]
fn is_write_matches_the_transactional_ops() {
    let path = String::from("/a");
    assert!(Request::Check {
        path: path.clone(),
        version: 0
    }
    .is_write());
    assert!(Request::CloseSession.is_write());
    assert!(Request::Multi(Vec::new()).is_write());
    assert!(!Request::MultiRead(Vec::new()).is_write());
    assert!(!Request::Sync { path: path.clone() }.is_write());
    assert!(!Request::GetData { path, watch: true }.is_write());
}
