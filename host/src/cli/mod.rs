//! The `brulee` command line: one file per subcommand.

mod manifest;
mod plugin;
mod plugins;
mod report;
mod scan;

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
}

const AFTER_HELP: &str = "\
Exit codes:
  0  the report was written
  1  something failed at run time (nmap, writing files)
  2  the command was wrong: options, targets or input files
  3  the report was written but is partial (nmap stopped before it finished)

Examples:
  brulee scan 127.0.0.1                      scan the top 1000 ports, report in ./brulee-report-*
  brulee scan 127.0.0.2-5 -p 22,80 -o out     scan two ports on four hosts, report in ./out
  brulee scan @ips.txt --no-vulners          targets from a file, one per line
  brulee report scan.xml --format markdown   a report from nmap XML you already have";

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
            Command::Manifest(args) => manifest::run(args),
            Command::Plugins(args) => plugins::run(args),
            Command::Plugin(args) => plugin::run(args),
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
                    || e.is::<crate::manifest::ManifestErrors>()
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

/// The terminal summary, printed on stdout.
fn print_summary(report: &crate::report::Report) -> anyhow::Result<()> {
    let text = crate::report::render(report, "summary")?;
    print!("{text}");
    Ok(())
}
