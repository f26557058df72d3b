//! A voter of a 3-server ensemble fed arbitrary peer messages from arbitrary senders (what a
//! buggy or hostile peer could send) never panics and keeps its invariants.
#![no_main]

use corral_core::zab::message::decode;
use corral_core::{Config, Ensemble, Input, Instant, Node, Now, Recovered, ServerId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut now = Now {
        mono: Instant(1_000_000_000),
        wall_ms: 1_700_000_000_000,
    };
    let mut config = Config::standalone(100);
    config.server_id = ServerId(1);
    config.ensemble = Ensemble {
        voters: (1..=3).map(ServerId).collect(),
        observers: Default::default(),
    };
    let Ok(mut node) = Node::new(config, Recovered::default(), 1, now) else {
        return;
    };
    let mut at = 0;
    while at + 3 <= data.len() {
        // [sender][length][message bytes...][sender][length]...
        let from = ServerId(u64::from(data[at] % 5));
        let len = data[at + 1] as usize;
        let end = (at + 2 + len).min(data.len());
        if let Ok(message) = decode(&data[at + 2..end], 1 << 16) {
            node.handle(now, Input::Peer { from, message });
        } else if data[at] & 0x80 != 0 {
            node.handle(now, Input::PeerDown { peer: from });
        }
        while node.poll_output().is_some() {}
        now.mono = now.mono.plus_ms(u64::from(data[at + 1] % 50));
        if node.poll_timeout().is_some_and(|t| t <= now.mono) {
            node.handle(now, Input::Timeout);
            while node.poll_output().is_some() {}
        }
        at = end;
    }
});
