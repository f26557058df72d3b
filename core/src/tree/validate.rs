//! The tree's full invariant check: what `check_invariants` asserts and a decoded snapshot must
//! also satisfy (the decoder checks the same properties in one streaming pass).

use super::path::{is_valid_path, parent_path};
use super::znode::{KindTag, Node, Znode};
use super::{DataTree, TTL_MS_MAX};

impl DataTree {
    /// The digest computed from scratch.
    pub(super) fn recompute_digest(&self) -> u64 {
        self.nodes
            .iter()
            .fold(0u64, |sum, node| sum.wrapping_add(self.node_terms(node)))
    }

    /// Checks every invariant of the tree; the error says which one failed.
    pub(super) fn validate(&self) -> Result<(), String> {
        self.nodes.validate()?;
        let Some(root) = self.node(super::ROOT) else {
            return Err("no root".to_owned());
        };
        if root.kind() != KindTag::Persistent {
            return Err("root is not persistent".to_owned());
        }
        let mut acl_refs = vec![0u32; self.acls.ref_counts().len()];
        for node in self.nodes.iter() {
            self.validate_node(node)?;
            if let Some(refs) = acl_refs.get_mut(node.acl.0 as usize) {
                *refs += 1;
            }
        }
        if acl_refs != self.acls.ref_counts() {
            return Err("ACL reference counts do not match the nodes".to_owned());
        }
        self.validate_indexes()?;
        if self.recompute_digest() != self.digest {
            return Err("digest out of step with the nodes".to_owned());
        }
        Ok(())
    }

    /// Checks one node against its parent, children, ACL slot and kind.
    fn validate_node(&self, node: &Node) -> Result<(), String> {
        let path = node.path();
        if !is_valid_path(path) {
            return Err(format!("invalid path {path:?}"));
        }
        if let Some(parent) = parent_path(path) {
            match self.node(parent) {
                None => return Err(format!("{path} has no parent")),
                Some(p) if p.kind() == KindTag::Ephemeral => {
                    return Err(format!("{path} is the child of an ephemeral"))
                }
                Some(_) => {}
            }
        }
        let children = self.child_paths(path).count();
        if usize::try_from(node.num_children()) != Ok(children) {
            return Err(format!("{path}: numChildren {}", node.num_children()));
        }
        if !self.acls.is_live(node.acl) {
            return Err(format!("{path}: ACL slot {} is not live", node.acl.0));
        }
        Ok(())
    }

    /// Checks the ephemeral, container and TTL indexes against the nodes.
    fn validate_indexes(&self) -> Result<(), String> {
        let mut ephemerals = 0usize;
        for (session, paths) in &self.ephemerals {
            if paths.is_empty() {
                return Err(format!("empty ephemeral set for {session}"));
            }
            for path in paths {
                let owner = self.node(path).filter(|n| n.kind() == KindTag::Ephemeral);
                if owner.map(Node::ephemeral_owner) != Some(session.0) {
                    return Err(format!("ephemeral index: {path} under {session}"));
                }
            }
            ephemerals += paths.len();
        }
        let mut containers = 0usize;
        let mut ttls = 0usize;
        for node in self.nodes.iter() {
            match node.kind() {
                KindTag::Ephemeral => ephemerals = ephemerals.wrapping_sub(1),
                KindTag::Container => containers += 1,
                KindTag::Ttl => ttls += 1,
                KindTag::Persistent => {}
            }
        }
        if ephemerals != 0 || containers != self.containers.len() || ttls != self.ttls.len() {
            return Err("index sizes do not match the nodes".to_owned());
        }
        for path in &self.containers {
            if !self.get(path).is_some_and(Znode::is_container) {
                return Err(format!("container index: {path}"));
            }
        }
        for (path, &ttl_ms) in &self.ttls {
            let is_ttl = self.get(path).is_some_and(Znode::is_ttl);
            if !is_ttl || ttl_ms <= 0 || ttl_ms > TTL_MS_MAX {
                return Err(format!("TTL index: {path} {ttl_ms}"));
            }
        }
        Ok(())
    }
}
