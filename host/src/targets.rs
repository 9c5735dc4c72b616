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
