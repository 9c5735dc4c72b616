//! CPE names, from nmap's XML (2.2 URIs) and NVD's records (2.3 formatted strings): any
//! string gives a name or an error, and a name keeps the invariants the matcher relies on.

#![no_main]

use brulee::vulndb::cpe::{CpeName, CpeValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cpe) = CpeName::parse(text) else {
        return;
    };
    assert!(matches!(cpe.part, 'a' | 'o' | 'h'), "{cpe:?}");
    // ANY and NA are never values: an empty field or a bare `*` is ANY, a bare `-` is NA
    // (quoted or percent-encoded, `*` and `-` are characters).
    let quoted = text.contains(['\\', '%']);
    for value in [&cpe.version, &cpe.update] {
        if let CpeValue::Value(v) = value {
            assert!(!v.is_empty(), "an empty value: {cpe:?}");
            assert!(
                quoted || (v != "*" && v != "-"),
                "ANY or NA as a value: {cpe:?}"
            );
        }
    }
    // The matcher looks names up by their text: printing one must not fail.
    let _ = cpe.to_string();
});
