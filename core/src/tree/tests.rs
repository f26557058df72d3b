//! Unit tests of the data tree: stat effects of every op, indexes, expiry, multi, misfits,
//! digest and snapshots.

use super::*;
use crate::jute::err;
use crate::txn::{Txn, TxnOp};

const T0: i64 = 1_700_000_000_000;

pub(super) fn txn(zxid: i64, session: i64, op: TxnOp) -> Txn {
    Txn {
        zxid: Zxid(zxid),
        session: SessionId(session),
        cxid: 0,
        opcode: 0,
        time_ms: T0 + zxid,
        op,
    }
}

/// A create whose parent cversion is computed from `tree`, as prep would.
pub(super) fn create(tree: &DataTree, path: &str, data: &[u8], kind: NodeKind) -> TxnOp {
    let parent = parent_path(path).expect("not root");
    let parent_cversion = tree.get(parent).map_or(0, |n| n.child_creates() + 1);
    TxnOp::Create {
        path: path.to_owned(),
        data: data.to_vec(),
        acl: Acl::open_unsafe(),
        kind,
        parent_cversion,
    }
}

fn delete(path: &str) -> TxnOp {
    TxnOp::Delete {
        path: path.to_owned(),
    }
}

fn ev(path: &str, kind: TreeEventKind) -> TreeEvent {
    TreeEvent {
        path: path.to_owned(),
        kind,
    }
}

/// Applies a create built against the tree's current state.
fn apply_create(tree: &mut DataTree, zxid: i64, path: &str, kind: NodeKind) -> Applied {
    let op = create(tree, path, b"", kind);
    tree.apply(&txn(zxid, 1, op))
}

#[test]
fn new_tree_matches_zookeeper_standalone() {
    let tree = DataTree::new();
    assert_eq!(tree.node_count(), 4);
    assert_eq!(tree.children("/"), Some(vec!["zookeeper".to_owned()]));
    assert_eq!(
        tree.children(ZOOKEEPER_PATH),
        Some(vec!["config".to_owned(), "quota".to_owned()])
    );
    let root = tree.stat("/").expect("root");
    assert_eq!(
        (root.czxid, root.ctime, root.cversion, root.num_children),
        (0, 0, -1, 1)
    );
    assert_eq!(tree.stat(ZOOKEEPER_PATH).map(|s| s.cversion), Some(-2));
    let config = tree.stat(CONFIG_PATH).expect("config");
    assert_eq!(
        (config.aversion, config.version, config.cversion),
        (-1, 0, 0)
    );
    assert_eq!(tree.acl(CONFIG_PATH).map(|a| a[0].perms), Some(perms::READ));
    assert_eq!(tree.acl("/"), Some(Acl::open_unsafe().as_slice()));
    assert_eq!(tree.acl_list_count(), 2);
    assert_eq!(tree.get("/").map(Znode::child_creates), Some(0));
    assert_eq!(tree.count_descendants("/"), Some(3));
    assert_eq!(tree.last_zxid(), Zxid::ZERO);
    assert!(tree.get("zookeeper").is_none() && tree.get("").is_none());
}

#[test]
fn create_sets_node_and_parent_stats() {
    let mut tree = DataTree::new();
    let applied = apply_create(&mut tree, 5, "/a", NodeKind::Persistent);
    let op = create(&tree, "/a/b", b"hello", NodeKind::Persistent);
    let applied_b = tree.apply(&txn(6, 1, op));
    let b = tree.stat("/a/b").expect("created");
    assert_eq!((b.czxid, b.mzxid, b.pzxid), (6, 6, 6));
    assert_eq!((b.ctime, b.mtime), (T0 + 6, T0 + 6));
    assert_eq!(
        (b.version, b.cversion, b.aversion, b.ephemeral_owner),
        (0, 0, 0, 0)
    );
    assert_eq!((b.data_length, b.num_children), (5, 0));
    assert_eq!(applied_b.results[0].stat, Some(b));
    assert_eq!(applied_b.results[0].err, err::OK);
    let a = tree.stat("/a").expect("parent");
    assert_eq!((a.cversion, a.pzxid, a.num_children, a.mzxid), (1, 6, 1, 5));
    let root = tree.stat("/").expect("root");
    assert_eq!((root.cversion, root.pzxid, root.num_children), (0, 5, 2));
    assert_eq!(
        applied.events,
        vec![
            ev("/a", TreeEventKind::Created),
            ev("/", TreeEventKind::ChildrenChanged)
        ]
    );
    assert_eq!(tree.last_zxid(), Zxid(6));
    tree.check_invariants();
}

#[test]
fn sequential_counter_counts_creations_only() {
    let mut tree = DataTree::new();
    apply_create(&mut tree, 1, "/q", NodeKind::Persistent);
    for (i, zxid) in (2..5).enumerate() {
        let next = tree.get("/q").expect("q").child_creates();
        assert_eq!(next, i as i32);
        apply_create(
            &mut tree,
            zxid,
            &format!("/q/n-{next:010}"),
            NodeKind::Persistent,
        );
    }
    tree.apply(&txn(5, 1, delete("/q/n-0000000001")));
    let q = tree.get("/q").expect("q");
    // Three creates and one delete: ZooKeeper shows 4 changes and numbers the next child 3.
    assert_eq!(
        (q.stat.cversion, q.stat.num_children, q.child_creates()),
        (4, 2, 3)
    );
    assert_eq!(
        tree.children("/q"),
        Some(vec!["n-0000000000".to_owned(), "n-0000000002".to_owned()])
    );
}

#[test]
fn delete_updates_parent_and_emits_events() {
    let mut tree = DataTree::new();
    apply_create(&mut tree, 1, "/a", NodeKind::Persistent);
    apply_create(&mut tree, 2, "/a/b", NodeKind::Persistent);
    let digest_with_b = tree.digest();
    let applied = tree.apply(&txn(3, 1, delete("/a/b")));
    assert_eq!(
        applied.results,
        vec![OpResult {
            err: 0,
            path: "/a/b".into(),
            stat: None
        }]
    );
    assert_eq!(
        applied.events,
        vec![
            ev("/a/b", TreeEventKind::Deleted),
            ev("/a", TreeEventKind::ChildrenChanged)
        ]
    );
    let a = tree.stat("/a").expect("a");
    assert_eq!((a.cversion, a.pzxid, a.num_children), (2, 3, 0));
    assert!(tree.get("/a/b").is_none());
    assert_ne!(tree.digest(), digest_with_b);
    tree.check_invariants();
}

#[test]
fn set_data_and_set_acl() {
    let mut tree = DataTree::new();
    apply_create(&mut tree, 1, "/a", NodeKind::Persistent);
    let set = TxnOp::SetData {
        path: "/a".into(),
        data: b"xyz".to_vec(),
        version: 1,
    };
    let applied = tree.apply(&txn(2, 1, set));
    let a = tree.stat("/a").expect("a");
    assert_eq!(
        (a.version, a.mzxid, a.mtime, a.data_length),
        (1, 2, T0 + 2, 3)
    );
    assert_eq!((a.czxid, a.ctime), (1, T0 + 1));
    assert_eq!(applied.results[0].stat, Some(a));
    assert_eq!(applied.events, vec![ev("/a", TreeEventKind::DataChanged)]);
    assert_eq!(tree.get("/a").map(|n| n.data), Some(&b"xyz"[..]));

    let read_only = tree.acl(CONFIG_PATH).expect("config").to_vec();
    let set_acl = TxnOp::SetAcl {
        path: "/a".into(),
        acl: read_only.clone(),
        aversion: 1,
    };
    let lists_before = tree.acl_list_count();
    let applied = tree.apply(&txn(3, 1, set_acl));
    assert!(applied.events.is_empty());
    assert_eq!(tree.acl("/a"), Some(read_only.as_slice()));
    let a = tree.stat("/a").expect("a");
    assert_eq!((a.aversion, a.mzxid), (1, 2));
    assert_eq!(applied.results[0].stat, Some(a));
    // The list is shared with /zookeeper/config, not stored twice.
    assert_eq!(tree.acl_list_count(), lists_before);
    tree.check_invariants();
}

#[test]
fn ephemeral_index_and_close_session() {
    let mut tree = DataTree::new();
    apply_create(&mut tree, 1, "/e", NodeKind::Persistent);
    let s1 = NodeKind::Ephemeral {
        owner: SessionId(11),
    };
    let s2 = NodeKind::Ephemeral {
        owner: SessionId(22),
    };
    apply_create(&mut tree, 2, "/e/y", s1);
    apply_create(&mut tree, 3, "/e/x", s1);
    apply_create(&mut tree, 4, "/z", s1);
    apply_create(&mut tree, 5, "/e/w", s2);
    assert_eq!(tree.stat("/e/y").map(|s| s.ephemeral_owner), Some(11));
    assert_eq!(tree.ephemerals(SessionId(11)), ["/e/x", "/e/y", "/z"]);
    assert_eq!(tree.ephemeral_sessions(), [SessionId(11), SessionId(22)]);
    assert_eq!(tree.ephemeral_count(), 4);
    assert_eq!(tree.kind("/e/w"), Some(s2));

    let child = apply_create(&mut tree, 6, "/z/c", NodeKind::Persistent);
    assert_eq!(child.results[0].err, err::NO_CHILDREN_FOR_EPHEMERALS);

    let applied = tree.apply(&txn(7, 11, TxnOp::CloseSession));
    assert_eq!(
        applied.results,
        vec![OpResult {
            err: 0,
            path: String::new(),
            stat: None
        }]
    );
    let expected = [
        ev("/e/x", TreeEventKind::Deleted),
        ev("/e", TreeEventKind::ChildrenChanged),
        ev("/e/y", TreeEventKind::Deleted),
        ev("/e", TreeEventKind::ChildrenChanged),
        ev("/z", TreeEventKind::Deleted),
        ev("/", TreeEventKind::ChildrenChanged),
    ];
    assert_eq!(applied.events, expected);
    assert!(tree.ephemerals(SessionId(11)).is_empty());
    assert_eq!(tree.ephemeral_sessions(), [SessionId(22)]);
    assert_eq!(tree.children("/e"), Some(vec!["w".to_owned()]));
    assert_eq!(tree.stat("/e").map(|s| s.pzxid), Some(7));
    tree.check_invariants();
}

#[test]
fn containers_and_ttl_nodes_expire() {
    let mut tree = DataTree::new();
    apply_create(&mut tree, 1, "/c", NodeKind::Container);
    apply_create(&mut tree, 2, "/t", NodeKind::Ttl { ttl_ms: 100 });
    assert_eq!(tree.stat("/c").map(|s| s.ephemeral_owner), Some(0));
    assert_eq!(tree.stat("/t").map(|s| s.ephemeral_owner), Some(0));
    assert_eq!(tree.kind("/t"), Some(NodeKind::Ttl { ttl_ms: 100 }));
    // A new container is kept; a TTL node waits for its TTL (mtime is T0 + 2).
    assert!(tree.expiry_candidates(T0 + 102).is_empty());
    assert_eq!(tree.expiry_candidates(T0 + 103), ["/t"]);

    apply_create(&mut tree, 3, "/c/x", NodeKind::Persistent);
    apply_create(&mut tree, 4, "/t/x", NodeKind::Persistent);
    assert!(tree.expiry_candidates(T0 + 10_000).is_empty());
    tree.apply(&txn(5, 1, delete("/c/x")));
    tree.apply(&txn(6, 1, delete("/t/x")));
    assert_eq!(tree.expiry_candidates(T0 + 10_000), ["/c", "/t"]);
    tree.apply(&txn(7, 1, delete("/c")));
    assert_eq!(tree.expiry_candidates(T0 + 10_000), ["/t"]);
    tree.check_invariants();
}

#[test]
fn multi_applies_everything_in_order() {
    let mut tree = DataTree::new();
    let ops = vec![
        create(&tree, "/m", b"", NodeKind::Persistent),
        TxnOp::Create {
            path: "/m/x".into(),
            data: vec![],
            acl: Acl::open_unsafe(),
            kind: NodeKind::Persistent,
            parent_cversion: 1,
        },
        TxnOp::Check { path: "/m".into() },
        TxnOp::SetData {
            path: "/m".into(),
            data: vec![1],
            version: 1,
        },
    ];
    let applied = tree.apply(&txn(1, 1, TxnOp::Multi(ops)));
    let codes: Vec<i32> = applied.results.iter().map(|r| r.err).collect();
    assert_eq!(codes, [0, 0, 0, 0]);
    let kinds: Vec<TreeEventKind> = applied.events.iter().map(|e| e.kind).collect();
    use TreeEventKind::*;
    assert_eq!(
        kinds,
        [
            Created,
            ChildrenChanged,
            Created,
            ChildrenChanged,
            DataChanged
        ]
    );
    assert_eq!(
        tree.stat("/m").map(|s| (s.version, s.cversion)),
        Some((1, 1))
    );
}

#[test]
fn multi_with_error_ops_changes_nothing() {
    let mut tree = DataTree::new();
    let digest = tree.digest();
    let ops = vec![
        TxnOp::Error { code: err::OK },
        TxnOp::Error { code: err::NO_NODE },
        TxnOp::Error {
            code: err::RUNTIME_INCONSISTENCY,
        },
    ];
    let applied = tree.apply(&txn(1, 1, TxnOp::Multi(ops)));
    let codes: Vec<i32> = applied.results.iter().map(|r| r.err).collect();
    assert_eq!(codes, [0, err::NO_NODE, err::RUNTIME_INCONSISTENCY]);
    assert!(applied.events.is_empty());
    // A mixed multi (a prep bug) is refused as ZooKeeper does: nothing applied.
    let ops = vec![
        create(&tree, "/m", b"", NodeKind::Persistent),
        TxnOp::Error {
            code: err::BAD_VERSION,
        },
        delete("/zookeeper/quota"),
    ];
    let applied = tree.apply(&txn(2, 1, TxnOp::Multi(ops)));
    let codes: Vec<i32> = applied.results.iter().map(|r| r.err).collect();
    assert_eq!(codes, [0, err::BAD_VERSION, err::RUNTIME_INCONSISTENCY]);
    assert!(tree.get("/m").is_none() && tree.get(QUOTA_PATH).is_some());
    assert_eq!(tree.digest(), digest);
    assert_eq!(tree.last_zxid(), Zxid(2));
}

#[test]
fn multi_that_misfits_is_rolled_back() {
    let mut tree = DataTree::new();
    apply_create(&mut tree, 1, "/k", NodeKind::Ttl { ttl_ms: 5 });
    apply_create(
        &mut tree,
        2,
        "/k/e",
        NodeKind::Ephemeral {
            owner: SessionId(3),
        },
    );
    let before = tree.clone();
    let ops = vec![
        delete("/k/e"),
        delete("/k"),
        create(&tree, "/n", b"data", NodeKind::Container),
        TxnOp::SetData {
            path: "/n".into(),
            data: vec![9; 3],
            version: 1,
        },
        TxnOp::SetAcl {
            path: "/".into(),
            acl: vec![],
            aversion: 1,
        },
        create(&tree, "/n", b"", NodeKind::Persistent),
        delete("/zookeeper"),
    ];
    let applied = tree.apply(&txn(3, 1, TxnOp::Multi(ops)));
    let codes: Vec<i32> = applied.results.iter().map(|r| r.err).collect();
    let ri = err::RUNTIME_INCONSISTENCY;
    assert_eq!(codes, [0, 0, 0, 0, 0, err::NODE_EXISTS, ri]);
    assert!(applied.events.is_empty());
    assert_eq!(tree.digest(), before.digest());
    assert_eq!(dump(&tree), dump(&before));
    assert_eq!(tree.ephemerals(SessionId(3)), ["/k/e"]);
    assert_eq!(tree.kind("/k"), Some(NodeKind::Ttl { ttl_ms: 5 }));
    tree.check_invariants();
}

#[test]
fn misfit_txns_report_codes_and_change_nothing() {
    let mut tree = DataTree::new();
    apply_create(&mut tree, 1, "/a", NodeKind::Persistent);
    apply_create(&mut tree, 2, "/a/b", NodeKind::Persistent);
    let before = tree.clone();
    let set = |path: &str| TxnOp::SetData {
        path: path.into(),
        data: vec![],
        version: 1,
    };
    let cases: Vec<(TxnOp, i32)> = vec![
        (
            create(&tree, "/a", b"", NodeKind::Persistent),
            err::NODE_EXISTS,
        ),
        (
            create(&tree, "/x/y", b"", NodeKind::Persistent),
            err::NO_NODE,
        ),
        (
            create(&tree, "/t", b"", NodeKind::Ttl { ttl_ms: 0 }),
            err::BAD_ARGUMENTS,
        ),
        (
            create(&tree, "/a/", b"", NodeKind::Persistent),
            err::BAD_ARGUMENTS,
        ),
        (delete("/nope"), err::NO_NODE),
        (delete("/a"), err::NOT_EMPTY),
        (delete("/"), err::BAD_ARGUMENTS),
        (delete("a"), err::BAD_ARGUMENTS),
        (set("/nope"), err::NO_NODE),
        (set(""), err::NO_NODE),
        (
            TxnOp::Check {
                path: "/nope".into(),
            },
            err::NO_NODE,
        ),
        (
            TxnOp::Error {
                code: err::BAD_VERSION,
            },
            err::BAD_VERSION,
        ),
        (TxnOp::Multi(vec![TxnOp::CloseSession]), err::BAD_ARGUMENTS),
    ];
    for (i, (op, code)) in cases.into_iter().enumerate() {
        let zxid = 10 + i as i64;
        let applied = tree.apply(&txn(zxid, 1, op.clone()));
        assert_eq!(applied.results[0].err, code, "{op:?}");
        assert!(applied.events.is_empty());
        assert_eq!(tree.last_zxid(), Zxid(zxid));
    }
    let root_create = TxnOp::Create {
        path: "/".into(),
        data: vec![],
        acl: vec![],
        kind: NodeKind::Persistent,
        parent_cversion: 0,
    };
    assert_eq!(
        tree.apply(&txn(99, 1, root_create)).results[0].err,
        err::NODE_EXISTS
    );
    assert_eq!(tree.digest(), before.digest());
    assert_eq!(dump(&tree), dump(&before));
}

#[test]
fn sessions_without_ephemerals_change_nothing() {
    let mut tree = DataTree::new();
    apply_create(&mut tree, 1, "/a", NodeKind::Persistent);
    let before = tree.clone();
    let open = TxnOp::CreateSession {
        timeout_ms: 30_000,
        password: vec![0; 16],
    };
    assert_eq!(tree.apply(&txn(100, 5, open)).results[0].err, err::OK);
    assert_eq!(
        tree.apply(&txn(101, 5, TxnOp::CloseSession)).results[0].err,
        err::OK
    );
    assert_eq!(tree.digest(), before.digest());
    assert_eq!(tree.last_zxid(), Zxid(101));
}

#[test]
fn a_znode_stays_small() {
    // Block (16) + path length and split (8) + five i64 and four i32 of the stat (56) + ACL
    // slot (4) + kind (1), padded: no key beside it, no dataLength, no owner, no child set.
    assert_eq!(std::mem::size_of::<Node>(), 88);
    // A full leaf fills an allocation size class (6 KiB) to within one node.
    let leaf_bytes = table::LEAF_ENTRIES_MAX * std::mem::size_of::<Node>();
    assert!(leaf_bytes <= 6 << 10 && leaf_bytes + 88 > 6 << 10);
}

#[test]
fn derived_stat_fields_follow_the_node() {
    let mut tree = DataTree::new();
    let owner = SessionId(0x1234_5678_9abc);
    apply_create(&mut tree, 1, "/e", NodeKind::Ephemeral { owner });
    apply_create(&mut tree, 2, "/p", NodeKind::Persistent);
    let e = tree.stat("/e").expect("e");
    assert_eq!((e.ephemeral_owner, e.data_length), (owner.0, 0));
    let set = TxnOp::SetData {
        path: "/e".into(),
        data: vec![7; 300],
        version: 1,
    };
    tree.apply(&txn(3, 1, set));
    let node = tree.get("/e").expect("e");
    assert_eq!(node.data, &[7; 300][..]);
    assert_eq!(
        (node.stat.ephemeral_owner, node.stat.data_length),
        (owner.0, 300)
    );
    assert_eq!(tree.stat("/p").map(|s| s.ephemeral_owner), Some(0));
    tree.check_invariants();
}

#[test]
fn count_descendants_walks_the_subtree() {
    let mut tree = DataTree::new();
    for (zxid, path) in ["/a", "/a/b", "/a/b/c", "/a/d", "/ab", "/ab/x"]
        .iter()
        .enumerate()
    {
        apply_create(&mut tree, zxid as i64 + 1, path, NodeKind::Persistent);
    }
    assert_eq!(tree.count_descendants("/a"), Some(3));
    assert_eq!(tree.count_descendants("/a/b"), Some(1));
    assert_eq!(tree.count_descendants("/ab"), Some(1));
    assert_eq!(tree.count_descendants("/a/d"), Some(0));
    assert_eq!(tree.count_descendants("/"), Some(9));
    assert_eq!(tree.count_descendants("/none"), None);
}

/// Builds a tree with some of everything.
fn sample_tree() -> DataTree {
    let mut tree = DataTree::new();
    apply_create(&mut tree, 1, "/a", NodeKind::Persistent);
    apply_create(
        &mut tree,
        2,
        "/a/e",
        NodeKind::Ephemeral {
            owner: SessionId(7),
        },
    );
    apply_create(&mut tree, 3, "/c", NodeKind::Container);
    apply_create(&mut tree, 4, "/t", NodeKind::Ttl { ttl_ms: 1000 });
    let set = TxnOp::SetData {
        path: "/a".into(),
        data: b"payload".to_vec(),
        version: 1,
    };
    tree.apply(&txn(5, 1, set));
    tree
}

/// One node as seen through the public API: path, data, stat, ACL, kind.
pub(super) type NodeView = (String, Vec<u8>, Stat, Vec<Acl>, NodeKind);

/// Everything observable about a tree's nodes, through its public API, sorted by path.
pub(super) fn dump(tree: &DataTree) -> Vec<NodeView> {
    let mut out = Vec::new();
    let mut stack = vec!["/".to_owned()];
    while let Some(path) = stack.pop() {
        let node = tree.get(&path).expect("listed node exists");
        let acl = tree.acl(&path).expect("acl").to_vec();
        let kind = tree.kind(&path).expect("kind");
        for name in tree.children(&path).expect("children") {
            stack.push(path::join(&path, &name));
        }
        out.push((path, node.data.to_vec(), node.stat, acl, kind));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn digest_is_a_function_of_the_applied_txns() {
    let a = sample_tree();
    let b = sample_tree();
    assert_eq!(a.digest(), b.digest());
    assert_ne!(a.digest(), DataTree::new().digest());
    let mut c = sample_tree();
    let set = TxnOp::SetData {
        path: "/a".into(),
        data: b"payloaD".to_vec(),
        version: 2,
    };
    c.apply(&txn(6, 1, set));
    assert_ne!(c.digest(), a.digest());
    // Applying and then undoing by hand returns to an equal digest only if stats match too.
    let mut d = sample_tree();
    d.apply(&txn(6, 1, delete("/c")));
    assert_ne!(d.digest(), a.digest());
}

fn snapshot_of(tree: &DataTree) -> Vec<u8> {
    Snapshot::new(tree, Vec::new()).to_bytes()
}

fn from_snapshot(bytes: &[u8]) -> Result<DataTree, TreeError> {
    decode_snapshot(bytes).map(|r| r.tree)
}

#[test]
fn snapshot_round_trips() {
    let tree = sample_tree();
    let bytes = snapshot_of(&tree);
    let back = from_snapshot(&bytes).expect("round trip");
    assert_eq!(back.digest(), tree.digest());
    assert_eq!(back.last_zxid(), tree.last_zxid());
    assert_eq!(dump(&back), dump(&tree));
    assert_eq!(back.ephemerals(SessionId(7)), ["/a/e"]);
    assert_eq!(
        back.expiry_candidates(T0 + 5000),
        tree.expiry_candidates(T0 + 5000)
    );
    assert_eq!(back.acl_list_count(), tree.acl_list_count());
    assert_eq!(snapshot_of(&back), bytes);
    back.check_invariants();
}

#[test]
fn bad_snapshots_are_errors_not_panics() {
    let bytes = snapshot_of(&sample_tree());
    assert!(from_snapshot(&[]).is_err());
    assert!(from_snapshot(&[0xff; 64]).is_err());
    for len in 0..bytes.len() {
        assert!(from_snapshot(&bytes[..len]).is_err(), "prefix {len}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(from_snapshot(&longer).is_err());
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            if let Ok(tree) = from_snapshot(&bad) {
                tree.check_invariants();
            }
        }
    }
}
