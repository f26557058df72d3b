//! The end of a run: the final state the checkers compare against, and the ensemble's health.

use crate::check::linearizable::CommittedWrites;
use crate::clients::key_path;
use crate::election::{node_lives, NodeLife, ELECTION_PARENT};
use crate::world::World;
use corral_core::node::RoleKind;
use corral_core::Node;
use std::collections::BTreeMap;

/// Each register's value and mzxid.
pub type Registers = Vec<(Vec<u8>, i64)>;

impl World {
    /// The server whose committed state is the reference at the end: a serving server (leader,
    /// up-to-date learner, or standalone) with the newest state.
    pub fn final_server(&self) -> Option<usize> {
        let serving =
            |n: &Node| n.established_epoch().is_some() || n.role() == RoleKind::Standalone;
        (0..self.servers.len())
            .filter(|s| self.servers[*s].node.as_ref().is_some_and(serving))
            .max_by_key(|s| self.servers[*s].node.as_ref().map(Node::last_committed))
    }

    /// The committed value and mzxid of every register, and the last zxid of that state.
    pub fn final_registers(&self) -> Option<(Registers, i64)> {
        let node = self.servers[self.final_server()?].node.as_ref()?;
        let registers = (0..self.options.keys)
            .map(|k| {
                node.tree()
                    .get(&key_path(k))
                    .map(|n| (n.data.to_vec(), n.stat.mzxid))
            })
            .collect::<Option<Vec<_>>>()?;
        Some((registers, node.last_committed().0))
    }

    /// Every ephemeral node of the final state whose owner session no longer exists.
    pub fn orphan_ephemerals(&self) -> Vec<String> {
        let Some(node) = self
            .final_server()
            .and_then(|s| self.servers[s].node.as_ref())
        else {
            return Vec::new();
        };
        let tree = node.tree();
        let mut out = Vec::new();
        for owner in tree.ephemeral_sessions() {
            if node.sessions().get(owner).is_none() {
                out.extend(tree.ephemerals(owner));
            }
        }
        out
    }

    /// The life of every `/election` node, replayed from committed transactions in zxid order.
    pub fn election_lives(&self) -> BTreeMap<String, NodeLife> {
        let committed = self
            .election_txns
            .iter()
            .filter(|(z, _)| self.replicas.committed.contains(*z))
            .map(|(z, effects)| (z.0, effects.as_slice()));
        node_lives(committed)
    }

    /// Terms begun, how many ended by a committed delete of their node, and how many of those
    /// by their session's close.
    pub fn election_terms(&self) -> (usize, usize, usize) {
        let lives = self.election_lives();
        let ends: Vec<&NodeLife> = (self.history.terms.iter())
            .filter_map(|t| lives.get(&t.node).filter(|l| l.deleted_zxid.is_some()))
            .collect();
        let closed = ends.iter().filter(|l| l.closed).count();
        (self.history.terms.len(), ends.len(), closed)
    }

    /// The children of `/election` in the final state, and that state's zxid.
    pub fn final_election(&self) -> Option<(Vec<String>, i64)> {
        let node = self.servers[self.final_server()?].node.as_ref()?;
        let children = node.tree().children(ELECTION_PARENT)?;
        Some((children, node.last_committed().0))
    }

    /// Register writes applied by serving replicas, per register, in zxid order.
    pub fn committed_writes(&self) -> CommittedWrites {
        let mut out = CommittedWrites::new();
        for (zxid, (key, value)) in &self.applied_writes {
            if self.replicas.committed.contains(zxid) {
                out.entry(*key).or_default().push((zxid.0, value.clone()));
            }
        }
        out
    }

    /// Whether a leader broadcasts (or the standalone server serves) at the end.
    pub fn has_leader(&self) -> bool {
        self.leader().is_some()
            || self.servers.iter().any(|s| {
                s.node
                    .as_ref()
                    .is_some_and(|n| n.role() == RoleKind::Standalone)
            })
    }
}
