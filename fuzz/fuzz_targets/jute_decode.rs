//! Any bytes decode to a request, a connect request or a typed error: never a panic, never an
//! allocation beyond the input.
#![no_main]

use corral_core::jute::{decode_request, ConnectRequest, ConnectResponse, Reader, Record, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_request(data);
    let _ = ConnectRequest::read(&mut Reader::new(data));
    let _ = ConnectResponse::from_bytes(data);
    if let Some((&opcode, rest)) = data.split_first() {
        let mut r = Reader::new(rest);
        let _ = Response::decode(i32::from(opcode as i8), &mut r);
    }
});
