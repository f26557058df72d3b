//! Read-index confirmation on the leader: a `sync` (from a local client or a learner) is
//! answered only after a quorum of voters has answered a ping round that started after the
//! request arrived, with the commit point as of its arrival. A deposed leader cannot gather
//! that quorum.

use super::Node;
use crate::ids::{ConnId, ServerId, Zxid};
use crate::zab::PeerMessage;

/// Read-index waits outstanding at once; more are refused (the learner's client sees a
/// connection loss and retries).
const READ_WAITS_MAX: usize = 10_000;

/// Who waits for a read-index confirmation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reader {
    Local(ConnId),
    Remote { learner: ServerId, id: u64 },
}

#[derive(Debug)]
pub(crate) struct ReadWait {
    round: u64,
    zxid: Zxid,
    reader: Reader,
}

impl Node {
    /// A `sync`: confirm leadership with a quorum round that starts now, then serve once
    /// applied through the commit point as of now.
    pub(crate) fn start_read_index(&mut self, reader: Reader) {
        let zxid = self.acks.committed();
        let ready = self
            .leader()
            .is_some_and(|l| l.is_broadcasting() && l.reads.len() < READ_WAITS_MAX);
        if !ready {
            tracing::warn!(
                ?reader,
                "read index refused: not broadcasting or too many waits"
            );
            if let Reader::Local(conn) = reader {
                self.close_conn(conn);
            }
            return;
        }
        let round = self.ping();
        if let Some(l) = self.leader() {
            l.reads.push(ReadWait {
                round,
                zxid,
                reader,
            });
        }
        self.check_reads();
    }

    pub(crate) fn leader_sync(&mut self, conn: ConnId) {
        self.start_read_index(Reader::Local(conn));
    }

    /// Answers every read-index wait whose round a quorum has answered.
    pub(crate) fn check_reads(&mut self) {
        let me = self.config.server_id;
        let quorum = self.config.ensemble.quorum();
        let voters = self.config.ensemble.voters.clone();
        let committed = self.tree.last_zxid();
        let Some(l) = self.leader() else {
            return;
        };
        if l.reads.is_empty() {
            return;
        }
        let confirmed = |round: u64| {
            usize::from(voters.contains(&me))
                + l.links
                    .iter()
                    .filter(|(id, link)| voters.contains(id) && link.round_answered >= round)
                    .count()
                >= quorum
        };
        let (done, waiting): (Vec<ReadWait>, Vec<ReadWait>) = std::mem::take(&mut l.reads)
            .into_iter()
            .partition(|w| confirmed(w.round) && w.zxid <= committed);
        l.reads = waiting;
        for w in done {
            match w.reader {
                Reader::Local(conn) => self.finish_sync(conn),
                Reader::Remote { learner, id } => {
                    self.send_peer(learner, PeerMessage::ReadIndexReply { id, zxid: w.zxid });
                }
            }
        }
    }
}
