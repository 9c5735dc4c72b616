//! Debian package versions, compared by dpkg's rules (deb-version(7)).
//!
//! A version is `[epoch:]upstream[-revision]`: the epoch compares as a number first, then the
//! upstream part, then the revision, each by alternating runs of non-digits (character by
//! character: `~` before the end of the string, the end before letters, letters before every
//! other character) and runs of digits (as numbers). So `2.4.71-1~deb12u1` < `2.4.71-1`,
//! `9.2p1-2+deb12u3` > `9.2p1-2`, `3.0.3-13+b2` > `3.0.3-13`, and `1:9.2p1-2+deb12u3` >
//! `9.2p1-2+deb12u10` (an epoch outweighs everything after it). A string without `:` or `-`
//! is all upstream, so plain versions (`9.2p1` < `9.10`) compare the same way.

use std::cmp::Ordering;

/// The parts of a Debian version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebVersion<'a> {
    /// The epoch's digits ("" when there is none, which means 0).
    pub epoch: &'a str,
    pub upstream: &'a str,
    pub revision: &'a str,
}

impl<'a> DebVersion<'a> {
    /// Split a version; never fails (a malformed epoch is read as part of the upstream).
    pub fn parse(text: &'a str) -> DebVersion<'a> {
        let text = text.trim();
        let (epoch, rest) = match text.split_once(':') {
            Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => (e, rest),
            _ => ("", text),
        };
        let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, ""));
        DebVersion {
            epoch,
            upstream,
            revision,
        }
    }

    /// Whether the text said its epoch (nmap's banners never do).
    pub fn has_epoch(&self) -> bool {
        !self.epoch.is_empty()
    }
}

/// Compare two Debian versions as `dpkg --compare-versions` does.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (DebVersion::parse(a), DebVersion::parse(b));
    compare_digits(a.epoch.as_bytes(), b.epoch.as_bytes())
        .then_with(|| compare_part(a.upstream.as_bytes(), b.upstream.as_bytes()))
        .then_with(|| compare_part(a.revision.as_bytes(), b.revision.as_bytes()))
}

/// dpkg's `order()`: `~` sorts before the end of the string, letters after it, anything else
/// after the letters; digits end a non-digit run (weight 0, like the end).
fn order(c: Option<&u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(*c),
        Some(c) => i32::from(*c) + 256,
    }
}

/// dpkg's `verrevcmp()` over one part (upstream or revision).
fn compare_part(mut a: &[u8], mut b: &[u8]) -> Ordering {
    while !a.is_empty() || !b.is_empty() {
        while a.first().is_some_and(|c| !c.is_ascii_digit())
            || b.first().is_some_and(|c| !c.is_ascii_digit())
        {
            let (x, y) = (order(a.first()), order(b.first()));
            if x != y {
                return x.cmp(&y);
            }
            a = a.get(1..).unwrap_or_default();
            b = b.get(1..).unwrap_or_default();
        }
        let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
        let (da, db) = (digits(a), digits(b));
        match compare_digits(&a[..da], &b[..db]) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        a = &a[da..];
        b = &b[db..];
    }
    Ordering::Equal
}

/// Two runs of digits as numbers of any length (leading zeros ignored, empty = 0).
fn compare_digits(a: &[u8], b: &[u8]) -> Ordering {
    let trim = |s: &[u8]| -> usize { s.iter().take_while(|&&c| c == b'0').count() };
    let (a, b) = (&a[trim(a)..], &b[trim(b)..]);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    /// Pairs checked against `dpkg --compare-versions A lt B` on Debian 12 (dpkg 1.21.22).
    #[test]
    fn orders_as_dpkg_does() {
        let ascending = [
            ("2.4.71-1~deb12u1", "2.4.71-1"),
            ("9.2p1-2", "9.2p1-2+deb12u3"),
            ("9.2p1-2+deb12u3", "9.2p1-2+deb12u10"),
            ("3.0.3-13", "3.0.3-13+b2"),
            ("9.2p1-2+deb12u10", "1:9.2p1-2+deb12u3"),
            ("1:9.2p1-2+deb12u1", "1:9.2p1-2+deb12u3"),
            ("1:9.2p1-2+deb12u10", "1:9.3p2-1"),
            ("1.0~rc1", "1.0"),
            ("1.0~~", "1.0~"),
            ("1.0", "1.0a"),
            ("1.0a", "1.0+"),
            ("1.0-1", "1.0+1-1"),
            ("1.0+1-1", "1.0.1-1"),
            ("7.0.15-1~deb12u6", "7.0.15-1~deb12u10"),
            ("5:7.0.15-1~deb12u1", "5:7.0.15-1"),
            ("1.18.0-6ubuntu14.4", "1.18.0-6ubuntu14.5"),
            ("1:8.9p1-3ubuntu0.7", "1:8.9p1-3ubuntu0.10"),
            ("9.2p1", "9.10"),
            ("2.4.9", "2.4.10"),
            ("0", "1:0"),
            ("99999999999999999999", "100000000000000000000"),
        ];
        for (lo, hi) in ascending {
            assert_eq!(compare(lo, hi), Less, "{lo} < {hi}");
            assert_eq!(compare(hi, lo), Greater, "{hi} > {lo}");
        }
        for (a, b) in [
            ("1.22.1", "1.22.1"),
            ("010", "10"),
            ("0:1.0-1", "1.0-1"),
            ("1.0-0", "1.0"),
        ] {
            assert_eq!(compare(a, b), Equal, "{a} = {b}");
        }
    }

    #[test]
    fn splits_epoch_upstream_and_revision() {
        let v = DebVersion::parse("1:9.2p1-2+deb12u3");
        assert_eq!(
            (v.epoch, v.upstream, v.revision),
            ("1", "9.2p1", "2+deb12u3")
        );
        let v = DebVersion::parse("1.2.3-rc1-4");
        assert_eq!((v.epoch, v.upstream, v.revision), ("", "1.2.3-rc1", "4"));
        let v = DebVersion::parse("x:1.0");
        assert!(!v.has_epoch());
        assert_eq!(v.upstream, "x:1.0");
    }
}
