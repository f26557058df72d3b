//! Property tests: random txn sequences on two replicas, one of them rebuilt from a snapshot
//! halfway, end equal; failed ops and multis change nothing; invariants hold after every txn.

use super::tests::dump;
use super::*;
use crate::jute::err;
use crate::txn::{Txn, TxnOp};
use proptest::collection::vec;
use proptest::prelude::*;

const PATHS: [&str; 10] = [
    "/a",
    "/a/b",
    "/a/b/c",
    "/a/d",
    "/e",
    "/e/f",
    "/zookeeper/x",
    "/g",
    "/a/b/c/d",
    "/ab",
];

/// One op, with indexes into small universes so that ops often hit existing nodes.
#[derive(Debug, Clone)]
enum OpSpec {
    Create {
        path: usize,
        data: Vec<u8>,
        acl: usize,
        kind: u8,
        ttl_ms: i64,
    },
    Delete(usize),
    SetData(usize, Vec<u8>, i32),
    SetAcl(usize, usize, i32),
    Check(usize),
    Error(i32),
    CreateSession,
}

#[derive(Debug, Clone)]
enum Step {
    Op { session: i64, op: OpSpec },
    Close(i64),
    Multi(Vec<OpSpec>),
}

fn op_spec() -> impl Strategy<Value = OpSpec> {
    let path = 0..PATHS.len();
    let data = vec(any::<u8>(), 0..8);
    prop_oneof![
        4 => (path.clone(), data.clone(), 0..3usize, 0..4u8, -1..50i64).prop_map(
            |(path, data, acl, kind, ttl_ms)| OpSpec::Create { path, data, acl, kind, ttl_ms }
        ),
        3 => path.clone().prop_map(OpSpec::Delete),
        2 => (path.clone(), data, 0..5i32).prop_map(|(p, d, v)| OpSpec::SetData(p, d, v)),
        1 => (path.clone(), 0..3usize, 0..5i32).prop_map(|(p, a, v)| OpSpec::SetAcl(p, a, v)),
        1 => path.prop_map(OpSpec::Check),
        1 => prop_oneof![Just(err::NO_NODE), Just(err::BAD_VERSION)].prop_map(OpSpec::Error),
        1 => Just(OpSpec::CreateSession),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (1..4i64, op_spec()).prop_map(|(session, op)| Step::Op { session, op }),
        1 => (1..4i64).prop_map(Step::Close),
        2 => vec(op_spec(), 0..5).prop_map(Step::Multi),
    ]
}

fn acl_choice(i: usize) -> Vec<Acl> {
    match i {
        0 => Acl::open_unsafe(),
        1 => vec![Acl {
            perms: perms::READ,
            id: Id::new("world", "anyone"),
        }],
        _ => vec![Acl {
            perms: perms::ALL,
            id: Id::new("digest", "u:x"),
        }],
    }
}

/// The txn op for a spec, with the parent cversion prep would compute from `tree`.
fn to_op(tree: &DataTree, session: i64, spec: &OpSpec) -> TxnOp {
    match spec {
        OpSpec::Create {
            path,
            data,
            acl,
            kind,
            ttl_ms,
        } => {
            let path = PATHS[*path];
            let parent = parent_path(path).expect("not root");
            let kind = match kind {
                0 => NodeKind::Persistent,
                1 => NodeKind::Ephemeral {
                    owner: SessionId(session),
                },
                2 => NodeKind::Container,
                _ => NodeKind::Ttl { ttl_ms: *ttl_ms },
            };
            TxnOp::Create {
                path: path.to_owned(),
                data: data.clone(),
                acl: acl_choice(*acl),
                kind,
                parent_cversion: tree.get(parent).map_or(0, |n| n.child_creates() + 1),
            }
        }
        OpSpec::Delete(p) => TxnOp::Delete {
            path: PATHS[*p].to_owned(),
        },
        OpSpec::SetData(p, data, version) => TxnOp::SetData {
            path: PATHS[*p].to_owned(),
            data: data.clone(),
            version: *version,
        },
        OpSpec::SetAcl(p, acl, aversion) => TxnOp::SetAcl {
            path: PATHS[*p].to_owned(),
            acl: acl_choice(*acl),
            aversion: *aversion,
        },
        OpSpec::Check(p) => TxnOp::Check {
            path: PATHS[*p].to_owned(),
        },
        OpSpec::Error(code) => TxnOp::Error { code: *code },
        OpSpec::CreateSession => TxnOp::CreateSession {
            timeout_ms: 10_000,
            password: vec![1; 16],
        },
    }
}

fn to_txn(tree: &DataTree, index: usize, step: &Step) -> Txn {
    let (session, op) = match step {
        Step::Op { session, op } => (*session, to_op(tree, *session, op)),
        Step::Close(session) => (*session, TxnOp::CloseSession),
        Step::Multi(ops) => (
            1,
            TxnOp::Multi(ops.iter().map(|o| to_op(tree, 1, o)).collect()),
        ),
    };
    Txn {
        zxid: Zxid((1 << 32) | (index as i64 + 1)),
        session: SessionId(session),
        cxid: index as i32,
        opcode: 0,
        time_ms: 1_000 + 7 * index as i64,
        op,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_through_a_snapshot(steps in vec(step(), 1..80), split in 0usize..80) {
        let mut a = DataTree::new();
        let mut b = DataTree::new();
        let split = split.min(steps.len());
        // A frozen copy of `a` taken at the split must not see the changes applied after it.
        let mut frozen = None;
        for (i, step) in steps.iter().enumerate() {
            if i == split {
                let bytes = Snapshot::new(&b, Vec::new()).to_bytes();
                b = decode_snapshot(&bytes).expect("own snapshot loads").tree;
                prop_assert_eq!(b.digest(), a.digest());
                frozen = Some((Snapshot::new(&a, Vec::new()), dump(&a), a.digest()));
            }
            let txn = to_txn(&a, i, step);
            let digest_before = a.digest();
            let applied_a = a.apply(&txn);
            let applied_b = b.apply(&txn);
            prop_assert_eq!(&applied_a, &applied_b);
            if applied_a.results.iter().any(|r| r.err != err::OK) {
                prop_assert_eq!(a.digest(), digest_before, "a failed op changed the tree");
                prop_assert!(applied_a.events.is_empty());
            }
            a.check_invariants();
        }
        b.check_invariants();
        prop_assert_eq!(a.digest(), b.digest());
        prop_assert_eq!(a.last_zxid(), b.last_zxid());
        prop_assert_eq!(dump(&a), dump(&b));
        prop_assert_eq!(a.ephemeral_sessions(), b.ephemeral_sessions());
        for session in a.ephemeral_sessions() {
            prop_assert_eq!(a.ephemerals(session), b.ephemerals(session));
        }
        prop_assert_eq!(a.expiry_candidates(2_000), b.expiry_candidates(2_000));
        prop_assert_eq!(
            Snapshot::new(&a, Vec::new()).to_bytes(),
            Snapshot::new(&b, Vec::new()).to_bytes()
        );
        if let Some((snapshot, nodes, digest)) = frozen {
            let restored = decode_snapshot(&snapshot.to_bytes()).expect("frozen snapshot loads");
            prop_assert_eq!(restored.tree.digest(), digest);
            prop_assert_eq!(dump(&restored.tree), nodes);
        }
    }
}
