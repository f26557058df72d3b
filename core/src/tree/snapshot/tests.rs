//! Tests of the snapshot encoder and decoder.

use super::super::digest::{data_term, meta_term};
use super::super::path::PathKey;
use super::super::tests::{create, dump, txn};
use super::*;
use crate::txn::{NodeKind, TxnOp};

/// A tree over several leaves: three parents of 700 children, ephemerals, a container, a
/// TTL node, and a node with its own ACL.
fn big_tree() -> DataTree {
    let mut tree = DataTree::new();
    let mut zxid = 0;
    let mut apply = |tree: &mut DataTree, path: &str, kind: NodeKind| {
        zxid += 1;
        let op = create(tree, path, path.as_bytes(), kind);
        tree.apply(&txn(zxid, 1, op));
    };
    for parent in ["/a", "/b", "/c"] {
        apply(&mut tree, parent, NodeKind::Persistent);
        for i in 0..700 {
            apply(
                &mut tree,
                &format!("{parent}/n{i:04}"),
                NodeKind::Persistent,
            );
        }
    }
    let owner = SessionId(7);
    apply(&mut tree, "/b/n0001/e", NodeKind::Ephemeral { owner });
    apply(&mut tree, "/box", NodeKind::Container);
    apply(&mut tree, "/t", NodeKind::Ttl { ttl_ms: 500 });
    tree.check_invariants();
    tree
}

fn sessions() -> Vec<(SessionId, Session)> {
    let session = |timeout_ms| Session {
        timeout_ms,
        password: vec![1; 16],
    };
    vec![(SessionId(7), session(4000)), (SessionId(9), session(6000))]
}

fn decode_in_pieces(bytes: &[u8], piece: usize) -> Result<Restored, TreeError> {
    let mut decoder = SnapshotDecoder::new(1 << 20);
    for chunk in bytes.chunks(piece) {
        decoder.feed(chunk)?;
    }
    decoder.finish()
}

#[test]
fn a_big_tree_round_trips_in_pieces_of_any_size() {
    let tree = big_tree();
    let snapshot = Snapshot::new(&tree, sessions());
    let mut encoder = snapshot.encoder();
    let mut chunks = 0;
    let mut bytes = Vec::new();
    while encoder.next_chunk(&mut bytes) {
        chunks += 1;
    }
    assert!(chunks >= 1 && !encoder.next_chunk(&mut bytes));
    assert_eq!(bytes, snapshot.to_bytes());
    for piece in [1, 7, 4096, bytes.len()] {
        let restored = decode_in_pieces(&bytes, piece).expect("decodes");
        assert_eq!(restored.tree.digest(), tree.digest(), "piece {piece}");
        assert_eq!(restored.tree.last_zxid(), tree.last_zxid());
        assert_eq!(restored.sessions, sessions());
        assert_eq!(restored.tree.ephemerals(SessionId(7)), ["/b/n0001/e"]);
        assert_eq!(
            restored.tree.expiry_candidates(i64::MAX),
            tree.expiry_candidates(i64::MAX)
        );
        assert_eq!(dump(&restored.tree), dump(&tree));
        restored.tree.check_invariants();
    }
}

#[test]
fn a_frozen_snapshot_does_not_see_later_changes() {
    let mut tree = big_tree();
    let before = dump(&tree);
    let snapshot = Snapshot::new(&tree, Vec::new());
    let zxid = tree.last_zxid().0;
    for (i, path) in ["/a/n0000", "/b/n0350", "/c/n0699"].iter().enumerate() {
        let set = TxnOp::SetData {
            path: (*path).to_owned(),
            data: b"changed".to_vec(),
            version: -1,
        };
        tree.apply(&txn(zxid + 1 + i as i64, 1, set));
    }
    let delete = TxnOp::Delete {
        path: "/a/n0001".to_owned(),
    };
    tree.apply(&txn(zxid + 10, 1, delete));
    let op = create(&tree, "/a/n0001x", b"new", NodeKind::Persistent);
    tree.apply(&txn(zxid + 11, 1, op));
    assert_ne!(dump(&tree), before);
    let restored = decode_snapshot(&snapshot.to_bytes()).expect("decodes");
    assert_eq!(dump(&restored.tree), before);
    assert_eq!(snapshot.zxid(), Zxid(zxid));
}

#[test]
fn a_record_above_the_limit_is_refused_and_the_error_sticks() {
    let mut decoder = SnapshotDecoder::new(64);
    let error = decoder
        .feed(&[0xff, 0xff, 0xff, 0x7f])
        .expect_err("refused");
    assert!(error.to_string().contains("above the limit"), "{error}");
    let good = Snapshot::new(&DataTree::new(), Vec::new()).to_bytes();
    assert_eq!(decoder.feed(&good), Err(error.clone()));
    assert_eq!(decoder.finish().map(|_| ()), Err(error));
}

/// A node record with owned fields, serialized as format 2 has always written it (the
/// `(path, Znode)` pair of the first writer, data a `Vec<u8>`).
#[derive(Debug, Clone, Serialize)]
struct Owned {
    path: String,
    data: Vec<u8>,
    stat: Stat,
    acl: AclId,
    kind: KindTag,
}

fn owned_nodes(tree: &DataTree) -> Vec<Owned> {
    tree.nodes
        .iter()
        .map(|node| Owned {
            path: node.path().to_owned(),
            data: node.data().to_vec(),
            stat: node.stat(),
            acl: node.acl,
            kind: node.kind(),
        })
        .collect()
}

/// Encodes `nodes` as a snapshot with a correct digest, so that only the structural checks
/// can refuse it.
fn encode_raw(tree: &DataTree, nodes: &[Owned]) -> Vec<u8> {
    let digest = nodes.iter().fold(0u64, |sum, n| {
        let ttl_ms = match n.kind {
            KindTag::Ttl => tree.ttls.get(n.path.as_str()).copied().unwrap_or(0),
            _ => 0,
        };
        let path = n.path.as_bytes();
        let meta = meta_term(path, &n.stat, tree.acls.hash(n.acl), n.kind.code(), ttl_ms);
        sum.wrapping_add(data_term(path, &n.data).wrapping_add(meta))
    });
    let header = Header {
        format: SNAPSHOT_FORMAT,
        zxid: tree.last_zxid,
        digest,
        acl_slots: tree.acls.entries().len() as u64,
        ttls: tree.ttls.len() as u64,
        sessions: 0,
        nodes: nodes.len() as u64,
    };
    let mut out = Vec::new();
    push_record(&mut out, &header);
    for entry in tree.acls.entries() {
        push_record(&mut out, entry);
    }
    for (path, ttl_ms) in &tree.ttls {
        push_record(&mut out, &(&**path, *ttl_ms));
    }
    for node in nodes {
        push_record(&mut out, node);
    }
    out
}

#[test]
fn the_node_records_are_those_format_2_always_had() {
    let tree = big_tree();
    let legacy = encode_raw(&tree, &owned_nodes(&tree));
    assert_eq!(Snapshot::new(&tree, Vec::new()).to_bytes(), legacy);
}

#[test]
fn structural_lies_with_a_matching_digest_are_refused() {
    let tree = big_tree();
    let nodes = owned_nodes(&tree);
    let index = |path: &str| index_of(&nodes, path);
    decode_snapshot(&encode_raw(&tree, &nodes)).expect("the honest encoding decodes");
    type Lie = Box<dyn Fn(&mut Vec<Owned>)>;
    let (a, b, leaf) = (index("/a"), index("/b"), index("/c/n0005"));
    let lies: Vec<(&str, Lie)> = vec![
        (
            "children moved between parents",
            Box::new(move |n| {
                n[a].stat.num_children += 1;
                n[b].stat.num_children -= 1;
            }),
        ),
        (
            "a leaf claims a child",
            Box::new(move |n| {
                n[leaf].stat.num_children += 1;
                n[a].stat.num_children -= 1;
            }),
        ),
        (
            "a parent missing",
            Box::new(move |n| {
                n[0].stat.num_children -= 1;
                n.remove(a);
            }),
        ),
        ("out of order", Box::new(move |n| n.swap(leaf, leaf + 1))),
        (
            "another ACL slot",
            Box::new(move |n| n[leaf].acl = n[index_of(n, "/zookeeper/config")].acl),
        ),
        (
            "an owner on a persistent node",
            Box::new(move |n| n[leaf].stat.ephemeral_owner = 7),
        ),
        (
            "the child of an ephemeral",
            Box::new(move |n| {
                let e = index_of(n, "/b/n0001/e");
                n[e].stat.num_children = 1;
                let mut child = n[leaf].clone();
                child.stat.num_children = 0;
                child.path = "/b/n0001/e/x".to_owned();
                n.push(child);
                n.sort_by_key(|n| PathKey::new(n.path.as_str()));
            }),
        ),
        (
            "a TTL node without its TTL",
            Box::new(move |n| {
                let t = index_of(n, "/t");
                n[t].kind = KindTag::Persistent;
            }),
        ),
    ];
    for (what, lie) in lies {
        let mut told = nodes.clone();
        lie(&mut told);
        assert!(
            decode_snapshot(&encode_raw(&tree, &told)).is_err(),
            "accepted: {what}"
        );
    }
}

fn index_of(nodes: &[Owned], path: &str) -> usize {
    nodes.iter().position(|n| n.path == path).expect("node")
}
