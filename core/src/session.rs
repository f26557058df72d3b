//! The session table: which sessions exist, their timeouts and passwords, and when they expire.
//!
//! Session creation and closing are transactions, so every replica holds the same table. Expiry
//! is a local decision of the server that tracks the session's liveness (the leader, in an
//! ensemble), which then proposes a `CloseSession` transaction.

use crate::ids::SessionId;
use crate::time::Instant;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One session as replicated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Negotiated timeout in milliseconds.
    pub timeout_ms: i32,
    /// Password the client must present to reattach.
    pub password: Vec<u8>,
}

/// Sessions plus the liveness bookkeeping used to expire them.
#[derive(Debug, Default)]
pub struct SessionTable {
    sessions: BTreeMap<SessionId, Session>,
    /// Expiry deadline of each live session.
    deadline: BTreeMap<SessionId, Instant>,
    /// The same deadlines ordered by time, for the earliest-expiry timer.
    by_deadline: BTreeSet<(Instant, SessionId)>,
    /// Sessions whose close has been proposed but not applied: requests on them are refused.
    closing: BTreeSet<SessionId>,
}

impl SessionTable {
    /// An empty table.
    pub fn new() -> SessionTable {
        SessionTable::default()
    }

    /// Number of sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True when there is no session.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The session, if it exists.
    pub fn get(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }

    /// Sessions in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&SessionId, &Session)> {
        self.sessions.iter()
    }

    /// True when the session exists and is not being closed.
    pub fn is_live(&self, id: SessionId) -> bool {
        self.sessions.contains_key(&id) && !self.closing.contains(&id)
    }

    /// Applies a committed `CreateSession`; the session is alive from `now` for its timeout.
    pub fn open(&mut self, id: SessionId, session: Session, now: Instant) {
        let timeout = session.timeout_ms.max(0) as u64;
        self.sessions.insert(id, session);
        self.set_deadline(id, now.plus_ms(timeout));
    }

    /// Applies a committed `CloseSession`.
    pub fn close(&mut self, id: SessionId) {
        self.sessions.remove(&id);
        self.closing.remove(&id);
        if let Some(at) = self.deadline.remove(&id) {
            self.by_deadline.remove(&(at, id));
        }
    }

    /// Marks a session whose close was proposed, so no new request is accepted on it.
    pub fn mark_closing(&mut self, id: SessionId) {
        if self.sessions.contains_key(&id) {
            self.closing.insert(id);
            if let Some(at) = self.deadline.remove(&id) {
                self.by_deadline.remove(&(at, id));
            }
        }
    }

    /// Records activity: the session lives for another full timeout from `now`.
    pub fn touch(&mut self, id: SessionId, now: Instant) {
        if self.closing.contains(&id) {
            return;
        }
        if let Some(s) = self.sessions.get(&id) {
            let timeout = s.timeout_ms.max(0) as u64;
            self.set_deadline(id, now.plus_ms(timeout));
        }
    }

    fn set_deadline(&mut self, id: SessionId, at: Instant) {
        if let Some(old) = self.deadline.insert(id, at) {
            self.by_deadline.remove(&(old, id));
        }
        self.by_deadline.insert((at, id));
    }

    /// The earliest expiry deadline, for the node's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.first().map(|(at, _)| *at)
    }

    /// Sessions whose deadline has passed at `now`, in deadline order.
    pub fn expired(&self, now: Instant) -> Vec<SessionId> {
        self.by_deadline
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, id)| *id)
            .collect()
    }

    /// Restarts every session's clock at `now` (after recovery or a leader change).
    pub fn reset_deadlines(&mut self, now: Instant) {
        let ids: Vec<SessionId> = self.sessions.keys().copied().collect();
        for id in ids {
            self.touch(id, now);
        }
    }

    /// The replicated part, for snapshots.
    pub fn to_snapshot(&self) -> Vec<(SessionId, Session)> {
        self.sessions.iter().map(|(k, v)| (*k, v.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(timeout_ms: i32) -> Session {
        Session {
            timeout_ms,
            password: vec![1; 16],
        }
    }

    #[test]
    fn expiry_follows_touches() {
        let mut t = SessionTable::new();
        let t0 = Instant(0);
        t.open(SessionId(1), s(1000), t0);
        t.open(SessionId(2), s(3000), t0);
        assert_eq!(t.next_deadline(), Some(t0.plus_ms(1000)));
        assert!(t.expired(t0.plus_ms(999)).is_empty());
        t.touch(SessionId(1), t0.plus_ms(900));
        assert!(t.expired(t0.plus_ms(1500)).is_empty());
        assert_eq!(t.expired(t0.plus_ms(1900)), vec![SessionId(1)]);
        assert_eq!(
            t.expired(t0.plus_ms(3000)),
            vec![SessionId(1), SessionId(2)]
        );
    }

    #[test]
    fn closing_sessions_stop_expiring_and_refuse_touches() {
        let mut t = SessionTable::new();
        t.open(SessionId(7), s(1000), Instant(0));
        t.mark_closing(SessionId(7));
        assert!(!t.is_live(SessionId(7)));
        t.touch(SessionId(7), Instant(0));
        assert!(t.expired(Instant(u64::MAX)).is_empty());
        t.close(SessionId(7));
        assert!(t.get(SessionId(7)).is_none());
        assert_eq!(t.next_deadline(), None);
    }
}
