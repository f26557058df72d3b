//! Peer frames decode totally, and what decodes re-encodes to bytes that decode to the same
//! message.
#![no_main]

use corral_core::zab::message::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = decode(data, 1 << 20) {
        let again = decode(&encode(&message), 1 << 20).expect("re-encoded message decodes");
        assert_eq!(again, message);
    }
});
