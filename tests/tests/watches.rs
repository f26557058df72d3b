//! Watches: one-shot data, exist and child watches, persistent and persistent-recursive watches
//! (zookeeper-client), and checkWatches/removeWatches on the raw protocol.

#[path = "e2e/mod.rs"]
mod common;

use common::{client, within, Raw};
use corral_core::jute::{err, event, watcher_type, Request};
use corral_tests::Server;
use std::time::Duration;
use zookeeper_client::{Acls, AddWatchMode, CreateMode, EventType, WatchedEvent};

fn open() -> zookeeper_client::CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

fn assert_event(ev: &WatchedEvent, event_type: EventType, path: &str) {
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (event_type, path),
        "{ev:?}"
    );
}

#[tokio::test]
async fn data_watch_fires_once_on_change_and_on_delete() {
    let server = Server::start("");
    let zk = client(&server).await;
    let writer = client(&server).await;
    within(zk.create("/w", b"", &open())).await.expect("create");
    let (_, _, watcher) = within(zk.get_and_watch_data("/w")).await.expect("watch");
    within(writer.set_data("/w", b"1", None))
        .await
        .expect("set");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeDataChanged,
        "/w",
    );
    let (_, _, watcher) = within(zk.get_and_watch_data("/w")).await.expect("watch");
    within(writer.delete("/w", None)).await.expect("delete");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeDeleted,
        "/w",
    );
}

/// A one-shot watch is consumed by its event: a second change sends nothing. Checked on the
/// raw protocol, where every frame the server sends is visible.
#[test]
fn one_shot_watch_fires_exactly_once() {
    let server = Server::start("");
    let mut watcher = Raw::connect(&server);
    watcher.handshake(10_000);
    let mut writer = Raw::connect(&server);
    writer.handshake(10_000);
    let create = Request::Create(corral_core::jute::CreateRequest {
        path: "/once".into(),
        data: Vec::new(),
        acl: corral_core::jute::Acl::open_unsafe(),
        flags: 0,
    });
    assert_eq!(writer.call(&create).0.err, err::OK);
    let get = Request::GetData {
        path: "/once".into(),
        watch: true,
    };
    assert_eq!(watcher.call(&get).0.err, err::OK);
    for data in [&b"1"[..], b"2"] {
        let set = Request::SetData {
            path: "/once".into(),
            data: data.to_vec(),
            version: -1,
        };
        assert_eq!(writer.call(&set).0.err, err::OK);
    }
    let ev = watcher.expect_notification();
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (event::NODE_DATA_CHANGED, "/once")
    );
    // The next frame on the watcher's connection is the reply to this exists, not a second
    // notification: both sets were committed before it.
    let xid = watcher.send_request(&Request::Exists {
        path: "/once".into(),
        watch: false,
    });
    assert_eq!(watcher.expect_reply(xid).err, err::OK);
    let (h, _) = watcher.call(&Request::CheckWatches {
        path: "/once".into(),
        watcher_type: watcher_type::DATA,
    });
    assert_eq!(h.err, err::NO_WATCHER, "the fired watch is gone");
}

#[tokio::test]
async fn exist_watch_on_a_missing_node_fires_on_create() {
    let server = Server::start("");
    let zk = client(&server).await;
    let writer = client(&server).await;
    let (stat, watcher) = within(zk.check_and_watch_stat("/later"))
        .await
        .expect("watch");
    assert!(stat.is_none());
    within(writer.create("/later", b"", &open()))
        .await
        .expect("create");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeCreated,
        "/later",
    );
}

#[tokio::test]
async fn child_watch_fires_on_child_create_and_delete_but_not_on_data() {
    let server = Server::start("");
    let zk = client(&server).await;
    let writer = client(&server).await;
    within(zk.create("/kids", b"", &open()))
        .await
        .expect("create");
    let (_, _, watcher) = within(zk.get_and_watch_children("/kids"))
        .await
        .expect("watch");
    // A data change on the parent does not trigger a child watch; the create after it does.
    within(writer.set_data("/kids", b"x", None))
        .await
        .expect("set");
    within(writer.create("/kids/a", b"", &open()))
        .await
        .expect("create");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeChildrenChanged,
        "/kids",
    );
    let (_, watcher) = within(zk.list_and_watch_children("/kids"))
        .await
        .expect("watch");
    within(writer.delete("/kids/a", None))
        .await
        .expect("delete");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeChildrenChanged,
        "/kids",
    );
}

#[tokio::test]
async fn persistent_watch_sees_node_and_child_events_repeatedly() {
    let server = Server::start("");
    let zk = client(&server).await;
    let writer = client(&server).await;
    let mut watcher = within(zk.watch("/pw", AddWatchMode::Persistent))
        .await
        .expect("addWatch");
    within(writer.create("/pw", b"", &open()))
        .await
        .expect("create");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeCreated,
        "/pw",
    );
    within(writer.set_data("/pw", b"1", None))
        .await
        .expect("set");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeDataChanged,
        "/pw",
    );
    within(writer.set_data("/pw", b"2", None))
        .await
        .expect("set");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeDataChanged,
        "/pw",
    );
    within(writer.create("/pw/c", b"", &open()))
        .await
        .expect("create");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeChildrenChanged,
        "/pw",
    );
    // A grandchild is not this watch's business; the parent's delete of /pw/c is.
    within(writer.create("/pw/c/g", b"", &open()))
        .await
        .expect("create");
    within(writer.delete("/pw/c/g", None))
        .await
        .expect("delete");
    within(writer.delete("/pw/c", None)).await.expect("delete");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeChildrenChanged,
        "/pw",
    );
    within(writer.delete("/pw", None)).await.expect("delete");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeDeleted,
        "/pw",
    );
}

#[tokio::test]
async fn persistent_recursive_watch_sees_descendants_but_no_child_events() {
    let server = Server::start("");
    let zk = client(&server).await;
    let writer = client(&server).await;
    within(writer.create("/rw", b"", &open()))
        .await
        .expect("create");
    let mut watcher = within(zk.watch("/rw", AddWatchMode::PersistentRecursive))
        .await
        .expect("addWatch");
    within(writer.create("/rw/a", b"", &open()))
        .await
        .expect("create");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeCreated,
        "/rw/a",
    );
    within(writer.create("/rw/a/b", b"", &open()))
        .await
        .expect("create");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeCreated,
        "/rw/a/b",
    );
    within(writer.set_data("/rw/a/b", b"1", None))
        .await
        .expect("set");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeDataChanged,
        "/rw/a/b",
    );
    within(writer.delete("/rw/a/b", None))
        .await
        .expect("delete");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeDeleted,
        "/rw/a/b",
    );
    within(writer.set_data("/rw", b"x", None))
        .await
        .expect("set");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeDataChanged,
        "/rw",
    );
    // Nothing outside the subtree.
    within(writer.create("/rwx", b"", &open()))
        .await
        .expect("create");
    within(writer.set_data("/rw", b"y", None))
        .await
        .expect("set");
    assert_event(
        &within(watcher.changed()).await,
        EventType::NodeDataChanged,
        "/rw",
    );
}

#[tokio::test]
async fn watches_of_a_multi_fire_after_it_commits() {
    let server = Server::start("");
    let zk = client(&server).await;
    let writer = client(&server).await;
    within(zk.create("/mw", b"", &open()))
        .await
        .expect("create");
    let (_, _, data) = within(zk.get_and_watch_data("/mw")).await.expect("watch");
    let (_, _, kids) = within(zk.get_and_watch_children("/mw"))
        .await
        .expect("watch");
    let mut w = writer.new_multi_writer();
    w.add_set_data("/mw", b"1", None).expect("op");
    w.add_create("/mw/k", b"", &open()).expect("op");
    within(w.commit()).await.expect("multi");
    assert_event(
        &within(data.changed()).await,
        EventType::NodeDataChanged,
        "/mw",
    );
    assert_event(
        &within(kids.changed()).await,
        EventType::NodeChildrenChanged,
        "/mw",
    );
}

#[test]
fn check_and_remove_watches_on_the_raw_protocol() {
    let server = Server::start("");
    let mut raw = Raw::connect(&server);
    raw.handshake(10_000);
    let check = |kind| Request::CheckWatches {
        path: "/rm".into(),
        watcher_type: kind,
    };
    let remove = |kind| Request::RemoveWatches {
        path: "/rm".into(),
        watcher_type: kind,
    };
    assert_eq!(raw.call(&check(watcher_type::ANY)).0.err, err::NO_WATCHER);
    // An exists watch on a missing node is a data watch.
    let (h, _) = raw.call(&Request::Exists {
        path: "/rm".into(),
        watch: true,
    });
    assert_eq!(h.err, err::NO_NODE);
    assert_eq!(raw.call(&check(watcher_type::DATA)).0.err, err::OK);
    assert_eq!(
        raw.call(&check(watcher_type::CHILDREN)).0.err,
        err::NO_WATCHER
    );
    assert_eq!(
        raw.call(&remove(watcher_type::CHILDREN)).0.err,
        err::NO_WATCHER
    );
    assert_eq!(raw.call(&remove(watcher_type::DATA)).0.err, err::OK);
    assert_eq!(raw.call(&check(watcher_type::DATA)).0.err, err::NO_WATCHER);
    // A removed watch does not fire: the create's reply is the next frame, and a later
    // exists is answered without a notification in between.
    let create = Request::Create(corral_core::jute::CreateRequest {
        path: "/rm".into(),
        data: Vec::new(),
        acl: corral_core::jute::Acl::open_unsafe(),
        flags: 0,
    });
    let xid = raw.send_request(&create);
    assert_eq!(raw.expect_reply(xid).err, err::OK, "a removed watch fired");
    raw.stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    assert!(matches!(raw.read_frame(), common::Read1::Silent));
}

#[tokio::test]
async fn wchs_counts_watches() {
    let server = Server::start("");
    let zk = client(&server).await;
    within(zk.create("/c1", b"", &open()))
        .await
        .expect("create");
    let (_, _, _w1) = within(zk.get_and_watch_data("/c1")).await.expect("watch");
    let (_, _, _w2) = within(zk.get_and_watch_children("/c1"))
        .await
        .expect("watch");
    let wchs = server.four_letter("wchs").expect("wchs");
    assert!(
        wchs.starts_with("1 connections watching 1 paths\n"),
        "{wchs}"
    );
    assert!(wchs.contains("Total watches:2"), "{wchs}");
}
