//! The `brulee` command line: one file per subcommand.

mod db;
mod diff;
mod manifest;
mod merge;
mod plugin;
mod plugins;
mod report;
mod scan;
mod update;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::report::{pdf, write_reports, Report, UserTemplate};

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
  brulee scan 127.0.0.0/22 --shard 0/4       part 1 of 4 of a scan split over 4 processes
  brulee merge shard-*/ -o all               one report from the shards' reports
  brulee merge --manifest scan.toml -o all s3://scans/nightly/
                                             the same, read back from the bucket by its sink
  brulee diff last-week.json report.json     new and fixed vulnerabilities
  brulee db import nvdcve-2.0-*.json.gz      fill the offline CVE database from NVD feeds
  brulee db update                           fetch the NVD feeds and CISA's KEV catalog
  brulee report scan.xml -o out --format html,csv --pdf
                                             HTML, CSV, LaTeX and its PDF in ./out";

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
    Manifest(manifest::ManifestArgs),
    Plugins(plugins::PluginsArgs),
    Plugin(plugin::PluginArgs),
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
            Command::Manifest(args) => manifest::run(args),
            Command::Plugins(args) => plugins::run(args),
            Command::Plugin(args) => plugin::run(args),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // Errors quote what came from outside (file contents, servers' answers, plugins):
            // the terminal must show their control characters, not obey them.
            eprintln!(
                "error: {}",
                brulee_reports::escape::terminal(&format!("{err:#}"))
            );
            let usage = err.chain().any(|e| {
                e.is::<UsageError>()
                    || e.is::<crate::targets::TargetError>()
                    || e.is::<crate::nmap::NmapArgError>()
                    || e.is::<crate::nmap::xml::XmlError>()
                    || e.is::<brulee_reports::RenderError>()
                    || e.is::<crate::report::MergeError>()
                    || e.is::<brulee_reports::UserTemplateError>()
                    || e.is::<crate::manifest::ManifestErrors>()
            });
            ExitCode::from(if usage { exit::USAGE } else { exit::FAILURE })
        }
    }
}

/// What is written beside the formats; shared by `scan` and `report`.
#[derive(Debug, Args)]
struct Extras {
    /// Also compile the LaTeX report to report.pdf (adds `--format latex`). Needs latexmk or
    /// pdflatex: on Debian/Ubuntu `apt-get install texlive-latex-recommended
    /// texlive-fonts-recommended latexmk`.
    #[arg(long)]
    pdf: bool,

    /// Also render your own Tera template with the report model (repeatable). Name it
    /// NAME.EXT.tera: EXT picks how the report's text is escaped (html, tex, md, csv, json, txt)
    /// and the output is NAME.EXT. The context is described in brulee's reports/README.md.
    #[arg(long, value_name = "NAME.EXT.tera")]
    template: Vec<PathBuf>,
}

impl Extras {
    /// The formats to write: those asked for, plus latex when --pdf needs it.
    fn formats(&self, mut formats: Vec<String>) -> Vec<String> {
        if self.pdf && !formats.iter().any(|f| f == "latex") {
            formats.push("latex".into());
        }
        formats
    }

    /// Read and check the templates (before a scan spends any time).
    fn templates(&self) -> anyhow::Result<Vec<UserTemplate>> {
        Ok(self
            .template
            .iter()
            .map(|path| UserTemplate::load(path))
            .collect::<Result<_, _>>()?)
    }
}

/// Write the reports and the templates' outputs into `dir`, print the summary, and compile the
/// PDF when asked (last: when no TeX engine is found, every other file is already written).
/// Returns the files written.
fn write_outputs<R: serde::Serialize + AsRef<Report>>(
    report: &R,
    dir: &Path,
    formats: &[String],
    templates: &[UserTemplate],
    pdf: bool,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = write_reports(report, dir, formats, templates)?;
    print_summary(report)?;
    for path in &written {
        eprintln!("wrote {}", path.display());
    }
    if pdf {
        let pdf = pdf::compile(&dir.join("report.tex"))?;
        eprintln!("wrote {}", pdf.display());
        written.push(pdf);
    }
    Ok(written)
}

/// Report formats given as `--format a,b --format c`, by name or file extension.
fn parse_formats(values: &[String]) -> anyhow::Result<Vec<String>> {
    let mut formats = Vec::new();
    for name in values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        // By its name: `md` and `markdown` are one format, written once.
        let name = brulee_reports::find_format(name)?.name;
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
    // A full disk still lets the empty probe be created; it fails only when nmap's XML comes.
    let free = free_bytes(dir)
        .with_context(|| format!("cannot tell how much space is free in {}", dir.display()))?;
    if free < MIN_FREE_BYTES {
        anyhow::bail!(
            "the output folder {} is on a full file system ({} KiB free; the raw nmap XML and \
             the reports need at least {} MiB): free some space or choose another folder with \
             -o DIR",
            dir.display(),
            free >> 10,
            MIN_FREE_BYTES >> 20
        );
    }
    Ok(())
}

/// Below this much free space the output folder counts as full: a small scan's raw XML and
/// reports take tens of kilobytes, a large one's megabytes.
const MIN_FREE_BYTES: u64 = 1 << 20;

/// Bytes an unprivileged user may still write on the file system that holds `dir`.
fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())?;
    // SAFETY: statvfs(3) writes into the struct we own, given a NUL-terminated path.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Open the CVE database for a scan or report, if it holds data. An absent or empty database
/// is not an error — vulners may still be used — but the report says so, with how to fill it.
fn open_database(
    path: &db::DbPath,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Option<crate::vulndb::Store>> {
    let path = path.resolve();
    let how = "import NVD data with 'brulee db import FILE...' (e.g. the NVD JSON feeds) or fetch it with 'brulee db update'";
    if !path.exists() {
        warnings.push(format!(
            "no offline CVE database at {}: {how}",
            path.display()
        ));
        return Ok(None);
    }
    let store = crate::vulndb::Store::open(&path)?;
    if store.summary()?.cves == 0 {
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
    let summary = store.summary()?;
    Ok(crate::report::DatabaseInfo {
        path: summary.path,
        cves: summary.cves,
        kev_entries: summary.kev_entries,
        newest_modified: summary.newest_modified,
        last_import: summary.last_import,
        epss_date: summary.epss_date,
    })
}

/// Run the manifest's enrich and filter steps, then compare with the baseline (`--baseline`):
/// after the filters, because what they suppress (accepted risks) is not new, and the
/// baseline's findings were filtered too.
fn process_report(
    manifest: Option<&crate::manifest::ScanManifest>,
    report: &mut Report,
    baseline: Option<&Report>,
    db: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    if let Some(manifest) = manifest {
        crate::pipeline::process(manifest, report, db)?;
    }
    report.diff = baseline.map(|old| crate::report::Diff::between(old, report));
    Ok(())
}

/// Read a JSON report brulee wrote (for merge, diff and --baseline).
fn read_report(path: &std::path::Path) -> anyhow::Result<crate::report::Report> {
    let text = std::fs::read(path)
        .map_err(|err| UsageError(format!("cannot read {}: {err}", path.display())))?;
    parse_report(&path.display().to_string(), &text)
}

/// A JSON report's bytes, read from `name` (a file, or a URL in a bucket).
fn parse_report(name: &str, bytes: &[u8]) -> anyhow::Result<crate::report::Report> {
    serde_json::from_slice(bytes).map_err(|err| {
        UsageError(format!(
            "{name}:{}:{}: not a brulee JSON report ({err}); give the report.json that `brulee scan` or `brulee report -f json` wrote",
            err.line(),
            err.column()
        ))
        .into()
    })
}

/// Write a report as files into `output` (default formats json, markdown; --pdf without -o
/// writes into ./brulee-report-DATE-TIME) and print the summary, or without an output folder
/// print the formats (default: the summary) and templates on stdout.
fn emit_report<R: serde::Serialize + AsRef<Report>>(
    report: &R,
    output: Option<&Path>,
    format_args: &[String],
    extras: &Extras,
    default_formats: &[String],
) -> anyhow::Result<Option<(PathBuf, Vec<PathBuf>)>> {
    let templates = extras.templates()?;
    let mut formats = parse_formats(format_args)?;
    if formats.is_empty() {
        formats = default_formats.to_vec();
    }
    // A PDF cannot go to stdout: without -o it goes where `brulee scan` puts its reports.
    let output = output
        .map(Path::to_path_buf)
        .or_else(|| extras.pdf.then(default_output_dir));
    match &output {
        Some(dir) => {
            if formats.is_empty() && templates.is_empty() {
                formats = vec!["json".into(), "markdown".into()];
            }
            let formats = extras.formats(formats);
            prepare_output_dir(dir)?;
            let written = write_outputs(report, dir, &formats, &templates, extras.pdf)?;
            return Ok(Some((dir.clone(), written)));
        }
        None => {
            if formats.is_empty() && templates.is_empty() {
                formats = vec!["summary".into()];
            }
            for format in &formats {
                if format == "json" {
                    // Streamed: a large report is never one string.
                    crate::report::write_json(report, std::io::stdout().lock())?;
                } else {
                    print!("{}", crate::report::render(report, format)?);
                }
            }
            for template in &templates {
                print!("{}", crate::report::render_user_template(report, template)?);
            }
        }
    }
    if !formats.iter().any(|f| f == "summary") {
        for warning in &report.as_ref().scan.warnings {
            eprintln!("warning: {warning}");
        }
    }
    Ok(None)
}

/// `./brulee-report-DATE-TIME`, where reports go when no -o is given.
pub(crate) fn default_output_dir() -> PathBuf {
    // "2026-11-25T14:03:07Z" → "brulee-report-20261125-140307"
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let digits: String = stamp
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    PathBuf::from(format!("brulee-report-{}", digits.replace('T', "-")))
}

/// The terminal summary, printed on stdout.
fn print_summary<R: serde::Serialize + AsRef<Report>>(report: &R) -> anyhow::Result<()> {
    let text = crate::report::render(report, "summary")?;
    print!("{text}");
    Ok(())
}
