//! Merge: `brulee merge` of shard reports that together hold 10k hosts (the size issue 7
//! names), split into 10 and into 100 shards, side by side with `brulee report` of the same
//! hosts as one run. A merge that streams keeps its memory flat in the number of shards: it is
//! bounded by the combined report, never by the shards held at once.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::scan_xml::{self, Mix};
use super::{measure, seconds, Bench, Table};

/// Peak memory of the 100-shard merge over the 10-shard one, at most.
const FLAT_RATIO: f64 = 1.25;

pub fn run(bench: &Bench) -> Result<Vec<Table>> {
    let (hosts, splits): (usize, &[usize]) = if bench.smoke {
        (200, &[2, 4])
    } else {
        (10_000, &[10, 100])
    };
    let xml = bench.out.join(format!("scan-{hosts}.xml"));
    if !xml.exists() {
        let mix = Mix::load(&bench.root)?;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&xml)?);
        scan_xml::write_scan(&mix, hosts, true, &mut out)
            .with_context(|| format!("writing {}", xml.display()))?;
        std::io::Write::flush(&mut out)?;
    }
    let runs = bench.runs();
    let mut table = Table::new(
        format!("Merge: {hosts} hosts in shard reports → one report (median of {runs} runs)"),
        &["input", "time", "peak RSS", "peak RSS / one run's"],
    );
    let whole_dir = bench.out.join(format!("merge-{hosts}-whole"));
    let whole = measure(runs, || report(bench, &xml, &whole_dir))?;
    table.row(
        vec![
            "one run: brulee report of the XML".into(),
            seconds(whole.seconds),
            format!("{:.1} MiB", whole.peak_mib()),
            "1.00×".into(),
        ],
        serde_json::json!({"shards": 1, "seconds": whole.seconds, "peak_kib": whole.peak_kib}),
    );
    let mut peaks = Vec::new();
    for &shards in splits {
        let dir = shard_reports(bench, &xml, shards)?;
        let out = bench.out.join(format!("merge-{hosts}-{shards}-out"));
        let merged = measure(runs, || {
            let mut c = Command::new(&bench.bins.brulee);
            c.arg("merge")
                .arg(&dir)
                .args(["-f", "json", "-o"])
                .arg(&out);
            c
        })?;
        check_same_hosts(&whole_dir.join("report.json"), &out.join("report.json"))?;
        table.row(
            vec![
                format!("brulee merge of {shards} shards"),
                seconds(merged.seconds),
                format!("{:.1} MiB", merged.peak_mib()),
                format!("{:.2}×", merged.peak_mib() / whole.peak_mib()),
            ],
            serde_json::json!({"shards": shards, "seconds": merged.seconds, "peak_kib": merged.peak_kib}),
        );
        peaks.push((shards, merged));
    }
    if let [(few, a), .., (many, b)] = peaks.as_slice() {
        let ratio = b.peak_mib() / a.peak_mib();
        table.note(format!(
            "memory flat in the shard count ({many} shards' peak within {FLAT_RATIO}× of {few} shards'): {ratio:.2}×, {}",
            bench.verdict(ratio <= FLAT_RATIO)
        ));
    }
    table.note(
        "each merge's summary (hosts, services, findings) is checked equal to the one run's"
            .to_string(),
    );
    Ok(vec![table])
}

fn report(bench: &Bench, xml: &Path, out: &Path) -> Command {
    let mut c = Command::new(&bench.bins.brulee);
    c.arg("report")
        .arg(xml)
        .args(["-f", "json", "--no-db", "-o"])
        .arg(out);
    c
}

/// Split the scan's `<host>` elements into `shards` XML files of consecutive hosts and make
/// each one's report, in `merge-HOSTS-SHARDS/I/report.json` (made once).
fn shard_reports(bench: &Bench, xml: &Path, shards: usize) -> Result<PathBuf> {
    let stem = xml.file_stem().unwrap_or_default().to_string_lossy();
    let dir = bench.out.join(format!("merge-{stem}-{shards}"));
    let done = dir.join("complete");
    if done.exists() {
        return Ok(dir);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let text = std::fs::read_to_string(xml)?;
    let first = text.find("<host ").context("the scan has no hosts")?;
    let end = text.rfind("</host>").context("the scan has no hosts")? + "</host>".len();
    let (head, body, tail) = (&text[..first], &text[first..end], &text[end..]);
    let hosts: Vec<&str> = body
        .split_inclusive("</host>")
        .map(str::trim_start)
        .filter(|h| !h.is_empty())
        .collect();
    let per_shard = hosts.len().div_ceil(shards);
    for (i, chunk) in hosts.chunks(per_shard).enumerate() {
        let shard = dir.join(i.to_string());
        std::fs::create_dir_all(&shard)?;
        let file = shard.join("scan.xml");
        std::fs::write(&file, format!("{head}{}\n{tail}", chunk.join("\n")))?;
        let output = report(bench, &file, &shard)
            .output()
            .context("running brulee report")?;
        if !output.status.success() {
            bail!(
                "brulee report of {} failed: {}",
                file.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::fs::remove_file(&file)?;
    }
    std::fs::write(&done, "")?;
    Ok(dir)
}

/// The merged report must count what the one run's counts (hosts, services, findings): a
/// merge that lost or doubled hosts would look fast.
fn check_same_hosts(whole: &Path, merged: &Path) -> Result<()> {
    let summary = |path: &Path| -> Result<serde_json::Value> {
        let report: serde_json::Value = serde_json::from_reader(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| path.display().to_string())?,
        ))?;
        Ok(report["summary"].clone())
    };
    let (a, b) = (summary(whole)?, summary(merged)?);
    if a != b || a.is_null() {
        bail!("the merge's summary {b} differs from the one run's {a}");
    }
    Ok(())
}
