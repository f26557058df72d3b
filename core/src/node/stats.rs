//! Counters reported by the four-letter words.

/// Server-wide counters.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Frames received from clients.
    pub packets_received: u64,
    /// Frames sent to clients.
    pub packets_sent: u64,
}
