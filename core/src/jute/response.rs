//! Reply bodies: one [`Response`] variant per distinct response record.

use super::codec::{JuteError, Reader, Record, Writer};
use super::codes::op;
use super::data::{read_acl_vec, write_acl_vec, Acl, Stat};
use super::multi::{
    read_multi_read_results, read_multi_results, write_multi_read_results, write_multi_results,
    MultiReadResult, MultiResult,
};
use super::proto::DecodeError;

/// `ClientInfo`: one identity of the session, as reported by whoAmI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// Auth scheme, e.g. `ip` or `digest`.
    pub auth_scheme: String,
    /// The identity within the scheme.
    pub user: String,
}

impl Record for ClientInfo {
    fn read(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(ClientInfo {
            auth_scheme: r.read_string()?,
            user: r.read_string()?,
        })
    }
    fn write(&self, w: &mut Writer) {
        w.write_string(&self.auth_scheme);
        w.write_string(&self.user);
    }
}

/// A successful reply body. Replies with a non-zero `err` carry no body at all.
///
/// Which variant answers which opcode is fixed by ZooKeeper's server: see
/// [`Response::decode`] for the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `CreateResponse`: answers create.
    Create {
        /// The created path (sequential suffix included).
        path: String,
    },
    /// `Create2Response`: answers create2, createTTL and createContainer.
    Create2 {
        /// The created path.
        path: String,
        /// The new node's stat.
        stat: Stat,
    },
    /// `ExistsResponse` / `SetDataResponse` / `SetACLResponse`: answers exists, setData, setACL.
    Stat {
        /// The node's stat.
        stat: Stat,
    },
    /// `GetDataResponse`: answers getData and reconfig (the new config as data).
    GetData {
        /// The node's data.
        data: Vec<u8>,
        /// The node's stat.
        stat: Stat,
    },
    /// `GetACLResponse`: answers getACL.
    GetAcl {
        /// The node's ACL.
        acl: Vec<Acl>,
        /// The node's stat.
        stat: Stat,
    },
    /// `GetChildrenResponse`: answers getChildren.
    GetChildren {
        /// Child names.
        children: Vec<String>,
    },
    /// `GetChildren2Response`: answers getChildren2.
    GetChildren2 {
        /// Child names.
        children: Vec<String>,
        /// The parent's stat.
        stat: Stat,
    },
    /// `GetAllChildrenNumberResponse`: answers getAllChildrenNumber.
    GetAllChildrenNumber {
        /// Number of descendants.
        total: i32,
    },
    /// `GetEphemeralsResponse`: answers getEphemerals.
    GetEphemerals {
        /// Paths of the session's ephemeral nodes.
        paths: Vec<String>,
    },
    /// `SyncResponse`: answers sync.
    Sync {
        /// The path from the request.
        path: String,
    },
    /// `MultiResponse`: answers multi.
    Multi(Vec<MultiResult>),
    /// `MultiResponse`: answers multiRead.
    MultiRead(Vec<MultiReadResult>),
    /// `WhoAmIResponse`: answers whoAmI.
    WhoAmI {
        /// The session's identities.
        clients: Vec<ClientInfo>,
    },
    /// addWatch: ZooKeeper answers it with an `ErrorResponse` record holding 0.
    AddWatch,
    /// No body: delete, ping, check, setWatches, setWatches2, checkWatches, removeWatches,
    /// closeSession, auth.
    Empty,
}

impl Response {
    /// Writes the response body (no header, no frame length).
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Response::Create { path } | Response::Sync { path } => w.write_string(path),
            Response::Create2 { path, stat } => {
                w.write_string(path);
                stat.write(w);
            }
            Response::Stat { stat } => stat.write(w),
            Response::GetData { data, stat } => {
                w.write_buffer(data);
                stat.write(w);
            }
            Response::GetAcl { acl, stat } => {
                write_acl_vec(w, acl);
                stat.write(w);
            }
            Response::GetChildren { children } => w.write_string_vec(children),
            Response::GetChildren2 { children, stat } => {
                w.write_string_vec(children);
                stat.write(w);
            }
            Response::GetAllChildrenNumber { total } => w.write_i32(*total),
            Response::GetEphemerals { paths } => w.write_string_vec(paths),
            Response::Multi(results) => write_multi_results(w, results),
            Response::MultiRead(results) => write_multi_read_results(w, results),
            Response::WhoAmI { clients } => w.write_vec(clients, |w, c| c.write(w)),
            Response::AddWatch => w.write_i32(0),
            Response::Empty => {}
        }
    }

    /// Decodes the body of a successful reply to a request sent with `opcode`.
    ///
    /// | opcode | variant |
    /// |---|---|
    /// | create | `Create` |
    /// | create2, createTTL, createContainer | `Create2` |
    /// | exists, setData, setACL | `Stat` |
    /// | getData, reconfig | `GetData` |
    /// | addWatch | `AddWatch` |
    /// | delete, ping, check, setWatches(2), checkWatches, removeWatches, closeSession, auth | `Empty` |
    ///
    /// and the rest map to the variant of the same name. sasl is not modelled
    /// (`UnknownOpcode`).
    pub fn decode(opcode: i32, r: &mut Reader<'_>) -> Result<Response, DecodeError> {
        Ok(match opcode {
            op::CREATE => Response::Create {
                path: r.read_string()?,
            },
            op::CREATE2 | op::CREATE_TTL | op::CREATE_CONTAINER => Response::Create2 {
                path: r.read_string()?,
                stat: Stat::read(r)?,
            },
            op::EXISTS | op::SET_DATA | op::SET_ACL => Response::Stat {
                stat: Stat::read(r)?,
            },
            op::GET_DATA | op::RECONFIG => Response::GetData {
                data: r.read_buffer()?,
                stat: Stat::read(r)?,
            },
            op::GET_ACL => Response::GetAcl {
                acl: read_acl_vec(r)?,
                stat: Stat::read(r)?,
            },
            op::GET_CHILDREN => Response::GetChildren {
                children: r.read_string_vec()?,
            },
            op::GET_CHILDREN2 => Response::GetChildren2 {
                children: r.read_string_vec()?,
                stat: Stat::read(r)?,
            },
            op::GET_ALL_CHILDREN_NUMBER => Response::GetAllChildrenNumber {
                total: r.read_i32()?,
            },
            op::GET_EPHEMERALS => Response::GetEphemerals {
                paths: r.read_string_vec()?,
            },
            op::SYNC => Response::Sync {
                path: r.read_string()?,
            },
            op::MULTI => Response::Multi(read_multi_results(r)?),
            op::MULTI_READ => Response::MultiRead(read_multi_read_results(r)?),
            op::ADD_WATCH => {
                r.read_i32()?;
                Response::AddWatch
            }
            op::WHO_AM_I => Response::WhoAmI {
                clients: r.read_vec(ClientInfo::read)?,
            },
            op::DELETE
            | op::PING
            | op::CHECK
            | op::SET_WATCHES
            | op::SET_WATCHES2
            | op::CHECK_WATCHES
            | op::REMOVE_WATCHES
            | op::CLOSE_SESSION
            | op::AUTH => Response::Empty,
            other => return Err(DecodeError::UnknownOpcode(other)),
        })
    }
}
