//! The peer network: one link (a TCP connection) per pair of servers.
//!
//! The transport contract of `corral_core::Node` is that a link delivers its messages in order
//! and without gaps, and that when it breaks both ends get `PeerDown` and every message not yet
//! delivered is lost. Packet-level duplication and reordering are absorbed by TCP, so they never
//! reach a node; what reaches it is latency, broken links and silence. So the model is:
//! - each direction of a link delivers in send order, after a latency from the seed;
//! - a lost message breaks its link: it and every later message on that link are lost, and
//!   each end gets `PeerDown` after its own detection delay;
//! - a partition (symmetric, or one-way) drops what crosses it, which breaks the link the same
//!   way (a one-way partition cannot silently drop some messages of a live link);
//! - a flap breaks a random link;
//! - a link reopens (a new generation: nothing of the old one is delivered) once both ends were
//!   told it broke, and carries messages again until it breaks again.

/// The two directions of a link between servers `a < b`: 0 is `a -> b`, 1 is `b -> a`.
#[derive(Debug, Clone, Default)]
pub struct Link {
    /// Incremented when the link reopens; deliveries of older generations are dropped.
    pub generation: u64,
    /// Broken and not yet reopened: messages sent are dropped.
    pub broken: bool,
    /// Which ends still have to be told the link broke.
    pub down_pending: [bool; 2],
    /// Time of the last scheduled delivery per direction (FIFO).
    pub last_delivery_ns: [u64; 2],
}

/// Every link, and the partitions in force.
#[derive(Debug)]
pub struct Network {
    servers: usize,
    links: Vec<Link>,
    /// `blocked[from * servers + to]`: messages from `from` to `to` are dropped.
    blocked: Vec<bool>,
}

impl Network {
    /// A network of `servers` servers, every link up, no partition.
    pub fn new(servers: usize) -> Network {
        Network {
            servers,
            links: vec![Link::default(); servers * servers],
            blocked: vec![false; servers * servers],
        }
    }

    /// The index of the link between `a` and `b`, and the direction `a -> b` on it.
    pub fn key(&self, a: usize, b: usize) -> (usize, usize) {
        assert!(a != b && a < self.servers && b < self.servers);
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        (lo * self.servers + hi, usize::from(a > b))
    }

    /// The link with index `key`.
    pub fn link(&mut self, key: usize) -> &mut Link {
        &mut self.links[key]
    }

    /// The ends (server indexes) of link `key`, in direction order.
    pub fn ends(&self, key: usize) -> [usize; 2] {
        [key / self.servers, key % self.servers]
    }

    /// Whether messages from `from` to `to` cross a partition.
    pub fn is_blocked(&self, from: usize, to: usize) -> bool {
        self.blocked[from * self.servers + to]
    }

    /// Blocks (or unblocks) the direction `from -> to`.
    pub fn set_blocked(&mut self, from: usize, to: usize, blocked: bool) {
        self.blocked[from * self.servers + to] = blocked;
    }

    /// Lifts every partition.
    pub fn heal(&mut self) {
        self.blocked.iter_mut().for_each(|b| *b = false);
    }

    /// Whether any partition is in force.
    pub fn partitioned(&self) -> bool {
        self.blocked.iter().any(|b| *b)
    }

    /// Every link index, for iteration.
    pub fn link_keys(&self) -> Vec<usize> {
        (0..self.servers)
            .flat_map(|a| (a + 1..self.servers).map(move |b| (a, b)))
            .map(|(a, b)| a * self.servers + b)
            .collect()
    }
}
