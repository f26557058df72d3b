//! The tree digest: a fixed, hand-written 64-bit hash per node, summed over all nodes.
//!
//! A sum is order-independent, so the digest of a tree does not depend on the order nodes were
//! inserted in, and it can be kept up to date on every change by subtracting a node's old terms
//! and adding its new ones. Each node contributes two terms: one over `(path, data)` and one over
//! `(path, stat, acl, kind, ttl)`, so a change to a parent's stat (a child created or deleted)
//! rehashes only the small metadata term, never the parent's data.
//!
//! The hash is written here rather than taken from `std` so that it is identical across runs,
//! processes, platforms and Rust versions.

use crate::jute::{Acl, Stat};

const SEED_DATA: u64 = 0x243f_6a88_85a3_08d3;
const SEED_META: u64 = 0x1319_8a2e_0370_7344;
const SEED_ACL: u64 = 0xa409_3822_299f_31d0;
const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// A streaming 64-bit hash: 8-byte words folded with multiply-rotate, finished with the
/// MurmurHash3 64-bit finalizer. Not cryptographic; replicas are not adversaries.
pub(crate) struct Hasher64 {
    state: u64,
}

impl Hasher64 {
    /// A hasher for one domain (data, metadata, ACL), so equal bytes in different roles differ.
    pub(crate) fn new(seed: u64) -> Hasher64 {
        Hasher64 { state: seed }
    }

    fn word(&mut self, w: u64) {
        self.state = (self.state ^ w).wrapping_mul(MULTIPLIER).rotate_left(29);
    }

    /// Hashes a length-prefixed byte string.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.word(bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(w));
        }
    }

    /// Hashes a signed 64-bit value.
    pub(crate) fn i64(&mut self, v: i64) {
        self.word(v as u64);
    }

    /// The final value.
    pub(crate) fn finish(self) -> u64 {
        let mut h = self.state;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^= h >> 33;
        h
    }
}

/// The data term of a node.
pub(crate) fn data_term(path: &[u8], data: &[u8]) -> u64 {
    let mut h = Hasher64::new(SEED_DATA);
    h.bytes(path);
    h.bytes(data);
    h.finish()
}

/// The metadata term of a node: everything but its data.
pub(crate) fn meta_term(path: &[u8], stat: &Stat, acl_hash: u64, kind: u8, ttl_ms: i64) -> u64 {
    let mut h = Hasher64::new(SEED_META);
    h.bytes(path);
    for v in [
        stat.czxid,
        stat.mzxid,
        stat.ctime,
        stat.mtime,
        stat.ephemeral_owner,
        stat.pzxid,
    ] {
        h.i64(v);
    }
    for v in [
        stat.version,
        stat.cversion,
        stat.aversion,
        stat.data_length,
        stat.num_children,
    ] {
        h.i64(i64::from(v));
    }
    h.i64(acl_hash as i64);
    h.i64(i64::from(kind));
    h.i64(ttl_ms);
    h.finish()
}

/// The hash of an ACL list's content (order matters, as it does in ZooKeeper).
pub(crate) fn acl_hash(acl: &[Acl]) -> u64 {
    let mut h = Hasher64::new(SEED_ACL);
    h.i64(acl.len() as i64);
    for entry in acl {
        h.i64(i64::from(entry.perms));
        h.bytes(entry.id.scheme.as_bytes());
        h.bytes(entry.id.id.as_bytes());
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_fixed_across_builds() {
        // Pinned values: a change here changes every digest, which replicas and snapshots compare.
        assert_ne!(data_term(b"/a", b"x"), data_term(b"/a", b"y"));
        assert_ne!(data_term(b"/a", b""), data_term(b"/a", b"\0"));
        assert_ne!(data_term(b"/ab", b""), data_term(b"/a", b"b"));
        assert_eq!(data_term(b"/", b""), 0xc225_0237_ed1d_4904);
        assert_eq!(data_term(b"/a", b"hello world!"), 0x9950_3203_fa13_de15);
        assert_eq!(crate::tree::DataTree::new().digest(), 0xfd08_2af0_5e90_75a3);
    }
}
