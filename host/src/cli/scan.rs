//! `brulee scan`: run nmap over targets and report what runs there and what is known about it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::db::DbPath;
use super::{
    database_info, default_output_dir, exit, open_database, parse_formats, prepare_output_dir,
    write_outputs, Extras,
};
use crate::findings::VulnersStatus;
use crate::model::ScanRun;
use crate::nmap::{self, command, progress::ScanProgress, ScanOptions};
use crate::report::{self, Provenance, Report};
use crate::targets::{self, Family};
use crate::vulndb::Matcher;
use crate::vulners::{self, ProbeOutcome};

/// Scan targets with nmap and write a report.
///
/// Runs nmap like Flan Scan does: host discovery, a SYN scan when run as root (else a connect
/// scan) of the top 1000 ports, service and version detection (-sV), and the vulners script.
/// The raw nmap XML is saved in the output folder before anything else is done with it.
#[derive(Debug, Args)]
#[command(after_help = "Only scan networks you are allowed to scan.")]
pub struct ScanArgs {
    /// What to scan: IPv4/IPv6 addresses, CIDR blocks (127.0.0.0/24), nmap ranges
    /// (127.0.1-3.1,5), host names, or @FILE with one target per line (# comments allowed).
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
          long_help = format!("Report formats to write (comma-separated or repeated):\n{}", *report::FORMATS_HELP))]
    format: Vec<String>,

    #[command(flatten)]
    db: DbPath,

    /// Do not use the offline CVE database, even when it holds data.
    #[arg(long)]
    no_db: bool,

    /// Scan only part I of N of the targets (0-based, e.g. 0/4 … 3/4): N processes with the same
    /// targets cover every address exactly once (a Kubernetes Indexed Job passes
    /// $JOB_COMPLETION_INDEX). Merge their reports with `brulee merge`.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<(usize, usize)>,

    /// Refuse to scan more than N addresses (with --shard: this shard's part): a mistyped
    /// prefix (/8 for /24) should not start a scan of millions of hosts. Raise it to confirm a
    /// larger scan.
    #[arg(long, value_name = "N", default_value_t = targets::DEFAULT_MAX_HOSTS)]
    max_hosts: u64,

    /// Run up to N nmap processes at once, each over its own group of hosts.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel: u16,

    /// Stop a group's nmap after this long (e.g. 30m, 2h) and try it once more; a group that
    /// fails twice is reported and the others complete.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    group_timeout: Option<Duration>,

    /// Compare with an earlier JSON report: the report gets a "changes" section (new, fixed).
    #[arg(long, value_name = "OLD.json")]
    baseline: Option<PathBuf>,

    #[command(flatten)]
    extras: Extras,

    /// Print the validated targets (from the command line or the manifest's sources), one a
    /// line, and exit without scanning: to check what a source such as aws-ec2 yields.
    #[arg(long)]
    list_targets: bool,

    /// Show no progress on stderr.
    #[arg(short, long)]
    quiet: bool,
}

fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("{text:?} is not I/N with 0 <= I < N, e.g. 0/4");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// One nmap run: targets of one address family.
struct Group {
    family: Family,
    targets: Vec<targets::Target>,
    /// Raw XML file name in the output folder.
    name: String,
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
    if args.list_targets {
        for target in &targets {
            println!("{target}");
        }
        return Ok(exit::OK);
    }
    targets::check_count(&targets, args.shard, args.max_hosts)?;
    let resolving = targets.clone();
    tokio::task::spawn_blocking(move || targets::check_resolvable(&resolving)).await??;
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
    let formats = args.extras.formats(formats);
    let templates = args.extras.templates()?;
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

    let baseline = args
        .baseline
        .as_deref()
        .map(super::read_report)
        .transpose()?;
    let groups = plan_groups(&targets, args.shard, args.parallel as usize)?;
    if groups.is_empty() {
        progress.line("this shard has no targets: writing an empty report");
    }
    progress.set_groups(groups.len());

    // Ctrl-C stops nmap, keeps what it completed, writes the reports and exits with 130.
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let interrupt_progress = progress.clone();
    let interrupted = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            interrupt_progress.line("interrupted: stopping nmap and writing the partial results");
            let _ = cancel_tx.send(true);
        }
    });

    // Up to --parallel groups run at once; each is retried once.
    let limit = Arc::new(tokio::sync::Semaphore::new(args.parallel as usize));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, group) in groups.into_iter().enumerate() {
        let (limit, progress, options, output, nmap_program) = (
            limit.clone(),
            progress.clone(),
            options.clone(),
            output.clone(),
            nmap_program.clone(),
        );
        let timeout = args.group_timeout;
        let cancel = cancel_rx.clone();
        tasks.spawn(async move {
            let _permit = limit
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            if *cancel.borrow() {
                let why = format!(
                    "{} ({} targets) was not scanned: interrupted",
                    group.name,
                    group.targets.len()
                );
                return Ok((index, output.join(&group.name), Err(why)));
            }
            let raw = output.join(&group.name);
            let target_file = output.join(group.name.replace(".xml", "-targets.txt"));
            let nmap_args = command::nmap_args(
                &options,
                group.family,
                &group.targets,
                &target_file,
                privileged,
            )?;
            let mut last_error = None;
            for attempt in 1..=2 {
                progress.start_run(&format!(
                    "{} {}",
                    nmap_program.display(),
                    nmap_args.join(" ")
                ));
                let run =
                    nmap::run_nmap(&nmap_program, &nmap_args, &raw, &progress, cancel.clone());
                let outcome = match timeout {
                    Some(limit) => tokio::time::timeout(limit, run)
                        .await
                        .unwrap_or(Err(nmap::NmapError::TimedOut { after: limit })),
                    None => run.await,
                };
                match outcome {
                    Ok(run) => {
                        progress.group_done();
                        return Ok::<_, anyhow::Error>((index, raw, Ok(run)));
                    }
                    Err(err) if attempt == 1 && err.is_retryable() && !*cancel.borrow() => {
                        progress.line(&format!("{}: {err}; trying once more", group.name));
                        last_error = Some(err);
                    }
                    Err(err) => {
                        last_error = Some(err);
                        break;
                    }
                }
            }
            progress.group_done();
            let err = last_error.expect("a failed attempt leaves its error");
            Ok((
                index,
                raw,
                Err(format!(
                    "{} ({} targets) failed: {err}",
                    group.name,
                    group.targets.len()
                )),
            ))
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        results.push(joined??);
    }
    let was_interrupted = *cancel_rx.borrow();
    interrupted.abort();
    // Results in plan order, so the merged run does not depend on which group finished first.
    results.sort_by_key(|(index, _, _)| *index);
    let mut runs: Vec<ScanRun> = Vec::new();
    let mut xml_files = Vec::new();
    let mut failures = Vec::new();
    for (_, raw, result) in results {
        match result {
            Ok(run) => {
                xml_files.push(raw.display().to_string());
                runs.push(run);
            }
            Err(failure) => failures.push(failure),
        }
    }
    if runs.is_empty() && was_interrupted {
        anyhow::bail!("interrupted before nmap completed any host; nothing to report");
    }
    if runs.is_empty() && !failures.is_empty() {
        anyhow::bail!("every nmap run failed:\n  {}", failures.join("\n  "));
    }
    progress.finish();

    let mut scan = ScanRun::merge(runs);
    if !failures.is_empty() {
        // The report covers fewer hosts than asked for: say so, and exit with "partial".
        scan.complete = false;
        scan.warnings.extend(failures);
    }
    let store = if args.no_db {
        None
    } else {
        open_database(&args.db, &mut scan.warnings)?
    };
    let report = Report::build(
        &scan,
        Provenance {
            targets: targets.iter().map(|t| t.to_string()).collect(),
            xml_files,
            vulners,
            database: store.as_ref().map(database_info).transpose()?,
        },
        store.as_ref().map(Matcher::new),
    )?;
    let mut report = report;
    report.scan.shard = args
        .shard
        .map(|(index, count)| report::Shard { index, count });
    report.steps = source_records;
    let db = args.db.for_plugins(args.no_db);
    super::process_report(
        manifest.as_ref(),
        &mut report,
        baseline.as_ref(),
        db.as_deref(),
    )?;
    let written = write_outputs(&report, &output, &formats, &templates, args.extras.pdf)?;
    if let Some(manifest) = &manifest {
        // Sinks run last: the raw XML and every report are on disk, so a failing sink loses
        // nothing.
        let raw: Vec<PathBuf> = report.scan.xml_files.iter().map(PathBuf::from).collect();
        super::manifest::run_sinks(manifest, &mut report, &output, &written, &raw)?;
    }
    Ok(if was_interrupted {
        exit::INTERRUPTED
    } else if report.scan.complete {
        exit::OK
    } else {
        exit::PARTIAL
    })
}

/// Split the targets into nmap runs: one per address family (nmap skips targets of the other
/// family silently), each split further into host groups when several run at once. With
/// --shard or --parallel the targets are expanded to single addresses first, so that parts
/// never overlap; otherwise they go to nmap as the user wrote them.
fn plan_groups(
    targets: &[targets::Target],
    shard: Option<(usize, usize)>,
    parallel: usize,
) -> anyhow::Result<Vec<Group>> {
    let mut selected: Vec<targets::Target> = if shard.is_some() || parallel > 1 {
        targets::expand(targets)?
    } else {
        targets.to_vec()
    };
    if let Some((index, count)) = shard {
        selected = targets::shard(&selected, index, count).to_vec();
    }
    let mut by_family: BTreeMap<Family, Vec<targets::Target>> = BTreeMap::new();
    for target in selected {
        by_family.entry(target.family()).or_default().push(target);
    }
    let mut groups = Vec::new();
    for (family, list) in by_family {
        let prefix = match family {
            Family::Ipv4 => "nmap-ipv4",
            Family::Ipv6 => "nmap-ipv6",
        };
        // Two groups per process keeps every process busy when groups take uneven time.
        let count = if parallel > 1 {
            (parallel * 2).min(list.len())
        } else {
            1
        };
        if count == 1 {
            groups.push(Group {
                family,
                targets: list,
                name: format!("{prefix}.xml"),
            });
            continue;
        }
        for i in 0..count {
            let part = targets::shard(&list, i, count).to_vec();
            groups.push(Group {
                family,
                targets: part,
                name: format!("{prefix}-group{:02}.xml", i + 1),
            });
        }
    }
    Ok(groups)
}
