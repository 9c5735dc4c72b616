//! Comparing software versions the way NVD's version ranges mean them.
//!
//! Versions come in many dialects: `2.4.57`, OpenSSH's `9.2p1` (p-level after the release),
//! OpenSSL's `1.1.1k` (a letter is a later patch release), `1.0rc1` (pre-release, before
//! `1.0`), a distribution's `8.0.32-0ubuntu0.20.04.2` (the upstream part is what NVD knows) and
//! nmap's own `9.6.0 or later`. A version is split into runs of digits and runs of letters and
//! compared run by run, what one side lacks counting as zero. Runs sort as: pre-release words
//! (`alpha` < `beta` < … < `rc`), then zero, then other words (`p1`, OpenSSL's `k`), then
//! numbers above zero; so `1.0rc1` < `1.0` = `1` < `1.0k` < `1.0.1`, and comparing is a total
//! order (sorting and range checks rely on it; the `version` fuzz target checks it).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Run {
    /// Digits without their leading zeros (zero is empty): numbers of any length; and the
    /// value when it fits in 64 bits, which compares faster (the CVE matcher compares a lot).
    Num(String, Option<u64>),
    /// Letters, and their rank when they are a pre-release word.
    Word(String, Option<usize>),
}

impl Run {
    fn num(digits: String) -> Run {
        let value = (digits.len() <= 19).then(|| digits.parse().unwrap_or(0));
        Run::Num(digits, value)
    }

    fn word(letters: String) -> Run {
        let rank = pre_release_rank(&letters);
        Run::Word(letters, rank)
    }

    fn is_zero(&self) -> bool {
        matches!(self, Run::Num(n, _) if n.is_empty())
    }
}

/// A parsed version; compare with `Ord`.
#[derive(Debug, Clone)]
pub struct Version {
    runs: Vec<Run>,
    /// nmap said "X or later": the real version is at least this.
    pub at_least: bool,
}

/// Versions longer than this are not versions (and would make comparisons slow).
const MAX_RUNS: usize = 32;
const MAX_LEN: usize = 512;

const PRE_RELEASE: &[&str] = &["dev", "snapshot", "alpha", "beta", "pre", "preview", "rc"];

impl Version {
    /// Parse a version; `None` when nothing in it looks like a version.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim().to_ascii_lowercase();
        let at_least = text.contains("or later");
        let first = text.split_whitespace().next()?;
        let first = first.strip_prefix('v').unwrap_or(first);
        let upstream = strip_distro_revision(first);
        if upstream.len() > MAX_LEN {
            return None;
        }
        let mut runs = Vec::new();
        let mut chars = upstream.chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_digit() {
                let mut digits = String::new();
                while let Some(&d) = chars.peek().filter(|c| c.is_ascii_digit()) {
                    if !(digits.is_empty() && d == '0') {
                        digits.push(d);
                    }
                    chars.next();
                }
                runs.push(Run::num(digits));
            } else if c.is_ascii_alphabetic() {
                let mut word = String::new();
                while let Some(&c) = chars.peek().filter(|c| c.is_ascii_alphabetic()) {
                    word.push(c);
                    chars.next();
                }
                runs.push(Run::word(word));
            } else {
                chars.next(); // separators: . - _ + ~ …
            }
            if runs.len() > MAX_RUNS {
                return None;
            }
        }
        if !runs.iter().any(|r| matches!(r, Run::Num(..))) {
            return None;
        }
        Some(Version { runs, at_least })
    }
}

impl Version {
    /// A text that two versions share exactly when they compare equal (`1.0` and `1.0.0`,
    /// `9.2P1` and `9.2p1`), and that parses back to an equal version: the runs without
    /// trailing zeros, joined by dots (zero written `0`, and no runs at all as `0`). Runs never
    /// hold a dot, so the text gives back the runs ([`Version::from_key`]). Equality by this
    /// text is a string comparison, and it can key a map or a database column.
    pub fn key(&self) -> String {
        let end = self
            .runs
            .iter()
            .rposition(|r| !r.is_zero())
            .map_or(0, |i| i + 1);
        if end == 0 {
            return "0".into();
        }
        let mut key = String::new();
        for (i, run) in self.runs[..end].iter().enumerate() {
            if i > 0 {
                key.push('.');
            }
            key.push_str(match run {
                Run::Num(n, _) if n.is_empty() => "0",
                Run::Num(n, _) | Run::Word(n, _) => n,
            });
        }
        key
    }

    /// The version a [`Version::key`] was made from; `None` for a text no key has.
    pub fn from_key(key: &str) -> Option<Version> {
        let mut runs = Vec::new();
        for run in key.split('.') {
            runs.push(match run {
                "0" => Run::num(String::new()),
                n if n.bytes().all(|b| b.is_ascii_digit())
                    && !n.starts_with('0')
                    && !n.is_empty() =>
                {
                    Run::num(n.into())
                }
                w if w.bytes().all(|b| b.is_ascii_lowercase()) && !w.is_empty() => {
                    Run::word(w.into())
                }
                _ => return None,
            });
        }
        Some(Version {
            runs,
            at_least: false,
        })
    }

    /// OpenSSH portable's `9.2p1` → `9.2`; `None` when there is no p-level.
    pub fn without_patch_level(&self) -> Option<Version> {
        match self.runs.as_slice() {
            [head @ .., Run::Word(p, _), Run::Num(..)] if p == "p" && !head.is_empty() => {
                Some(Version {
                    runs: head.to_vec(),
                    at_least: self.at_least,
                })
            }
            _ => None,
        }
    }
}

/// `8.0.32-0ubuntu0.20.04.2` → `8.0.32`; `2.4.71-1~deb12u1` → `2.4.71`. A hyphen that starts a
/// pre-release (`1.0-rc1`) stays.
fn strip_distro_revision(v: &str) -> &str {
    match v.find('-') {
        Some(i) => {
            let rest = &v[i + 1..];
            let distro = rest.starts_with(|c: char| c.is_ascii_digit())
                && ["ubuntu", "deb", "+", "~", "el", "fc", "bpo"]
                    .iter()
                    .any(|m| rest.contains(m));
            if distro {
                &v[..i]
            } else {
                v
            }
        }
        None => v,
    }
}

fn pre_release_rank(word: &str) -> Option<usize> {
    PRE_RELEASE.iter().position(|p| *p == word)
}

/// Compares two runs; a missing run (the shorter version has ended) is zero.
fn cmp_runs(a: Option<&Run>, b: Option<&Run>) -> Ordering {
    /// Pre-release words, zero, other words, other numbers.
    fn class(run: Option<&Run>) -> u8 {
        match run {
            Some(Run::Word(_, Some(_))) => 0,
            None => 1,
            Some(Run::Num(n, _)) if n.is_empty() => 1,
            Some(Run::Word(..)) => 2,
            Some(Run::Num(..)) => 3,
        }
    }
    class(a).cmp(&class(b)).then_with(|| match (a, b) {
        (Some(Run::Word(x, rx)), Some(Run::Word(y, ry))) => rx.cmp(ry).then_with(|| x.cmp(y)),
        // Without leading zeros, the longer number is the larger.
        (Some(Run::Num(_, Some(x))), Some(Run::Num(_, Some(y)))) => x.cmp(y),
        (Some(Run::Num(x, _)), Some(Run::Num(y, _))) => (x.len(), x).cmp(&(y.len(), y)),
        _ => Ordering::Equal,
    })
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (0..self.runs.len().max(other.runs.len()))
            .map(|i| cmp_runs(self.runs.get(i), other.runs.get(i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn orders_the_dialects_nvd_ranges_use() {
        let ascending = [
            ["1.0rc1", "1.0"],
            ["1.0", "1.0.1"],
            ["1.1.1", "1.1.1k"],
            ["1.1.1k", "1.1.1l"],
            ["1.0.1f", "1.0.1g"],
            ["9.2", "9.2p1"],
            ["9.2p1", "9.3p2"],
            ["9.3p1", "9.3p2"],
            ["2.4.9", "2.4.57"],
            ["2.4.57", "2.4.58"],
            ["1.0alpha", "1.0beta"],
            ["1.0beta2", "1.0rc1"],
            ["7.0.15", "7.2.4"],
        ];
        for [lo, hi] in ascending {
            assert!(v(lo) < v(hi), "{lo} < {hi}");
            assert!(v(hi) > v(lo), "{hi} > {lo}");
        }
        assert_eq!(v("1.0"), v("1.0.0"));
        assert_eq!(v("9.2p1"), v("9.2P1"));
        assert_eq!(v("v2.4.57"), v("2.4.57"));
    }

    #[test]
    fn keys_are_equal_exactly_when_versions_are() {
        let versions = [
            "1",
            "1.0",
            "1.0.0",
            "1.0.1",
            "1.0.1f",
            "1.0.1g",
            "9.2",
            "9.2p1",
            "9.2P1",
            "0.5",
            "1.0rc1",
            "1.0-rc1",
            "2.4.57",
            "v2.4.57",
            "8.0.32-0ubuntu0.20.04.2",
            "8.0.32",
            "1.a",
            "1.0a",
            "10",
            "1.0.0.0.0",
        ];
        for a in versions {
            assert_eq!(
                Version::from_key(&v(a).key()),
                Some(v(a)),
                "{a}'s key reads back"
            );
            for b in versions {
                assert_eq!(v(a) == v(b), v(a).key() == v(b).key(), "{a} vs {b}");
            }
        }
        assert_eq!(v("9.2p1").key(), "9.2.p.1");
        assert_eq!(v("1.0.0").key(), "1");
        assert_eq!(v("1.0.1").key(), "1.0.1");
        assert_eq!(v("0.0").key(), "0");
    }

    #[test]
    fn reads_distro_and_nmap_wording() {
        assert_eq!(v("8.0.32-0ubuntu0.20.04.2"), v("8.0.32"));
        assert_eq!(v("2.4.71-1~deb12u1"), v("2.4.71"));
        assert_eq!(v("8.2p1 Ubuntu 4ubuntu0.5"), v("8.2p1"));
        assert!(v("1.0-rc1") < v("1.0"), "a hyphenated pre-release is kept");
        let later = v("9.6.0 or later");
        assert!(later.at_least);
        assert_eq!(later, v("9.6.0"));
    }

    #[test]
    fn refuses_what_is_not_a_version() {
        for bad in [
            "",
            "   ",
            "unknown",
            "-",
            "*",
            &"9".repeat(600),
            &"1.".repeat(100),
        ] {
            assert!(Version::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn comparison_is_a_total_order_found_by_fuzzing() {
        // The `version` fuzz target's first crash: 7.0.0 = 7.0 < 7.0za0, yet 7.0.0 > 7.0za0
        // (a zero sorted after a word, a missing run before it).
        let (a, b, c) = (v("7.0.0"), v("7.0"), v("7.0za0"));
        assert_eq!(a, b);
        assert!(b < c && a < c);
        // Zero sits between pre-release words and other words, wherever it comes from.
        assert!(v("1.0.rc") < v("1") && v("1") < v("1.0.k") && v("1.0.k") < v("1.0.1"));
        assert!(v("1.rc") < v("1.0.rc") && v("1.0.rc") < v("1.0"));
        assert!(v("9.2p1") < v("9.2.1"), "a word before a number above zero");
    }

    #[test]
    fn numbers_of_any_length_compare_by_value() {
        let huge = format!("1{}", "0".repeat(400));
        assert!(v("1.5") < v(&huge));
        assert!(v(&format!("{huge}.1")) > v(&huge));
        assert_eq!(v("007.01"), v("7.1"));
        assert!(
            v("18446744073709551616") > v("18446744073709551615"),
            "past u64"
        );
    }
}
