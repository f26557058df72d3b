//! Lifecycle of the real binary: a clean SIGTERM restart preserves the tree exactly, and
//! sessions survive a restart (or expire when their client does not come back).
//!
//! Run with `CORRAL_BIN=<target>/debug/corral cargo test -p corral-tests --test lifecycle`.

// End-to-end tests drive real processes over real sockets: they must read the wall clock
// (clippy.toml forbids that for the deterministic core and simulator).
#![allow(clippy::disallowed_methods)]

mod common;
mod raw;

use corral_tests::Server;
use std::time::{Duration, Instant};
use zookeeper_client as zk;

/// The digest identity used by the auth tests.
const DIGEST_AUTH: &[u8] = b"corral:secret";

/// ZooKeeper answers an auth packet with the request's own xid (`ReplyHeader(h.getXid(), ...)`
/// in ZooKeeperServer); the Java client happens to send -4, zookeeper-client a normal xid.
#[tokio::test]
async fn auth_reply_echoes_the_request_xid() {
    let server = Server::start("");
    let client = common::connect(&server, Duration::from_secs(10)).await;
    common::bounded("auth", client.auth("digest", DIGEST_AUTH))
        .await
        .expect("digest auth");
    let mine = zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all());
    common::bounded("create", client.create("/mine", b"", &mine))
        .await
        .expect("create with creator_all after auth");
}

/// ZooKeeper holds back the requests a client pipelines behind its ConnectRequest until the
/// new session is committed (the Java client sends its auth packets and SetWatches that way).
#[test]
fn request_pipelined_behind_the_handshake_is_served() {
    let server = Server::start("");
    let create = raw::Op::Create {
        path: "/early".into(),
        data: b"sent with the handshake".to_vec(),
    };
    let (mut client, xids) =
        raw::RawClient::connect_pipelined(&server.addr(), 10_000, &[create]).expect("session");
    let reply = client.recv().expect("a reply to the pipelined create");
    assert_eq!((reply.xid, reply.err), (xids[0], 0));
}

/// Writes a tree that exercises every Stat field: data versions, child versions (creates and
/// deletes), ACL versions, sequential names, an ephemeral, and non-default ACLs (no digest ACL:
/// see [`auth_reply_echoes_the_request_xid`]).
async fn write_known_tree(client: &zk::Client) {
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let read_only = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_read());
    let local_acl = [
        zk::Acl::new(zk::Permission::ALL, zk::AuthId::new("ip", "127.0.0.1")),
        zk::Acl::new(zk::Permission::READ, zk::AuthId::anyone()),
    ];
    let local = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&local_acl));
    let sequential = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    let steps: Vec<(&str, &[u8], &zk::CreateOptions)> = vec![
        ("/life", b"root of the test", &open),
        ("/life/data", &[0u8, 1, 2, 255, 254], &open),
        ("/life/empty", b"", &open),
        ("/life/read-only", b"frozen", &read_only),
        ("/life/local", b"ip only", &local),
        ("/life/seq", b"", &open),
        ("/life/gone", b"deleted below", &open),
        ("/life/deep", b"", &open),
        ("/life/deep/a", b"", &open),
        ("/life/deep/a/b", b"", &open),
        ("/life/deep/a/b/c", b"leaf", &open),
        ("/life/session", b"", &open),
        ("/life/session/eph", b"ephemeral", &ephemeral),
    ];
    for (path, data, options) in steps {
        common::bounded("create", client.create(path, data, options))
            .await
            .unwrap_or_else(|e| panic!("create {path}: {e}"));
    }
    for i in 0..5 {
        let (_, sequence) = common::bounded(
            "create",
            client.create("/life/seq/item-", &[i], &sequential),
        )
        .await
        .expect("sequential create");
        assert_eq!(sequence.into_i64(), i64::from(i));
    }
    for version in 0..3 {
        let data = format!("version {}", version + 1);
        common::bounded(
            "setData",
            client.set_data("/life/data", data.as_bytes(), Some(version)),
        )
        .await
        .expect("setData");
    }
    common::bounded("delete", client.delete("/life/gone", Some(0)))
        .await
        .expect("delete");
    let acl = [
        zk::Acl::new(zk::Permission::READ, zk::AuthId::anyone()),
        zk::Acl::new(
            zk::Permission::READ | zk::Permission::WRITE | zk::Permission::ADMIN,
            zk::AuthId::new("ip", "127.0.0.0/8"),
        ),
    ];
    for version in 0..2 {
        common::bounded("setACL", client.set_acl("/life/empty", &acl, Some(version)))
            .await
            .expect("setACL");
    }
}

#[tokio::test]
async fn sigterm_restart_preserves_the_tree_exactly() {
    let mut server = Server::start("");
    let client = common::connect_detached(&server, Duration::from_secs(10)).await;
    write_known_tree(&client).await;
    let before = common::dump(&client, "/").await;
    assert!(before.len() > 20, "the tree was not written: {before:?}");
    // Detached: dropping the client neither closes the session nor deletes its ephemeral.
    drop(client);

    assert_eq!(server.terminate(), Some(0), "SIGTERM exit code");
    let log = server.log();
    assert!(
        log.contains("shutting down: flushing the log"),
        "no flush logged:\n{log}"
    );
    assert!(log.contains("storage thread stopped"), "{log}");
    let started = Instant::now();
    server.restart();
    println!(
        "restart after SIGTERM: {} ms",
        started.elapsed().as_millis()
    );

    let client = common::connect(&server, Duration::from_secs(10)).await;
    let after = common::dump(&client, "/").await;
    common::assert_same_tree(&before, &after);
    let seq = &after["/life/seq"];
    assert_eq!(seq.stat.num_children, 5);
    assert_eq!(seq.stat.cversion, 5);
    assert_eq!(after["/life/data"].stat.version, 3);
    assert_eq!(after["/life/empty"].stat.aversion, 2);
    assert_ne!(after["/life/session/eph"].stat.ephemeral_owner, 0);
}

/// Session timeout of the sessions that cross the restart (tickTime is 500 ms, so 1..=10 s).
const SESSION_TIMEOUT: Duration = Duration::from_secs(4);
/// Slack for the expiry scan, on top of the timeout.
const EXPIRY_SLACK: Duration = Duration::from_secs(3);

async fn create_ephemeral(client: &zk::Client, path: &str) -> i64 {
    let options = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    let (stat, _) = common::bounded("create", client.create(path, b"", &options))
        .await
        .unwrap_or_else(|e| panic!("create {path}: {e}"));
    stat.ephemeral_owner
}

async fn owner_of(client: &zk::Client, path: &str) -> Option<i64> {
    common::bounded("exists", client.check_stat(path))
        .await
        .expect("exists")
        .map(|stat| stat.ephemeral_owner)
}

#[tokio::test]
async fn sessions_survive_a_restart_and_absent_ones_expire() {
    let mut server = Server::start("");
    let setup = common::connect(&server, Duration::from_secs(10)).await;
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    common::bounded("create", setup.create("/sess", b"", &open))
        .await
        .expect("create /sess");
    drop(setup);
    let back = common::connect_detached(&server, SESSION_TIMEOUT).await;
    let away = common::connect_detached(&server, SESSION_TIMEOUT).await;
    let back_owner = create_ephemeral(&back, "/sess/back").await;
    let away_owner = create_ephemeral(&away, "/sess/away").await;
    let back_session = back.session().clone();
    let away_session = away.session().clone();
    assert_eq!(back_owner, back_session.id().0);
    drop((back, away));

    assert_eq!(server.terminate(), Some(0), "SIGTERM exit code");
    let restarted = Instant::now();
    server.restart();

    let observer = common::connect(&server, Duration::from_secs(10)).await;
    assert_eq!(owner_of(&observer, "/sess/back").await, Some(back_owner));
    assert_eq!(owner_of(&observer, "/sess/away").await, Some(away_owner));

    // The session that comes back keeps its id, its password works, and its ephemeral stays.
    let connector = zk::Client::connector()
        .with_session(back_session.clone())
        .with_session_timeout(SESSION_TIMEOUT);
    let back = common::bounded("reattach", connector.connect(&server.addr()))
        .await
        .expect("reattach within the timeout");
    assert_eq!(back.session_id(), back_session.id());
    assert_eq!(owner_of(&back, "/sess/back").await, Some(back_owner));

    // The one that does not come back expires a full timeout after the restart.
    let deadline = restarted + SESSION_TIMEOUT + EXPIRY_SLACK;
    while owner_of(&observer, "/sess/away").await.is_some() {
        assert!(
            Instant::now() < deadline,
            "/sess/away still there {:?} after the restart",
            restarted.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let expired_after = restarted.elapsed();
    println!(
        "absent session expired {} ms after the restart",
        expired_after.as_millis()
    );
    assert!(
        expired_after >= SESSION_TIMEOUT,
        "expired after {expired_after:?}, before its {SESSION_TIMEOUT:?} timeout"
    );
    assert_eq!(owner_of(&observer, "/sess/back").await, Some(back_owner));
    let connector = zk::Client::connector()
        .with_session(away_session)
        .with_session_timeout(SESSION_TIMEOUT);
    let refused = common::bounded("reattach", connector.connect(&server.addr())).await;
    assert!(
        matches!(refused, Err(zk::Error::SessionExpired)),
        "an expired session reattached: {refused:?}"
    );
    drop(back);
}
