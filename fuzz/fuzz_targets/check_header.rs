//! The `SEEK_CUSTOM_AUTH` parser (docs/contract/5-device-check.md): it never panics, and what it
//! accepts is a valid triple that survives being encoded again the way the
//! desktop client does.
//!
//! The first byte picks how the rest becomes the header value: as it is (any
//! bytes at all), or base64-encoded first in one of the accepted forms, so
//! that the fuzzer also explores the JSON behind a well-formed base64 layer.
#![no_main]

use auth_http::{parse_credentials, Malformed};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let value = match mode % 5 {
        0 => rest.to_vec(),
        1 => STANDARD.encode(rest).into_bytes(),
        2 => STANDARD_NO_PAD.encode(rest).into_bytes(),
        3 => URL_SAFE.encode(rest).into_bytes(),
        _ => URL_SAFE_NO_PAD.encode(rest).into_bytes(),
    };
    match parse_credentials(&value) {
        Ok(credentials) => {
            assert!(auth_core::valid_machine_id(&credentials.machine_id));
            let again = STANDARD.encode(
                serde_json::json!({
                    "username": credentials.username,
                    "password": credentials.password.expose(),
                    "machine_id": credentials.machine_id,
                })
                .to_string(),
            );
            assert_eq!(parse_credentials(again.as_bytes()), Ok(credentials));
        }
        Err(Malformed::Empty) => assert!(value.iter().all(u8::is_ascii_whitespace)),
        Err(Malformed::NotBase64) => assert_eq!(mode % 5, 0, "valid base64 refused"),
        Err(_) => {}
    }
});
