//! The version comparators: NVD's (`Version`, for version ranges) and dpkg's, which
//! Lua plugins call (`brulee.version_compare`). Up to three versions, one per line: parsing
//! never panics, and both comparisons are total orders (reflexive, antisymmetric,
//! transitive), which sorting and range checks depend on; and two versions share a key
//! (`Version::key`, the CVE matcher's index) exactly when they compare equal, and a key
//! reads back as its version.

#![no_main]

use std::cmp::Ordering;

use brulee::vulndb::{debversion, version::Version};
use libfuzzer_sys::fuzz_target;

fn assert_total_order<T: std::fmt::Debug>(items: &[T], cmp: impl Fn(&T, &T) -> Ordering) {
    for a in items {
        assert_eq!(cmp(a, a), Ordering::Equal, "{a:?} is not equal to itself");
        for b in items {
            assert_eq!(
                cmp(a, b),
                cmp(b, a).reverse(),
                "{a:?} and {b:?} compare differently each way round"
            );
            for c in items {
                if cmp(a, b) != Ordering::Greater && cmp(b, c) != Ordering::Greater {
                    assert_ne!(
                        cmp(a, c),
                        Ordering::Greater,
                        "{a:?} <= {b:?} <= {c:?} but {a:?} > {c:?}"
                    );
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let texts: Vec<&str> = text.splitn(3, '\n').collect();
    assert_total_order(&texts, |a, b| debversion::compare(a, b));
    let versions: Vec<Version> = texts.iter().filter_map(|t| Version::parse(t)).collect();
    for v in &versions {
        let _ = v.without_patch_level();
    }
    assert_total_order(&versions, Version::cmp);
    for a in &versions {
        for b in &versions {
            assert_eq!(a == b, a.key() == b.key(), "{a:?} and {b:?}: keys disagree with ==");
        }
        match Version::from_key(&a.key()) {
            Some(back) => assert_eq!(&back, a, "{a:?}'s key reads back as another version"),
            None => panic!("{a:?}'s key {:?} does not read back", a.key()),
        }
    }
});
