//! Comparing software versions the way NVD's version ranges mean them.
//!
//! Versions come in many dialects: `2.4.57`, OpenSSH's `9.2p1` (p-level after the release),
//! OpenSSL's `1.1.1k` (a letter is a later patch release), `1.0rc1` (pre-release, before
//! `1.0`), a distribution's `8.0.32-0ubuntu0.20.04.2` (the upstream part is what NVD knows) and
//! nmap's own `9.6.0 or later`. A version is split into runs of digits and runs of letters and
//! compared run by run; what one side lacks counts as zero, except that a trailing pre-release
//! word makes a version *earlier*, and any other trailing run makes it later.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Run {
    Num(u64),
    Word(String),
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

const PRE_RELEASE: &[&str] = &["dev", "snapshot", "alpha", "beta", "pre", "preview", "rc"];

impl Version {
    /// Parse a version; `None` when nothing in it looks like a version.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim().to_ascii_lowercase();
        let at_least = text.contains("or later");
        let first = text.split_whitespace().next()?;
        let first = first.strip_prefix('v').unwrap_or(first);
        let upstream = strip_distro_revision(first);
        let mut runs = Vec::new();
        let mut chars = upstream.chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_digit() {
                let mut n: u64 = 0;
                while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                    n = n.checked_mul(10)?.checked_add(u64::from(d))?;
                    chars.next();
                }
                runs.push(Run::Num(n));
            } else if c.is_ascii_alphabetic() {
                let mut word = String::new();
                while let Some(&c) = chars.peek().filter(|c| c.is_ascii_alphabetic()) {
                    word.push(c);
                    chars.next();
                }
                runs.push(Run::Word(word));
            } else {
                chars.next(); // separators: . - _ + ~ …
            }
            if runs.len() > MAX_RUNS {
                return None;
            }
        }
        if !runs.iter().any(|r| matches!(r, Run::Num(_))) {
            return None;
        }
        Some(Version { runs, at_least })
    }
}

impl Version {
    /// OpenSSH portable's `9.2p1` → `9.2`; `None` when there is no p-level.
    pub fn without_patch_level(&self) -> Option<Version> {
        match self.runs.as_slice() {
            [head @ .., Run::Word(p), Run::Num(_)] if p == "p" && !head.is_empty() => {
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

fn cmp_runs(a: &Run, b: &Run) -> Ordering {
    match (a, b) {
        (Run::Num(x), Run::Num(y)) => x.cmp(y),
        (Run::Word(x), Run::Word(y)) => match (pre_release_rank(x), pre_release_rank(y)) {
            (Some(i), Some(j)) => i.cmp(&j),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => x.cmp(y),
        },
        // "1.0rc1" < "1.0.1", and "9.2p1" before "9.2.1" (a rare mix, but it must be total).
        (Run::Word(_), Run::Num(_)) => Ordering::Less,
        (Run::Num(_), Run::Word(_)) => Ordering::Greater,
    }
}

/// How a version compares when the other has run out: earlier if it continues with a
/// pre-release word, equal if only zeros follow, later otherwise.
fn cmp_tail(tail: &[Run]) -> Ordering {
    match tail.first() {
        None => Ordering::Equal,
        Some(Run::Word(w)) if pre_release_rank(w).is_some() => Ordering::Less,
        Some(_) if tail.iter().all(|r| *r == Run::Num(0)) => Ordering::Equal,
        Some(_) => Ordering::Greater,
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        for (a, b) in self.runs.iter().zip(&other.runs) {
            match cmp_runs(a, b) {
                Ordering::Equal => continue,
                unequal => return unequal,
            }
        }
        let n = self.runs.len().min(other.runs.len());
        match self.runs.len().cmp(&other.runs.len()) {
            Ordering::Greater => cmp_tail(&self.runs[n..]),
            Ordering::Less => cmp_tail(&other.runs[n..]).reverse(),
            Ordering::Equal => Ordering::Equal,
        }
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

/// Compare two version strings the way dpkg compares the upstream part of a Debian version
/// (deb-version(7)): alternating runs of non-digits and digits; non-digits character by
/// character with letters before other characters and `~` before anything, even the end;
/// digits as numbers of any length. So "9.2p1" < "9.10", "1.0~rc1" < "1.0" and "1.0" <
/// "1.0a". Unlike [`Version`], it never refuses a string: plugins compare whatever they get
/// (Lua's `brulee.version_compare`).
pub fn compare_dpkg_style(a: &str, b: &str) -> Ordering {
    fn order(c: Option<&u8>) -> i32 {
        match c {
            Some(b'~') => -1,
            None => 0,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => i32::from(*c),
            Some(c) => i32::from(*c) + 256,
        }
    }
    fn digits(s: &[u8]) -> usize {
        s.iter().take_while(|c| c.is_ascii_digit()).count()
    }
    /// Numbers of any length: without leading zeros the longer is larger, and digit strings
    /// of one length compare as text.
    fn number(s: &[u8]) -> (usize, &[u8]) {
        let s = &s[s.iter().take_while(|&&c| c == b'0').count()..];
        (s.len(), s)
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
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
        let (da, db) = (digits(a), digits(b));
        match number(&a[..da]).cmp(&number(&b[..db])) {
            Ordering::Equal => {}
            other => return other,
        }
        a = &a[da..];
        b = &b[db..];
        if a.is_empty() && b.is_empty() {
            return Ordering::Equal;
        }
    }
}

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
            &"9".repeat(30),
            &"1.".repeat(100),
        ] {
            assert!(Version::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn dpkg_style_compares_as_people_read_versions() {
        use Ordering::*;
        assert_eq!(compare_dpkg_style("9.2p1", "9.10"), Less);
        assert_eq!(compare_dpkg_style("1.22.1", "1.22.1"), Equal);
        assert_eq!(compare_dpkg_style("2.4.10", "2.4.9"), Greater);
        assert_eq!(compare_dpkg_style("1.0~rc1", "1.0"), Less);
        assert_eq!(compare_dpkg_style("1.0", "1.0a"), Less);
        assert_eq!(compare_dpkg_style("010", "10"), Equal);
        // Debian's own examples (deb-version(7)) and bookworm's revisions.
        assert_eq!(compare_dpkg_style("2.4.71-1~deb12u1", "2.4.71-1"), Less);
        assert_eq!(compare_dpkg_style("9.2p1-2+deb12u3", "9.2p1-2"), Greater);
        assert_eq!(
            compare_dpkg_style("9.2p1-2+deb12u10", "9.2p1-2+deb12u3"),
            Greater
        );
        assert_eq!(compare_dpkg_style("3.0.3-13+b2", "3.0.3-13"), Greater);
        assert_eq!(
            compare_dpkg_style("1".repeat(500).as_str(), "2"),
            Greater,
            "numbers longer than any integer type still compare"
        );
    }
}
