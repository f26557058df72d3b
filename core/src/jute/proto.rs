//! Client requests: one [`Request`] variant per client opcode, its record layout, and the frame
//! helpers shared by the server and clients.

use super::codec::{JuteError, Reader, Record, Writer};
use super::codes::{op, xid};
use super::connect::{ReplyHeader, RequestHeader, WatcherEvent};
use super::data::{read_acl_vec, write_acl_vec, Acl};
use super::multi::{read_multi_ops, write_multi_ops, MultiOp};
use super::response::Response;
use thiserror::Error;

/// Why a request or response body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The body did not match the opcode's record layout.
    #[error("malformed record: {0}")]
    Jute(#[from] JuteError),
    /// The opcode is not one a client may send (or, for responses, one with a modelled reply).
    #[error("unknown opcode {0}")]
    UnknownOpcode(i32),
}

/// `CreateRequest`: the body of create, create2 and createContainer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// Node path (the parent for a sequential node, before the suffix).
    pub path: String,
    /// Initial data.
    pub data: Vec<u8>,
    /// ACL of the new node.
    pub acl: Vec<Acl>,
    /// `create_mode::*`.
    pub flags: i32,
}

impl Record for CreateRequest {
    fn read(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(CreateRequest {
            path: r.read_string()?,
            data: r.read_buffer()?,
            acl: read_acl_vec(r)?,
            flags: r.read_i32()?,
        })
    }
    fn write(&self, w: &mut Writer) {
        w.write_string(&self.path);
        w.write_buffer(&self.data);
        write_acl_vec(w, &self.acl);
        w.write_i32(self.flags);
    }
}

/// `CreateTTLRequest`: the body of createTTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTtlRequest {
    /// Node path.
    pub path: String,
    /// Initial data.
    pub data: Vec<u8>,
    /// ACL of the new node.
    pub acl: Vec<Acl>,
    /// `create_mode::PERSISTENT_WITH_TTL` or `PERSISTENT_SEQUENTIAL_WITH_TTL`.
    pub flags: i32,
    /// Time to live in milliseconds.
    pub ttl: i64,
}

impl Record for CreateTtlRequest {
    fn read(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(CreateTtlRequest {
            path: r.read_string()?,
            data: r.read_buffer()?,
            acl: read_acl_vec(r)?,
            flags: r.read_i32()?,
            ttl: r.read_i64()?,
        })
    }
    fn write(&self, w: &mut Writer) {
        w.write_string(&self.path);
        w.write_buffer(&self.data);
        write_acl_vec(w, &self.acl);
        w.write_i32(self.flags);
        w.write_i64(self.ttl);
    }
}

/// `SetWatches` (opcode 101) and `SetWatches2` (opcode 105): watches a client re-registers after
/// reconnecting. The persistent lists exist on the wire only in `SetWatches2`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetWatches {
    /// The last zxid the client saw; changes after it fire the watches at once.
    pub relative_zxid: i64,
    /// Paths with a data watch.
    pub data: Vec<String>,
    /// Paths with an exists watch.
    pub exist: Vec<String>,
    /// Paths with a child watch.
    pub child: Vec<String>,
    /// Paths with a persistent watch (`SetWatches2` only).
    pub persistent: Vec<String>,
    /// Paths with a persistent recursive watch (`SetWatches2` only).
    pub persistent_recursive: Vec<String>,
}

impl SetWatches {
    fn read(r: &mut Reader<'_>, with_persistent: bool) -> Result<SetWatches, JuteError> {
        let mut out = SetWatches {
            relative_zxid: r.read_i64()?,
            data: r.read_string_vec()?,
            exist: r.read_string_vec()?,
            child: r.read_string_vec()?,
            ..SetWatches::default()
        };
        if with_persistent {
            out.persistent = r.read_string_vec()?;
            out.persistent_recursive = r.read_string_vec()?;
        }
        Ok(out)
    }

    fn write(&self, w: &mut Writer, with_persistent: bool) {
        w.write_i64(self.relative_zxid);
        w.write_string_vec(&self.data);
        w.write_string_vec(&self.exist);
        w.write_string_vec(&self.child);
        if with_persistent {
            w.write_string_vec(&self.persistent);
            w.write_string_vec(&self.persistent_recursive);
        }
    }
}

/// A client request body, one variant per client opcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// create (1).
    Create(CreateRequest),
    /// create2 (15): like create, but the reply carries the new node's stat.
    Create2(CreateRequest),
    /// createContainer (19).
    CreateContainer(CreateRequest),
    /// createTTL (21).
    CreateTtl(CreateTtlRequest),
    /// delete (2).
    Delete {
        /// Node path.
        path: String,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// exists (3).
    Exists {
        /// Node path.
        path: String,
        /// Leave a data/exist watch.
        watch: bool,
    },
    /// getData (4).
    GetData {
        /// Node path.
        path: String,
        /// Leave a data watch.
        watch: bool,
    },
    /// setData (5).
    SetData {
        /// Node path.
        path: String,
        /// New data.
        data: Vec<u8>,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// getACL (6).
    GetAcl {
        /// Node path.
        path: String,
    },
    /// setACL (7).
    SetAcl {
        /// Node path.
        path: String,
        /// New ACL.
        acl: Vec<Acl>,
        /// Expected aversion, -1 for any.
        version: i32,
    },
    /// getChildren (8).
    GetChildren {
        /// Node path.
        path: String,
        /// Leave a child watch.
        watch: bool,
    },
    /// getChildren2 (12): like getChildren, plus the parent's stat.
    GetChildren2 {
        /// Node path.
        path: String,
        /// Leave a child watch.
        watch: bool,
    },
    /// getAllChildrenNumber (104).
    GetAllChildrenNumber {
        /// Node path.
        path: String,
    },
    /// getEphemerals (103).
    GetEphemerals {
        /// Only ephemerals whose path starts with this (empty or "/" for all).
        prefix: String,
    },
    /// sync (9).
    Sync {
        /// Node path, echoed back.
        path: String,
    },
    /// ping (11), empty body.
    Ping,
    /// check (13), `CheckVersionRequest`.
    Check {
        /// Node path.
        path: String,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// multi (14): write ops applied atomically.
    Multi(Vec<MultiOp>),
    /// multiRead (22): independent getChildren / getData ops.
    MultiRead(Vec<MultiOp>),
    /// setWatches (101): the persistent lists are not on the wire and decode empty.
    SetWatches(SetWatches),
    /// setWatches2 (105).
    SetWatches2(SetWatches),
    /// addWatch (106).
    AddWatch {
        /// Node path.
        path: String,
        /// `add_watch_mode::*`.
        mode: i32,
    },
    /// checkWatches (17).
    CheckWatches {
        /// Node path.
        path: String,
        /// `watcher_type::*`.
        watcher_type: i32,
    },
    /// removeWatches (18).
    RemoveWatches {
        /// Node path.
        path: String,
        /// `watcher_type::*`.
        watcher_type: i32,
    },
    /// auth (100), `AuthPacket`, sent with xid -4.
    Auth {
        /// Unused by ZooKeeper, 0.
        auth_type: i32,
        /// Auth scheme, e.g. `digest`.
        scheme: String,
        /// Scheme-specific credentials.
        auth: Vec<u8>,
    },
    /// sasl (102), `GetSASLRequest`.
    Sasl {
        /// SASL token.
        token: Vec<u8>,
    },
    /// whoAmI (107), empty body.
    WhoAmI,
    /// closeSession (-11), empty body.
    CloseSession,
    /// deleteContainer (20). ZooKeeper issues it internally with the raw UTF-8 path as the whole
    /// body (no jute length prefix), and reads a client's the same way.
    DeleteContainer {
        /// The body read as UTF-8 (lossy), exactly as ZooKeeper reads it.
        path: String,
    },
    /// reconfig (16).
    Reconfig {
        /// Comma-separated servers to add.
        joining: String,
        /// Comma-separated server ids to remove.
        leaving: String,
        /// A complete new membership (non-incremental reconfig).
        new_members: String,
        /// Expected current config version, -1 for any.
        cur_config_id: i64,
    },
}

impl Request {
    /// The opcode this request is sent with.
    pub fn opcode(&self) -> i32 {
        match self {
            Request::Create(_) => op::CREATE,
            Request::Create2(_) => op::CREATE2,
            Request::CreateContainer(_) => op::CREATE_CONTAINER,
            Request::CreateTtl(_) => op::CREATE_TTL,
            Request::Delete { .. } => op::DELETE,
            Request::Exists { .. } => op::EXISTS,
            Request::GetData { .. } => op::GET_DATA,
            Request::SetData { .. } => op::SET_DATA,
            Request::GetAcl { .. } => op::GET_ACL,
            Request::SetAcl { .. } => op::SET_ACL,
            Request::GetChildren { .. } => op::GET_CHILDREN,
            Request::GetChildren2 { .. } => op::GET_CHILDREN2,
            Request::GetAllChildrenNumber { .. } => op::GET_ALL_CHILDREN_NUMBER,
            Request::GetEphemerals { .. } => op::GET_EPHEMERALS,
            Request::Sync { .. } => op::SYNC,
            Request::Ping => op::PING,
            Request::Check { .. } => op::CHECK,
            Request::Multi(_) => op::MULTI,
            Request::MultiRead(_) => op::MULTI_READ,
            Request::SetWatches(_) => op::SET_WATCHES,
            Request::SetWatches2(_) => op::SET_WATCHES2,
            Request::AddWatch { .. } => op::ADD_WATCH,
            Request::CheckWatches { .. } => op::CHECK_WATCHES,
            Request::RemoveWatches { .. } => op::REMOVE_WATCHES,
            Request::Auth { .. } => op::AUTH,
            Request::Sasl { .. } => op::SASL,
            Request::WhoAmI => op::WHO_AM_I,
            Request::CloseSession => op::CLOSE_SESSION,
            Request::DeleteContainer { .. } => op::DELETE_CONTAINER,
            Request::Reconfig { .. } => op::RECONFIG,
        }
    }

    /// True for requests that go through the leader as a transaction.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Create(_)
                | Request::Create2(_)
                | Request::CreateContainer(_)
                | Request::CreateTtl(_)
                | Request::Delete { .. }
                | Request::SetData { .. }
                | Request::SetAcl { .. }
                | Request::Check { .. }
                | Request::Multi(_)
                | Request::CloseSession
                | Request::DeleteContainer { .. }
                | Request::Reconfig { .. }
        )
    }

    /// Decodes the body of a request sent with `opcode`. Trailing bytes are ignored.
    pub fn decode(opcode: i32, r: &mut Reader<'_>) -> Result<Request, DecodeError> {
        if let Some(req) = Self::decode_node_op(opcode, r)? {
            return Ok(req);
        }
        if let Some(req) = Self::decode_session_op(opcode, r)? {
            return Ok(req);
        }
        Err(DecodeError::UnknownOpcode(opcode))
    }

    /// Ops on znodes; `None` when `opcode` is not one of them.
    fn decode_node_op(opcode: i32, r: &mut Reader<'_>) -> Result<Option<Request>, JuteError> {
        Ok(Some(match opcode {
            op::CREATE => Request::Create(CreateRequest::read(r)?),
            op::CREATE2 => Request::Create2(CreateRequest::read(r)?),
            op::CREATE_CONTAINER => Request::CreateContainer(CreateRequest::read(r)?),
            op::CREATE_TTL => Request::CreateTtl(CreateTtlRequest::read(r)?),
            op::DELETE => Request::Delete {
                path: r.read_string()?,
                version: r.read_i32()?,
            },
            op::EXISTS => Request::Exists {
                path: r.read_string()?,
                watch: r.read_bool()?,
            },
            op::GET_DATA => Request::GetData {
                path: r.read_string()?,
                watch: r.read_bool()?,
            },
            op::SET_DATA => Request::SetData {
                path: r.read_string()?,
                data: r.read_buffer()?,
                version: r.read_i32()?,
            },
            op::GET_ACL => Request::GetAcl {
                path: r.read_string()?,
            },
            op::SET_ACL => Request::SetAcl {
                path: r.read_string()?,
                acl: read_acl_vec(r)?,
                version: r.read_i32()?,
            },
            op::GET_CHILDREN => Request::GetChildren {
                path: r.read_string()?,
                watch: r.read_bool()?,
            },
            op::GET_CHILDREN2 => Request::GetChildren2 {
                path: r.read_string()?,
                watch: r.read_bool()?,
            },
            op::GET_ALL_CHILDREN_NUMBER => Request::GetAllChildrenNumber {
                path: r.read_string()?,
            },
            op::SYNC => Request::Sync {
                path: r.read_string()?,
            },
            op::CHECK => Request::Check {
                path: r.read_string()?,
                version: r.read_i32()?,
            },
            op::MULTI => Request::Multi(read_multi_ops(r, false)?),
            op::MULTI_READ => Request::MultiRead(read_multi_ops(r, true)?),
            _ => return Ok(None),
        }))
    }

    /// Session, watch, auth and config ops; `None` when `opcode` is not one of them.
    fn decode_session_op(opcode: i32, r: &mut Reader<'_>) -> Result<Option<Request>, JuteError> {
        Ok(Some(match opcode {
            op::GET_EPHEMERALS => Request::GetEphemerals {
                prefix: r.read_string()?,
            },
            op::PING => Request::Ping,
            op::SET_WATCHES => Request::SetWatches(SetWatches::read(r, false)?),
            op::SET_WATCHES2 => Request::SetWatches2(SetWatches::read(r, true)?),
            op::ADD_WATCH => Request::AddWatch {
                path: r.read_string()?,
                mode: r.read_i32()?,
            },
            op::CHECK_WATCHES => Request::CheckWatches {
                path: r.read_string()?,
                watcher_type: r.read_i32()?,
            },
            op::REMOVE_WATCHES => Request::RemoveWatches {
                path: r.read_string()?,
                watcher_type: r.read_i32()?,
            },
            op::AUTH => Request::Auth {
                auth_type: r.read_i32()?,
                scheme: r.read_string()?,
                auth: r.read_buffer()?,
            },
            op::SASL => Request::Sasl {
                token: r.read_buffer()?,
            },
            op::WHO_AM_I => Request::WhoAmI,
            op::CLOSE_SESSION => Request::CloseSession,
            op::DELETE_CONTAINER => Request::DeleteContainer {
                path: String::from_utf8_lossy(r.take_rest()).into_owned(),
            },
            op::RECONFIG => Request::Reconfig {
                joining: r.read_string()?,
                leaving: r.read_string()?,
                new_members: r.read_string()?,
                cur_config_id: r.read_i64()?,
            },
            _ => return Ok(None),
        }))
    }

    /// Writes the request body (no header, no frame length).
    ///
    /// Panics in debug builds when a `SetWatches` (opcode 101) carries persistent watches, which
    /// that record cannot express; use `SetWatches2`.
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Request::Create(c) | Request::Create2(c) | Request::CreateContainer(c) => c.write(w),
            Request::CreateTtl(c) => c.write(w),
            Request::Delete { path, version } | Request::Check { path, version } => {
                w.write_string(path);
                w.write_i32(*version);
            }
            Request::Exists { path, watch }
            | Request::GetData { path, watch }
            | Request::GetChildren { path, watch }
            | Request::GetChildren2 { path, watch } => {
                w.write_string(path);
                w.write_bool(*watch);
            }
            Request::SetData {
                path,
                data,
                version,
            } => {
                w.write_string(path);
                w.write_buffer(data);
                w.write_i32(*version);
            }
            Request::SetAcl { path, acl, version } => {
                w.write_string(path);
                write_acl_vec(w, acl);
                w.write_i32(*version);
            }
            Request::GetAcl { path }
            | Request::GetAllChildrenNumber { path }
            | Request::Sync { path }
            | Request::GetEphemerals { prefix: path } => w.write_string(path),
            Request::Ping | Request::WhoAmI | Request::CloseSession => {}
            Request::Multi(ops) | Request::MultiRead(ops) => write_multi_ops(w, ops),
            _ => self.encode_session_op(w),
        }
    }

    /// The half of [`Request::encode`] for watch, auth and config ops.
    fn encode_session_op(&self, w: &mut Writer) {
        match self {
            Request::SetWatches(s) => {
                debug_assert!(
                    s.persistent.is_empty() && s.persistent_recursive.is_empty(),
                    "setWatches (101) cannot carry persistent watches"
                );
                s.write(w, false);
            }
            Request::SetWatches2(s) => s.write(w, true),
            Request::AddWatch { path, mode } => {
                w.write_string(path);
                w.write_i32(*mode);
            }
            Request::CheckWatches { path, watcher_type }
            | Request::RemoveWatches { path, watcher_type } => {
                w.write_string(path);
                w.write_i32(*watcher_type);
            }
            Request::Auth {
                auth_type,
                scheme,
                auth,
            } => {
                w.write_i32(*auth_type);
                w.write_string(scheme);
                w.write_buffer(auth);
            }
            Request::Sasl { token } => w.write_buffer(token),
            Request::DeleteContainer { path } => w.write_raw(path.as_bytes()),
            Request::Reconfig {
                joining,
                leaving,
                new_members,
                cur_config_id,
            } => {
                w.write_string(joining);
                w.write_string(leaving);
                w.write_string(new_members);
                w.write_i64(*cur_config_id);
            }
            other => unreachable!("encode handles {other:?} itself"),
        }
    }
}

/// A full reply frame: length prefix, `header`, then `body` (pass `None` when `header.err` is
/// not OK, as ZooKeeper sends no body with an error).
pub fn encode_reply(header: &ReplyHeader, body: Option<&Response>) -> Vec<u8> {
    let mut w = Writer::framed();
    header.write(&mut w);
    if let Some(body) = body {
        body.encode(&mut w);
    }
    w.finish_frame()
}

/// A full request frame: length prefix, `RequestHeader{xid, opcode}`, then the body.
pub fn encode_request(xid: i32, req: &Request) -> Vec<u8> {
    let mut w = Writer::framed();
    let header = RequestHeader {
        xid,
        opcode: req.opcode(),
    };
    header.write(&mut w);
    req.encode(&mut w);
    w.finish_frame()
}

/// A full notification frame: `ReplyHeader{xid: -1, zxid, err: 0}` then the event.
pub fn encode_notification(event: &WatcherEvent, zxid: i64) -> Vec<u8> {
    let mut w = Writer::framed();
    let header = ReplyHeader {
        xid: xid::NOTIFICATION,
        zxid,
        err: 0,
    };
    header.write(&mut w);
    event.write(&mut w);
    w.finish_frame()
}

/// Decodes a request frame's payload (after the length prefix): the header, then the body for
/// the header's opcode.
pub fn decode_request(payload: &[u8]) -> Result<(RequestHeader, Request), DecodeError> {
    let mut r = Reader::new(payload);
    let header = RequestHeader::read(&mut r)?;
    let req = Request::decode(header.opcode, &mut r)?;
    Ok((header, req))
}
