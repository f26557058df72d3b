//! Messages between servers. A transport only frames and carries them: each is one bincode
//! record behind a length prefix, and decoding is bounded and total.

use super::vote::Notification;
use crate::ids::{Epoch, SessionId, Zxid};
use crate::txn::Txn;
use bincode::Options;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use thiserror::Error;

/// One message from one server to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerMessage {
    /// Election: the sender's vote, round and state.
    Vote(Notification),
    /// Discovery, learner to prospective leader: what the learner has.
    FollowerInfo {
        /// The learner's accepted epoch.
        accepted_epoch: Epoch,
        /// The learner's last logged zxid.
        last_zxid: Zxid,
        /// True for an observer (it never votes or acknowledges).
        observer: bool,
    },
    /// Discovery, leader to learner: the new epoch, above every accepted epoch of a quorum.
    LeaderInfo {
        /// The proposed epoch.
        new_epoch: Epoch,
    },
    /// Discovery, learner to leader: the new epoch is accepted.
    AckEpoch {
        /// The learner's current (last acknowledged NEWLEADER) epoch.
        current_epoch: Epoch,
        /// The learner's last logged zxid.
        last_zxid: Zxid,
    },
    /// Synchronization: the transactions after `after` follow.
    Diff {
        /// The last zxid both logs share.
        after: Zxid,
    },
    /// Synchronization: replace the state with this snapshot.
    Snap {
        /// The snapshot's last zxid.
        zxid: Zxid,
        /// The encoded state, as `Output::Snapshot` writes it.
        state: Vec<u8>,
    },
    /// Synchronization: one committed transaction of a DIFF.
    SyncTxn(Txn),
    /// Synchronization is complete: log everything durably and acknowledge.
    NewLeader {
        /// The new epoch.
        epoch: Epoch,
        /// The leader's last zxid at the end of synchronization.
        zxid: Zxid,
    },
    /// The learner's log is durable through the NEWLEADER point.
    AckNewLeader {
        /// The acknowledged zxid.
        zxid: Zxid,
    },
    /// A quorum has synchronized: start serving clients.
    UpToDate,
    /// Broadcast: a proposed transaction (shared with the leader's log and every learner's
    /// copy of the message; encoded as the txn itself).
    Proposal(Arc<Txn>),
    /// Broadcast: the follower's log is durable through `zxid`.
    Ack {
        /// Highest durable zxid.
        zxid: Zxid,
    },
    /// Broadcast: every proposal through `zxid` is committed.
    Commit {
        /// Highest committed zxid.
        zxid: Zxid,
    },
    /// Broadcast to observers: a committed transaction.
    Inform(Txn),
    /// Leader heartbeat, numbered; the learner answers with `Touches` of the same round. A
    /// quorum of answers to a round sent after some instant proves leadership at that instant.
    Ping {
        /// The heartbeat's number.
        round: u64,
    },
    /// Learner to leader: the answer to a ping, with the sessions it saw activity from.
    Touches {
        /// The ping answered.
        round: u64,
        /// Sessions with client activity on the learner since its last answer.
        sessions: Vec<SessionId>,
    },
    /// Learner to leader: a client write to prepare, as received.
    Forward {
        /// The client's session.
        session: SessionId,
        /// The request frame (length prefix, header with xid and opcode, body).
        frame: Vec<u8>,
        /// The connection's authenticated ids (scheme, id), for ACL checks.
        auth: Vec<(String, String)>,
    },
    /// Learner to leader: a client asked for a new session; the learner chose its id.
    CreateSession {
        /// The new session's id (the learner's server id in the top byte).
        session: SessionId,
        /// The negotiated timeout.
        timeout_ms: i32,
        /// The session's password.
        password: Vec<u8>,
    },
    /// Learner to leader: confirm leadership and report the commit point (read-index sync).
    ReadIndex {
        /// Correlates the reply.
        id: u64,
    },
    /// Leader to learner: leadership confirmed by a quorum; serve once applied through `zxid`.
    ReadIndexReply {
        /// The request's id.
        id: u64,
        /// The commit point at confirmation.
        zxid: Zxid,
    },
}

/// A peer frame that cannot be decoded.
#[derive(Debug, Error)]
pub enum MessageError {
    /// The bytes are not a valid message (or exceed the limit).
    #[error("undecodable peer message: {0}")]
    Decode(String),
}

fn options(limit: u64) -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
        .with_limit(limit)
}

/// Encodes a message (without the transport's length prefix).
pub fn encode(message: &PeerMessage) -> Vec<u8> {
    let mut bytes = Vec::new();
    encode_into(message, &mut bytes);
    bytes
}

/// Appends a message's encoding to `out`, in one pass (bincode's `serialize` sizes the message
/// in a pass of its own first, to allocate exactly).
pub fn encode_into(message: &PeerMessage, out: &mut Vec<u8>) {
    let start = out.len();
    if options(u64::MAX)
        .serialize_into(&mut *out, message)
        .is_err()
    {
        // Writing to a vector cannot fail and every message type serializes; leave no half.
        out.truncate(start);
    }
}

/// Decodes one message, never allocating more than `bytes_max` (bounded by the frame's length).
pub fn decode(bytes: &[u8], bytes_max: usize) -> Result<PeerMessage, MessageError> {
    let limit = bytes.len().min(bytes_max) as u64;
    options(limit)
        .deserialize(bytes)
        .map_err(|e| MessageError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ServerId;
    use crate::txn::TxnOp;
    use crate::zab::vote::{PeerState, Vote};
    use proptest::prelude::*;

    #[test]
    fn messages_round_trip() {
        let txn = Txn {
            zxid: Zxid(7),
            session: SessionId(3),
            cxid: 1,
            opcode: 5,
            time_ms: 9,
            op: TxnOp::SetData {
                path: "/a".into(),
                data: vec![1, 2],
                version: 4,
            },
        };
        let vote = Vote {
            leader: ServerId(2),
            zxid: Zxid(7),
            peer_epoch: Epoch(1),
        };
        let all = [
            PeerMessage::Vote(Notification {
                vote,
                round: 3,
                state: PeerState::Looking,
            }),
            PeerMessage::Proposal(Arc::new(txn.clone())),
            PeerMessage::Ack { zxid: Zxid(7) },
            PeerMessage::Snap {
                zxid: Zxid(7),
                state: vec![0; 100],
            },
            PeerMessage::Forward {
                session: SessionId(3),
                frame: vec![9],
                auth: vec![("ip".into(), "127.0.0.1".into())],
            },
            PeerMessage::UpToDate,
        ];
        let mut appended = vec![0xee];
        for m in all {
            let bytes = encode(&m);
            // Appending goes after what is there and writes the same bytes.
            let start = appended.len();
            encode_into(&m, &mut appended);
            assert_eq!(appended[start..], bytes[..]);
            assert_eq!(decode(&bytes, 1 << 20).ok(), Some(m));
        }
        assert_eq!(appended[0], 0xee);
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes, 1 << 20);
        }
    }

    #[test]
    fn a_huge_declared_length_is_refused_without_allocating() {
        // Variant 5 (Snap), zxid, then a vector length of 2^40.
        let mut bytes = 5u32.to_le_bytes().to_vec();
        bytes.extend(7i64.to_le_bytes());
        bytes.extend((1u64 << 40).to_le_bytes());
        assert!(decode(&bytes, 1 << 20).is_err());
    }
}
