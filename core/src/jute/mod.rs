//! The ZooKeeper client wire protocol (zookeeper.jute): primitives, records, codes.
//!
//! Every frame on a client connection is a 4-byte big-endian length followed by that many bytes.
//! The first frame from a client is a [`ConnectRequest`]; after that each frame is a
//! [`RequestHeader`] followed by the opcode's request record, and each reply is a [`ReplyHeader`]
//! followed by the response record (nothing when `err != 0`).

mod codec;
pub mod codes;
mod connect;
mod data;
mod multi;
mod proto;
mod response;
#[cfg(test)]
mod tests;

pub use codec::{JuteError, Reader, Record, Writer};
pub use codes::{add_watch_mode, create_mode, err, event, keeper_state, op, watcher_type, xid};
pub use connect::{ConnectRequest, ConnectResponse, ReplyHeader, RequestHeader, WatcherEvent};
pub use data::{perms, read_acl_vec, write_acl_vec, Acl, Id, Stat};
pub use multi::{MultiOp, MultiReadResult, MultiResult};
pub use proto::{
    decode_request, encode_notification, encode_reply, encode_request, CreateRequest,
    CreateTtlRequest, DecodeError, Request, SetWatches,
};
pub use response::{ClientInfo, Response};
