//! `brulee report`: a report from nmap XML that already exists.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::{exit, parse_formats, prepare_output_dir, print_summary, UsageError};
use crate::findings::VulnersStatus;
use crate::model::ScanRun;
use crate::nmap::xml;
use crate::report::{self, Provenance, Report};

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

    /// Write report files to this folder instead of printing to stdout.
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,

    /// Apply a manifest's enrich, filter, report and sink steps (docs/PLUGINS.md); options
    /// given here override it.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
}

pub fn run(args: ReportArgs) -> anyhow::Result<u8> {
    let manifest = args
        .manifest
        .as_deref()
        .map(super::manifest::load)
        .transpose()?;
    let files = xml_files(&args.inputs)?;
    let mut runs = Vec::new();
    for file in &files {
        let reader = std::fs::File::open(file)
            .map(std::io::BufReader::new)
            .map_err(|err| UsageError(format!("cannot read {}: {err}", file.display())))?;
        let run = xml::read_scan(reader, &file.display().to_string(), |_| {})?;
        runs.push(run);
    }
    let scan = ScanRun::merge(runs);
    let vulners = VulnersStatus::from_xml(&scan);
    let mut report = Report::build(
        &scan,
        Provenance {
            targets: Vec::new(),
            xml_files: files.iter().map(|f| f.display().to_string()).collect(),
            vulners,
        },
    );
    if let Some(manifest) = &manifest {
        crate::pipeline::process(manifest, &mut report)?;
    }
    let manifest_formats = manifest
        .as_ref()
        .map(|m| m.formats.clone())
        .unwrap_or_default();
    let output = args
        .output
        .clone()
        .or_else(|| manifest.as_ref().and_then(|m| m.scan.output.clone()));
    match &output {
        Some(dir) => {
            let mut formats = parse_formats(&args.format)?;
            if formats.is_empty() {
                formats = manifest_formats;
            }
            if formats.is_empty() {
                formats = vec!["json".into(), "markdown".into()];
            }
            prepare_output_dir(dir)?;
            let written = report::write_reports(&report, dir, &formats)?;
            print_summary(&report)?;
            for path in &written {
                eprintln!("wrote {}", path.display());
            }
            if let Some(manifest) = &manifest {
                super::manifest::run_sinks(manifest, &mut report, dir, &written, &files)?;
            }
        }
        None => {
            if manifest
                .as_ref()
                .is_some_and(|m| m.steps(crate::plugin::Stage::Sink).next().is_some())
            {
                return Err(UsageError(
                    "the manifest has sinks, which deliver report files: give -o DIR".into(),
                )
                .into());
            }
            let mut formats = parse_formats(&args.format)?;
            if formats.is_empty() {
                formats = manifest_formats;
            }
            if formats.is_empty() {
                formats = vec!["summary".into()];
            }
            for format in &formats {
                print!("{}", report::render(&report, format)?);
            }
        }
    }
    for warning in &report.scan.warnings {
        eprintln!("warning: {warning}");
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
