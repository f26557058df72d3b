//! Every client operation through the third-party `zookeeper-client` crate, with the Stat
//! fields ZooKeeper 3.8 gives back.

#[path = "e2e/mod.rs"]
mod common;

use common::{client, within};
use corral_tests::Server;
use std::time::Duration;
use zookeeper_client::{Acls, CreateMode, Error, MultiReadResult, MultiWriteError, Stat};

fn open() -> zookeeper_client::CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

fn mode(m: CreateMode) -> zookeeper_client::CreateOptions<'static> {
    m.with_acls(Acls::anyone_all())
}

/// Asserts the Stat of a node just created at zxid `stat.czxid` with `len` bytes of data.
fn assert_fresh(stat: &Stat, len: i32, owner: i64) {
    assert!(stat.czxid > 0);
    assert_eq!(stat.mzxid, stat.czxid, "mzxid of a new node");
    assert_eq!(stat.pzxid, stat.czxid, "pzxid of a new node");
    assert_eq!(stat.ctime, stat.mtime);
    assert_eq!((stat.version, stat.cversion, stat.aversion), (0, 0, 0));
    assert_eq!((stat.data_length, stat.num_children), (len, 0));
    assert_eq!(stat.ephemeral_owner, owner);
}

#[tokio::test]
async fn create_persistent_returns_create2_stat_and_updates_the_parent() {
    let server = Server::start("");
    let zk = client(&server).await;
    let (parent, _) = within(zk.create("/p", b"", &open()))
        .await
        .expect("create /p");
    assert_fresh(&parent, 0, 0);
    let (stat, seq) = within(zk.create("/p/a", b"hello", &open()))
        .await
        .expect("create /p/a");
    assert_eq!(seq.into_i64(), -1, "not sequential");
    assert_fresh(&stat, 5, 0);
    assert!(stat.czxid > parent.czxid);
    let parent_now = within(zk.check_stat("/p"))
        .await
        .expect("stat")
        .expect("exists");
    assert_eq!(parent_now.num_children, 1);
    assert_eq!(parent_now.cversion, 1);
    assert_eq!(
        parent_now.pzxid, stat.czxid,
        "pzxid is the child's create zxid"
    );
    assert_eq!(
        parent_now.version, 0,
        "a child does not change the parent's data version"
    );
    assert_eq!(parent_now.mzxid, parent.mzxid);
    let err = within(zk.create("/p/a", b"", &open())).await.unwrap_err();
    assert_eq!(err, Error::NodeExists);
    let err = within(zk.create("/missing/a", b"", &open()))
        .await
        .unwrap_err();
    assert_eq!(err, Error::NoNode);
}

#[tokio::test]
async fn create_ephemeral_is_owned_by_the_session() {
    let server = Server::start("");
    let zk = client(&server).await;
    let (stat, _) = within(zk.create("/e", b"x", &mode(CreateMode::Ephemeral)))
        .await
        .expect("create");
    assert_fresh(&stat, 1, zk.session_id().0);
    let err = within(zk.create("/e/child", b"", &open()))
        .await
        .unwrap_err();
    assert_eq!(err, Error::NoChildrenForEphemerals);
}

#[tokio::test]
async fn sequential_nodes_get_a_ten_digit_counter_from_the_parent() {
    let server = Server::start("");
    let zk = client(&server).await;
    within(zk.create("/q", b"", &open())).await.expect("create");
    within(zk.create("/q/plain", b"", &open()))
        .await
        .expect("create");
    let (_, s1) = within(zk.create("/q/n-", b"", &mode(CreateMode::PersistentSequential)))
        .await
        .expect("create seq");
    let (st2, s2) = within(zk.create("/q/n-", b"", &mode(CreateMode::EphemeralSequential)))
        .await
        .expect("create eseq");
    // The counter is the parent's cversion: one plain child came first.
    assert_eq!((s1.into_i64(), s2.into_i64()), (1, 2));
    assert_eq!(st2.ephemeral_owner, zk.session_id().0);
    let mut children = within(zk.list_children("/q")).await.expect("list");
    children.sort();
    assert_eq!(children, ["n-0000000001", "n-0000000002", "plain"]);
    // The suffix counts creates only (ZooKeeper's stored cversion): a delete neither reuses
    // nor skips a number, while the cversion clients see counts both (2 * creates - children).
    within(zk.delete("/q/n-0000000002", None))
        .await
        .expect("delete");
    let (_, s3) = within(zk.create("/q/n-", b"", &mode(CreateMode::PersistentSequential)))
        .await
        .expect("create seq");
    assert_eq!(s3.to_string(), "0000000003");
}

/// ZooKeeper: the parent's stored cversion counts creates (4 here), clients see
/// `2 * 4 - 3 = 5`, and the next sequential suffix is the stored count.
#[tokio::test]
async fn sequential_create_after_a_delete_keeps_counting() {
    let server = Server::start("");
    let zk = client(&server).await;
    let seq = mode(CreateMode::PersistentSequential);
    within(zk.create("/q", b"", &open())).await.expect("create");
    within(zk.create("/q/n-", b"", &seq)).await.expect("seq 0");
    within(zk.create("/q/n-", b"", &seq)).await.expect("seq 1");
    within(zk.delete("/q/n-0000000001", None))
        .await
        .expect("delete");
    let q = within(zk.check_stat("/q"))
        .await
        .expect("stat")
        .expect("exists");
    assert_eq!((q.num_children, q.cversion), (1, 3));
    let (_, s2) = within(zk.create("/q/n-", b"", &seq)).await.expect("seq 2");
    assert_eq!(s2.to_string(), "0000000002");
    let q = within(zk.check_stat("/q"))
        .await
        .expect("stat")
        .expect("exists");
    assert_eq!((q.num_children, q.cversion), (2, 4), "3 creates + 1 delete");
    let (_, s3) = within(zk.create("/q/n-", b"", &seq)).await.expect("seq 3");
    assert_eq!(s3.to_string(), "0000000003");
}

#[tokio::test]
async fn container_and_ttl_nodes_are_created_with_their_own_opcodes() {
    let server = Server::start("");
    let zk = client(&server).await;
    let (c, _) = within(zk.create("/c", b"", &mode(CreateMode::Container)))
        .await
        .expect("container");
    assert_eq!((c.version, c.num_children), (0, 0));
    // ZooKeeper keeps a marker in the stored ephemeralOwner but shows clients 0
    // (DataNode.getClientEphemeralOwner); so does Corral.
    assert_eq!(c.ephemeral_owner, 0);
    let ttl = open().with_ttl(Duration::from_secs(3600));
    let (t, _) = within(zk.create("/t", b"abc", &ttl)).await.expect("ttl");
    assert_eq!((t.data_length, t.ephemeral_owner), (3, 0));
    let seq_ttl = mode(CreateMode::PersistentSequential).with_ttl(Duration::from_secs(3600));
    let (_, seq) = within(zk.create("/c/t-", b"", &seq_ttl))
        .await
        .expect("sequential ttl");
    assert_eq!(seq.to_string(), "0000000000");
}

#[tokio::test]
async fn delete_checks_version_children_and_existence() {
    let server = Server::start("");
    let zk = client(&server).await;
    within(zk.create("/d", b"", &open())).await.expect("create");
    within(zk.create("/d/kid", b"", &open()))
        .await
        .expect("create");
    assert_eq!(within(zk.delete("/d", None)).await, Err(Error::NotEmpty));
    within(zk.set_data("/d/kid", b"1", None))
        .await
        .expect("set");
    assert_eq!(
        within(zk.delete("/d/kid", Some(0))).await,
        Err(Error::BadVersion)
    );
    within(zk.delete("/d/kid", Some(1)))
        .await
        .expect("delete v1");
    assert_eq!(within(zk.delete("/d/kid", None)).await, Err(Error::NoNode));
    let parent = within(zk.check_stat("/d"))
        .await
        .expect("stat")
        .expect("exists");
    assert_eq!((parent.num_children, parent.cversion), (0, 2));
    within(zk.delete("/d", Some(0))).await.expect("delete");
    assert_eq!(within(zk.check_stat("/d")).await, Ok(None));
}

#[tokio::test]
async fn get_and_set_data_track_versions_and_zxids() {
    let server = Server::start("");
    let zk = client(&server).await;
    let (created, _) = within(zk.create("/v", b"one", &open()))
        .await
        .expect("create");
    let (data, stat) = within(zk.get_data("/v")).await.expect("get");
    assert_eq!((data.as_slice(), stat), (&b"one"[..], created));
    let s1 = within(zk.set_data("/v", b"second", Some(0)))
        .await
        .expect("set");
    assert_eq!((s1.version, s1.data_length), (1, 6));
    assert_eq!(s1.czxid, created.czxid);
    assert!(s1.mzxid > created.mzxid);
    assert_eq!(s1.pzxid, created.pzxid, "setData leaves pzxid");
    assert!(s1.mtime >= created.mtime);
    let err = within(zk.set_data("/v", b"x", Some(0))).await.unwrap_err();
    assert_eq!(err, Error::BadVersion);
    let (data, stat) = within(zk.get_data("/v")).await.expect("get");
    assert_eq!((data.as_slice(), stat), (&b"second"[..], s1));
    let s2 = within(zk.set_data("/v", b"", None)).await.expect("set any");
    assert_eq!((s2.version, s2.data_length), (2, 0));
    assert_eq!(
        within(zk.get_data("/nope")).await.unwrap_err(),
        Error::NoNode
    );
    assert_eq!(
        within(zk.set_data("/nope", b"", None)).await.unwrap_err(),
        Error::NoNode
    );
    assert_eq!(within(zk.check_stat("/nope")).await, Ok(None));
}

#[tokio::test]
async fn acl_get_and_set_track_aversion() {
    let server = Server::start("");
    let zk = client(&server).await;
    within(zk.create("/a", b"", &open())).await.expect("create");
    let (acl, stat) = within(zk.get_acl("/a")).await.expect("get acl");
    assert_eq!(acl.as_slice(), &*Acls::anyone_all());
    assert_eq!(stat.aversion, 0);
    let read_only = Acls::anyone_read();
    let err = within(zk.set_acl("/a", &read_only, Some(3)))
        .await
        .unwrap_err();
    assert_eq!(err, Error::BadVersion);
    let s = within(zk.set_acl("/a", &read_only, Some(0)))
        .await
        .expect("set acl");
    assert_eq!((s.aversion, s.version), (1, 0));
    // ADMIN is checked before the version (PrepRequestProcessor order).
    let err = within(zk.set_acl("/a", &read_only, Some(0)))
        .await
        .unwrap_err();
    assert_eq!(err, Error::NoAuth);
    let (acl, stat) = within(zk.get_acl("/a")).await.expect("get acl");
    assert_eq!((acl.as_slice(), stat.aversion), (&*read_only, 1));
    // world:anyone may now only read.
    assert_eq!(
        within(zk.set_data("/a", b"x", None)).await,
        Err(Error::NoAuth)
    );
    within(zk.get_data("/a")).await.expect("read is allowed");
    assert_eq!(
        within(zk.get_acl("/nope")).await.unwrap_err(),
        Error::NoNode
    );
}

#[tokio::test]
async fn children_counts_and_ephemerals() {
    let server = Server::start("");
    let zk = client(&server).await;
    within(zk.create("/r", b"", &open())).await.expect("create");
    within(zk.create("/r/a", b"", &open()))
        .await
        .expect("create");
    within(zk.create("/r/a/x", b"", &mode(CreateMode::Ephemeral)))
        .await
        .expect("create");
    within(zk.create("/r/b", b"", &open()))
        .await
        .expect("create");
    within(zk.create("/r/e", b"", &mode(CreateMode::Ephemeral)))
        .await
        .expect("create");
    let mut kids = within(zk.list_children("/r")).await.expect("list");
    kids.sort();
    assert_eq!(kids, ["a", "b", "e"]);
    let (mut kids2, stat) = within(zk.get_children("/r")).await.expect("children2");
    kids2.sort();
    assert_eq!(kids2, kids);
    assert_eq!((stat.num_children, stat.cversion), (3, 3));
    assert_eq!(within(zk.count_descendants_number("/r")).await, Ok(4));
    assert_eq!(within(zk.count_descendants_number("/r/b")).await, Ok(0));
    assert_eq!(within(zk.list_children("/nope")).await, Err(Error::NoNode));
    let mut eph = within(zk.list_ephemerals("/")).await.expect("ephemerals");
    eph.sort();
    assert_eq!(eph, ["/r/a/x", "/r/e"]);
    let eph = within(zk.list_ephemerals("/r/a"))
        .await
        .expect("ephemerals");
    assert_eq!(eph, ["/r/a/x"]);
    // Another session owns none of them.
    let other = client(&server).await;
    assert_eq!(within(other.list_ephemerals("/")).await, Ok(vec![]));
}

#[tokio::test]
async fn sync_succeeds_and_reads_follow_writes_in_order() {
    let server = Server::start("");
    let zk = client(&server).await;
    within(zk.create("/f", b"0", &open()))
        .await
        .expect("create");
    within(zk.sync("/f")).await.expect("sync");
    // Pipelined on one session without awaiting the writes: each read sees the write sent
    // just before it (FIFO client order).
    let w1 = zk.set_data("/f", b"1", None);
    let r1 = zk.get_data("/f");
    let w2 = zk.set_data("/f", b"2", None);
    let r2 = zk.get_data("/f");
    let (w1, r1, w2, r2) = within(async { tokio::join!(w1, r1, w2, r2) }).await;
    let (w1, w2) = (w1.expect("w1"), w2.expect("w2"));
    let ((d1, s1), (d2, s2)) = (r1.expect("r1"), r2.expect("r2"));
    assert_eq!((d1.as_slice(), s1.version), (&b"1"[..], 1));
    assert_eq!((d2.as_slice(), s2.version), (&b"2"[..], 2));
    assert_eq!((s1.mzxid, s2.mzxid), (w1.mzxid, w2.mzxid));
    // A sync on a missing path is still answered (ZooKeeper does not check the path).
    within(zk.sync("/nope")).await.expect("sync missing");
}

#[tokio::test]
async fn multi_commits_all_or_nothing_with_per_op_results() {
    let server = Server::start("");
    let zk = client(&server).await;
    within(zk.create("/m", b"", &open())).await.expect("create");
    let mut w = zk.new_multi_writer();
    w.add_create("/m/a", b"A", &open()).expect("op");
    w.add_set_data("/m", b"M", Some(0)).expect("op");
    w.add_check_version("/m/a", 0).expect("op");
    w.add_create("/m/s-", b"", &mode(CreateMode::PersistentSequential))
        .expect("op");
    w.add_delete("/m/a", Some(0)).expect("op");
    let results = within(w.commit()).await.expect("multi");
    assert_eq!(results.len(), 5);
    use zookeeper_client::MultiWriteResult as R;
    // ZooKeeper 3.8 answers a create2 inside a multi with a plain create result (path, no
    // stat), which this client reports with an empty stat; the differential suite checks it.
    let R::Create { path, .. } = &results[0] else {
        panic!("{results:?}")
    };
    assert_eq!(path, "/m/a");
    let R::SetData { stat: m } = &results[1] else {
        panic!("{results:?}")
    };
    assert_eq!(m.version, 1);
    let m_parent = within(zk.check_stat("/m"))
        .await
        .expect("stat")
        .expect("exists");
    assert_eq!(m.mzxid, m_parent.pzxid, "all ops share one zxid");
    assert_eq!(results[2], R::Check);
    let R::Create { path, .. } = &results[3] else {
        panic!("{results:?}")
    };
    assert_eq!(path, "/m/s-0000000001");
    assert_eq!(results[4], R::Delete);
    let parent = within(zk.check_stat("/m"))
        .await
        .expect("stat")
        .expect("exists");
    assert_eq!((parent.num_children, parent.cversion), (1, 3));

    // A failing op aborts everything before and after it.
    let before = within(zk.get_data("/m")).await.expect("get");
    let mut w = zk.new_multi_writer();
    w.add_create("/m/b", b"", &open()).expect("op");
    w.add_set_data("/m", b"no", Some(0)).expect("op");
    w.add_delete("/m/nope", None).expect("op");
    let err = within(w.commit()).await.unwrap_err();
    assert_eq!(
        err,
        MultiWriteError::OperationFailed {
            index: 1,
            source: Error::BadVersion
        }
    );
    assert_eq!(within(zk.check_stat("/m/b")).await, Ok(None));
    assert_eq!(within(zk.get_data("/m")).await.expect("get"), before);
}

#[tokio::test]
async fn multi_read_returns_each_result_independently() {
    let server = Server::start("");
    let zk = client(&server).await;
    within(zk.create("/mr", b"data", &open()))
        .await
        .expect("create");
    within(zk.create("/mr/k", b"", &open()))
        .await
        .expect("create");
    let mut r = zk.new_multi_reader();
    r.add_get_data("/mr").expect("op");
    r.add_get_children("/mr").expect("op");
    r.add_get_data("/nope").expect("op");
    let results = within(r.commit()).await.expect("multi read");
    assert_eq!(results.len(), 3);
    let MultiReadResult::Data { data, stat } = &results[0] else {
        panic!("{results:?}")
    };
    assert_eq!((data.as_slice(), stat.num_children), (&b"data"[..], 1));
    let MultiReadResult::Children { children } = &results[1] else {
        panic!("{results:?}")
    };
    assert_eq!(children, &["k"]);
    let MultiReadResult::Error { err } = &results[2] else {
        panic!("{results:?}")
    };
    assert_eq!(err, &Error::NoNode);
}

#[tokio::test]
async fn root_and_reserved_nodes_exist() {
    let server = Server::start("");
    let zk = client(&server).await;
    let root = within(zk.check_stat("/"))
        .await
        .expect("stat")
        .expect("root");
    assert_eq!(root.czxid, 0);
    let kids = within(zk.list_children("/")).await.expect("list");
    assert_eq!(kids, ["zookeeper"]);
    assert!(within(zk.check_stat("/zookeeper/quota"))
        .await
        .expect("stat")
        .is_some());
    let err = within(zk.delete("/zookeeper", None)).await.unwrap_err();
    assert!(matches!(err, Error::BadArguments(_)), "{err:?}");
}
