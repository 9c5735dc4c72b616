//! `brulee scan`: run nmap over targets and report what runs there and what is known about it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::Args;

use super::{exit, parse_formats, prepare_output_dir, print_summary};
use crate::findings::VulnersStatus;
use crate::model::ScanRun;
use crate::nmap::{self, command, progress::ScanProgress, ScanOptions};
use crate::report::{self, Provenance, Report};
use crate::targets::{self, Family};
use crate::vulners::{self, ProbeOutcome};

/// Scan targets with nmap and write a report.
///
/// Runs nmap like Flan Scan does: host discovery, a SYN scan when run as root (else a connect
/// scan) of the top 1000 ports, service and version detection (-sV), and the vulners script.
/// The raw nmap XML is saved in the output folder before anything else is done with it.
#[derive(Debug, Args)]
#[command(after_help = "Only scan networks you are allowed to scan.")]
pub struct ScanArgs {
    /// What to scan: IPv4/IPv6 addresses, CIDR blocks (10.0.0.0/24), nmap ranges
    /// (192.168.1-3.1,5), host names, or @FILE with one target per line (# comments allowed).
    #[arg(required_unless_present = "manifest", value_name = "TARGET")]
    targets: Vec<String>,

    /// Compose the run from a manifest: its [scan] settings, sources, enrichers, filters,
    /// report formats and sinks (docs/PLUGINS.md). Options given here override it; targets
    /// given here replace its sources.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,

    /// Ports to scan, in nmap's syntax: 22,80,8000-8100 or T:22,U:53.
    #[arg(short = 'p', long, value_name = "PORTS", conflicts_with = "top_ports")]
    ports: Option<String>,

    /// Scan the N most common ports instead of nmap's default top 1000.
    #[arg(long, value_name = "N")]
    top_ports: Option<u32>,

    /// Also scan UDP ports (needs root).
    #[arg(long)]
    udp: bool,

    /// Leave out nmap's vulners script, which sends each detected product and version to the
    /// vulners.com API.
    #[arg(long)]
    no_vulners: bool,

    /// Do not resolve addresses to host names (nmap -n); faster on networks without DNS.
    #[arg(short = 'n', long)]
    no_dns: bool,

    /// Pass an option to nmap as it is (repeatable), e.g. --nmap-arg=-T4. Options that would
    /// add targets or redirect nmap's XML (-iL, -iR, -oX, -oA) are refused.
    #[arg(long = "nmap-arg", value_name = "ARG", allow_hyphen_values = true)]
    nmap_args: Vec<String>,

    /// Folder for the raw nmap XML and the reports [default: ./brulee-report-DATE-TIME].
    #[arg(short = 'o', long, value_name = "DIR")]
    output: Option<PathBuf>,

    /// Report formats to write (comma-separated or repeated); `json` is the canonical model.
    #[arg(short, long, value_name = "FORMAT",
          long_help = format!("Report formats to write (comma-separated or repeated) [default: json,markdown]:\n{}", *report::FORMATS_HELP))]
    format: Vec<String>,

    /// Show no progress on stderr.
    #[arg(short, long)]
    quiet: bool,
}

/// How long the pre-scan check of the vulners API may take.
const VULNERS_PROBE_DEADLINE: Duration = Duration::from_secs(2);

pub async fn run(args: ScanArgs) -> anyhow::Result<u8> {
    // Everything the user can get wrong is checked before nmap starts.
    let manifest = args
        .manifest
        .as_deref()
        .map(super::manifest::load)
        .transpose()?;
    let settings = manifest
        .as_ref()
        .map(|m| m.scan.clone())
        .unwrap_or_default();
    let mut source_records = Vec::new();
    let targets = match &manifest {
        Some(m) if args.targets.is_empty() => {
            let sourced = crate::pipeline::run_sources(m)?;
            source_records = sourced.records;
            if sourced.targets.is_empty() {
                return Err(targets::TargetError::Empty.into());
            }
            sourced.targets
        }
        _ => targets::parse_args(&args.targets)?,
    };
    let mut formats = parse_formats(&args.format)?;
    if formats.is_empty() {
        formats = manifest
            .as_ref()
            .map(|m| m.formats.clone())
            .unwrap_or_default();
    }
    if formats.is_empty() {
        formats = vec!["json".into(), "markdown".into()];
    }
    let privileged = command::privileged();
    // Ports on the command line replace the manifest's ports and top_ports together.
    let (ports, top_ports) = if args.ports.is_some() || args.top_ports.is_some() {
        (args.ports.clone(), args.top_ports)
    } else {
        (settings.ports.clone(), settings.top_ports)
    };
    let mut options = ScanOptions {
        ports,
        top_ports,
        udp: args.udp || settings.udp == Some(true),
        vulners: !args.no_vulners && settings.vulners != Some(false),
        no_dns: args.no_dns || settings.no_dns == Some(true),
        extra_args: settings
            .nmap_args
            .iter()
            .chain(&args.nmap_args)
            .cloned()
            .collect(),
        stats_every: Duration::from_secs(2),
    };
    command::validate(&options, privileged)?;
    let nmap_program = nmap::locate_nmap()?;
    let output = args
        .output
        .clone()
        .or(settings.output)
        .unwrap_or_else(default_output_dir);
    prepare_output_dir(&output)?;

    let progress = Arc::new(ScanProgress::new(args.quiet));
    let vulners = if !options.vulners {
        VulnersStatus::Disabled
    } else {
        let url = std::env::var("BRULEE_VULNERS_URL")
            .unwrap_or_else(|_| vulners::DEFAULT_API_URL.to_string());
        match tokio::task::spawn_blocking(move || vulners::probe_api(&url, VULNERS_PROBE_DEADLINE))
            .await?
        {
            ProbeOutcome::Reachable => VulnersStatus::Used,
            ProbeOutcome::Unreachable(why) => {
                progress.line(&format!(
                    "vulners: unreachable ({why}); scanning without the vulners script, \
                     services will be marked as not checked"
                ));
                options.vulners = false;
                VulnersStatus::Unreachable
            }
        }
    };

    // One nmap run per address family: nmap skips targets of the other family silently.
    let mut by_family: BTreeMap<Family, Vec<targets::Target>> = BTreeMap::new();
    for target in &targets {
        by_family
            .entry(target.family())
            .or_default()
            .push(target.clone());
    }
    let mut runs: Vec<ScanRun> = Vec::new();
    let mut xml_files = Vec::new();
    for (family, family_targets) in &by_family {
        let name = match family {
            Family::Ipv4 => "nmap-ipv4.xml",
            Family::Ipv6 => "nmap-ipv6.xml",
        };
        let raw = output.join(name);
        let nmap_args = command::nmap_args(&options, *family, family_targets, privileged);
        progress.start_run(&format!(
            "{} {}",
            nmap_program.display(),
            nmap_args.join(" ")
        ));
        let run = nmap::run_nmap(&nmap_program, &nmap_args, &raw, &progress)
            .await
            .with_context(|| {
                format!("the nmap run over {} targets failed", family_label(*family))
            })?;
        xml_files.push(raw.display().to_string());
        runs.push(run);
    }
    progress.finish();

    let scan = ScanRun::merge(runs);
    let mut report = Report::build(
        &scan,
        Provenance {
            targets: targets.iter().map(|t| t.to_string()).collect(),
            xml_files,
            vulners,
        },
    );
    report.steps = source_records;
    if let Some(manifest) = &manifest {
        crate::pipeline::process(manifest, &mut report)?;
    }
    let written = report::write_reports(&report, &output, &formats)?;
    print_summary(&report)?;
    for path in &written {
        eprintln!("wrote {}", path.display());
    }
    if let Some(manifest) = &manifest {
        let raw: Vec<PathBuf> = report.scan.xml_files.iter().map(PathBuf::from).collect();
        super::manifest::run_sinks(manifest, &mut report, &output, &written, &raw)?;
    }
    Ok(if report.scan.complete {
        exit::OK
    } else {
        exit::PARTIAL
    })
}

fn family_label(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "IPv4",
        Family::Ipv6 => "IPv6",
    }
}

fn default_output_dir() -> PathBuf {
    // "2026-11-25T14:03:07Z" → "brulee-report-20261125-140307"
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let digits: String = stamp
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    PathBuf::from(format!("brulee-report-{}", digits.replace('T', "-")))
}
