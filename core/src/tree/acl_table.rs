//! The ACL table: every distinct ACL list stored once, reference-counted, named by a `u32`.
//!
//! Most trees use a handful of ACL lists for millions of nodes (ZooKeeper keeps the same kind of
//! cache), so a node holds a 4-byte [`AclId`] instead of its own list. Freed slots are reused
//! lowest-first, so the table's layout is a function of its entries alone and a table rebuilt from
//! a snapshot behaves exactly like the original.

use super::digest;
use crate::jute::Acl;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Index of an ACL list in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct AclId(pub(crate) u32);

/// The most distinct ACL lists a tree holds at once (one per node at worst).
pub(crate) const ACL_LISTS_MAX: usize = u32::MAX as usize;

/// One slot: a live list has `refs > 0`; a free slot has `refs == 0` and an empty list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AclEntry {
    /// Shared with the writes being prepared that read it (a reference count, not a copy of the
    /// list and its strings per setData); serialized as the list itself.
    acl: Arc<[Acl]>,
    refs: u32,
}

/// The table of interned ACL lists.
#[derive(Debug, Clone, Default)]
pub(crate) struct AclTable {
    entries: Vec<AclEntry>,
    /// Content hash per slot, for the digest.
    hashes: Vec<u64>,
    /// Live list -> slot.
    index: BTreeMap<Vec<Acl>, u32>,
    /// Free slots.
    free: BTreeSet<u32>,
}

impl AclTable {
    /// Takes a reference to `acl`, adding it to the table if it is new.
    pub(crate) fn intern(&mut self, acl: &[Acl]) -> AclId {
        if let Some(&slot) = self.index.get(acl) {
            let entry = &mut self.entries[slot as usize];
            assert!(entry.refs > 0, "indexed ACL slot {slot} is free");
            entry.refs += 1;
            return AclId(slot);
        }
        let entry = AclEntry {
            acl: Arc::from(acl),
            refs: 1,
        };
        let hash = digest::acl_hash(acl);
        let slot = match self.free.pop_first() {
            Some(slot) => {
                self.entries[slot as usize] = entry;
                self.hashes[slot as usize] = hash;
                slot
            }
            None => {
                assert!(self.entries.len() < ACL_LISTS_MAX, "ACL table full");
                self.entries.push(entry);
                self.hashes.push(hash);
                (self.entries.len() - 1) as u32
            }
        };
        self.index.insert(acl.to_vec(), slot);
        AclId(slot)
    }

    /// Drops a reference; the list leaves the table with its last reference.
    pub(crate) fn release(&mut self, id: AclId) {
        let Some(entry) = self.entries.get_mut(id.0 as usize) else {
            panic!("release of unknown ACL slot {}", id.0);
        };
        assert!(entry.refs > 0, "release of free ACL slot {}", id.0);
        entry.refs -= 1;
        if entry.refs == 0 {
            let acl = std::mem::replace(&mut entry.acl, Arc::new([]));
            self.index.remove(&*acl);
            self.hashes[id.0 as usize] = 0;
            self.free.insert(id.0);
        }
    }

    /// The list in a slot (empty for an unknown or free slot).
    pub(crate) fn get(&self, id: AclId) -> &[Acl] {
        self.entries.get(id.0 as usize).map_or(&[], |e| &e.acl)
    }

    /// The list in a slot, shared (empty for an unknown or free slot).
    pub(crate) fn shared(&self, id: AclId) -> Arc<[Acl]> {
        self.entries
            .get(id.0 as usize)
            .map_or_else(|| Arc::from([]), |e| Arc::clone(&e.acl))
    }

    /// The content hash of a slot's list.
    pub(crate) fn hash(&self, id: AclId) -> u64 {
        self.hashes.get(id.0 as usize).copied().unwrap_or(0)
    }

    /// Whether `id` names a live list.
    pub(crate) fn is_live(&self, id: AclId) -> bool {
        self.entries.get(id.0 as usize).is_some_and(|e| e.refs > 0)
    }

    /// The number of live lists.
    pub(crate) fn live_count(&self) -> usize {
        self.index.len()
    }

    /// The reference count of every slot, in slot order.
    pub(crate) fn ref_counts(&self) -> Vec<u32> {
        self.entries.iter().map(|e| e.refs).collect()
    }

    /// The slots, for a snapshot.
    pub(crate) fn entries(&self) -> &[AclEntry] {
        &self.entries
    }

    /// Rebuilds a table from a snapshot's slots, rejecting a free slot that holds a list and two
    /// live slots that hold the same list.
    pub(crate) fn from_entries(entries: Vec<AclEntry>) -> Result<AclTable, String> {
        if entries.len() > ACL_LISTS_MAX {
            return Err("too many ACL slots".to_owned());
        }
        let mut table = AclTable::default();
        for (slot, entry) in entries.iter().enumerate() {
            let slot = slot as u32;
            if entry.refs == 0 {
                if !entry.acl.is_empty() {
                    return Err(format!("free ACL slot {slot} holds a list"));
                }
                table.free.insert(slot);
                table.hashes.push(0);
                continue;
            }
            if table.index.insert(entry.acl.to_vec(), slot).is_some() {
                return Err(format!("ACL slot {slot} duplicates another slot"));
            }
            table.hashes.push(digest::acl_hash(&entry.acl));
        }
        table.entries = entries;
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jute::{perms, Id};

    fn read_only() -> Vec<Acl> {
        vec![Acl {
            perms: perms::READ,
            id: Id::new("world", "anyone"),
        }]
    }

    #[test]
    fn interning_shares_and_frees() {
        let mut t = AclTable::default();
        let a = t.intern(&Acl::open_unsafe());
        let b = t.intern(&Acl::open_unsafe());
        assert_eq!(a, b);
        let c = t.intern(&read_only());
        assert_ne!(a, c);
        assert_eq!(t.live_count(), 2);
        t.release(a);
        assert!(t.is_live(a));
        t.release(b);
        assert!(!t.is_live(a));
        assert_eq!(t.live_count(), 1);
        // The freed slot is reused first.
        let d = t.intern(&[]);
        assert_eq!(d, a);
        assert_eq!(t.get(c), read_only().as_slice());
        let rebuilt = AclTable::from_entries(t.entries().to_vec()).expect("valid");
        assert_eq!(rebuilt.ref_counts(), t.ref_counts());
        assert_eq!(rebuilt.hash(c), t.hash(c));
    }

    #[test]
    fn rejects_duplicate_live_slots() {
        let e = AclEntry {
            acl: read_only().into(),
            refs: 1,
        };
        assert!(AclTable::from_entries(vec![e.clone(), e]).is_err());
    }
}
