//! `brulee merge`: one report from the reports of several shards (or scans), read from local
//! files or, through the manifest's storage sinks, from a bucket.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{emit_report, exit, parse_report, read_report, Extras, UsageError};
use crate::pipeline::stored::{self, DateChoice};
use crate::report::{self, MergeInput, Report, Shard};

/// Merge JSON reports (shards of one scan, or several scans) into one report.
///
/// The merged report lists the same services, findings and hosts as one scan over all their
/// hosts would; its metadata keeps every nmap command, file and warning. Shards of one
/// `--shard I/N` run are merged in shard order; a missing shard makes the report partial
/// (exit code 3).
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// report.json files, folders holding report.json (directly or one level down, as the
    /// output folders of shards do), or where a storage sink of the --manifest (s3, gcs,
    /// azure-blob) stored them: `s3://BUCKET/PREFIX/` merges the shards of the newest date
    /// there (or of --date), `…/PREFIX/2026-11-25/` those of that date,
    /// `…/PREFIX/2026-11-25/SCAN_ID/` one stored report.
    #[arg(required = true, value_name = "REPORT.json|DIR|URL")]
    inputs: Vec<String>,

    /// With a bucket prefix: merge the shards stored on this date (UTC) instead of the
    /// newest date there.
    #[arg(long, value_name = "YYYY-MM-DD|today", value_parser = parse_date)]
    date: Option<String>,

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
    /// are not run again; options given here override it. Bucket URLs are read through its
    /// sink steps, with their config and grants.
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
    let (urls, paths): (Vec<String>, Vec<String>) =
        args.inputs.iter().cloned().partition(|i| stored::is_url(i));
    let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
    if args.date.is_some() && urls.is_empty() {
        return Err(UsageError(
            "--date picks a date folder in a bucket: give the bucket's URL (s3://BUCKET/PREFIX/)"
                .into(),
        )
        .into());
    }
    // Each file is read twice: first only its shard (for the order and the checks), then
    // whole when its turn comes, so that the merge never holds more than one input report.
    let mut inputs: Vec<MergeInput<anyhow::Error>> = Vec::new();
    for file in report_files(&paths)? {
        inputs.push(MergeInput {
            name: file.display().to_string(),
            shard: read_shard(&file)?,
            load: Box::new(move || read_report(&file)),
        });
    }
    if !urls.is_empty() {
        let Some(manifest) = &manifest else {
            return Err(UsageError(format!(
                "{}: reading from a bucket needs the manifest whose sink stores there: add --manifest scan.toml (its [[sink]] step gives the place, the credentials and the hosts it may reach)",
                urls[0]
            ))
            .into());
        };
        for (name, report) in from_buckets(manifest, &urls, args.date)? {
            inputs.push(MergeInput::loaded(name, report));
        }
    }
    let mut merged = Report::merge_streamed(inputs)?;
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

/// The reports the URLs name, read through the manifest's storage sinks. Of a whole date
/// folder only the shards of its newest sharded run are taken; the rest is listed on stderr.
fn from_buckets(
    manifest: &crate::manifest::ScanManifest,
    urls: &[String],
    date: Option<String>,
) -> anyhow::Result<Vec<(String, Report)>> {
    let choice = date.map_or(DateChoice::Newest, DateChoice::On);
    let sets = stored::read(manifest, urls, &choice).map_err(|e| -> anyhow::Error {
        if e.is_usage() {
            UsageError(e.to_string()).into()
        } else {
            e.into()
        }
    })?;
    let mut reports = Vec::new();
    for set in sets {
        let mut parsed = Vec::new();
        for (url, bytes) in set.reports {
            let report = parse_report(&url, &bytes)?;
            parsed.push((url, report));
        }
        if !set.whole_date {
            reports.extend(parsed);
            continue;
        }
        let found = parsed.len();
        let shards = report::latest_shard_set(parsed);
        for (url, why) in &shards.left_out {
            eprintln!("left out {url}: {why}");
        }
        let Some(count) = shards.chosen.first().and_then(|(_, r)| r.scan.shard) else {
            return Err(UsageError(format!(
                "{}: no report there ({found} found) is a shard of a `brulee scan --shard I/N` run; name the scan folders to merge ({}SCAN_ID/)",
                set.place, set.place
            ))
            .into());
        };
        eprintln!(
            "{}: merging {} of {} shards",
            set.place,
            shards.chosen.len(),
            count.count
        );
        reports.extend(shards.chosen);
    }
    Ok(reports)
}

/// `YYYY-MM-DD` (a real date) or `today` (UTC).
fn parse_date(text: &str) -> Result<String, String> {
    if text == "today" {
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        return Ok(now[..10].to_string());
    }
    let valid = text.len() == 10 && humantime::parse_rfc3339(&format!("{text}T00:00:00Z")).is_ok();
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!("{text:?} is not a date: YYYY-MM-DD or today"))
    }
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

/// A report's `scan.shard`, without keeping the rest of it.
fn read_shard(path: &Path) -> anyhow::Result<Option<Shard>> {
    #[derive(serde::Deserialize)]
    struct Head {
        scan: HeadScan,
    }
    #[derive(serde::Deserialize)]
    struct HeadScan {
        #[serde(default)]
        shard: Option<Shard>,
    }
    let bytes = std::fs::read(path)
        .map_err(|err| UsageError(format!("cannot read {}: {err}", path.display())))?;
    match serde_json::from_slice::<Head>(&bytes) {
        Ok(head) => Ok(head.scan.shard),
        // Reading it whole says what is wrong with it, and where.
        Err(_) => read_report(path).map(|report| report.scan.shard),
    }
}

fn show(p: &Path) -> String {
    p.display().to_string()
}
