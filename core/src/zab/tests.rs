//! Election tests: a few servers exchange notifications in a seeded random order.

use super::*;
use crate::ids::{Epoch, ServerId, Zxid};
use crate::time::Instant;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};

struct Cluster {
    elections: BTreeMap<ServerId, Election>,
    /// Messages in flight: (to, from, notification).
    wire: Vec<(ServerId, ServerId, Notification)>,
    /// Servers that cannot talk to anyone outside their own side.
    cut: BTreeSet<ServerId>,
    now: Instant,
    rng: ChaCha8Rng,
}

impl Cluster {
    fn new(histories: &[(u64, u32, i64)], seed: u64) -> Cluster {
        let ids: BTreeSet<ServerId> = histories.iter().map(|h| ServerId(h.0)).collect();
        let elections = histories
            .iter()
            .map(|&(id, epoch, zxid)| {
                let e = Election::new(
                    ServerId(id),
                    ids.clone(),
                    ids.clone(),
                    Zxid(zxid),
                    Epoch(epoch),
                    0,
                );
                (ServerId(id), e)
            })
            .collect();
        Cluster {
            elections,
            wire: Vec::new(),
            cut: BTreeSet::new(),
            now: Instant(0),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    fn collect(&mut self) {
        for (id, e) in self.elections.iter_mut() {
            while let Some((to, n)) = e.poll_message() {
                self.wire.push((to, *id, n));
            }
        }
    }

    /// Delivers every message in a random order; decided servers answer looking ones with the
    /// outcome, as a following or leading server does.
    fn run(&mut self) {
        for _ in 0..10_000 {
            self.collect();
            if self.wire.is_empty() {
                self.now = self.now.plus_ms(FINALIZE);
                let now = self.now;
                for e in self.elections.values_mut() {
                    e.on_timeout(now);
                }
                self.collect();
                if self.wire.is_empty() {
                    return;
                }
            }
            // Links are FIFO (TCP): pick a random message, then deliver the oldest one on its link.
            let pick = (self.rng.next_u64() % self.wire.len() as u64) as usize;
            let link = (self.wire[pick].0, self.wire[pick].1);
            let i = self
                .wire
                .iter()
                .position(|m| (m.0, m.1) == link)
                .unwrap_or(pick);
            let (to, from, n) = self.wire.remove(i);
            if self.cut.contains(&to) != self.cut.contains(&from) {
                continue;
            }
            let now = self.now;
            let decided = self.elections.get(&to).and_then(Election::decision);
            match decided {
                Some(d) if n.state == PeerState::Looking => {
                    let state = if d.leader == to {
                        PeerState::Leading
                    } else {
                        PeerState::Following
                    };
                    let reply = Notification {
                        vote: d.vote,
                        round: d.round,
                        state,
                    };
                    self.wire.push((from, to, reply));
                }
                Some(_) => {}
                None => {
                    if let Some(e) = self.elections.get_mut(&to) {
                        e.on_notification(now, from, n);
                    }
                }
            }
        }
        panic!("election did not settle");
    }

    fn leaders(&self) -> BTreeMap<ServerId, Option<ServerId>> {
        self.elections
            .iter()
            .map(|(id, e)| (*id, e.decision().map(|d| d.leader)))
            .collect()
    }
}

const FINALIZE: u64 = super::election::FINALIZE_WAIT_MS;

#[test]
fn the_newest_history_wins_for_every_ensemble_size() {
    for n in 1..=7u64 {
        for seed in 0..20 {
            let histories: Vec<(u64, u32, i64)> = (1..=n)
                .map(|id| (id, 1, ((id * 7 + seed) % 5) as i64))
                .collect();
            let best = histories
                .iter()
                .map(|&(id, e, z)| (Epoch(e), Zxid(z), ServerId(id)))
                .max()
                .map(|k| k.2);
            let mut c = Cluster::new(&histories, seed);
            c.run();
            for (id, leader) in c.leaders() {
                assert_eq!(leader, best, "n={n} seed={seed} server {id:?}");
            }
        }
    }
}

#[test]
fn epoch_outranks_zxid_and_zxid_outranks_id() {
    let mut c = Cluster::new(&[(1, 2, 5), (2, 1, 900), (3, 2, 4)], 1);
    c.run();
    assert!(c.leaders().values().all(|l| *l == Some(ServerId(1))));
    let mut c = Cluster::new(&[(1, 1, 7), (2, 1, 7), (3, 1, 6)], 2);
    c.run();
    assert!(c.leaders().values().all(|l| *l == Some(ServerId(2))));
}

#[test]
fn a_minority_alone_never_decides_and_the_majority_does() {
    for seed in 0..20 {
        let mut c = Cluster::new(
            &[(1, 1, 9), (2, 1, 3), (3, 1, 3), (4, 1, 3), (5, 1, 3)],
            seed,
        );
        c.cut = [ServerId(1), ServerId(2)].into_iter().collect();
        c.run();
        let leaders = c.leaders();
        assert_eq!(leaders[&ServerId(1)], None, "seed {seed}");
        assert_eq!(leaders[&ServerId(2)], None, "seed {seed}");
        for id in 3..=5 {
            assert_eq!(leaders[&ServerId(id)], Some(ServerId(5)), "seed {seed}");
        }
    }
}

#[test]
fn a_late_server_joins_the_established_leader() {
    let mut c = Cluster::new(&[(1, 1, 1), (2, 1, 2), (3, 1, 3)], 4);
    c.cut = [ServerId(3)].into_iter().collect();
    c.run();
    assert_eq!(c.leaders()[&ServerId(1)], Some(ServerId(2)));
    // Server 3 has the newest history but comes back after the others settled: it must follow
    // the established leader rather than split the ensemble.
    c.cut.clear();
    if let Some(e) = c.elections.get_mut(&ServerId(3)) {
        e.rebroadcast();
    }
    c.run();
    assert_eq!(c.leaders()[&ServerId(3)], Some(ServerId(2)));
}
