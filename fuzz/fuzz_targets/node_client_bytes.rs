//! A standalone node fed arbitrary client bytes (split at arbitrary points, with fsyncs in
//! between) never panics and keeps its invariants (checked after every input in debug builds).
#![no_main]

use corral_core::{Config, ConnId, Input, Instant, Node, Now, Output, Recovered};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut now = Now {
        mono: Instant(1_000_000_000),
        wall_ms: 1_700_000_000_000,
    };
    let Ok(mut node) = Node::new(Config::standalone(500), Recovered::default(), 1, now) else {
        return;
    };
    let conn = ConnId(1);
    node.handle(now, Input::Connected { conn, ip: "127.0.0.1".into() });
    let mut at = 0;
    while at < data.len() {
        // The first byte of each chunk is its length: splits land anywhere.
        let len = (data[at] as usize % 64) + 1;
        let end = (at + 1 + len).min(data.len());
        node.handle(now, Input::Bytes { conn, bytes: data[at + 1.min(data.len() - at)..end].to_vec() });
        let mut through = None;
        while let Some(out) = node.poll_output() {
            if let Output::Sync { through: z } = out {
                through = Some(z);
            }
        }
        if let Some(through) = through {
            node.handle(now, Input::Persisted { through });
            while node.poll_output().is_some() {}
        }
        now.mono = now.mono.plus_ms(7);
        if node.poll_timeout().is_some_and(|t| t <= now.mono) {
            node.handle(now, Input::Timeout);
            while node.poll_output().is_some() {}
        }
        at = end;
    }
});
