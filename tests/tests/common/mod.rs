//! Helpers shared by the durability and lifecycle tests: whole-tree dumps through a real
//! client, the data directory's files, and bounded waits.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use corral_tests::Server;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zookeeper_client as zk;

/// The most nodes a dump walks (a limit on every loop).
pub const DUMP_NODES_MAX: usize = 100_000;
/// How long any single client call may take before the test fails.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// One node as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    pub data: Vec<u8>,
    pub stat: zk::Stat,
    pub acl: Vec<zk::Acl>,
}

/// Awaits `future`, failing the test after [`CALL_TIMEOUT`].
pub async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(CALL_TIMEOUT, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: no answer within {CALL_TIMEOUT:?}"),
    }
}

/// A new session on `server` with the given timeout.
pub async fn connect(server: &Server, session_timeout: Duration) -> zk::Client {
    let connector = zk::Client::connector().with_session_timeout(session_timeout);
    bounded("connect", connector.connect(&server.addr()))
        .await
        .expect("connect")
}

/// A detached session: dropping the client leaves the session to expire on the server.
pub async fn connect_detached(server: &Server, session_timeout: Duration) -> zk::Client {
    let connector = zk::Client::connector()
        .with_session_timeout(session_timeout)
        .with_detached();
    bounded("connect", connector.connect(&server.addr()))
        .await
        .expect("connect")
}

/// Every node under (and including) `root`: data, Stat and ACL, walked without recursion.
pub async fn dump(client: &zk::Client, root: &str) -> BTreeMap<String, NodeState> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(path) = stack.pop() {
        assert!(
            out.len() < DUMP_NODES_MAX,
            "tree larger than {DUMP_NODES_MAX}"
        );
        let (data, stat) = bounded("getData", client.get_data(&path))
            .await
            .unwrap_or_else(|e| panic!("getData {path}: {e}"));
        let (acl, _) = bounded("getACL", client.get_acl(&path))
            .await
            .unwrap_or_else(|e| panic!("getACL {path}: {e}"));
        let children = bounded("getChildren", client.list_children(&path))
            .await
            .unwrap_or_else(|e| panic!("getChildren {path}: {e}"));
        for child in children {
            stack.push(if path == "/" {
                format!("/{child}")
            } else {
                format!("{path}/{child}")
            });
        }
        out.insert(path, NodeState { data, stat, acl });
    }
    out
}

/// Asserts two dumps are equal, naming the first node that differs.
pub fn assert_same_tree(before: &BTreeMap<String, NodeState>, after: &BTreeMap<String, NodeState>) {
    for (path, node) in before {
        match after.get(path) {
            None => panic!("{path} is gone after the restart"),
            Some(other) => assert_eq!(node, other, "{path} changed across the restart"),
        }
    }
    for path in after.keys() {
        assert!(
            before.contains_key(path),
            "{path} appeared after the restart"
        );
    }
}

/// The server's data directory (`dataDir` in the harness's zoo.cfg).
pub fn data_dir(server: &Server) -> PathBuf {
    server.dir.path().join("data")
}

/// Files in `dir` named `<prefix><16 hex digits>`, ascending.
pub fn named_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list data dir")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.strip_prefix(prefix)
                .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .collect();
    out.sort();
    out
}

/// Polls `condition` every 20 ms until it holds, failing after `limit`.
pub async fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
