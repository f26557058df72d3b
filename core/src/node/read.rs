//! Reads: served from the committed tree of the connected server, after the connection's
//! earlier writes.

use super::Node;
use crate::acl;
use crate::ids::{ConnId, SessionId};
use crate::jute::{
    add_watch_mode, encode_notification, encode_reply, err, event, keeper_state, perms, xid,
    ClientInfo, MultiOp, MultiReadResult, ReplyHeader, Request, Response, SetWatches, WatcherEvent,
};
use crate::watch::{WatchKind, WatchManager};

impl Node {
    pub(crate) fn serve_read(
        &mut self,
        conn: ConnId,
        session: SessionId,
        xid: i32,
        request: Request,
    ) {
        let result = self.read(conn, session, &request);
        let zxid = self.tree.last_zxid().0;
        let xid = match request {
            Request::Ping => xid::PING,
            _ => xid,
        };
        let (code, body) = match result {
            Ok(body) => (err::OK, body),
            Err(code) => (code, None),
        };
        let header = ReplyHeader {
            xid,
            zxid,
            err: code,
        };
        self.send(conn, encode_reply(&header, body.as_ref()));
    }

    fn read(
        &mut self,
        conn: ConnId,
        session: SessionId,
        request: &Request,
    ) -> Result<Option<Response>, i32> {
        let body = match request {
            Request::Ping => return Ok(None),
            Request::Exists { path, watch } => {
                let path = read_path(path);
                if *watch {
                    self.watches.add(conn, WatchKind::Data, path);
                }
                let node = self.tree.get(path).ok_or(err::NO_NODE)?;
                Response::Stat { stat: node.stat }
            }
            Request::GetData { path, watch } => {
                let (data, stat) = self.get_data(conn, path)?;
                if *watch {
                    self.watches.add(conn, WatchKind::Data, path);
                }
                Response::GetData { data, stat }
            }
            Request::GetChildren { path, watch } | Request::GetChildren2 { path, watch } => {
                let (children, stat) = self.get_children(conn, path)?;
                if *watch {
                    self.watches.add(conn, WatchKind::Child, path);
                }
                match request {
                    Request::GetChildren { .. } => Response::GetChildren { children },
                    _ => Response::GetChildren2 { children, stat },
                }
            }
            Request::GetAcl { path } => {
                let path = read_path(path);
                let node = self.tree.get(path).ok_or(err::NO_NODE)?;
                let stat = node.stat;
                let acl = self.tree.acl(path).unwrap_or(&[]).to_vec();
                self.require(conn, &acl, perms::READ | perms::ADMIN)?;
                Response::GetAcl { acl, stat }
            }
            Request::GetAllChildrenNumber { path } => {
                let path = read_path(path);
                self.tree.get(path).ok_or(err::NO_NODE)?;
                let acl = self.tree.acl(path).unwrap_or(&[]).to_vec();
                self.require(conn, &acl, perms::READ)?;
                let total = self.tree.count_descendants(path).unwrap_or(0) as i32;
                Response::GetAllChildrenNumber { total }
            }
            Request::GetEphemerals { prefix } => {
                let paths = self
                    .tree
                    .ephemerals(session)
                    .into_iter()
                    .filter(|p| p.starts_with(prefix.as_str()))
                    .collect();
                Response::GetEphemerals { paths }
            }
            Request::Sync { path } => Response::Sync { path: path.clone() },
            Request::SetWatches(w) | Request::SetWatches2(w) => {
                self.set_watches(conn, w);
                return Ok(None);
            }
            Request::AddWatch { path, mode } => {
                let path = read_path(path);
                let kind = match *mode {
                    add_watch_mode::PERSISTENT => WatchKind::Persistent,
                    add_watch_mode::PERSISTENT_RECURSIVE => WatchKind::PersistentRecursive,
                    // ZooKeeper fails to decode an unknown mode.
                    _ => return Err(err::MARSHALLING_ERROR),
                };
                self.watches.add(conn, kind, path);
                Response::AddWatch
            }
            Request::CheckWatches { path, watcher_type } => {
                if !WatchManager::valid_watcher_type(*watcher_type) {
                    return Err(err::MARSHALLING_ERROR);
                }
                if !self.watches.has(conn, *watcher_type, path) {
                    return Err(err::NO_WATCHER);
                }
                Response::Empty
            }
            Request::RemoveWatches { path, watcher_type } => {
                if !WatchManager::valid_watcher_type(*watcher_type) {
                    return Err(err::MARSHALLING_ERROR);
                }
                if !self.watches.remove(conn, *watcher_type, path) {
                    return Err(err::NO_WATCHER);
                }
                Response::Empty
            }
            Request::WhoAmI => {
                let clients = self
                    .conns
                    .get(&conn)
                    .map(|c| {
                        c.auth
                            .who_am_i()
                            .into_iter()
                            .map(|(auth_scheme, user)| ClientInfo { auth_scheme, user })
                            .collect()
                    })
                    .unwrap_or_default();
                Response::WhoAmI { clients }
            }
            Request::MultiRead(ops) => Response::MultiRead(self.multi_read(conn, ops)),
            // SASL is not offered; answered as a server without a SASL login answers.
            Request::Sasl { .. } => return Err(err::AUTH_FAILED),
            _ => return Err(err::UNIMPLEMENTED),
        };
        Ok(Some(body))
    }

    fn require(&self, conn: ConnId, acl: &[crate::jute::Acl], perm: i32) -> Result<(), i32> {
        let allowed = self
            .conns
            .get(&conn)
            .is_some_and(|c| acl::check(acl, perm, &c.auth));
        if allowed {
            Ok(())
        } else {
            Err(err::NO_AUTH)
        }
    }

    fn get_data(&self, conn: ConnId, path: &str) -> Result<(Vec<u8>, crate::jute::Stat), i32> {
        let path = read_path(path);
        let node = self.tree.get(path).ok_or(err::NO_NODE)?;
        self.require(conn, self.tree.acl(path).unwrap_or(&[]), perms::READ)?;
        Ok((node.data.to_vec(), node.stat))
    }

    fn get_children(
        &self,
        conn: ConnId,
        path: &str,
    ) -> Result<(Vec<String>, crate::jute::Stat), i32> {
        let path = read_path(path);
        let node = self.tree.get(path).ok_or(err::NO_NODE)?;
        self.require(conn, self.tree.acl(path).unwrap_or(&[]), perms::READ)?;
        let children = self.tree.children(path).unwrap_or_default();
        Ok((children, node.stat))
    }

    fn multi_read(&self, conn: ConnId, ops: &[MultiOp]) -> Vec<MultiReadResult> {
        ops.iter()
            .map(|op| match op {
                MultiOp::GetData { path } => match self.get_data(conn, path) {
                    Ok((data, stat)) => MultiReadResult::GetData { data, stat },
                    Err(err) => MultiReadResult::Error { err },
                },
                MultiOp::GetChildren { path } => match self.get_children(conn, path) {
                    Ok((children, _)) => MultiReadResult::GetChildren { children },
                    Err(err) => MultiReadResult::Error { err },
                },
                _ => MultiReadResult::Error {
                    err: err::BAD_ARGUMENTS,
                },
            })
            .collect()
    }

    /// Re-registers a reconnecting client's watches, firing at once those whose node changed
    /// after `relative_zxid` (the last zxid the client saw).
    fn set_watches(&mut self, conn: ConnId, w: &SetWatches) {
        let rel = w.relative_zxid;
        let mut fire: Vec<(i32, String)> = Vec::new();
        for p in &w.data {
            match self.tree.get(p) {
                None => fire.push((event::NODE_DELETED, p.clone())),
                Some(n) if n.stat.mzxid > rel => fire.push((event::NODE_DATA_CHANGED, p.clone())),
                Some(_) => self.watches.add(conn, WatchKind::Data, p),
            }
        }
        for p in &w.exist {
            match self.tree.get(p) {
                Some(_) => fire.push((event::NODE_CREATED, p.clone())),
                None => self.watches.add(conn, WatchKind::Data, p),
            }
        }
        for p in &w.child {
            match self.tree.get(p) {
                None => fire.push((event::NODE_DELETED, p.clone())),
                Some(n) if n.stat.pzxid > rel => {
                    fire.push((event::NODE_CHILDREN_CHANGED, p.clone()))
                }
                Some(_) => self.watches.add(conn, WatchKind::Child, p),
            }
        }
        for p in &w.persistent {
            self.watches.add(conn, WatchKind::Persistent, p);
        }
        for p in &w.persistent_recursive {
            self.watches.add(conn, WatchKind::PersistentRecursive, p);
        }
        for (event_type, path) in fire {
            let ev = WatcherEvent {
                event_type,
                state: keeper_state::SYNC_CONNECTED,
                path,
            };
            self.send(conn, encode_notification(&ev, -1));
        }
    }
}

/// ZooKeeper does not validate the paths of reads: a malformed path simply names no node, and
/// "" names the root (its node table holds the root under both "" and "/").
fn read_path(p: &str) -> &str {
    if p.is_empty() {
        "/"
    } else {
        p
    }
}
