//! `brulee report`: a report from nmap XML that already exists.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::db::DbPath;
use super::{database_info, emit_report, exit, open_database, read_report, Extras, UsageError};
use crate::findings::VulnersStatus;
use crate::model::ScanRun;
use crate::nmap::xml;
use crate::report::{self, Provenance, ReportBuilder};
use crate::vulndb::Matcher;

/// Make one report from nmap XML files (or folders of them), merged.
///
/// Reads any nmap XML: from `nmap -oX`, from Flan Scan, with or without the vulners script.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// nmap XML files, or folders whose *.xml files are read.
    #[arg(required = true, value_name = "FILE.xml|DIR")]
    inputs: Vec<PathBuf>,

    /// Report formats (comma-separated or repeated) [default: summary on stdout; json,markdown
    /// with -o].
    #[arg(short, long, value_name = "FORMAT",
          long_help = format!("Report formats (comma-separated or repeated) [default: summary on stdout, json,markdown with -o]:\n{}", *report::FORMATS_HELP))]
    format: Vec<String>,

    #[command(flatten)]
    db: DbPath,

    /// Do not use the offline CVE database, even when it holds data.
    #[arg(long)]
    no_db: bool,

    /// Compare with an earlier JSON report: the report gets a "changes" section (new, fixed).
    #[arg(long, value_name = "OLD.json")]
    baseline: Option<PathBuf>,

    /// Write report files to this folder instead of printing to stdout [with --pdf, default:
    /// ./brulee-report-DATE-TIME].
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,

    #[command(flatten)]
    extras: Extras,

    /// Apply a manifest's enrich, filter, report and sink steps (docs/PLUGINS.md); options
    /// given here override it.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
}

pub fn run(args: ReportArgs) -> anyhow::Result<u8> {
    // The manifest and templates are read and checked before any work.
    let manifest = args
        .manifest
        .as_deref()
        .map(super::manifest::load)
        .transpose()?;
    args.extras.templates()?;
    let files = xml_files(&args.inputs)?;
    let mut db_warnings = Vec::new();
    let store = if args.no_db {
        None
    } else {
        open_database(&args.db, &mut db_warnings)?
    };
    // Hosts are assessed as they are read and then dropped: a scan of many thousand hosts is
    // never in memory whole. How the vulners script took part is known only at the end.
    let mut builder = ReportBuilder::new(VulnersStatus::Used, store.as_ref().map(Matcher::new));
    let mut runs = Vec::new();
    for file in &files {
        let reader = std::fs::File::open(file)
            .map(std::io::BufReader::new)
            .map_err(|err| UsageError(format!("cannot read {}: {err}", file.display())))?;
        let mut failed = None;
        let run = xml::for_each_host(
            reader,
            &file.display().to_string(),
            |_| {},
            |host| {
                if failed.is_none() {
                    failed = builder.add_host(&host).err();
                }
            },
        )?;
        if let Some(err) = failed {
            return Err(err.into());
        }
        runs.push(run);
    }
    let mut scan = ScanRun::merge(runs);
    scan.warnings.extend(db_warnings);
    let vulners = VulnersStatus::from_commands(&scan.commands, builder.saw_vulners_output());
    let compact = builder.finish(
        &scan,
        Provenance {
            targets: Vec::new(),
            xml_files: files.iter().map(|f| f.display().to_string()).collect(),
            vulners,
            database: store.as_ref().map(database_info).transpose()?,
        },
    );
    // A baseline or the manifest's steps work on the findings as objects.
    if args.baseline.is_none() && manifest.is_none() {
        emit_report(
            &compact,
            args.output.as_deref(),
            &args.format,
            &args.extras,
            &[],
        )?;
        return Ok(if compact.head().scan.complete {
            exit::OK
        } else {
            exit::PARTIAL
        });
    }
    let mut report = compact.into_report();
    let baseline = args.baseline.as_deref().map(read_report).transpose()?;
    let db = args.db.for_plugins(args.no_db);
    super::process_report(
        manifest.as_ref(),
        &mut report,
        baseline.as_ref(),
        db.as_deref(),
    )?;
    let output = args
        .output
        .clone()
        .or_else(|| manifest.as_ref().and_then(|m| m.scan.output.clone()));
    let has_sinks = manifest.as_ref().is_some_and(super::manifest::has_sinks);
    if has_sinks && output.is_none() && !args.extras.pdf {
        return Err(UsageError(
            "the manifest has sinks, which deliver report files: give -o DIR".into(),
        )
        .into());
    }
    let default_formats = manifest
        .as_ref()
        .map(|m| m.formats.clone())
        .unwrap_or_default();
    let written = emit_report(
        &report,
        output.as_deref(),
        &args.format,
        &args.extras,
        &default_formats,
    )?;
    if let (Some(manifest), Some((dir, written))) = (&manifest, written) {
        super::manifest::run_sinks(manifest, &mut report, &dir, &written, &files)?;
    }
    Ok(if report.scan.complete {
        exit::OK
    } else {
        exit::PARTIAL
    })
}

/// The files named, and the *.xml files of the folders named, sorted so that a report is the
/// same whatever order the folder lists them in.
fn xml_files(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("cannot list {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml"))
                })
                .collect();
            if found.is_empty() {
                return Err(UsageError(format!("{} holds no .xml files", input.display())).into());
            }
            found.sort();
            files.extend(found);
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            return Err(UsageError(format!("{}: no such file or folder", display(input))).into());
        }
    }
    Ok(files)
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
