//! Scan targets: what the user (or a target file) names, checked before nmap sees it.
//!
//! nmap reads its command line as options and targets alike, so a "target" such as
//! `-iL /etc/shadow` or `--script=…` would be an nmap flag. brulee accepts only strings that
//! are unambiguously targets — addresses, CIDR blocks, nmap octet ranges, host names — and
//! refuses everything else with the reason.

use std::fmt;
use std::net::Ipv6Addr;
use std::path::Path;

/// One validated target, as nmap will receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    text: String,
    family: Family,
}

/// nmap scans one address family per run (`-6` for IPv6) and silently skips targets of the
/// other, so targets are split by family into separate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Target {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// How many addresses it names: a CIDR block its size, an nmap range the product of its
    /// octets (times the block size when it has a prefix too, an upper bound), a host name one
    /// (or its block, `name/30`).
    pub fn address_count(&self) -> u128 {
        let (body, prefix) = split_prefix(&self.text);
        let (width, base) = match self.family {
            Family::Ipv6 => (128, 1),
            Family::Ipv4 if is_ipv4_pattern(body) => (
                32,
                body.split('.')
                    .map(|o| octet_values(o).len() as u128)
                    .product(),
            ),
            Family::Ipv4 => (32, 1),
        };
        let bits = width - prefix.unwrap_or(width).min(width);
        let block = 1u128.checked_shl(bits).unwrap_or(u128::MAX);
        base.saturating_mul(block)
    }

    /// The name nmap will resolve, when the target is a host name.
    pub fn host_name(&self) -> Option<&str> {
        let (body, _) = split_prefix(&self.text);
        (self.family == Family::Ipv4 && !is_ipv4_pattern(body)).then_some(body)
    }
}

/// `body/prefix` → (body, prefix); a prefix that is not a number (parse refused those) is
/// none.
fn split_prefix(text: &str) -> (&str, Option<u32>) {
    match text.split_once('/') {
        Some((body, prefix)) => (body, prefix.parse().ok()),
        None => (text, None),
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{origin}: target {target:?} refused: {reason}")]
    Invalid {
        origin: String,
        target: String,
        reason: String,
    },
    #[error("could not read target file {path}: {err}")]
    File { path: String, err: std::io::Error },
    #[error("no targets given: name at least one address, range, CIDR block, host name or @FILE (e.g. `brulee scan 127.0.0.1`)")]
    Empty,
    #[error(
        "{scope} {count} addresses (the largest target: {largest}, {largest_count}), more than \
         --max-hosts {limit}: a mistyped prefix (/8 for /24) can start a scan of millions of \
         hosts. If you mean it, confirm with --max-hosts {count}"
    )]
    TooMany {
        /// "the targets name" or "shard 2/4 covers".
        scope: String,
        count: u128,
        limit: u64,
        largest: String,
        largest_count: u128,
    },
    #[error("{}", unresolvable_message(.0))]
    Unresolvable(Vec<(String, String)>),
}

fn unresolvable_message(names: &[(String, String)]) -> String {
    let list: Vec<String> = names
        .iter()
        .map(|(name, why)| format!("{name:?} ({why})"))
        .collect();
    format!(
        "{} not resolve: {}; check the spelling, or give the address instead",
        if names.len() == 1 {
            "this host name does"
        } else {
            "these host names do"
        },
        list.join(", ")
    )
}

/// What `--max-hosts` allows when not given: a /16. Larger scans are rarely meant, and a /8
/// typed for a /24 should be caught before nmap starts.
pub const DEFAULT_MAX_HOSTS: u64 = 1 << 16;

/// Refuse targets that name more than `limit` addresses; with `shard` (I, N), only the part
/// that this process scans counts.
pub fn check_count(
    targets: &[Target],
    shard: Option<(usize, usize)>,
    limit: u64,
) -> Result<(), TargetError> {
    let total = targets
        .iter()
        .map(Target::address_count)
        .fold(0u128, u128::saturating_add);
    let (count, scope) = match shard {
        // The same split as `shard`, on the count.
        Some((index, parts)) => {
            let part = |i: usize| total.saturating_mul(i as u128) / parts as u128;
            (
                part(index + 1) - part(index),
                format!("shard {index}/{parts} covers"),
            )
        }
        None => (total, "the targets name".to_string()),
    };
    if count <= u128::from(limit) {
        return Ok(());
    }
    let largest = targets
        .iter()
        .max_by_key(|t| t.address_count())
        .expect("a count above the limit comes from some target");
    Err(TargetError::TooMany {
        scope,
        count,
        limit,
        largest: largest.to_string(),
        largest_count: largest.address_count(),
    })
}

/// Resolve every host name among the targets, so that a misspelt one stops the scan before
/// nmap starts (nmap itself only warns and scans the rest).
pub fn check_resolvable(targets: &[Target]) -> Result<(), TargetError> {
    use std::net::ToSocketAddrs;
    let mut names: Vec<&str> = targets.iter().filter_map(Target::host_name).collect();
    names.sort_unstable();
    names.dedup();
    let lookup = |name: &&str| match (*name, 0u16).to_socket_addrs() {
        Ok(addrs) if addrs.len() > 0 => None,
        Ok(_) => Some((name.to_string(), "no addresses".to_string())),
        Err(e) => Some((name.to_string(), e.to_string())),
    };
    // Lookups wait on DNS, not on the CPU: a long target file resolves in parallel.
    const LOOKUP_THREADS: usize = 16;
    let chunk = names.len().div_ceil(LOOKUP_THREADS).max(1);
    let failed: Vec<(String, String)> = std::thread::scope(|scope| {
        let workers: Vec<_> = names
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().filter_map(lookup).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a lookup does not panic"))
            .collect()
    });
    if failed.is_empty() {
        Ok(())
    } else {
        Err(TargetError::Unresolvable(failed))
    }
}

/// Characters that mean something to a shell or to nmap's argument parser; none occurs in a
/// real target (`*` is allowed separately, in IPv4 octet ranges only).
const FORBIDDEN: &[char] = &[
    ';', '|', '&', '$', '`', '\'', '"', '<', '>', '(', ')', '{', '}', '[', ']', '?', '!', '\\',
    '=', '~', '^', '#',
];

/// Parse the targets given on the command line; `@FILE` reads one or more per line from FILE
/// (blank lines and `#` comments are skipped, as in Flan Scan's ips.txt).
pub fn parse_args(args: &[String]) -> Result<Vec<Target>, TargetError> {
    let mut targets = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if let Some(path) = arg.strip_prefix('@') {
            targets.extend(read_file(Path::new(path))?);
        } else {
            targets.push(parse(arg).map_err(|reason| TargetError::Invalid {
                origin: format!("argument {}", i + 1),
                target: arg.clone(),
                reason,
            })?);
        }
    }
    if targets.is_empty() {
        return Err(TargetError::Empty);
    }
    Ok(targets)
}

fn read_file(path: &Path) -> Result<Vec<Target>, TargetError> {
    let text = std::fs::read_to_string(path).map_err(|err| TargetError::File {
        path: path.display().to_string(),
        err,
    })?;
    let mut targets = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default();
        for word in line.split_whitespace() {
            targets.push(parse(word).map_err(|reason| TargetError::Invalid {
                origin: format!("{}:{}", path.display(), n + 1),
                target: word.to_string(),
                reason,
            })?);
        }
    }
    Ok(targets)
}

/// Check one target string; the error says why it was refused.
pub fn parse(text: &str) -> Result<Target, String> {
    if text.is_empty() {
        return Err("it is empty".into());
    }
    if text.starts_with('-') {
        return Err("it starts with '-', so nmap would read it as an option; \
                    pass nmap options with --nmap-arg instead"
            .into());
    }
    if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "it contains whitespace or a control character ({c:?}); give one target per argument"
        ));
    }
    if let Some(c) = text.chars().find(|c| FORBIDDEN.contains(c)) {
        return Err(format!(
            "it contains {c:?}, which no address, range or host name has"
        ));
    }
    let (body, prefix) = match text.split_once('/') {
        Some((body, prefix)) => (body, Some(prefix)),
        None => (text, None),
    };
    if body.contains(':') {
        let _: Ipv6Addr = body
            .parse()
            .map_err(|_| "it is not a valid IPv6 address".to_string())?;
        check_prefix(prefix, 128)?;
        return Ok(Target {
            text: text.into(),
            family: Family::Ipv6,
        });
    }
    if is_ipv4_pattern(body) {
        check_ipv4_pattern(body)?;
        check_prefix(prefix, 32)?;
        return Ok(Target {
            text: text.into(),
            family: Family::Ipv4,
        });
    }
    check_host_name(body)?;
    check_prefix(prefix, 32)?;
    Ok(Target {
        text: text.into(),
        family: Family::Ipv4,
    })
}

fn check_prefix(prefix: Option<&str>, max: u8) -> Result<(), String> {
    match prefix {
        None => Ok(()),
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => Ok(()),
            _ => Err(format!("{p:?} is not a prefix length from 0 to {max}")),
        },
    }
}

/// Four dot-separated parts made only of digits, `*`, `,` and `-`: an address or an nmap
/// octet range such as `192.168.1-5.1,3` (anything else with dots is a host name).
fn is_ipv4_pattern(body: &str) -> bool {
    let parts: Vec<&str> = body.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || "*,-".contains(c)))
}

fn check_ipv4_pattern(body: &str) -> Result<(), String> {
    for octet in body.split('.') {
        if octet == "*" {
            continue;
        }
        for item in octet.split(',') {
            let (lo, hi) = item.split_once('-').unwrap_or((item, item));
            let bound = |s: &str, default: u16| -> Result<u16, String> {
                if s.is_empty() {
                    return Ok(default); // nmap allows open ranges: "-5", "250-"
                }
                match s.parse::<u16>() {
                    Ok(n) if n <= 255 => Ok(n),
                    _ => Err(format!("{octet:?} is not an octet or octet range (0-255)")),
                }
            };
            let (lo, hi) = (bound(lo, 0)?, bound(hi, 255)?);
            if lo > hi {
                return Err(format!("octet range {item:?} runs backwards"));
            }
        }
    }
    Ok(())
}

fn check_host_name(name: &str) -> Result<(), String> {
    let bad = || format!("{name:?} is neither an IP address, an nmap range nor a valid host name");
    if name.len() > 253 || name.split('.').any(|l| l.is_empty() && name != ".") {
        return Err(bad());
    }
    for label in name.trim_end_matches('.').split('.') {
        let ok_chars = label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if label.is_empty()
            || label.len() > 63
            || !ok_chars
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(bad());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_nmap_calls_a_target() {
        for ok in [
            "127.0.0.1",
            "127.0.0.0/8",
            "127.0.0.2-5",
            "127.0.0.1,3,5-7",
            "127.0.*.1",
            "::1",
            "fe80::1/64",
            "localhost",
            "host-1.example.internal",
            "scanme.example.org/30",
        ] {
            assert!(
                parse(ok).is_ok(),
                "{ok} should be accepted: {:?}",
                parse(ok)
            );
        }
        assert_eq!(parse("::1").unwrap().family(), Family::Ipv6);
        assert_eq!(parse("localhost").unwrap().family(), Family::Ipv4);
    }

    #[test]
    fn refuses_anything_that_could_smuggle_an_option() {
        for bad in [
            "-iL",
            "-iL /etc/shadow",
            "--script=http-brute",
            "--script",
            "127.0.0.1 -oN /tmp/x",
            "127.0.0.1;id",
            "$(id)",
            "`id`",
            "a|b",
            "",
            "127.0.0.1\n-iR",
            "300.1.1.1",
            "127.0.0.5-2",
            "127.0.0.1/33",
            "::1/129",
            "not_an:address",
            "-",
            "host..name",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn a_target_file_skips_blank_lines_and_comments_and_names_the_bad_line() {
        let dir = std::env::temp_dir().join(format!("brulee-targets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ips.txt");
        std::fs::write(
            &file,
            "# our hosts\n127.0.0.2\n\n   \n127.0.0.3 # web\n::1\n",
        )
        .unwrap();
        let targets = parse_args(&[format!("@{}", file.display())]).unwrap();
        let names: Vec<_> = targets.iter().map(Target::as_str).collect();
        assert_eq!(names, ["127.0.0.2", "127.0.0.3", "::1"]);

        std::fs::write(&file, "127.0.0.2\n-iL /etc/shadow\n").unwrap();
        let err = parse_args(&[format!("@{}", file.display())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("ips.txt:2"), "{err}");

        // A file of nothing but comments is no targets, not an empty scan.
        std::fs::write(&file, "# nothing\n\n").unwrap();
        assert!(matches!(
            parse_args(&[format!("@{}", file.display())]),
            Err(TargetError::Empty)
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// More addresses than this in one scan are refused when splitting work (`--shard`,
/// `--parallel`): a typo such as /8 for /24 should not start a 16-million-host scan.
pub const MAX_EXPANDED: usize = 1 << 20;

/// Every address the targets name, sorted (IPv4, then IPv6, numerically; then host names) and
/// without duplicates, so that work can be split into parts that cover each address once.
/// CIDR blocks and nmap ranges become single addresses; host names stay as they are (nmap
/// resolves them).
pub fn expand(targets: &[Target]) -> Result<Vec<Target>, TargetError> {
    use std::net::{IpAddr, Ipv4Addr};
    let too_many = |t: &Target| TargetError::Invalid {
        origin: "splitting the scan".into(),
        target: t.to_string(),
        reason: format!(
            "it names more than {MAX_EXPANDED} addresses; split it into smaller blocks"
        ),
    };
    let mut addresses: Vec<IpAddr> = Vec::new();
    let mut names: Vec<Target> = Vec::new();
    for target in targets {
        if target.address_count() > MAX_EXPANDED as u128 {
            return Err(too_many(target));
        }
        let (body, prefix) = split_prefix(&target.text);
        if target.family == Family::Ipv6 {
            let ip: Ipv6Addr = body.parse().map_err(|_| too_many(target))?;
            let bits = 128 - prefix.unwrap_or(128);
            let base = u128::from(ip) & !((1u128 << bits) - 1);
            addresses.extend((0..(1u128 << bits)).map(|i| IpAddr::V6(Ipv6Addr::from(base + i))));
        } else if is_ipv4_pattern(body) {
            let octets: Vec<Vec<u8>> = body.split('.').map(octet_values).collect();
            let bits = 32 - prefix.unwrap_or(32);
            for a in &octets[0] {
                for b in &octets[1] {
                    for c in &octets[2] {
                        for d in &octets[3] {
                            let ip = u32::from(Ipv4Addr::new(*a, *b, *c, *d));
                            let mask = if bits == 32 { 0 } else { !((1u32 << bits) - 1) };
                            let base = ip & mask;
                            addresses.extend(
                                (0..(1u64 << bits))
                                    .map(|i| IpAddr::V4(Ipv4Addr::from(base + i as u32))),
                            );
                        }
                    }
                }
            }
        } else {
            names.push(target.clone());
        }
        if addresses.len() > MAX_EXPANDED {
            return Err(too_many(target));
        }
    }
    addresses.sort();
    addresses.dedup();
    names.sort_by(|a, b| a.text.cmp(&b.text));
    names.dedup();
    let mut out: Vec<Target> = addresses
        .into_iter()
        .map(|ip| Target {
            text: ip.to_string(),
            family: if ip.is_ipv6() {
                Family::Ipv6
            } else {
                Family::Ipv4
            },
        })
        .collect();
    out.extend(names);
    Ok(out)
}

/// The values of one octet of an nmap range ("1-3,7", "*", "-5").
fn octet_values(octet: &str) -> Vec<u8> {
    if octet == "*" {
        return (0..=255).collect();
    }
    let mut values: Vec<u8> = Vec::new();
    for item in octet.split(',') {
        let (lo, hi) = item.split_once('-').unwrap_or((item, item));
        let lo: u8 = if lo.is_empty() {
            0
        } else {
            lo.parse().unwrap_or(0)
        };
        let hi: u8 = if hi.is_empty() {
            255
        } else {
            hi.parse().unwrap_or(255)
        };
        values.extend(lo..=hi);
    }
    values.sort_unstable();
    values.dedup();
    values
}

/// Part `index` of `count` (0-based) of an expanded, sorted target list: contiguous and as
/// equal in size as possible, so that `count` processes cover every target exactly once
/// whatever order the targets were given in.
pub fn shard(expanded: &[Target], index: usize, count: usize) -> &[Target] {
    let start = index * expanded.len() / count;
    let end = (index + 1) * expanded.len() / count;
    &expanded[start..end]
}

#[cfg(test)]
mod split_tests {
    use super::*;

    fn texts(t: &[Target]) -> Vec<String> {
        t.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn expands_ranges_and_blocks_sorted_and_once() {
        let targets = parse_args(&[
            "127.0.0.3".into(),
            "127.0.0.1-2".into(),
            "127.0.0.2/31".into(),
            "::1".into(),
            "localhost".into(),
        ])
        .unwrap();
        assert_eq!(
            texts(&expand(&targets).unwrap()),
            ["127.0.0.1", "127.0.0.2", "127.0.0.3", "::1", "localhost"]
        );
        let block = expand(&parse_args(&["10.0.0.0/24".into()]).unwrap()).unwrap();
        assert_eq!(block.len(), 256);
        assert_eq!(block[255].to_string(), "10.0.0.255");
        let range = expand(&parse_args(&["10.0.1-2.1,3".into()]).unwrap()).unwrap();
        assert_eq!(
            texts(&range),
            ["10.0.1.1", "10.0.1.3", "10.0.2.1", "10.0.2.3"]
        );
        assert!(
            expand(&parse_args(&["10.0.0.0/8".into()]).unwrap()).is_err(),
            "16M addresses"
        );
        assert!(expand(&parse_args(&["fe80::/64".into()]).unwrap()).is_err());
    }

    #[test]
    fn shards_cover_every_target_once_whatever_the_order() {
        let a = expand(&parse_args(&["127.0.0.0/28".into(), "127.0.1.1".into()]).unwrap()).unwrap();
        let b = expand(
            &parse_args(&[
                "127.0.1.1".into(),
                "127.0.0.8/29".into(),
                "127.0.0.0/29".into(),
            ])
            .unwrap(),
        )
        .unwrap();
        assert_eq!(a, b);
        let mut seen = Vec::new();
        for i in 0..4 {
            let part = shard(&a, i, 4);
            assert!(
                part.len() == 4 || part.len() == 5,
                "balanced: {}",
                part.len()
            );
            seen.extend(texts(part));
        }
        assert_eq!(seen, texts(&a));
        assert!(shard(&a[..2], 3, 4).len() <= 1);
    }

    #[test]
    fn counts_addresses_without_expanding_them() {
        let count = |t: &str| parse(t).unwrap().address_count();
        assert_eq!(count("127.0.0.1"), 1);
        assert_eq!(count("10.0.0.0/8"), 1 << 24);
        assert_eq!(count("0.0.0.0/0"), 1 << 32);
        assert_eq!(count("10.0.1-2.1,3"), 4);
        assert_eq!(count("10.*.*.*"), 1 << 24);
        assert_eq!(count("::1"), 1);
        assert_eq!(count("fe80::/64"), 1 << 64);
        assert_eq!(count("::/0"), u128::MAX, "2^128 saturates");
        assert_eq!(count("localhost"), 1);
        assert_eq!(count("scanme.example.org/30"), 4);
    }

    #[test]
    fn a_scan_larger_than_the_limit_is_refused_with_how_to_confirm() {
        let targets = parse_args(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        let err = check_count(&targets, None, DEFAULT_MAX_HOSTS).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("the targets name 16777217 addresses")
                && text.contains("10.0.0.0/8, 16777216")
                && text.contains("confirm with --max-hosts 16777217"),
            "{text}"
        );
        assert!(check_count(&targets, None, 16_777_217).is_ok());
        // A shard counts only its own part.
        assert!(check_count(&targets, Some((0, 256)), DEFAULT_MAX_HOSTS).is_ok());
        let err = check_count(&targets, Some((1, 4)), DEFAULT_MAX_HOSTS).unwrap_err();
        assert!(
            err.to_string().contains("shard 1/4 covers 4194304"),
            "{err}"
        );
        let v6 = parse_args(&["::/0".into()]).unwrap();
        assert!(check_count(&v6, None, u64::MAX).is_err());
    }

    #[test]
    fn host_names_that_do_not_resolve_are_named() {
        let targets = parse_args(&[
            "localhost".into(),
            "127.0.0.1".into(),
            // RFC 6761: .invalid never resolves.
            "brulee-test.invalid".into(),
            "brulee-test.invalid/30".into(),
        ])
        .unwrap();
        let err = check_resolvable(&targets).unwrap_err().to_string();
        assert!(
            err.starts_with("this host name does not resolve: \"brulee-test.invalid\" ("),
            "{err}"
        );
        assert!(err.ends_with("check the spelling, or give the address instead"));
        assert!(check_resolvable(&targets[..2]).is_ok());
    }
}
