//! Applying a committed [`Txn`]: ZooKeeper 3.8's `DataTree.processTxn` semantics.

use super::mutate::Removed;
use super::path::{is_valid_path, parent_path};
use super::znode::{KindTag, Node};
use super::{DataTree, TTL_MS_MAX};
use crate::jute::{err, event, Acl, Stat};
use crate::txn::{NodeKind, Txn, TxnOp};

/// What applying one txn did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// One result per op: one for a plain txn, one per sub-op for a multi.
    pub results: Vec<OpResult>,
    /// Watch events, in the order the notifications must go out.
    pub events: Vec<TreeEvent>,
}

/// The outcome of one op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpResult {
    /// 0 or a ZooKeeper error code (`jute::err`).
    pub err: i32,
    /// The op's path (`""` for ops without one: sessions, errors).
    pub path: String,
    /// The node's new stat after a create, setData or setACL that succeeded.
    pub stat: Option<Stat>,
}

impl OpResult {
    fn ok(path: &str, stat: Option<Stat>) -> OpResult {
        OpResult {
            err: err::OK,
            path: path.to_owned(),
            stat,
        }
    }

    fn failed(code: i32, path: &str) -> OpResult {
        OpResult {
            err: code,
            path: path.to_owned(),
            stat: None,
        }
    }
}

/// A change a watch may be waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEvent {
    /// The node the event is about.
    pub path: String,
    /// What happened to it.
    pub kind: TreeEventKind,
}

/// The kinds of [`TreeEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TreeEventKind {
    /// The node was created (fires data/exist watches on it).
    Created,
    /// The node was deleted (fires data, exist and child watches on it).
    Deleted,
    /// The node's data changed (fires data watches on it).
    DataChanged,
    /// A child was created or deleted (fires child watches on the parent).
    ChildrenChanged,
}

impl TreeEventKind {
    /// The `WatchedEvent` type clients receive (`jute::event`).
    pub fn event_type(self) -> i32 {
        match self {
            TreeEventKind::Created => event::NODE_CREATED,
            TreeEventKind::Deleted => event::NODE_DELETED,
            TreeEventKind::DataChanged => event::NODE_DATA_CHANGED,
            TreeEventKind::ChildrenChanged => event::NODE_CHILDREN_CHANGED,
        }
    }
}

/// How to take back one applied op of a multi.
enum Undo {
    Created {
        path: String,
        parent_stat: Stat,
    },
    Deleted {
        path: String,
        removed: Removed,
        parent_stat: Stat,
    },
    DataSet {
        old: Node,
    },
    AclSet {
        path: String,
        acl: Vec<Acl>,
        stat: Stat,
    },
}

/// The undo entries of the ops applied so far; records nothing outside a multi.
struct UndoLog {
    enabled: bool,
    entries: Vec<Undo>,
}

impl UndoLog {
    fn new(enabled: bool) -> UndoLog {
        UndoLog {
            enabled,
            entries: Vec::new(),
        }
    }

    fn push(&mut self, undo: Undo) {
        if self.enabled {
            self.entries.push(undo);
        }
    }
}

/// Where one op's effects go.
struct Effects<'a> {
    undo: &'a mut UndoLog,
    events: &'a mut Vec<TreeEvent>,
}

impl Effects<'_> {
    fn event(&mut self, path: &str, kind: TreeEventKind) {
        self.events.push(TreeEvent {
            path: path.to_owned(),
            kind,
        });
    }
}

/// The path an op names, or `""`.
fn op_path(op: &TxnOp) -> &str {
    match op {
        TxnOp::Create { path, .. }
        | TxnOp::Delete { path }
        | TxnOp::SetData { path, .. }
        | TxnOp::SetAcl { path, .. }
        | TxnOp::Check { path } => path,
        _ => "",
    }
}

/// Results of a multi that failed at op `first`: `Error` ops keep their code, ops before the
/// failure report OK, the failed op its code, later ops `RUNTIME_INCONSISTENCY` (as ZooKeeper).
fn failed_multi_results(ops: &[TxnOp], first: usize, code_at_first: i32) -> Vec<OpResult> {
    let results: Vec<OpResult> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let code = match op {
                TxnOp::Error { code } => *code,
                _ if i < first => err::OK,
                _ if i == first => code_at_first,
                _ => err::RUNTIME_INCONSISTENCY,
            };
            OpResult::failed(code, op_path(op))
        })
        .collect();
    assert_eq!(results.len(), ops.len());
    results
}

impl DataTree {
    /// Applies one committed txn; see the [module docs](super). Never panics on a txn that does
    /// not fit the tree: the op reports the error code and changes nothing.
    pub fn apply(&mut self, txn: &Txn) -> Applied {
        let mut applied = Applied::default();
        match &txn.op {
            TxnOp::Multi(ops) => self.apply_multi(txn, ops, &mut applied),
            TxnOp::CloseSession => self.close_session(txn, &mut applied),
            op => {
                let mut undo = UndoLog::new(false);
                let mut fx = Effects {
                    undo: &mut undo,
                    events: &mut applied.events,
                };
                let result = self.apply_op(txn, op, &mut fx);
                applied.results.push(result);
            }
        }
        self.last_zxid = self.last_zxid.max(txn.zxid);
        assert!(
            !applied.results.is_empty() || matches!(&txn.op, TxnOp::Multi(ops) if ops.is_empty())
        );
        applied
    }

    /// Applies every sub-op or none of them.
    fn apply_multi(&mut self, txn: &Txn, ops: &[TxnOp], applied: &mut Applied) {
        if let Some(first) = ops.iter().position(|op| matches!(op, TxnOp::Error { .. })) {
            applied.results = failed_multi_results(ops, first, err::RUNTIME_INCONSISTENCY);
            return;
        }
        let digest_before = self.digest;
        let mut undo = UndoLog::new(true);
        let mut events = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let mut fx = Effects {
                undo: &mut undo,
                events: &mut events,
            };
            let result = self.apply_op(txn, op, &mut fx);
            if result.err != err::OK {
                self.roll_back(undo);
                assert_eq!(self.digest, digest_before, "multi rollback left a trace");
                applied.results = failed_multi_results(ops, i, result.err);
                return;
            }
            applied.results.push(result);
        }
        applied.events = events;
    }

    /// Takes back the ops of a failed multi, newest first.
    fn roll_back(&mut self, undo: UndoLog) {
        for entry in undo.entries.into_iter().rev() {
            match entry {
                Undo::Created { path, parent_stat } => {
                    self.remove_node(&path);
                    self.set_parent_stat(&path, parent_stat);
                }
                Undo::Deleted {
                    path,
                    removed,
                    parent_stat,
                } => {
                    let Removed { node, acl, ttl_ms } = removed;
                    self.insert_built(node, &acl, ttl_ms);
                    self.set_parent_stat(&path, parent_stat);
                }
                Undo::DataSet { old } => self.restore_data(old),
                Undo::AclSet { path, acl, stat } => {
                    self.set_acl(&path, &acl, stat);
                }
            }
        }
    }

    fn set_parent_stat(&mut self, path: &str, stat: Stat) {
        let parent = parent_path(path).unwrap_or_else(|| panic!("{path} has no parent"));
        let old = self.set_stat(parent, stat);
        assert!(old.is_some(), "parent of {path} is missing");
    }

    /// Deletes every ephemeral of the txn's session, in path order.
    fn close_session(&mut self, txn: &Txn, applied: &mut Applied) {
        let mut undo = UndoLog::new(false);
        let mut fx = Effects {
            undo: &mut undo,
            events: &mut applied.events,
        };
        for path in self.ephemerals(txn.session) {
            // Ephemerals never have children, so this cannot fail.
            let result = self.op_delete(txn.zxid.0, &path, &mut fx);
            assert_eq!(result.err, err::OK, "closeSession could not delete {path}");
        }
        assert!(self.ephemerals(txn.session).is_empty());
        applied.results.push(OpResult::ok("", None));
    }

    /// Applies one op that is not a multi or a closeSession.
    fn apply_op(&mut self, txn: &Txn, op: &TxnOp, fx: &mut Effects<'_>) -> OpResult {
        let zxid = txn.zxid.0;
        match op {
            TxnOp::Create {
                path,
                data,
                acl,
                kind,
                parent_cversion,
            } => {
                let create = Create {
                    path,
                    data,
                    acl,
                    kind: *kind,
                    parent_cversion: *parent_cversion,
                };
                self.op_create(zxid, txn.time_ms, &create, fx)
            }
            TxnOp::Delete { path } => self.op_delete(zxid, path, fx),
            TxnOp::SetData {
                path,
                data,
                version,
            } => self.op_set_data(zxid, txn.time_ms, path, data, *version, fx),
            TxnOp::SetAcl {
                path,
                acl,
                aversion,
            } => self.op_set_acl(path, acl, *aversion, fx),
            TxnOp::Check { path } => match self.get(path) {
                Some(_) => OpResult::ok(path, None),
                None => OpResult::failed(err::NO_NODE, path),
            },
            TxnOp::Error { code } => OpResult::failed(*code, ""),
            TxnOp::CreateSession { .. } => OpResult::ok("", None),
            // Only valid at the top level of a txn.
            TxnOp::CloseSession | TxnOp::Multi(_) => OpResult::failed(err::BAD_ARGUMENTS, ""),
        }
    }
}

/// The fields of a create op.
struct Create<'a> {
    path: &'a str,
    data: &'a [u8],
    acl: &'a [Acl],
    kind: NodeKind,
    parent_cversion: i32,
}

impl DataTree {
    fn op_create(
        &mut self,
        zxid: i64,
        time_ms: i64,
        op: &Create<'_>,
        fx: &mut Effects,
    ) -> OpResult {
        let path = op.path;
        if !is_valid_path(path) {
            return OpResult::failed(err::BAD_ARGUMENTS, path);
        }
        let Some(parent) = parent_path(path) else {
            return OpResult::failed(err::NODE_EXISTS, path);
        };
        let Some(parent_node) = self.get(parent) else {
            return OpResult::failed(err::NO_NODE, path);
        };
        if self.get(path).is_some() {
            return OpResult::failed(err::NODE_EXISTS, path);
        }
        if parent_node.is_ephemeral() {
            return OpResult::failed(err::NO_CHILDREN_FOR_EPHEMERALS, path);
        }
        let (tag, owner, ttl_ms) = match op.kind {
            NodeKind::Persistent => (KindTag::Persistent, 0, None),
            NodeKind::Ephemeral { owner } => (KindTag::Ephemeral, owner.0, None),
            NodeKind::Container => (KindTag::Container, 0, None),
            NodeKind::Ttl { ttl_ms } if ttl_ms > 0 && ttl_ms <= TTL_MS_MAX => {
                (KindTag::Ttl, 0, Some(ttl_ms))
            }
            NodeKind::Ttl { .. } => return OpResult::failed(err::BAD_ARGUMENTS, path),
        };
        let Ok(data_length) = i32::try_from(op.data.len()) else {
            return OpResult::failed(err::BAD_ARGUMENTS, path);
        };
        let stat = Stat {
            czxid: zxid,
            mzxid: zxid,
            ctime: time_ms,
            mtime: time_ms,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            data_length,
            num_children: 0,
            pzxid: zxid,
        };
        let parent_stat = parent_node.stat;
        // `parent_cversion` is the parent's child-creation count after this create (what
        // ZooKeeper stores); clients see 2 × creations − children.
        let num_children = parent_stat.num_children.wrapping_add(1);
        let new_parent_stat = Stat {
            cversion: op
                .parent_cversion
                .wrapping_mul(2)
                .wrapping_sub(num_children),
            pzxid: zxid,
            num_children,
            ..parent_stat
        };
        self.insert_node(path, op.data, stat, tag, op.acl, ttl_ms);
        self.set_stat(parent, new_parent_stat);
        fx.undo.push(Undo::Created {
            path: path.to_owned(),
            parent_stat,
        });
        fx.event(path, TreeEventKind::Created);
        fx.event(parent, TreeEventKind::ChildrenChanged);
        OpResult::ok(path, Some(stat))
    }

    fn op_delete(&mut self, zxid: i64, path: &str, fx: &mut Effects) -> OpResult {
        if !is_valid_path(path) {
            return OpResult::failed(err::BAD_ARGUMENTS, path);
        }
        let Some(parent) = parent_path(path) else {
            return OpResult::failed(err::BAD_ARGUMENTS, path);
        };
        let Some(node) = self.get(path) else {
            return OpResult::failed(err::NO_NODE, path);
        };
        if node.stat.num_children != 0 {
            return OpResult::failed(err::NOT_EMPTY, path);
        }
        let Some(parent_stat) = self.stat(parent) else {
            panic!("{path} exists without its parent");
        };
        let Some(removed) = self.remove_node(path) else {
            panic!("{path} vanished during delete");
        };
        // ZooKeeper stores creations only; the visible cversion (2 * creations - children)
        // therefore rises by one when a child goes.
        let new_parent_stat = Stat {
            cversion: parent_stat.cversion.wrapping_add(1),
            pzxid: parent_stat.pzxid.max(zxid),
            num_children: parent_stat.num_children.wrapping_sub(1),
            ..parent_stat
        };
        self.set_stat(parent, new_parent_stat);
        fx.undo.push(Undo::Deleted {
            path: path.to_owned(),
            removed,
            parent_stat,
        });
        fx.event(path, TreeEventKind::Deleted);
        fx.event(parent, TreeEventKind::ChildrenChanged);
        OpResult::ok(path, None)
    }

    fn op_set_data(
        &mut self,
        zxid: i64,
        time_ms: i64,
        path: &str,
        data: &[u8],
        version: i32,
        fx: &mut Effects,
    ) -> OpResult {
        let Ok(data_length) = i32::try_from(data.len()) else {
            return OpResult::failed(err::BAD_ARGUMENTS, path);
        };
        let new_stat = |old: &Stat| Stat {
            mzxid: zxid,
            mtime: time_ms,
            version,
            data_length,
            ..*old
        };
        let Some((old, stat)) = self.update_data(path, data, new_stat) else {
            return OpResult::failed(err::NO_NODE, path);
        };
        fx.undo.push(Undo::DataSet { old });
        fx.event(path, TreeEventKind::DataChanged);
        OpResult::ok(path, Some(stat))
    }

    fn op_set_acl(&mut self, path: &str, acl: &[Acl], aversion: i32, fx: &mut Effects) -> OpResult {
        let Some(old) = self.stat(path) else {
            return OpResult::failed(err::NO_NODE, path);
        };
        let stat = Stat { aversion, ..old };
        let (old_acl, old_stat) = self.set_acl(path, acl, stat);
        fx.undo.push(Undo::AclSet {
            path: path.to_owned(),
            acl: old_acl,
            stat: old_stat,
        });
        OpResult::ok(path, Some(stat))
    }
}
