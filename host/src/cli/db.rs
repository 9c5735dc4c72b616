//! `brulee db`: the offline CVE database (import, update, status).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::{exit, UsageError};
use crate::vulndb::import::{data_files, import_file, ImportError, ImportStats};
use crate::vulndb::{self, Store};

/// Manage the offline CVE database (NVD, CISA's KEV catalog, FIRST's EPSS scores, Debian and
/// Ubuntu advisories).
///
/// The database is one SQLite file: --db PATH, else $BRULEE_DB, else
/// ~/.local/share/brulee/cve.sqlite. `brulee scan` and `brulee report` use it whenever it holds
/// data.
#[derive(Debug, Args)]
pub struct DbArgs {
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    Import(ImportArgs),
    Status(StatusArgs),
    Update(super::update::UpdateArgs),
}

/// Import data files: NVD CVE JSON 2.0 (feeds or API pages) and 1.1 feeds, the CISA KEV
/// catalog, FIRST's EPSS CSV, Debian changelogs (changelog.Debian.gz), the Debian security
/// tracker (its full JSON, or vuln-list records) and OSV records (Ubuntu, Debian).
///
/// The format is recognised by content; files may be gzipped. Re-importing is safe: an NVD
/// record replaces the stored one only if it is as new or newer, rejected CVEs are removed, a
/// KEV or EPSS file replaces the whole catalog or score set, an advisory document (a
/// changelog, a tracker record, an OSV record, the tracker JSON) replaces what it said before,
/// and each file lands whole or not at all.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to import, or folders (searched recursively for .json, .csv, .gz and changelog files).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    db: DbPath,
}

/// Show what the database holds and how fresh it is.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    db: DbPath,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct DbPath {
    /// The database file [default: $BRULEE_DB, else ~/.local/share/brulee/cve.sqlite].
    #[arg(long = "db", value_name = "PATH")]
    pub path: Option<PathBuf>,
}

impl DbPath {
    pub fn resolve(&self) -> PathBuf {
        self.path.clone().unwrap_or_else(vulndb::default_path)
    }

    /// The database plugins read advisory data (KEV, EPSS, distro fixes) from: this one, when
    /// it exists and the run uses a database at all.
    pub fn for_plugins(&self, no_db: bool) -> Option<PathBuf> {
        Some(self.resolve()).filter(|p| !no_db && p.exists())
    }
}

pub async fn run(args: DbArgs) -> anyhow::Result<u8> {
    match args.command {
        DbCommand::Import(args) => import(args),
        DbCommand::Status(args) => status(args),
        DbCommand::Update(args) => super::update::run(args).await,
    }
}

fn import(args: ImportArgs) -> anyhow::Result<u8> {
    let mut files = Vec::new();
    for path in &args.paths {
        if !path.exists() {
            return Err(UsageError(format!("{}: no such file or folder", path.display())).into());
        }
        files.extend(data_files(path).with_context(|| format!("cannot list {}", path.display()))?);
    }
    if files.is_empty() {
        return Err(UsageError(
            "no data files to import (.json, .csv, .gz or changelog files, or folders of them)"
                .into(),
        )
        .into());
    }
    let db_path = args.db.resolve();
    let mut store = Store::open(&db_path)?;
    import_files(&mut store, &files)
}

/// Import files one by one, each in its own transaction; report each, fail at the end if any
/// failed (the others are kept).
pub(super) fn import_files(store: &mut Store, files: &[PathBuf]) -> anyhow::Result<u8> {
    let terminal = std::io::stderr().is_terminal();
    let mut failed = 0;
    for file in files {
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::new(size);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {msg} {bar:30} {bytes}/{total_bytes} {eta}",
                )
                .expect("the template is valid"),
            );
            bar.set_message(file.display().to_string());
            bar
        });
        let started = Instant::now();
        let result = import_file(store, file, |read| {
            if let Some(bar) = &bar {
                bar.set_position(read);
            }
        });
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        match result {
            Ok((kind, stats)) => {
                eprintln!(
                    "imported {} ({}): {} in {:.1} s",
                    file.display(),
                    kind.name(),
                    describe(&stats),
                    started.elapsed().as_secs_f64()
                );
                for why in &stats.skip_reasons {
                    eprintln!("  skipped a record: {why}");
                }
            }
            Err(err @ ImportError::Store(_)) => return Err(err.into()),
            Err(err) => {
                eprintln!("error: {err}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "{failed} of {} files could not be imported; the others were",
            files.len()
        );
        return Ok(exit::FAILURE);
    }
    Ok(exit::OK)
}

/// What a file brought, in the words of its kind.
fn describe(stats: &ImportStats) -> String {
    let mut parts = Vec::new();
    if stats.inserted + stats.replaced + stats.kept + stats.removed > 0 || stats.records() == 0 {
        parts.push(format!(
            "{} new, {} updated, {} older kept, {} removed",
            stats.inserted, stats.replaced, stats.kept, stats.removed
        ));
    }
    if stats.kev > 0 {
        parts.push(format!("{} KEV entries", stats.kev));
    }
    if stats.epss > 0 {
        parts.push(format!("{} EPSS scores", stats.epss));
    }
    if stats.advisories > 0 {
        parts.push(format!("{} advisory statements", stats.advisories));
    }
    parts.push(format!("{} skipped", stats.skipped));
    parts.join(", ")
}

fn status(args: StatusArgs) -> anyhow::Result<u8> {
    let path = args.db.resolve();
    if !path.exists() {
        return Err(UsageError(format!(
            "no CVE database at {}; create one with `brulee db import FILE...` or `brulee db update`",
            path.display()
        ))
        .into());
    }
    let status = Store::open(&path)?.status()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(exit::OK);
    }
    println!("database:        {}", status.path);
    println!("CVEs:            {}", status.cves);
    println!("products:        {}", status.products);
    println!("KEV entries:     {}", status.kev_entries);
    match (&status.epss_date, status.epss_scores) {
        (_, 0) => println!("EPSS scores:     0"),
        (date, n) => println!(
            "EPSS scores:     {n} (scored {}, model {})",
            date.as_deref().unwrap_or("on an unknown date"),
            status.epss_model.as_deref().unwrap_or("unknown")
        ),
    }
    println!(
        "distro advisories: {}{}",
        status.distro_fixes,
        if status.distro_releases.is_empty() {
            String::new()
        } else {
            format!(" ({})", status.distro_releases.join(", "))
        }
    );
    println!(
        "newest modified: {}",
        status.newest_modified.as_deref().unwrap_or("-")
    );
    println!(
        "last import:     {}",
        status.last_import.as_deref().unwrap_or("-")
    );
    println!(
        "size:            {:.1} MiB",
        status.size_bytes as f64 / 1_048_576.0
    );
    println!("sources:");
    for source in &status.sources {
        println!("  {source}");
    }
    Ok(exit::OK)
}
