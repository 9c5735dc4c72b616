//! Plugins (issue 4): the per-finding cost of a Lua filter, a WASM filter and a WASM enricher
//! over 100k findings (criterion, loading amortised), each beside the built-in filter that does
//! the same check (the pipeline's floor), and a WASM plugin's cold start (the
//! component compiled) against a run that finds it in the compiled-component cache.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use super::{criterion, measure, seconds, Bench, Table};

/// Per-finding targets of issue 4, in seconds.
const LUA_TARGET: f64 = 2e-6;
const WASM_TARGET: f64 = 10e-6;

pub fn run(bench: &Bench) -> Result<Vec<Table>> {
    crate::plugins::build()?;
    let findings: usize = if bench.smoke { 1_000 } else { 100_000 };
    let count = findings.to_string();
    let measured = criterion(
        bench,
        "plugin",
        &[("BRULEE_BENCH_FINDINGS", Path::new(&count))],
    )?;
    let mut per_finding = Table::new(
        format!("Plugins: per-finding cost over {findings} findings (criterion median, loading and the report's recount included)"),
        &["step", "per finding", "over the built-in", "findings/s", "target"],
    );
    // The built-in filter does the same check in Rust: what a plugin costs beyond it is the
    // plugin's own overhead (the call, passing the finding, its verdict), which the targets
    // are about; the pipeline's own work is the same for every step.
    let floor = measured
        .iter()
        .find(|(name, _)| name == "builtin-filter")
        .map(|(_, iteration)| iteration / findings as f64);
    for (name, iteration) in &measured {
        let each = iteration / findings as f64;
        let over = floor.map(|f| each - f);
        let (target, judged) = match name.as_str() {
            "builtin-filter" => (None, each),
            n if n.starts_with("lua") => (Some(LUA_TARGET), over.unwrap_or(each)),
            n if n.ends_with("filter") => (Some(WASM_TARGET), over.unwrap_or(each)),
            // No built-in enricher does the same work: judged on the whole cost.
            _ => (Some(WASM_TARGET), each),
        };
        per_finding.row(
            vec![
                name.clone(),
                seconds(each),
                match (name.as_str(), over) {
                    ("builtin-filter", _) => "(the floor)".into(),
                    (_, Some(over)) => seconds(over),
                    (_, None) => String::new(),
                },
                format!("{:.0}", 1.0 / each),
                match target {
                    Some(t) => format!(
                        "≤ {} ({}): {}",
                        seconds(t),
                        if judged == each {
                            "whole"
                        } else {
                            "over the built-in"
                        },
                        bench.verdict(judged <= t)
                    ),
                    None => String::new(),
                },
            ],
            serde_json::json!({
                "step": name,
                "seconds_per_finding": each,
                "seconds_over_builtin": over,
                "findings": findings,
            }),
        );
    }

    // Cold start: `brulee report` with a WASM enricher, its cache empty, then warm.
    let dir = bench.out.join("plugins");
    std::fs::create_dir_all(&dir)?;
    let manifest = dir.join("enricher.toml");
    let wasm = crate::target_dir().join("wasm/wasm32-wasip2/release/tag_enricher.wasm");
    std::fs::write(
        &manifest,
        format!("[[enrich]]\nwasm = {wasm:?}\nconfig = {{ owner = \"x\" }}\n"),
    )?;
    let xml = bench.root.join("fixtures/nmap/nmap793_vulners_mockapi.xml");
    let cache = dir.join("cache");
    let report = |with_manifest: bool| {
        let mut c = Command::new(&bench.bins.brulee);
        c.arg("report").arg(&xml).args(["-f", "json", "--no-db"]);
        if with_manifest {
            c.arg("--manifest").arg(&manifest);
        }
        c.env("BRULEE_CACHE_DIR", &cache);
        c
    };
    let runs = bench.runs();
    let bare = measure(runs, || report(false))?;
    let cold = measure(runs, || {
        let _ = std::fs::remove_dir_all(&cache);
        report(true)
    })?;
    let warm = measure(runs, || report(true))?;
    let mut start = Table::new(
        format!("Plugins: cold start of a WASM enricher (`brulee report` of a 3-port scan, median of {runs} runs)"),
        &["run", "time", "peak RSS"],
    );
    for (what, m) in [
        ("no plugin", bare),
        ("WASM enricher, empty cache (compiles the component)", cold),
        ("WASM enricher, cache hit", warm),
    ] {
        start.row(
            vec![
                what.into(),
                seconds(m.seconds),
                format!("{:.1} MiB", m.peak_mib()),
            ],
            serde_json::json!({"run": what, "seconds": m.seconds, "peak_kib": m.peak_kib}),
        );
    }
    start.note(format!(
        "the cache saves {} per run ({:.1}× faster start)",
        seconds(cold.seconds - warm.seconds),
        cold.seconds / warm.seconds
    ));
    Ok(vec![per_finding, start])
}
