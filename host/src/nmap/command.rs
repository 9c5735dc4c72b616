//! The nmap command line brulee runs.
//!
//! The defaults are Flan Scan's: host discovery, SYN scan when privileged (else a connect
//! scan), nmap's top 1000 ports, `-sV` service and version detection, and the `vulners` script.

use std::time::Duration;

use crate::targets::{Family, Target};

/// What the user asked of the scan.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// nmap's `-p` list.
    pub ports: Option<String>,
    /// nmap's `--top-ports N`.
    pub top_ports: Option<u32>,
    /// Add a UDP scan (`-sU`); needs root.
    pub udp: bool,
    /// Run the `vulners` script.
    pub vulners: bool,
    /// No reverse DNS (`-n`).
    pub no_dns: bool,
    /// Extra arguments passed to nmap as they are.
    pub extra_args: Vec<String>,
    /// How often nmap reports progress in its XML stream.
    pub stats_every: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum NmapArgError {
    #[error("--nmap-arg {arg:?} is not allowed: {reason}")]
    Refused { arg: String, reason: &'static str },
    #[error("-p {ports:?} is not a port list; use numbers, ranges and protocol prefixes, e.g. -p 22,80,8000-8100 or -p T:22,U:53")]
    Ports { ports: String },
    #[error("a UDP scan (--udp) needs root privileges; run brulee as root or with sudo")]
    UdpNeedsRoot,
}

/// Options that would take brulee's place (its XML pipe) or add targets behind its back.
const REFUSED: &[(&str, &str)] = &[
    (
        "-oX",
        "brulee reads nmap's XML itself; use -o DIR for where reports go",
    ),
    (
        "-oA",
        "brulee reads nmap's XML itself; use -o DIR for where reports go",
    ),
    (
        "-iL",
        "give target files as @FILE, so brulee can check every target",
    ),
    ("-iR", "brulee scans only the targets it is given"),
    ("--resume", "resuming is not supported"),
    ("-6", "brulee picks the address family from the targets"),
    ("--stylesheet", "brulee does not need nmap's stylesheet"),
];

/// Check the options before any process starts, so mistakes are reported before the scan.
pub fn validate(opts: &ScanOptions, privileged: bool) -> Result<(), NmapArgError> {
    for arg in &opts.extra_args {
        if let Some((_, reason)) = REFUSED
            .iter()
            .find(|(flag, _)| arg == flag || arg.starts_with(&format!("{flag}=")))
        {
            return Err(NmapArgError::Refused {
                arg: arg.clone(),
                reason,
            });
        }
    }
    if let Some(ports) = &opts.ports {
        let ok = !ports.is_empty()
            && !ports.starts_with('-')
            && ports
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ",-:*[]".contains(c));
        if !ok {
            return Err(NmapArgError::Ports {
                ports: ports.clone(),
            });
        }
    }
    if opts.udp && !privileged {
        return Err(NmapArgError::UdpNeedsRoot);
    }
    Ok(())
}

/// More targets than this go to nmap in a file (`-iL`) that brulee writes, not on the command
/// line, which has a length limit.
const MAX_TARGET_ARGS: usize = 128;

/// The arguments of one nmap run over targets of one address family. The XML goes to stdout.
/// Long target lists are written to `target_file` and passed with `-iL`.
pub fn nmap_args(
    opts: &ScanOptions,
    family: Family,
    targets: &[Target],
    target_file: &std::path::Path,
    privileged: bool,
) -> std::io::Result<Vec<String>> {
    let mut args: Vec<String> = Vec::new();
    args.push(if privileged { "-sS" } else { "-sT" }.into());
    if opts.udp {
        args.push("-sU".into());
    }
    args.push("-sV".into());
    if let Some(ports) = &opts.ports {
        args.extend(["-p".into(), ports.clone()]);
    } else if let Some(n) = opts.top_ports {
        args.extend(["--top-ports".into(), n.to_string()]);
    }
    if family == Family::Ipv6 {
        args.push("-6".into());
    }
    if opts.no_dns {
        args.push("-n".into());
    }
    if opts.vulners {
        args.extend(["--script".into(), crate::vulners::SCRIPT_ID.into()]);
    }
    args.extend([
        "--stats-every".into(),
        format!("{}ms", opts.stats_every.as_millis().max(100)),
    ]);
    args.extend(opts.extra_args.iter().cloned());
    args.extend(["-oX".into(), "-".into()]);
    if targets.len() > MAX_TARGET_ARGS {
        let list: String = targets.iter().map(|t| format!("{t}\n")).collect();
        std::fs::write(target_file, list)?;
        args.extend(["-iL".into(), target_file.display().to_string()]);
        return Ok(args);
    }
    // Targets were checked not to look like options; "--" makes sure nmap agrees.
    args.push("--".into());
    args.extend(targets.iter().map(|t| t.as_str().to_string()));
    Ok(args)
}

/// Whether nmap will be able to send raw packets (SYN scan, UDP scan).
pub fn privileged() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() == 0 };
    privileged_by(root, |name| std::env::var_os(name).is_some())
}

/// nmap's own rule (`NmapOps::Initialize`): `NMAP_PRIVILEGED` set (to anything) means raw
/// packets, else `NMAP_UNPRIVILEGED` set means none, else root decides. Following it keeps
/// brulee's choice of scan equal to nmap's: a non-root user whose nmap has the file capability
/// `cap_net_raw` (the container image) sets `NMAP_PRIVILEGED=1` to get SYN scans.
fn privileged_by(root: bool, is_set: impl Fn(&str) -> bool) -> bool {
    if is_set("NMAP_PRIVILEGED") {
        true
    } else if is_set("NMAP_UNPRIVILEGED") {
        false
    } else {
        root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets;

    fn opts() -> ScanOptions {
        ScanOptions {
            vulners: true,
            stats_every: Duration::from_secs(2),
            ..ScanOptions::default()
        }
    }

    #[test]
    fn defaults_follow_flan_scan() {
        let t = vec![targets::parse("127.0.0.1").unwrap()];
        let file = std::env::temp_dir().join("brulee-test-targets.txt");
        let args = nmap_args(&opts(), Family::Ipv4, &t, &file, true).unwrap();
        assert_eq!(args[..2], ["-sS", "-sV"]);
        assert!(args.windows(2).any(|w| w == ["--script", "vulners"]));
        assert!(
            !args.iter().any(|a| a == "-p" || a == "--top-ports"),
            "nmap's default is the top 1000 ports"
        );
        assert_eq!(args[args.len() - 2..], ["--", "127.0.0.1"]);
        let args = nmap_args(
            &ScanOptions {
                vulners: false,
                ..opts()
            },
            Family::Ipv6,
            &t,
            &file,
            false,
        )
        .unwrap();
        assert_eq!(args[0], "-sT");
        assert!(args.contains(&"-6".to_string()));
        assert!(!args.contains(&"--script".to_string()));
    }

    #[test]
    fn long_target_lists_go_in_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("targets.txt");
        let many = targets::expand(&[targets::parse("127.0.1.0/24").unwrap()]).unwrap();
        let args = nmap_args(&opts(), Family::Ipv4, &many, &file, true).unwrap();
        assert_eq!(
            args[args.len() - 2..],
            ["-iL".to_string(), file.display().to_string()]
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 256);
    }

    #[test]
    fn privilege_follows_nmaps_environment_variables() {
        let env = |set: &'static [&'static str]| move |name: &str| set.contains(&name);
        assert!(privileged_by(true, env(&[])));
        assert!(!privileged_by(false, env(&[])));
        assert!(privileged_by(false, env(&["NMAP_PRIVILEGED"])));
        assert!(!privileged_by(true, env(&["NMAP_UNPRIVILEGED"])));
        // nmap reads NMAP_PRIVILEGED first.
        assert!(privileged_by(
            false,
            env(&["NMAP_PRIVILEGED", "NMAP_UNPRIVILEGED"])
        ));
    }

    #[test]
    fn refuses_options_that_would_take_over_the_pipe_or_add_targets() {
        for arg in ["-oX", "-iL", "-iR", "-oA"] {
            let o = ScanOptions {
                extra_args: vec![arg.into()],
                ..opts()
            };
            assert!(validate(&o, true).is_err(), "{arg}");
        }
        let o = ScanOptions {
            extra_args: vec!["-T4".into(), "--max-retries=1".into()],
            ..opts()
        };
        assert!(validate(&o, true).is_ok());
        let o = ScanOptions {
            ports: Some("-iL".into()),
            ..opts()
        };
        assert!(validate(&o, true).is_err());
        let o = ScanOptions {
            ports: Some("T:22,80,8000-8100".into()),
            ..opts()
        };
        assert!(validate(&o, true).is_ok());
        let o = ScanOptions {
            udp: true,
            ..opts()
        };
        assert!(matches!(
            validate(&o, false),
            Err(NmapArgError::UdpNeedsRoot)
        ));
    }
}
