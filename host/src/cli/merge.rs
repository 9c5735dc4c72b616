//! `brulee merge`: one report from the reports of several shards (or scans).

use std::path::{Path, PathBuf};

use clap::Args;

use super::{emit_report, exit, read_report, Extras, UsageError};
use crate::report::{self, Report};

/// Merge JSON reports (shards of one scan, or several scans) into one report.
///
/// The merged report lists the same services, findings and hosts as one scan over all their
/// hosts would; its metadata keeps every nmap command, file and warning.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// report.json files, or folders holding report.json (directly or one level down, as the
    /// output folders of shards do).
    #[arg(required = true, value_name = "REPORT.json|DIR")]
    inputs: Vec<PathBuf>,

    /// Report formats (comma-separated or repeated) [default: summary on stdout; json,markdown
    /// with -o].
    #[arg(short, long, value_name = "FORMAT",
          long_help = format!("Report formats (comma-separated or repeated) [default: summary on stdout, json,markdown with -o]:\n{}", *report::FORMATS_HELP))]
    format: Vec<String>,

    /// Write report files to this folder instead of printing to stdout.
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,

    #[command(flatten)]
    extras: Extras,

    /// Write the merged report in a manifest's report formats and deliver it with its sinks,
    /// as each shard did (docs/PLUGINS.md). Its enrich and filter steps ran in the shards and
    /// are not run again; options given here override it.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
}

pub fn run(args: MergeArgs) -> anyhow::Result<u8> {
    // The manifest is read and checked before any work.
    let manifest = args
        .manifest
        .as_deref()
        .map(super::manifest::load)
        .transpose()?;
    let output = args
        .output
        .clone()
        .or_else(|| manifest.as_ref().and_then(|m| m.scan.output.clone()));
    if manifest.as_ref().is_some_and(super::manifest::has_sinks) && output.is_none() {
        return Err(UsageError(
            "the manifest has sinks, which deliver report files: give -o DIR".into(),
        )
        .into());
    }
    let mut reports = Vec::new();
    for file in report_files(&args.inputs)? {
        reports.push((file.display().to_string(), read_report(&file)?));
    }
    let mut merged = Report::merge(reports)?;
    let default_formats = manifest
        .as_ref()
        .map(|m| m.formats.clone())
        .unwrap_or_default();
    let written = emit_report(
        &merged,
        output.as_deref(),
        &args.format,
        &args.extras,
        &default_formats,
    )?;
    if let (Some(manifest), Some((dir, written))) = (&manifest, written) {
        super::manifest::run_sinks(manifest, &mut merged, &dir, &written, &[])?;
    }
    Ok(if merged.scan.complete {
        exit::OK
    } else {
        exit::PARTIAL
    })
}

fn report_files(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_file() {
            files.push(input.clone());
        } else if input.is_dir() {
            let direct = input.join("report.json");
            if direct.is_file() {
                files.push(direct);
                continue;
            }
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)?
                .filter_map(|e| e.ok().map(|e| e.path().join("report.json")))
                .filter(|p| p.is_file())
                .collect();
            if found.is_empty() {
                return Err(UsageError(format!(
                    "{} holds no report.json (nor do its sub-folders)",
                    show(input)
                ))
                .into());
            }
            found.sort();
            files.extend(found);
        } else {
            return Err(UsageError(format!("{}: no such file or folder", show(input))).into());
        }
    }
    Ok(files)
}

fn show(p: &Path) -> String {
    p.display().to_string()
}
