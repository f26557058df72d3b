//! Request preparation: turning a client write into a self-contained [`TxnOp`].
//!
//! Writes are validated against the committed tree *plus* every change prepared but not yet
//! committed (the overlay), so that pipelined writes from many sessions validate as if each
//! earlier one had already been applied. Failures are data (`TxnOp::Error { code }`), not Rust
//! errors: a failed write still gets a zxid and an answer, as in ZooKeeper.

use crate::acl::{self, AuthInfo};
use crate::ids::{SessionId, Zxid};
use crate::jute::{create_mode, err, perms, Acl, CreateRequest, MultiOp, Request, Stat};
use crate::tree::{is_valid_path, parent_path, DataTree};
use crate::txn::{NodeKind, TxnOp};
mod overlay;

use overlay::Overlay;
use std::collections::VecDeque;
use std::sync::Arc;

use crate::tree::TTL_MS_MAX;

/// A node as prepared: its stat and ACL after every outstanding change.
#[derive(Debug, Clone)]
struct PendingNode {
    /// As clients would see it (only versions, counts and times are read here).
    stat: Stat,
    acl: Arc<[Acl]>,
    kind: NodeKind,
    /// Children ever created: the next sequential suffix (ZooKeeper's stored cversion).
    child_creates: i32,
}

/// An overlay entry: `None` when the node is deleted by an outstanding change.
#[derive(Debug, Clone)]
struct Pending {
    node: Option<PendingNode>,
    /// The newest outstanding zxid that touched this path.
    zxid: Zxid,
}

/// Everything a prepared write may read besides the overlay.
pub struct PrepContext<'a> {
    /// The committed tree.
    pub tree: &'a DataTree,
    /// The requesting connection's ids.
    pub auth: &'a AuthInfo,
    /// The requesting session.
    pub session: SessionId,
    /// The zxid this txn will get.
    pub zxid: Zxid,
    /// Leader's wall clock, ms since the epoch.
    pub time_ms: i64,
}

/// The overlay of prepared, uncommitted changes.
#[derive(Debug, Default)]
pub struct Prep {
    /// The path is allocated once per entry and shared with `by_zxid` and `undo`.
    overlay: Overlay<Pending>,
    /// Paths in the order their changes were prepared, to forget committed ones without a scan.
    by_zxid: VecDeque<(Zxid, Arc<str>)>,
    /// Previous overlay entries, to roll back a failed multi (kept only inside a multi: a
    /// single request changes the overlay only after every check passed).
    undo: Vec<(Arc<str>, Option<Pending>)>,
    in_multi: bool,
}

type Outcome = Result<TxnOp, i32>;

impl Prep {
    /// An empty overlay.
    pub fn new() -> Prep {
        Prep::default()
    }

    /// Forgets overlay entries whose newest change is committed at or before `zxid`.
    pub fn committed(&mut self, zxid: Zxid) {
        while self.by_zxid.front().is_some_and(|(z, _)| *z <= zxid) {
            let Some((_, path)) = self.by_zxid.pop_front() else {
                break;
            };
            // A later outstanding change to the same path keeps the entry.
            self.overlay.remove_if(&path, |p| p.zxid <= zxid);
        }
    }

    fn view(&self, tree: &DataTree, path: &str) -> Option<PendingNode> {
        if let Some(p) = self.overlay.get(path) {
            return p.node.clone();
        }
        let (node, acl, kind) = tree.view(path)?;
        Some(PendingNode {
            stat: node.stat,
            acl,
            kind,
            child_creates: node.child_creates(),
        })
    }

    fn set(&mut self, path: &str, node: Option<PendingNode>, zxid: Zxid) {
        let pending = Pending { node, zxid };
        let (key, old) = self.overlay.insert(path, pending);
        if self.in_multi {
            self.undo.push((Arc::clone(&key), old));
        }
        self.by_zxid.push_back((zxid, key));
    }

    fn rollback(&mut self) {
        while let Some((path, old)) = self.undo.pop() {
            self.overlay.restore(path, old);
        }
    }

    /// Prepares a client write. Reads must not be passed here. The request is taken by value:
    /// its path and data move into the transaction instead of being copied.
    pub fn prepare(&mut self, cx: &PrepContext<'_>, request: Request) -> TxnOp {
        match request {
            Request::Multi(ops) => self.multi(cx, ops),
            other => self
                .single(cx, other)
                .unwrap_or_else(|code| TxnOp::Error { code }),
        }
    }

    /// Prepares one write (alone, or one op of a multi).
    fn single(&mut self, cx: &PrepContext<'_>, request: Request) -> Outcome {
        match request {
            Request::Create(c) | Request::Create2(c) => self.create(cx, c, -1, false),
            Request::CreateContainer(c) => self.create(cx, c, -1, true),
            Request::CreateTtl(c) => {
                let base = CreateRequest {
                    path: c.path,
                    data: c.data,
                    acl: c.acl,
                    flags: c.flags,
                };
                self.create(cx, base, c.ttl, false)
            }
            Request::Delete { path, version } => self.delete(cx, path, version),
            Request::SetData {
                path,
                data,
                version,
            } => self.set_data(cx, path, data, version),
            Request::SetAcl { path, acl, version } => self.set_acl(cx, path, &acl, version),
            Request::Check { path, version } => self.check(cx, path, version),
            Request::CloseSession => Ok(self.close_session(cx)),
            Request::DeleteContainer { path } => self.delete_container(cx, path),
            _ => Err(err::UNIMPLEMENTED),
        }
    }

    /// Prepares a multi: every op or none. A failing op rolls back the overlay changes of
    /// the ops before it.
    fn multi(&mut self, cx: &PrepContext<'_>, ops: Vec<MultiOp>) -> TxnOp {
        // Reads inside a write multi: ZooKeeper rejects the whole multi.
        if let Some(i) = ops
            .iter()
            .position(|op| matches!(op, MultiOp::GetChildren { .. } | MultiOp::GetData { .. }))
        {
            return failed_multi(ops.len(), i, err::BAD_ARGUMENTS);
        }
        let len = ops.len();
        self.undo.clear();
        self.in_multi = true;
        let mut out = Vec::with_capacity(len);
        let mut failed = None;
        for (i, op) in ops.into_iter().enumerate() {
            // Moved, not copied: each op becomes the request it stands for.
            let request = match op {
                MultiOp::Create(c) => Request::Create(c),
                MultiOp::Create2(c) => Request::Create2(c),
                MultiOp::CreateContainer(c) => Request::CreateContainer(c),
                MultiOp::CreateTtl(c) => Request::CreateTtl(c),
                MultiOp::Delete { path, version } => Request::Delete { path, version },
                MultiOp::SetData {
                    path,
                    data,
                    version,
                } => Request::SetData {
                    path,
                    data,
                    version,
                },
                MultiOp::Check { path, version } => Request::Check { path, version },
                // Refused above, before any change.
                MultiOp::GetChildren { .. } | MultiOp::GetData { .. } => {
                    failed = Some((i, err::BAD_ARGUMENTS));
                    break;
                }
            };
            let prepared = self.single(cx, request);
            match prepared {
                Ok(op) => out.push(op),
                Err(code) => {
                    failed = Some((i, code));
                    break;
                }
            }
        }
        if failed.is_some() {
            self.rollback();
        }
        self.in_multi = false;
        self.undo.clear();
        match failed {
            Some((i, code)) => failed_multi(len, i, code),
            None => TxnOp::Multi(out),
        }
    }

    fn create(
        &mut self,
        cx: &PrepContext<'_>,
        c: CreateRequest,
        ttl: i64,
        container: bool,
    ) -> Outcome {
        let (kind, sequential) = create_kind(c.flags, ttl, container, cx.session)?;
        // ZooKeeper's order: the parent is looked up before the full path is validated, so
        // "/a//b" is NoNode (no parent "/a/") and "/" is NodeExists.
        let last_slash = c.path.rfind('/').ok_or(err::BAD_ARGUMENTS)?;
        if c.path.contains('\0') {
            return Err(err::BAD_ARGUMENTS);
        }
        let acl = acl::fixup(&c.acl, cx.auth)?;
        // The parent is `full[..parent_end]` too: a sequential suffix only extends the name.
        let parent_end = last_slash.max(1);
        let mut parent = self
            .view(cx.tree, &c.path[..parent_end])
            .ok_or(err::NO_NODE)?;
        if !acl::check(&parent.acl, perms::CREATE, cx.auth) {
            return Err(err::NO_AUTH);
        }
        let full = if sequential {
            format!("{}{:010}", c.path, parent.child_creates)
        } else {
            c.path
        };
        if !is_valid_path(&full) {
            return Err(err::BAD_ARGUMENTS);
        }
        if self.view(cx.tree, &full).is_some() {
            return Err(err::NODE_EXISTS);
        }
        if matches!(parent.kind, NodeKind::Ephemeral { .. }) {
            return Err(err::NO_CHILDREN_FOR_EPHEMERALS);
        }
        parent.child_creates += 1;
        parent.stat.num_children += 1;
        parent.stat.cversion = 2 * parent.child_creates - parent.stat.num_children;
        parent.stat.pzxid = cx.zxid.0;
        let parent_cversion = parent.child_creates;
        self.set(&full[..parent_end], Some(parent), cx.zxid);
        let node = PendingNode {
            stat: new_stat(cx, &kind, c.data.len()),
            acl: Arc::from(acl.as_slice()),
            kind,
            child_creates: 0,
        };
        self.set(&full, Some(node), cx.zxid);
        Ok(TxnOp::Create {
            path: full,
            data: c.data,
            acl,
            kind,
            parent_cversion,
        })
    }

    fn delete(&mut self, cx: &PrepContext<'_>, path: String, version: i32) -> Outcome {
        let p = path.as_str();
        let parent_path = parent_path(p).ok_or(err::BAD_ARGUMENTS)?;
        if is_special(p) || p.contains('\0') {
            return Err(err::BAD_ARGUMENTS);
        }
        let mut parent = self.view(cx.tree, parent_path).ok_or(err::NO_NODE)?;
        if !acl::check(&parent.acl, perms::DELETE, cx.auth) {
            return Err(err::NO_AUTH);
        }
        let node = self.view(cx.tree, p).ok_or(err::NO_NODE)?;
        check_version(node.stat.version, version)?;
        if node.stat.num_children > 0 {
            return Err(err::NOT_EMPTY);
        }
        self.delete_unchecked(cx, p, parent_path, &mut parent);
        Ok(TxnOp::Delete { path })
    }

    fn delete_unchecked(
        &mut self,
        cx: &PrepContext<'_>,
        p: &str,
        parent_path: &str,
        parent: &mut PendingNode,
    ) {
        parent.stat.num_children -= 1;
        parent.stat.cversion = 2 * parent.child_creates - parent.stat.num_children;
        parent.stat.pzxid = parent.stat.pzxid.max(cx.zxid.0);
        self.set(parent_path, Some(parent.clone()), cx.zxid);
        self.set(p, None, cx.zxid);
    }

    /// A client's deleteContainer, checked as ZooKeeper checks it: the body is taken as the
    /// raw path (so a jute-encoded string is an invalid path: BadArguments); then the node must
    /// exist, be empty and be a container or TTL node.
    fn delete_container(&mut self, cx: &PrepContext<'_>, path: String) -> Outcome {
        let p = path.as_str();
        if !is_valid_path(p) || p == "/" {
            return Err(err::BAD_ARGUMENTS);
        }
        let parent_path = parent_path(p).ok_or(err::BAD_ARGUMENTS)?;
        let node = self.view(cx.tree, p).ok_or(err::NO_NODE)?;
        if node.stat.num_children > 0 {
            return Err(err::NOT_EMPTY);
        }
        if !matches!(node.kind, NodeKind::Container | NodeKind::Ttl { .. }) {
            return Err(err::BAD_ARGUMENTS);
        }
        let mut parent = self.view(cx.tree, parent_path).ok_or(err::NO_NODE)?;
        self.delete_unchecked(cx, p, parent_path, &mut parent);
        Ok(TxnOp::Delete { path })
    }

    fn set_data(
        &mut self,
        cx: &PrepContext<'_>,
        path: String,
        data: Vec<u8>,
        version: i32,
    ) -> Outcome {
        let p = path.as_str();
        if !is_valid_path(p) {
            return Err(err::BAD_ARGUMENTS);
        }
        let mut node = self.view(cx.tree, p).ok_or(err::NO_NODE)?;
        if !acl::check(&node.acl, perms::WRITE, cx.auth) {
            return Err(err::NO_AUTH);
        }
        let new_version = check_version(node.stat.version, version)?;
        node.stat.version = new_version;
        node.stat.mzxid = cx.zxid.0;
        node.stat.mtime = cx.time_ms;
        node.stat.data_length = data.len() as i32;
        self.set(p, Some(node), cx.zxid);
        Ok(TxnOp::SetData {
            path,
            data,
            version: new_version,
        })
    }

    fn set_acl(
        &mut self,
        cx: &PrepContext<'_>,
        path: String,
        acl_req: &[Acl],
        version: i32,
    ) -> Outcome {
        let p = path.as_str();
        if !is_valid_path(p) {
            return Err(err::BAD_ARGUMENTS);
        }
        let acl = acl::fixup(acl_req, cx.auth)?;
        let mut node = self.view(cx.tree, p).ok_or(err::NO_NODE)?;
        if !acl::check(&node.acl, perms::ADMIN, cx.auth) {
            return Err(err::NO_AUTH);
        }
        let aversion = check_version(node.stat.aversion, version)?;
        node.stat.aversion = aversion;
        node.acl = Arc::from(acl.as_slice());
        self.set(p, Some(node), cx.zxid);
        Ok(TxnOp::SetAcl {
            path,
            acl,
            aversion,
        })
    }

    fn check(&mut self, cx: &PrepContext<'_>, path: String, version: i32) -> Outcome {
        let p = path.as_str();
        if !is_valid_path(p) {
            return Err(err::BAD_ARGUMENTS);
        }
        let node = self.view(cx.tree, p).ok_or(err::NO_NODE)?;
        if !acl::check(&node.acl, perms::READ, cx.auth) {
            return Err(err::NO_AUTH);
        }
        check_version(node.stat.version, version)?;
        Ok(TxnOp::Check { path })
    }

    /// Prepares the close of `cx.session`: its ephemerals, committed or outstanding, are
    /// deleted in the overlay so later requests see them gone.
    pub fn close_session(&mut self, cx: &PrepContext<'_>) -> TxnOp {
        let mut doomed: Vec<String> = cx.tree.ephemerals(cx.session);
        for (p, pending) in self.overlay.iter() {
            if let Some(n) = &pending.node {
                let mine = n.kind == NodeKind::Ephemeral { owner: cx.session };
                if mine && !doomed.iter().any(|d| **d == **p) {
                    doomed.push(p.to_string());
                }
            }
        }
        doomed.sort();
        for p in doomed {
            // Skip nodes an outstanding change already deleted.
            if self.view(cx.tree, &p).is_none() {
                continue;
            }
            let Some(parent_path) = parent_path(&p) else {
                continue;
            };
            if let Some(mut parent) = self.view(cx.tree, parent_path) {
                self.delete_unchecked(cx, &p, parent_path, &mut parent);
            }
        }
        TxnOp::CloseSession
    }

    /// Prepares the server-initiated removal of an empty container or an expired TTL node.
    /// Returns `None` when the node no longer qualifies (it gained a child, was modified or is gone).
    pub fn expire_node(&mut self, cx: &PrepContext<'_>, p: &str) -> Option<TxnOp> {
        let node = self.view(cx.tree, p)?;
        if node.stat.num_children != 0 {
            return None;
        }
        match node.kind {
            NodeKind::Ttl { ttl_ms } if node.stat.mtime.saturating_add(ttl_ms) < cx.time_ms => {}
            NodeKind::Container if node.child_creates > 0 => {}
            _ => return None,
        }
        let parent_path = parent_path(p)?;
        let mut parent = self.view(cx.tree, parent_path)?;
        self.delete_unchecked(cx, p, parent_path, &mut parent);
        Some(TxnOp::Delete { path: p.to_owned() })
    }
}

/// The multi's answer when op `failed` failed with `code`: earlier ops report OK, later ones
/// RUNTIME_INCONSISTENCY, as ZooKeeper reports them.
fn failed_multi(len: usize, failed: usize, code: i32) -> TxnOp {
    let ops = (0..len)
        .map(|i| TxnOp::Error {
            code: match i.cmp(&failed) {
                std::cmp::Ordering::Less => err::OK,
                std::cmp::Ordering::Equal => code,
                std::cmp::Ordering::Greater => err::RUNTIME_INCONSISTENCY,
            },
        })
        .collect();
    TxnOp::Multi(ops)
}

/// ZooKeeper's reserved paths, which cannot be deleted.
fn is_special(p: &str) -> bool {
    matches!(
        p,
        "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

/// `-1` matches any version; otherwise the versions must be equal. Returns the next version.
fn check_version(current: i32, expected: i32) -> Result<i32, i32> {
    if expected != -1 && expected != current {
        return Err(err::BAD_VERSION);
    }
    Ok(current.wrapping_add(1))
}

/// Decodes create flags into a node kind and whether the name is sequential.
fn create_kind(
    flags: i32,
    ttl: i64,
    container_op: bool,
    session: SessionId,
) -> Result<(NodeKind, bool), i32> {
    let (kind, sequential) = match flags {
        create_mode::PERSISTENT => (NodeKind::Persistent, false),
        create_mode::PERSISTENT_SEQUENTIAL => (NodeKind::Persistent, true),
        create_mode::EPHEMERAL => (NodeKind::Ephemeral { owner: session }, false),
        create_mode::EPHEMERAL_SEQUENTIAL => (NodeKind::Ephemeral { owner: session }, true),
        // Only the createContainer opcode makes a container; ZooKeeper's plain create with the
        // container flag makes a persistent node.
        create_mode::CONTAINER if container_op => (NodeKind::Container, false),
        create_mode::CONTAINER => (NodeKind::Persistent, false),
        create_mode::PERSISTENT_WITH_TTL => (NodeKind::Ttl { ttl_ms: ttl }, false),
        create_mode::PERSISTENT_SEQUENTIAL_WITH_TTL => (NodeKind::Ttl { ttl_ms: ttl }, true),
        _ => return Err(err::BAD_ARGUMENTS),
    };
    let is_ttl = matches!(kind, NodeKind::Ttl { .. });
    if is_ttl && !(1..=TTL_MS_MAX).contains(&ttl) {
        return Err(err::BAD_ARGUMENTS);
    }
    if !is_ttl && ttl >= 0 {
        return Err(err::BAD_ARGUMENTS);
    }
    if container_op != matches!(kind, NodeKind::Container) {
        return Err(err::BAD_ARGUMENTS);
    }
    Ok((kind, sequential))
}

/// The Stat a create will give the new node; must equal what the tree computes on apply.
fn new_stat(cx: &PrepContext<'_>, kind: &NodeKind, data_len: usize) -> Stat {
    // ZooKeeper shows containers and TTL nodes with ephemeralOwner 0.
    let ephemeral_owner = match kind {
        NodeKind::Ephemeral { owner } => owner.0,
        _ => 0,
    };
    Stat {
        czxid: cx.zxid.0,
        mzxid: cx.zxid.0,
        ctime: cx.time_ms,
        mtime: cx.time_ms,
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeral_owner,
        data_length: data_len as i32,
        num_children: 0,
        pzxid: cx.zxid.0,
    }
}
