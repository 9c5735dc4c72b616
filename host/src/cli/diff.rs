//! `brulee diff`: what changed between two scans.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{exit, read_report};
use crate::report::Diff;

/// Compare two JSON reports: vulnerabilities new since OLD, fixed since OLD, and unchanged,
/// per host and port (a service upgraded in place shows its fixed CVEs).
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier report.json.
    old: PathBuf,
    /// The later report.json.
    new: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DiffFormat {
    Text,
    Json,
}

pub fn run(args: DiffArgs) -> anyhow::Result<u8> {
    let diff = Diff::between(&read_report(&args.old)?, &read_report(&args.new)?);
    match args.format {
        DiffFormat::Text => print!("{}", diff.to_text()),
        DiffFormat::Json => println!("{}", serde_json::to_string_pretty(&diff)?),
    }
    Ok(exit::OK)
}
