//! Report path: generated nmap XML → `brulee report -f json`, side by side with Python's
//! `xmltodict.parse` (what Flan Scan's report is built on: the floor Flan pays before any report
//! work) and quick-xml's bare event loop (the parser floor), at 1k and 10k hosts (100k with
//! `--full`).

use std::collections::BTreeMap;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use super::scan_xml::{self, Mix};
use super::{measure, seconds, Bench, Table};

/// The report-path targets of issue 9.
const XMLTODICT_RATIO: f64 = 50.0;
const FLOOR_RATIO: f64 = 2.0;
const PEAK_MIB: f64 = 64.0;

pub fn run(bench: &Bench) -> Result<Vec<Table>> {
    let mix = Mix::load(&bench.root)?;
    let python = venv_with_xmltodict(&bench.out)?;
    let sizes: &[usize] = if bench.smoke {
        &[200]
    } else if bench.full {
        &[1_000, 10_000, 100_000]
    } else {
        &[1_000, 10_000]
    };
    let runs = bench.runs();
    let mut table = Table::new(
        format!("Report path: nmap XML → JSON report (median of {runs} runs)"),
        &[
            "hosts",
            "XML MB",
            "findings",
            "brulee report -f json",
            "peak RSS",
            "brulee's parse alone",
            "quick-xml floor",
            "xmltodict.parse",
            "xmltodict / brulee",
            "parse / floor",
        ],
    );
    let mut points = Vec::new();
    for &hosts in sizes {
        let xml = bench.out.join(format!("scan-{hosts}.xml"));
        if !xml.exists() {
            let file = std::fs::File::create(&xml)?;
            let mut out = BufWriter::new(file);
            scan_xml::write_scan(&mix, hosts, true, &mut out)
                .with_context(|| format!("writing {}", xml.display()))?;
            std::io::Write::flush(&mut out)?;
        }
        let mb = std::fs::metadata(&xml)?.len() as f64 / 1e6;
        let report_dir = bench.out.join(format!("report-{hosts}"));
        let ours = measure(runs, || {
            let mut c = Command::new(&bench.bins.brulee);
            c.arg("report")
                .arg(&xml)
                .args(["-f", "json", "--no-db", "-o"])
                .arg(&report_dir);
            c
        })?;
        let findings = report_findings(&report_dir.join("report.json"))?;
        let parse = measure(runs, || {
            let mut c = Command::new(&bench.bins.xml_floor);
            c.arg("--brulee").arg(&xml);
            c
        })?;
        let floor = measure(runs, || {
            let mut c = Command::new(&bench.bins.xml_floor);
            c.arg(&xml);
            c
        })?;
        // xmltodict holds the whole document as Python dicts: about 10 GB at 100k hosts, more
        // than a shared machine should give it.
        let flan = if hosts <= 10_000 {
            Some(measure(runs, || {
                let mut c = Command::new(&python);
                c.args([
                    "-c",
                    "import sys, xmltodict; xmltodict.parse(open(sys.argv[1], 'rb'))",
                ])
                .arg(&xml);
                c
            })?)
        } else {
            None
        };
        let flan_cell = flan.map_or("not run (memory)".to_string(), |m| seconds(m.seconds));
        let ratio_cell = flan.map_or("–".to_string(), |m| {
            format!("{:.1}×", m.seconds / ours.seconds)
        });
        table.row(
            vec![
                hosts.to_string(),
                format!("{mb:.1}"),
                findings.to_string(),
                format!(
                    "{} ({:.0} hosts/s, {:.1} MB/s)",
                    seconds(ours.seconds),
                    hosts as f64 / ours.seconds,
                    mb / ours.seconds
                ),
                format!("{:.1} MiB", ours.peak_mib()),
                format!("{} ({:.1} MiB)", seconds(parse.seconds), parse.peak_mib()),
                seconds(floor.seconds),
                flan_cell,
                ratio_cell,
                format!("{:.1}×", parse.seconds / floor.seconds),
            ],
            serde_json::json!({
                "hosts": hosts,
                "xml_mb": mb,
                "findings": findings,
                "brulee_s": ours.seconds,
                "brulee_peak_kib": ours.peak_kib,
                "parse_s": parse.seconds,
                "parse_peak_kib": parse.peak_kib,
                "floor_s": floor.seconds,
                "xmltodict_s": flan.map(|m| m.seconds),
                "xmltodict_peak_kib": flan.map(|m| m.peak_kib),
            }),
        );
        points.push((hosts, ours, parse, floor, flan));
    }
    // Targets, judged at 10k hosts (the size) or the largest size run.
    if let Some((hosts, ours, parse, floor, flan)) = points
        .iter()
        .find(|p| p.0 == 10_000)
        .or(points.last())
        .copied()
    {
        if let Some(flan) = flan {
            let ratio = flan.seconds / ours.seconds;
            table.note(format!(
                "{hosts} hosts to a JSON report ≥ {XMLTODICT_RATIO}× faster than xmltodict.parse alone: {ratio:.1}×, {}",
                bench.verdict(ratio >= XMLTODICT_RATIO)
            ));
        }
        let ratio = parse.seconds / floor.seconds;
        table.note(format!(
            "brulee's parse within {FLOOR_RATIO}× of the bare quick-xml loop: {ratio:.1}×, {}",
            bench.verdict(ratio <= FLOOR_RATIO)
        ));
    }
    let worst = points.iter().map(|p| p.1.peak_mib()).fold(0.0, f64::max);
    table.note(format!(
        "peak RSS ≤ {PEAK_MIB} MiB at every size: largest {worst:.1} MiB, {}",
        bench.verdict(worst <= PEAK_MIB)
    ));
    if let [first, .., last] = points.as_slice() {
        let size = last.0 as f64 / first.0 as f64;
        table.note(format!(
            "growth from {} to {} hosts ({size:.0}× the input): time {:.1}×, parse memory {:.1}×, report memory {:.1}×",
            first.0,
            last.0,
            last.1.seconds / first.1.seconds,
            last.2.peak_mib() / first.2.peak_mib(),
            last.1.peak_mib() / first.1.peak_mib(),
        ));
    }
    Ok(vec![table])
}

/// The report's finding count, from its summary (read from the head of the file: a report of
/// 100k hosts is too big to parse whole just to count).
fn report_findings(path: &Path) -> Result<u64> {
    let mut head = vec![0; 256 * 1024];
    let mut file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let n = file.read(&mut head)?;
    let head = String::from_utf8_lossy(&head[..n]);
    let summary = head
        .find("\"summary\"")
        .context("report.json has no summary")?;
    let rest = &head[summary..];
    let at = rest
        .find("\"findings\":")
        .context("the summary has no findings count")?;
    let digits: String = rest[at + 11..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Ok(digits.parse()?)
}

/// A venv under target/bench with xmltodict from PyPI (made once).
fn venv_with_xmltodict(out: &Path) -> Result<PathBuf> {
    let venv = out.join("venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        crate::run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        crate::run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", "xmltodict"]))?;
    }
    Ok(python)
}

/// `--refresh-tables`: ask brulee's CVE database, filled from every NVD record in
/// `../shared/data`, which CVEs apply to each service of the mix, and write them as the
/// vulners tables of the generated scans (`fixtures/bench/vulners-tables.tsv`).
pub fn refresh_tables(bench: &Bench) -> Result<()> {
    let mix = Mix::load(&bench.root)?;
    let db = super::cvedb::full_database(bench)?;
    let probe = bench.out.join("mix-probe.xml");
    scan_xml::write_probe(
        &mix.entries,
        &mut BufWriter::new(std::fs::File::create(&probe)?),
    )?;
    let output = Command::new(&bench.bins.brulee)
        .arg("report")
        .arg(&probe)
        .args(["-f", "json", "--db"])
        .arg(&db)
        .output()
        .context("running brulee report")?;
    if !output.status.success() {
        anyhow::bail!(
            "brulee report failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    // vulners lists a CPE's bulletins most severe first.
    let mut tables: BTreeMap<String, Vec<(f64, String)>> = BTreeMap::new();
    for f in report["findings"].as_array().into_iter().flatten() {
        let (Some(cpe), Some(id)) = (f["cpe"].as_str(), f["cve"].as_str()) else {
            continue;
        };
        let cvss = f["cvss"].as_f64().unwrap_or(0.0);
        tables
            .entry(cpe.to_string())
            .or_default()
            .push((cvss, id.to_string()));
    }
    let mut text = String::from(
        "# Generated by `cargo xtask bench --refresh-tables`: the CVEs (and CVSS scores) that NVD's\n\
         # records in ../shared/data give each service of service-mix.tsv, as brulee's database\n\
         # matches them. The vulners tables of the benchmark's generated scans. See README.md.\n\
         # cpe\tid\tcvss\n",
    );
    for (cpe, mut list) in tables {
        list.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        list.dedup_by(|a, b| a.1 == b.1);
        for (cvss, id) in list {
            text.push_str(&format!("{cpe}\t{id}\t{cvss:.1}\n"));
        }
    }
    let path = bench.root.join("fixtures/bench/vulners-tables.tsv");
    std::fs::write(&path, text)?;
    eprintln!("wrote {}", path.display());
    let mix = Mix::load(&bench.root)?;
    let mut sizes: Vec<_> = mix.table_sizes().collect();
    sizes.sort();
    for (cpe, n) in sizes {
        eprintln!("  {cpe}: {n}");
    }
    Ok(())
}
