//! NVD feeds (JSON 2.0 and 1.1) and CISA's KEV catalog, as `brulee db import` streams them:
//! any bytes give records or an error, never a panic.

#![no_main]

use brulee::vulndb::nvd::read_feed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read_feed(data, |_entry| Ok::<(), ()>(()));
});
