//! Peer messages between servers, and the network's faults: loss (which breaks a link),
//! partitions (symmetric and one-way), flapping links. See network.rs for the model.

use crate::world::{Event, World, MS};
use corral_core::zab::message::{decode, encode};
use corral_core::zab::PeerMessage;
use corral_core::{Input, ServerId};

/// Largest peer message the simulated transport accepts (a snapshot travels whole).
const PEER_MESSAGE_BYTES_MAX: usize = 64 << 20;

impl World {
    /// `from` sends `message` to server id `to`: it travels as bytes (the real codec) on their
    /// link, or is lost with the link.
    pub(crate) fn peer_send(&mut self, from: usize, to: ServerId, message: &PeerMessage) {
        let to = (to.0 - 1) as usize;
        let (key, dir) = self.net.key(from, to);
        if self.net.link(key).broken {
            return;
        }
        let target_down = self.servers[to].node.is_none();
        let lost = self.in_safety_phase()
            && self.options.peer_loss_probability > 0.0
            && self.chance(self.options.peer_loss_probability);
        if target_down || lost || self.net.is_blocked(from, to) {
            let why = if target_down {
                "peer down"
            } else if lost {
                "message lost"
            } else {
                "partition"
            };
            self.break_link(key, why);
            return;
        }
        if self.trace.keeps() {
            self.trace.detail(
                self.now,
                format_args!("s{} -> s{} {}", from + 1, to + 1, brief(message)),
            );
        }
        let bytes = encode(message);
        self.trace
            .mix(bytes.len() as u64 ^ ((from as u64) << 32) ^ to as u64);
        let lat = self.latency();
        let link = self.net.link(key);
        let at = (self.now + lat).max(link.last_delivery_ns[dir] + 1);
        link.last_delivery_ns[dir] = at;
        let generation = link.generation;
        self.schedule(
            at - self.now,
            Event::PeerDeliver {
                link: key,
                dir,
                generation,
                bytes,
            },
        );
    }

    pub(crate) fn peer_deliver(&mut self, key: usize, dir: usize, generation: u64, bytes: &[u8]) {
        let link = self.net.link(key);
        if link.generation != generation || link.broken {
            return;
        }
        let ends = self.net.ends(key);
        let (from, to) = (ends[dir], ends[1 - dir]);
        if self.servers[to].node.is_none() {
            return;
        }
        let message = match decode(bytes, PEER_MESSAGE_BYTES_MAX) {
            Ok(m) => m,
            Err(e) => {
                self.replicas
                    .violation("peer messages round-trip the codec", e.to_string());
                return;
            }
        };
        self.peer_messages += 1;
        if self.trace.keeps() {
            self.trace.detail(
                self.now,
                format_args!("s{} <- s{} {}", to + 1, from + 1, brief(&message)),
            );
        }
        let from = self.servers[from].id;
        self.server_input(to, Some(Input::Peer { from, message }));
    }

    /// Breaks link `key`: what is in flight is lost, and each live end is told after its own
    /// detection delay. The link reopens once every end was told.
    pub(crate) fn break_link(&mut self, key: usize, why: &str) {
        let ends = self.net.ends(key);
        self.trace.line(
            self.now,
            format_args!("link s{}-s{} breaks ({why})", ends[0] + 1, ends[1] + 1),
        );
        let generation = self.net.link(key).generation;
        self.net.link(key).broken = true;
        for (end, s) in ends.into_iter().enumerate() {
            if self.servers[s].node.is_none() {
                continue;
            }
            self.net.link(key).down_pending[end] = true;
            let delay = self.rand(1, self.options.link_detect_ms_max) * MS;
            self.schedule(
                delay,
                Event::PeerDown {
                    link: key,
                    end,
                    generation,
                },
            );
        }
        self.maybe_reopen(key);
    }

    fn maybe_reopen(&mut self, key: usize) {
        let link = self.net.link(key);
        if link.broken && link.down_pending == [false, false] {
            link.broken = false;
            link.generation += 1;
        }
    }

    pub(crate) fn peer_down(&mut self, key: usize, end: usize, generation: u64) {
        let link = self.net.link(key);
        if link.generation != generation || !link.down_pending[end] {
            return;
        }
        link.down_pending[end] = false;
        let ends = self.net.ends(key);
        let (me, peer) = (ends[end], ends[1 - end]);
        self.maybe_reopen(key);
        let peer = self.servers[peer].id;
        self.trace
            .line(self.now, format_args!("s{} peer down s{}", me + 1, peer.0));
        self.server_input(me, Some(Input::PeerDown { peer }));
    }

    /// Server `s` crashed: its links break; it needs no telling, its peers do.
    pub(crate) fn peers_of_crashed(&mut self, s: usize) {
        for key in self.net.link_keys() {
            let ends = self.net.ends(key);
            let Some(end) = ends.iter().position(|e| *e == s) else {
                continue;
            };
            if self.net.link(key).broken {
                self.net.link(key).down_pending[end] = false;
                self.maybe_reopen(key);
            } else {
                self.break_link(key, "crash");
            }
        }
    }

    /// Starts a partition: symmetric (two sides) or one-way (one direction between two groups).
    pub(crate) fn partition(&mut self) {
        let next = self.exp_delay(self.options.partition_interval_ms);
        self.schedule(next, Event::Partition);
        let n = self.servers.len();
        if !self.in_safety_phase() || self.net.partitioned() || n < 2 {
            return;
        }
        // Side A: a random non-empty proper subset, often the leader alone.
        let mut side = vec![false; n];
        match self.leader() {
            Some(l) if self.chance(0.5) => side[l] = true,
            _ => {
                for s in side.iter_mut() {
                    *s = self.chance(0.5);
                }
                if side.iter().all(|s| *s) || side.iter().all(|s| !*s) {
                    side[self.rand(0, n as u64 - 1) as usize] ^= true;
                }
            }
        }
        let one_way = self.chance(0.3);
        for a in 0..n {
            for b in 0..n {
                if side[a] && !side[b] {
                    self.net.set_blocked(a, b, true);
                    if !one_way {
                        self.net.set_blocked(b, a, true);
                    }
                }
            }
        }
        let members: Vec<usize> = (0..n).filter(|s| side[*s]).map(|s| s + 1).collect();
        self.trace.line(
            self.now,
            format_args!("PARTITION {members:?} one_way={one_way}"),
        );
        let mean = self.options.partition_ms_mean;
        let length = self.rand(mean / 2, mean * 3 / 2) * MS;
        self.schedule(length, Event::Heal);
    }

    pub(crate) fn heal(&mut self) {
        if self.net.partitioned() {
            self.trace.line(self.now, format_args!("HEAL"));
            self.net.heal();
        }
    }

    /// A random link breaks (a flapping link).
    pub(crate) fn flap(&mut self) {
        let next = self.exp_delay(self.options.flap_interval_ms);
        self.schedule(next, Event::Flap);
        if !self.in_safety_phase() {
            return;
        }
        let keys = self.net.link_keys();
        let key = keys[self.rand(0, keys.len() as u64 - 1) as usize];
        if !self.net.link(key).broken {
            self.break_link(key, "flap");
        }
    }
}

/// A short description of a message for the trace.
fn brief(m: &PeerMessage) -> String {
    match m {
        PeerMessage::Proposal(t) => format!("Proposal {} {:?}", t.zxid, t.opcode),
        PeerMessage::SyncTxn(t) => format!("SyncTxn {}", t.zxid),
        PeerMessage::Inform(t) => format!("Inform {}", t.zxid),
        PeerMessage::Snap { zxid, state } => format!("Snap {zxid} ({} bytes)", state.len()),
        PeerMessage::Forward { session, .. } => format!("Forward {session}"),
        other => format!("{other:?}"),
    }
}
