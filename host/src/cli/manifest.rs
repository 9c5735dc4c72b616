//! `brulee manifest check FILE`, and the manifest steps `scan` and `report` share.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};

use super::exit;
use crate::manifest::ScanManifest;
use crate::pipeline;
use crate::plugin::Stage;
use crate::report::{self, Report};

/// Work with scan manifests (TOML files composing sources, enrichers, filters and sinks).
#[derive(Debug, Args)]
pub struct ManifestArgs {
    #[command(subcommand)]
    command: ManifestCommand,
}

#[derive(Debug, Subcommand)]
enum ManifestCommand {
    /// Validate a manifest without scanning: keys, types, files, grants, step names.
    Check {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

pub fn run(args: ManifestArgs) -> anyhow::Result<u8> {
    match args.command {
        ManifestCommand::Check { file } => {
            let manifest = load(&file)?;
            println!("{}: ok", file.display());
            for step in &manifest.steps {
                println!(
                    "  [[{}]] {:<20} {}",
                    step.stage.table(),
                    step.name,
                    step.code
                );
            }
            Ok(exit::OK)
        }
    }
}

/// Load and validate a manifest; its errors are the user's to fix (exit code 2).
pub fn load(path: &Path) -> anyhow::Result<ScanManifest> {
    Ok(pipeline::load_manifest(path)?)
}

/// Whether the manifest delivers its reports somewhere (then the files need a folder: -o).
pub fn has_sinks(manifest: &ScanManifest) -> bool {
    manifest.steps(Stage::Sink).next().is_some()
}

/// Deliver the report files in `dir` (already written) and the raw XML to the manifest's
/// sinks, then write report.json again with the sinks' records.
pub fn run_sinks(
    manifest: &ScanManifest,
    report: &mut Report,
    dir: &Path,
    written: &[PathBuf],
    raw_xml: &[PathBuf],
) -> anyhow::Result<()> {
    if !has_sinks(manifest) {
        return Ok(());
    }
    let files: Vec<PathBuf> = written.iter().chain(raw_xml).cloned().collect();
    let artifacts = pipeline::artifacts(&files).context("reading the files for the sinks")?;
    let outcome = pipeline::deliver(manifest, report, &artifacts);
    let records = match &outcome {
        Ok(records) => records.clone(),
        // The run fails, but the report on disk says which sink and why.
        Err(failed) => vec![report::StepRecord {
            name: failed.name.clone(),
            stage: failed.stage.to_string(),
            code: failed.code.clone(),
            status: "failed".into(),
            on_error: "fail".into(),
            error: Some(failed.error.to_string()),
            count: 0,
        }],
    };
    report.steps.extend(records);
    if written.iter().any(|p| p.ends_with("report.json")) {
        report::write_reports(report, dir, &["json".to_string()], &[])?;
    }
    outcome?;
    Ok(())
}
