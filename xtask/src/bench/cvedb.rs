//! CVE database (issue 3): import of every NVD 1.1 feed in `../shared/data` against the floor
//! of reading and gunzipping them, the database's size per CVE, look-ups per second of the
//! service mix's CPEs against the full database (criterion), and how long a fresh process
//! takes to its first matches.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use super::scan_xml::{self, Mix};
use super::{criterion, measure, seconds, Bench, Table};

/// The targets of issue 3.
const IMPORT_SECONDS: f64 = 25.0;
const IMPORT_PEAK_MIB: f64 = 200.0;
const LOOKUPS_PER_SECOND: f64 = 200_000.0;
const FIRST_MATCH_SECONDS: f64 = 0.1;

/// The feeds imported: every NVD 1.1 feed, or the fixtures' few records in a smoke.
fn feeds(bench: &Bench) -> Result<Vec<PathBuf>> {
    let dir = if bench.smoke {
        bench.root.join("fixtures/nvd")
    } else {
        bench.shared_data()?.join("nvd-1.1")
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .collect();
    files.sort();
    Ok(files)
}

/// The database the look-ups run against: the import of every feed, plus the genuine recent
/// NVD 2.0 records and CISA's KEV catalog. Made once under target/bench.
pub fn full_database(bench: &Bench) -> Result<PathBuf> {
    let name = if bench.smoke {
        "smoke.sqlite"
    } else {
        "full.sqlite"
    };
    let path = bench.out.join("cvedb").join(name);
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
    let mut files = feeds(bench)?;
    if let Ok(shared) = bench.shared_data() {
        if !bench.smoke {
            for recent in [
                "nvd2_recent_debian12.json.gz",
                "nvd2_real_recent_samples.json.gz",
            ] {
                files.push(shared.join("nvd-2.0").join(recent));
            }
        }
        files.push(shared.join("kev/known_exploited_vulnerabilities.json"));
    }
    let partial = path.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    crate::run(
        Command::new(&bench.bins.brulee)
            .args(["db", "import", "--db"])
            .arg(&partial)
            .args(&files),
    )?;
    // The write-ahead log goes with the file it belongs to.
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", partial.display()));
        if from.exists() {
            std::fs::rename(&from, format!("{}{suffix}", path.display()))?;
        }
    }
    Ok(path)
}

/// `brulee db status --json` of a database.
fn status(bench: &Bench, db: &Path) -> Result<serde_json::Value> {
    let output = Command::new(&bench.bins.brulee)
        .args(["db", "status", "--json", "--db"])
        .arg(db)
        .output()?;
    serde_json::from_slice(&output.stdout).context("brulee db status --json")
}

pub fn run(bench: &Bench) -> Result<Vec<Table>> {
    let runs = bench.runs();
    let files = feeds(bench)?;
    let compressed: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    let dir = bench.out.join("cvedb");
    std::fs::create_dir_all(&dir)?;

    // The floor: any importer reads and gunzips the feeds.
    let floor = measure(runs, || {
        let mut c = Command::new("gzip");
        c.arg("-dc").args(&files);
        c
    })?;
    let target = dir.join("import.sqlite");
    let import = measure(runs, || {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", target.display()));
        }
        let mut c = Command::new(&bench.bins.brulee);
        c.args(["db", "import", "--db"]).arg(&target).args(&files);
        c
    })?;
    let imported = status(bench, &target)?;
    let cves = imported["cves"].as_u64().unwrap_or(0);
    let bytes = imported["size_bytes"].as_u64().unwrap_or(0);

    let mut table = Table::new(
        format!(
            "CVE database: import of {} feeds ({:.1} MB gzipped), median of {runs} runs",
            files.len(),
            compressed as f64 / 1e6
        ),
        &[
            "what",
            "time",
            "records/s",
            "× floor",
            "peak RSS",
            "database",
        ],
    );
    table.row(
        vec![
            "read + gunzip (gzip -dc, the floor)".into(),
            seconds(floor.seconds),
            format!("{:.0}", cves as f64 / floor.seconds),
            "1.0×".into(),
            format!("{:.1} MiB", floor.peak_mib()),
            String::new(),
        ],
        serde_json::json!({"what": "floor", "seconds": floor.seconds, "peak_kib": floor.peak_kib}),
    );
    table.row(
        vec![
            format!("brulee db import ({cves} CVEs)"),
            seconds(import.seconds),
            format!("{:.0}", cves as f64 / import.seconds),
            format!("{:.1}×", import.seconds / floor.seconds),
            format!("{:.1} MiB", import.peak_mib()),
            format!(
                "{:.0} MB, {:.0} bytes/CVE",
                bytes as f64 / 1e6,
                bytes as f64 / cves.max(1) as f64
            ),
        ],
        serde_json::json!({
            "what": "import",
            "seconds": import.seconds,
            "peak_kib": import.peak_kib,
            "cves": cves,
            "database_bytes": bytes,
        }),
    );

    // Look-ups: the mix's CPEs against the full database, in one process (criterion).
    let db = full_database(bench)?;
    let mix = Mix::load(&bench.root)?;
    let cpes = mix.entries.iter().filter(|e| !e.cpe.is_empty()).count();
    let mix_file = bench.root.join("fixtures/bench/service-mix.tsv");
    let lookups = criterion(
        bench,
        "cve-lookup",
        &[("BRULEE_BENCH_DB", &db), ("BRULEE_BENCH_MIX", &mix_file)],
    )?;
    // Fresh processes: start-up, database open, the index read, the CVEs that can apply
    // compiled, the report written. First match: one process per service of the mix (a
    // one-service report), judged on the slowest; then one report of all of them.
    let fresh = |probe: &Path| {
        let probe = probe.to_path_buf();
        let db = db.clone();
        move || {
            let mut c = Command::new(&bench.bins.brulee);
            c.arg("report")
                .arg(&probe)
                .args(["-f", "json", "--db"])
                .arg(&db);
            c
        }
    };
    let services: Vec<_> = mix.entries.iter().filter(|e| !e.cpe.is_empty()).collect();
    let mut first_matches = Vec::new();
    for (i, entry) in services.iter().enumerate() {
        let probe = dir.join(format!("first-match-{i}.xml"));
        scan_xml::write_probe(
            std::slice::from_ref(*entry),
            &mut std::io::BufWriter::new(std::fs::File::create(&probe)?),
        )?;
        first_matches.push((measure(runs.max(3), fresh(&probe))?, entry.cpe.clone()));
    }
    first_matches.sort_by(|a, b| a.0.seconds.total_cmp(&b.0.seconds));
    let probe = dir.join("first-match.xml");
    scan_xml::write_probe(
        &mix.entries,
        &mut std::io::BufWriter::new(std::fs::File::create(&probe)?),
    )?;
    let first = measure(runs.max(3), fresh(&probe))?;
    let full = status(bench, &db)?;
    let mut matching = Table::new(
        format!(
            "CVE matching: {cpes} nmap CPEs of the service mix against {} CVEs",
            full["cves"].as_u64().unwrap_or(0)
        ),
        &["what", "time", "rate", "peak RSS"],
    );
    let mut per_lookup = None;
    for (name, iteration) in &lookups {
        let each = iteration / cpes as f64;
        if name == "warm" {
            per_lookup = Some(each);
        }
        matching.row(
            vec![
                format!("look-up ({name})"),
                seconds(each),
                format!("{:.0} look-ups/s", 1.0 / each),
                String::new(),
            ],
            serde_json::json!({"what": format!("lookup-{name}"), "seconds_per_lookup": each}),
        );
    }
    let (median, slowest) = (
        &first_matches[first_matches.len() / 2],
        first_matches.last().expect("the mix has services"),
    );
    for (what, (m, cpe)) in [("median", median), ("slowest", slowest)] {
        matching.row(
            vec![
                format!("fresh process, first match: `brulee report` of one service ({what} of {}: {cpe})", first_matches.len()),
                seconds(m.seconds),
                String::new(),
                format!("{:.1} MiB", m.peak_mib()),
            ],
            serde_json::json!({"what": format!("first-match-{what}"), "cpe": cpe, "seconds": m.seconds, "peak_kib": m.peak_kib}),
        );
    }
    matching.row(
        vec![
            format!("fresh process: `brulee report` of all {cpes} services, start to finish"),
            seconds(first.seconds),
            String::new(),
            format!("{:.1} MiB", first.peak_mib()),
        ],
        serde_json::json!({"what": "all-services-process", "seconds": first.seconds, "peak_kib": first.peak_kib}),
    );

    // Targets (judged on the full feeds only: the smoke's few records say nothing).
    if !bench.smoke {
        table.note(format!(
            "import of all of nvd-1.1 under {IMPORT_SECONDS} s: {}, {}",
            seconds(import.seconds),
            bench.verdict(import.seconds < IMPORT_SECONDS)
        ));
        table.note(format!(
            "import memory ≤ {IMPORT_PEAK_MIB} MiB: {:.1} MiB, {}",
            import.peak_mib(),
            bench.verdict(import.peak_mib() <= IMPORT_PEAK_MIB)
        ));
        table.note(format!(
            "a whole NVD (~300k CVEs) in under a minute, extrapolated: {:.0} s, {}",
            import.seconds * 300_000.0 / cves.max(1) as f64,
            bench.verdict(import.seconds * 300_000.0 / (cves.max(1) as f64) < 60.0)
        ));
        if let Some(each) = per_lookup {
            matching.note(format!(
                "≥ {LOOKUPS_PER_SECOND:.0} look-ups/s: {:.0}/s, {}",
                1.0 / each,
                bench.verdict(1.0 / each >= LOOKUPS_PER_SECOND)
            ));
        }
        matching.note(format!(
            "first match after start-up < {:.0} ms: a fresh one-service report takes {} for the slowest service of the mix ({}), {}",
            FIRST_MATCH_SECONDS * 1e3,
            seconds(slowest.0.seconds),
            slowest.1,
            bench.verdict(slowest.0.seconds < FIRST_MATCH_SECONDS)
        ));
    }
    Ok(vec![table, matching])
}
