//! Sessions and server-side expiry: ephemerals of an expired session, reattaching with id and
//! password, closing, and the container and TTL reapers.

#[path = "e2e/mod.rs"]
mod common;

use common::{client, client_with, wait_for_log, within, Raw};
use corral_core::jute::{err, Record, Request};
use corral_tests::Server;
use std::time::Duration;
use zookeeper_client::{Acls, Client, CreateMode, EventType};

fn open() -> zookeeper_client::CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

#[tokio::test]
async fn negotiated_timeout_is_clamped_to_two_and_twenty_ticks() {
    let server = Server::start("");
    let short = Client::connector()
        .with_session_timeout(Duration::from_millis(10))
        .with_connection_timeout(Duration::from_secs(5));
    let zk = within(short.connect(&server.addr()))
        .await
        .expect("connect");
    assert_eq!(zk.session_timeout(), Duration::from_millis(1000));
    let long = Client::connector()
        .with_session_timeout(Duration::from_secs(600))
        .with_connection_timeout(Duration::from_secs(5));
    let zk = within(long.connect(&server.addr())).await.expect("connect");
    assert_eq!(zk.session_timeout(), Duration::from_millis(10_000));
}

/// A session whose client stops pinging expires after its timeout: its ephemerals go, watchers
/// are told, and a reattach with its id is refused.
#[test]
fn session_expiry_removes_ephemerals() {
    let server = Server::start("");
    let mut owner = Raw::connect(&server);
    let rsp = owner.handshake(1000);
    for (path, flags) in [("/eph", 1), ("/seq-", 3)] {
        let (h, _) = owner.call(&Request::Create(corral_core::jute::CreateRequest {
            path: path.into(),
            data: Vec::new(),
            acl: corral_core::jute::Acl::open_unsafe(),
            flags,
        }));
        assert_eq!(h.err, err::OK);
    }
    let mut watcher = Raw::connect(&server);
    watcher.handshake(10_000);
    let (h, _) = watcher.call(&Request::GetChildren {
        path: "/".into(),
        watch: true,
    });
    assert_eq!(h.err, err::OK);
    let started = std::time::Instant::now();
    // The owner's process "hangs": the socket stays open but nothing is sent.
    let ev = watcher.expect_notification();
    assert_eq!((ev.event_type, ev.path.as_str()), (4, "/"));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "expired after {:?}, before its 1000 ms timeout",
        started.elapsed()
    );
    let (_, body) = watcher.call(&Request::GetChildren {
        path: "/".into(),
        watch: false,
    });
    let Some(corral_core::jute::Response::GetChildren { children }) = body else {
        panic!("{body:?}")
    };
    assert_eq!(children, ["zookeeper"]);
    wait_for_log(&server, &["session expired"]);
    // The owner's connection is closed by the server.
    assert!(owner.expect_closed().is_empty());
    let mut again = Raw::connect(&server);
    let answer = again.handshake_with(&common::connect_request(1000, rsp.session_id, rsp.password));
    assert_eq!((answer.session_id, answer.timeout_ms), (0, 0));
}

#[tokio::test]
async fn expired_session_is_reported_to_zookeeper_client() {
    let server = Server::start("");
    let zk = client(&server).await;
    let owner = client_with(
        &server,
        Client::connector()
            .with_session_timeout(Duration::from_millis(1000))
            .with_detached(),
    )
    .await;
    within(owner.create(
        "/gone",
        b"",
        &CreateMode::Ephemeral.with_acls(Acls::anyone_all()),
    ))
    .await
    .expect("create");
    let session = owner.session().clone();
    let (_, watcher) = within(zk.check_and_watch_stat("/gone"))
        .await
        .expect("watch");
    // Drop the detached client without closing its session: its session task stops pinging
    // and its connection goes away.
    drop(owner);
    let ev = within(watcher.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDeleted, "/gone")
    );
    let late = Client::connector()
        .with_session(session)
        .with_connection_timeout(Duration::from_secs(5));
    let err = within(late.connect(&server.addr())).await.unwrap_err();
    assert_eq!(err, zookeeper_client::Error::SessionExpired);
}

#[tokio::test]
async fn reattach_with_id_and_password_keeps_ephemerals() {
    let server = Server::start("");
    let connector = Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .with_detached();
    let first = client_with(&server, connector).await;
    within(first.create(
        "/keep",
        b"",
        &CreateMode::Ephemeral.with_acls(Acls::anyone_all()),
    ))
    .await
    .expect("create");
    let session = first.session().clone();
    let id = first.session_id();
    drop(first);
    let second = client_with(&server, Client::connector().with_session(session)).await;
    assert_eq!(second.session_id(), id);
    let stat = within(second.check_stat("/keep"))
        .await
        .expect("stat")
        .expect("kept");
    assert_eq!(stat.ephemeral_owner, id.0);
    let eph = within(second.list_ephemerals("/"))
        .await
        .expect("ephemerals");
    assert_eq!(eph, ["/keep"]);
    // Closing the session deletes them.
    let observer = client(&server).await;
    let (_, watcher) = within(observer.check_and_watch_stat("/keep"))
        .await
        .expect("watch");
    // Dropping the last handle of an attached client sends closeSession.
    drop(second);
    let ev = within(watcher.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDeleted, "/keep")
    );
}

#[test]
fn a_session_moved_to_a_new_connection_closes_the_old_one() {
    let server = Server::start("");
    let mut old = Raw::connect(&server);
    let rsp = old.handshake(10_000);
    let mut new = Raw::connect(&server);
    let again = new.handshake_with(&common::connect_request(
        10_000,
        rsp.session_id,
        rsp.password.clone(),
    ));
    assert_eq!(
        (again.session_id, again.timeout_ms),
        (rsp.session_id, 10_000)
    );
    assert_eq!(again.password, rsp.password);
    assert!(old.expect_closed().is_empty());
    wait_for_log(&server, &["session moved; closing its old connection"]);
    let (h, _) = new.call(&Request::Exists {
        path: "/".into(),
        watch: false,
    });
    assert_eq!(h.err, err::OK);
}

#[tokio::test]
async fn container_is_deleted_after_its_last_child_goes() {
    let server = Server::start("znode.container.checkIntervalMs=200");
    let zk = client(&server).await;
    let container = CreateMode::Container.with_acls(Acls::anyone_all());
    within(zk.create("/box", b"", &container))
        .await
        .expect("create");
    within(zk.create("/box/item", b"", &open()))
        .await
        .expect("create");
    // A container that never had a child is kept.
    within(zk.create("/empty-box", b"", &container))
        .await
        .expect("create");
    let (_, watcher) = within(zk.check_and_watch_stat("/box"))
        .await
        .expect("watch");
    within(zk.delete("/box/item", None)).await.expect("delete");
    let ev = within(watcher.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDeleted, "/box")
    );
    assert!(within(zk.check_stat("/empty-box"))
        .await
        .expect("stat")
        .is_some());
}

#[tokio::test]
async fn ttl_node_expires_when_untouched_and_childless() {
    let server = Server::start("znode.container.checkIntervalMs=200");
    let zk = client(&server).await;
    let ttl = open().with_ttl(Duration::from_millis(500));
    let (created, _) = within(zk.create("/ttl", b"", &ttl)).await.expect("create");
    within(zk.create("/ttl-parent", b"", &ttl))
        .await
        .expect("create");
    within(zk.create("/ttl-parent/kid", b"", &open()))
        .await
        .expect("create");
    let (_, watcher) = within(zk.check_and_watch_stat("/ttl"))
        .await
        .expect("watch");
    let ev = within(watcher.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDeleted, "/ttl")
    );
    // It lived at least its TTL (the server's clock is the creation's mtime).
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    assert!(now_ms >= created.mtime + 500, "deleted before its ttl");
    // A TTL node with a child is kept.
    assert!(within(zk.check_stat("/ttl-parent"))
        .await
        .expect("stat")
        .is_some());
}

/// Released clients pipeline: the Java client queues its auth packets and setWatches right
/// behind the ConnectRequest (ClientCnxn.primeConnection), and so does zookeeper-client for its
/// auth packets. ZooKeeper stops reading until the session is set up, then serves them in order.
#[test]
fn requests_pipelined_behind_the_connect_request_are_served() {
    let server = Server::start("");
    let mut raw = Raw::connect(&server);
    let mut bytes = common::frame(&common::connect_request(4000, 0, vec![0; 16]));
    bytes.extend(corral_core::jute::encode_request(
        1,
        &Request::Exists {
            path: "/".into(),
            watch: false,
        },
    ));
    raw.send(&bytes);
    let body = raw.expect_frame();
    let rsp = corral_core::jute::ConnectResponse::from_bytes(&body).expect("connect response");
    assert!(rsp.session_id != 0);
    assert_eq!(raw.expect_reply(1).err, err::OK);
}
