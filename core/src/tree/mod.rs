//! Data tree (placeholder, being written).
