//! Errors of the tree layer.

/// What can go wrong outside `apply` (which reports protocol outcomes as codes, never errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// The snapshot bytes do not decode, or decode to a tree whose invariants do not hold
    /// (dangling parent, wrong child count, bad ACL reference, digest mismatch, ...).
    #[error("bad snapshot: {0}")]
    Snapshot(String),
}
