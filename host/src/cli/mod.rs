//! The `brulee` command line: one file per subcommand.

mod db;
mod diff;
mod merge;
mod report;
mod scan;
mod update;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes, documented in `--help`.
pub mod exit {
    /// The report was written.
    pub const OK: u8 = 0;
    /// Something failed at run time: nmap, writing files.
    pub const FAILURE: u8 = 1;
    /// The command was wrong: options, targets, input files.
    pub const USAGE: u8 = 2;
    /// The report was written, but nmap stopped before it finished: results are partial.
    pub const PARTIAL: u8 = 3;
    /// Interrupted (Ctrl-C): nmap was stopped, the partial results were written.
    pub const INTERRUPTED: u8 = 130;
}

const AFTER_HELP: &str = "\
Exit codes:
  0  the report was written
  1  something failed at run time (nmap, writing files)
  2  the command was wrong: options, targets or input files
  3  the report was written but is partial (nmap stopped before it finished)
  130  interrupted (Ctrl-C): nmap was stopped and the partial results written

Examples:
  brulee scan 127.0.0.1                      scan the top 1000 ports, report in ./brulee-report-*
  brulee scan 127.0.0.2-5 -p 22,80 -o out     scan two ports on four hosts, report in ./out
  brulee scan @ips.txt --no-vulners          targets from a file, one per line
  brulee report scan.xml --format markdown   a report from nmap XML you already have
  brulee scan 10.0.0.0/22 --shard 0/4        part 1 of 4 of a scan split over 4 processes
  brulee merge shard-*/ -o all               one report from the shards' reports
  brulee diff last-week.json report.json     new and fixed vulnerabilities
  brulee db import nvdcve-2.0-*.json.gz      fill the offline CVE database from NVD feeds
  brulee db update                           fetch the NVD feeds and CISA's KEV catalog";

/// brulee runs nmap's service detection, matches every service it finds to known
/// vulnerabilities, and writes a report organised by vulnerable service → CVEs → where it runs.
#[derive(Debug, Parser)]
#[command(name = "brulee", version, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Scan(scan::ScanArgs),
    Report(report::ReportArgs),
    Merge(merge::MergeArgs),
    Diff(diff::DiffArgs),
    Db(db::DbArgs),
}

/// An error the user caused and can fix: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Parse the command line, run, and turn errors into messages and exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: could not start: {err}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Scan(args) => scan::run(args).await,
            Command::Report(args) => report::run(args),
            Command::Merge(args) => merge::run(args),
            Command::Diff(args) => diff::run(args),
            Command::Db(args) => db::run(args).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            let usage = err.chain().any(|e| {
                e.is::<UsageError>()
                    || e.is::<crate::targets::TargetError>()
                    || e.is::<crate::nmap::NmapArgError>()
                    || e.is::<crate::nmap::xml::XmlError>()
                    || e.is::<brulee_reports::RenderError>()
                    || e.is::<crate::report::MergeError>()
            });
            ExitCode::from(if usage { exit::USAGE } else { exit::FAILURE })
        }
    }
}

/// Report formats given as `--format a,b --format c`.
fn parse_formats(values: &[String]) -> anyhow::Result<Vec<String>> {
    let mut formats = Vec::new();
    for name in values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        brulee_reports::find_format(name)?;
        if !formats.iter().any(|f| f == name) {
            formats.push(name.to_string());
        }
    }
    Ok(formats)
}

/// Make sure reports can be written to `dir` before spending minutes on a scan.
fn prepare_output_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create the output folder {}; choose another with -o DIR",
            dir.display()
        )
    })?;
    let probe = dir.join(".brulee-write-check");
    std::fs::write(&probe, b"").with_context(|| {
        format!(
            "cannot write to the output folder {}; choose another with -o DIR",
            dir.display()
        )
    })?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Open the CVE database for a scan or report, if it holds data. An absent or empty database
/// is not an error — vulners may still be used — but the report says so, with how to fill it.
fn open_database(
    path: &db::DbPath,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Option<crate::vulndb::Store>> {
    let path = path.resolve();
    let how = "import NVD data with `brulee db import FILE...` (e.g. the NVD JSON feeds) or fetch it with `brulee db update`";
    if !path.exists() {
        warnings.push(format!(
            "no offline CVE database at {}: {how}",
            path.display()
        ));
        return Ok(None);
    }
    let store = crate::vulndb::Store::open(&path)?;
    if store.status()?.cves == 0 {
        warnings.push(format!(
            "the offline CVE database at {} is empty: {how}",
            path.display()
        ));
        return Ok(None);
    }
    Ok(Some(store))
}

/// What a report says about the database it used.
fn database_info(store: &crate::vulndb::Store) -> anyhow::Result<crate::report::DatabaseInfo> {
    let status = store.status()?;
    Ok(crate::report::DatabaseInfo {
        path: status.path,
        cves: status.cves,
        kev_entries: status.kev_entries,
        newest_modified: status.newest_modified,
        last_import: status.last_import,
    })
}

/// Read a JSON report brulee wrote (for merge, diff and --baseline).
fn read_report(path: &std::path::Path) -> anyhow::Result<crate::report::Report> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| UsageError(format!("cannot read {}: {err}", path.display())))?;
    serde_json::from_str(&text).map_err(|err| {
        UsageError(format!(
            "{}:{}:{}: not a brulee JSON report ({err}); give the report.json that `brulee scan` or `brulee report -f json` wrote",
            path.display(),
            err.line(),
            err.column()
        ))
        .into()
    })
}

/// Write a report as files into `output` (default formats json, markdown) and print the
/// summary, or without `output` print the formats (default: the summary) on stdout.
fn emit_report(
    report: &crate::report::Report,
    output: Option<&std::path::Path>,
    format_args: &[String],
) -> anyhow::Result<()> {
    let mut formats = parse_formats(format_args)?;
    match output {
        Some(dir) => {
            if formats.is_empty() {
                formats = vec!["json".into(), "markdown".into()];
            }
            prepare_output_dir(dir)?;
            let written = crate::report::write_reports(report, dir, &formats)?;
            print_summary(report)?;
            for path in &written {
                eprintln!("wrote {}", path.display());
            }
        }
        None => {
            if formats.is_empty() {
                formats = vec!["summary".into()];
            }
            for format in &formats {
                print!("{}", crate::report::render(report, format)?);
            }
            if !formats.iter().any(|f| f == "summary") {
                for warning in &report.scan.warnings {
                    eprintln!("warning: {warning}");
                }
            }
        }
    }
    Ok(())
}

/// The terminal summary, printed on stdout.
fn print_summary(report: &crate::report::Report) -> anyhow::Result<()> {
    let text = crate::report::render(report, "summary")?;
    print!("{text}");
    Ok(())
}
