//! The ops and results of `multi` (opcode 14) and `multiRead` (opcode 22).
//!
//! Both directions use the same framing: each entry is a [`MultiHeader`] followed by the entry's
//! record, and the list ends with the header `{type: -1, done: true, err: -1}`.

use super::codec::{JuteError, Reader, Record, Writer};
use super::codes::op;
use super::connect::{read_multi_entries, MultiHeader};
use super::data::Stat;
use super::proto::{CreateRequest, CreateTtlRequest};

/// One op of a multi request.
///
/// `GetChildren` and `GetData` appear only in `multiRead`; every other op only in `multi`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    /// create (`CreateRequest`).
    Create(CreateRequest),
    /// create2 (`CreateRequest`).
    Create2(CreateRequest),
    /// createContainer (`CreateRequest`).
    CreateContainer(CreateRequest),
    /// createTTL (`CreateTTLRequest`).
    CreateTtl(CreateTtlRequest),
    /// delete (`DeleteRequest`).
    Delete {
        /// Node path.
        path: String,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// setData (`SetDataRequest`).
    SetData {
        /// Node path.
        path: String,
        /// New data.
        data: Vec<u8>,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// check (`CheckVersionRequest`).
    Check {
        /// Node path.
        path: String,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// getChildren (`GetChildrenRequest`, watch always false).
    GetChildren {
        /// Node path.
        path: String,
    },
    /// getData (`GetDataRequest`, watch always false).
    GetData {
        /// Node path.
        path: String,
    },
}

impl MultiOp {
    /// The op's opcode, as written in its multi header.
    pub fn opcode(&self) -> i32 {
        match self {
            MultiOp::Create(_) => op::CREATE,
            MultiOp::Create2(_) => op::CREATE2,
            MultiOp::CreateContainer(_) => op::CREATE_CONTAINER,
            MultiOp::CreateTtl(_) => op::CREATE_TTL,
            MultiOp::Delete { .. } => op::DELETE,
            MultiOp::SetData { .. } => op::SET_DATA,
            MultiOp::Check { .. } => op::CHECK,
            MultiOp::GetChildren { .. } => op::GET_CHILDREN,
            MultiOp::GetData { .. } => op::GET_DATA,
        }
    }

    /// True for the ops that belong in `multiRead`.
    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren { .. } | MultiOp::GetData { .. })
    }

    fn write_body(&self, w: &mut Writer) {
        match self {
            MultiOp::Create(c) | MultiOp::Create2(c) | MultiOp::CreateContainer(c) => c.write(w),
            MultiOp::CreateTtl(c) => c.write(w),
            MultiOp::Delete { path, version } | MultiOp::Check { path, version } => {
                w.write_string(path);
                w.write_i32(*version);
            }
            MultiOp::SetData {
                path,
                data,
                version,
            } => {
                w.write_string(path);
                w.write_buffer(data);
                w.write_i32(*version);
            }
            MultiOp::GetChildren { path } | MultiOp::GetData { path } => {
                w.write_string(path);
                w.write_bool(false);
            }
        }
    }

    fn read_body(op_type: i32, r: &mut Reader<'_>) -> Result<MultiOp, JuteError> {
        Ok(match op_type {
            op::CREATE => MultiOp::Create(CreateRequest::read(r)?),
            op::CREATE2 => MultiOp::Create2(CreateRequest::read(r)?),
            op::CREATE_CONTAINER => MultiOp::CreateContainer(CreateRequest::read(r)?),
            op::CREATE_TTL => MultiOp::CreateTtl(CreateTtlRequest::read(r)?),
            op::DELETE => MultiOp::Delete {
                path: r.read_string()?,
                version: r.read_i32()?,
            },
            op::SET_DATA => MultiOp::SetData {
                path: r.read_string()?,
                data: r.read_buffer()?,
                version: r.read_i32()?,
            },
            op::CHECK => MultiOp::Check {
                path: r.read_string()?,
                version: r.read_i32()?,
            },
            op::GET_CHILDREN => {
                let path = r.read_string()?;
                // The watch flag is read and ignored: multiRead never sets watches.
                r.read_bool()?;
                MultiOp::GetChildren { path }
            }
            op::GET_DATA => {
                let path = r.read_string()?;
                r.read_bool()?;
                MultiOp::GetData { path }
            }
            value => {
                return Err(JuteError::BadValue {
                    field: "multi op type",
                    value: value.into(),
                })
            }
        })
    }
}

/// Writes a `MultiOperationRecord`: each op behind its header, then the end marker.
pub(crate) fn write_multi_ops(w: &mut Writer, ops: &[MultiOp]) {
    for o in ops {
        let header = MultiHeader {
            op_type: o.opcode(),
            done: false,
            err: -1,
        };
        header.write(w);
        o.write_body(w);
    }
    MultiHeader::END.write(w);
}

/// Reads a `MultiOperationRecord`. `read_only` selects `multiRead` (only getChildren / getData
/// ops) over `multi` (only write ops); an op of the other kind is a decode error, as mixing is in
/// ZooKeeper.
pub(crate) fn read_multi_ops(
    r: &mut Reader<'_>,
    read_only: bool,
) -> Result<Vec<MultiOp>, JuteError> {
    read_multi_entries(r, |r, header| {
        let o = MultiOp::read_body(header.op_type, r)?;
        if o.is_read() != read_only {
            return Err(JuteError::BadValue {
                field: "multi op type",
                value: header.op_type.into(),
            });
        }
        Ok(o)
    })
}

/// The outcome of one op of a `multi`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    /// A `create` succeeded (`CreateResponse`, header type 1).
    Create {
        /// The created path (sequential suffix included).
        path: String,
    },
    /// A `create2`, `createContainer` or `createTTL` succeeded (`Create2Response`, header type 15).
    Create2 {
        /// The created path.
        path: String,
        /// The new node's stat.
        stat: Stat,
    },
    /// A `delete` succeeded (no record).
    Delete,
    /// A `setData` succeeded (`SetDataResponse`).
    SetData {
        /// The node's stat after the change.
        stat: Stat,
    },
    /// A `check` succeeded (no record).
    Check,
    /// The op failed, or was not applied because another op failed (`ErrorResponse`, type -1).
    Error {
        /// The error code: the failing op's code, 0 for ops before it, `RUNTIME_INCONSISTENCY` after.
        err: i32,
    },
}

impl MultiResult {
    fn header(&self) -> MultiHeader {
        let (op_type, err) = match self {
            MultiResult::Create { .. } => (op::CREATE, 0),
            MultiResult::Create2 { .. } => (op::CREATE2, 0),
            MultiResult::Delete => (op::DELETE, 0),
            MultiResult::SetData { .. } => (op::SET_DATA, 0),
            MultiResult::Check => (op::CHECK, 0),
            MultiResult::Error { err } => (op::ERROR, *err),
        };
        MultiHeader {
            op_type,
            done: false,
            err,
        }
    }

    fn write_body(&self, w: &mut Writer) {
        match self {
            MultiResult::Create { path } => w.write_string(path),
            MultiResult::Create2 { path, stat } => {
                w.write_string(path);
                stat.write(w);
            }
            MultiResult::Delete | MultiResult::Check => {}
            MultiResult::SetData { stat } => stat.write(w),
            MultiResult::Error { err } => w.write_i32(*err),
        }
    }

    fn read_body(op_type: i32, r: &mut Reader<'_>) -> Result<MultiResult, JuteError> {
        Ok(match op_type {
            op::CREATE => MultiResult::Create {
                path: r.read_string()?,
            },
            op::CREATE2 => MultiResult::Create2 {
                path: r.read_string()?,
                stat: Stat::read(r)?,
            },
            op::DELETE => MultiResult::Delete,
            op::SET_DATA => MultiResult::SetData {
                stat: Stat::read(r)?,
            },
            op::CHECK => MultiResult::Check,
            op::ERROR => MultiResult::Error { err: r.read_i32()? },
            value => {
                return Err(JuteError::BadValue {
                    field: "multi result type",
                    value: value.into(),
                })
            }
        })
    }
}

/// The outcome of one op of a `multiRead`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiReadResult {
    /// A `getChildren` succeeded (`GetChildrenResponse`, header type 8).
    GetChildren {
        /// Child names (not full paths).
        children: Vec<String>,
    },
    /// A `getData` succeeded (`GetDataResponse`, header type 4).
    GetData {
        /// The node's data.
        data: Vec<u8>,
        /// The node's stat.
        stat: Stat,
    },
    /// The op failed (`ErrorResponse`, header type -1). Other ops of a multiRead still run.
    Error {
        /// The error code.
        err: i32,
    },
}

impl MultiReadResult {
    fn header(&self) -> MultiHeader {
        let (op_type, err) = match self {
            MultiReadResult::GetChildren { .. } => (op::GET_CHILDREN, 0),
            MultiReadResult::GetData { .. } => (op::GET_DATA, 0),
            MultiReadResult::Error { err } => (op::ERROR, *err),
        };
        MultiHeader {
            op_type,
            done: false,
            err,
        }
    }

    fn write_body(&self, w: &mut Writer) {
        match self {
            MultiReadResult::GetChildren { children } => w.write_string_vec(children),
            MultiReadResult::GetData { data, stat } => {
                w.write_buffer(data);
                stat.write(w);
            }
            MultiReadResult::Error { err } => w.write_i32(*err),
        }
    }

    fn read_body(op_type: i32, r: &mut Reader<'_>) -> Result<MultiReadResult, JuteError> {
        Ok(match op_type {
            op::GET_CHILDREN => MultiReadResult::GetChildren {
                children: r.read_string_vec()?,
            },
            op::GET_DATA => MultiReadResult::GetData {
                data: r.read_buffer()?,
                stat: Stat::read(r)?,
            },
            op::ERROR => MultiReadResult::Error { err: r.read_i32()? },
            value => {
                return Err(JuteError::BadValue {
                    field: "multiRead result type",
                    value: value.into(),
                })
            }
        })
    }
}

/// Writes a `MultiResponse` for `multi`.
pub(crate) fn write_multi_results(w: &mut Writer, results: &[MultiResult]) {
    for res in results {
        res.header().write(w);
        res.write_body(w);
    }
    MultiHeader::END.write(w);
}

/// Reads a `MultiResponse` for `multi`.
pub(crate) fn read_multi_results(r: &mut Reader<'_>) -> Result<Vec<MultiResult>, JuteError> {
    read_multi_entries(r, |r, header| MultiResult::read_body(header.op_type, r))
}

/// Writes a `MultiResponse` for `multiRead`.
pub(crate) fn write_multi_read_results(w: &mut Writer, results: &[MultiReadResult]) {
    for res in results {
        res.header().write(w);
        res.write_body(w);
    }
    MultiHeader::END.write(w);
}

/// Reads a `MultiResponse` for `multiRead`.
pub(crate) fn read_multi_read_results(
    r: &mut Reader<'_>,
) -> Result<Vec<MultiReadResult>, JuteError> {
    read_multi_entries(r, |r, header| MultiReadResult::read_body(header.op_type, r))
}
