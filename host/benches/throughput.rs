//! Per-item costs that `cargo xtask bench` measures with criterion: CVE look-ups against a full
//! database, and the per-finding cost of plugin steps. Whole-command figures (import, report
//! path, scans) are timed by xtask around the release binary instead.
//!
//! xtask sets the inputs through the environment:
//! - `BRULEE_BENCH_DB`: the CVE database (every NVD feed imported) and `BRULEE_BENCH_MIX`: the
//!   service mix (`fixtures/bench/service-mix.tsv`), for `cve-lookup`;
//! - `BRULEE_BENCH_FINDINGS`: findings per plugin run (100,000 in a real run), for `plugin`; the WASM
//!   plugins come from `target/wasm` (`cargo xtask plugins`).
//!
//! A benchmark whose input is not set is skipped with a message.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use brulee::report::{Provenance, Report};
use brulee::vulndb::{Matcher, Store};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The application CPEs of the service mix, each with the CPEs nmap reports beside it on the
/// same port (none here): what `Matcher::match_service` gets for one port.
fn mix_cpes(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('\t').nth(6))
        .filter(|cpe| !cpe.is_empty())
        .map(|cpe| vec![cpe.to_string()])
        .collect()
}

/// Look-ups of every CPE of the mix: `warm` with each product's CVEs already compiled (as in a
/// scan of many hosts), `cold` with a new matcher each time (the first host of a scan).
fn cve_lookup(c: &mut Criterion) {
    let (Some(db), Some(mix)) = (
        std::env::var_os("BRULEE_BENCH_DB"),
        std::env::var_os("BRULEE_BENCH_MIX"),
    ) else {
        eprintln!("cve-lookup: skipped (set BRULEE_BENCH_DB and BRULEE_BENCH_MIX)");
        return;
    };
    let store = Store::open(Path::new(&db)).expect("the benchmark database opens");
    let services = mix_cpes(Path::new(&mix));
    let mut group = c.benchmark_group("cve-lookup");
    group.throughput(Throughput::Elements(services.len() as u64));
    let mut matcher = Matcher::new(&store);
    group.bench_function("warm", |b| {
        b.iter(|| {
            for cpes in &services {
                std::hint::black_box(matcher.match_service(cpes, &[]).unwrap());
            }
        })
    });
    group.bench_function("cold", |b| {
        b.iter(|| {
            let mut matcher = Matcher::new(&store);
            for cpes in &services {
                std::hint::black_box(matcher.match_service(cpes, &[]).unwrap());
            }
        })
    });
    group.finish();
}

/// The fixture's findings, repeated to `n`.
fn report_with(n: usize) -> Report {
    let file = root().join("fixtures/nmap/nmap793_vulners_mockapi.xml");
    let reader = BufReader::new(std::fs::File::open(&file).unwrap());
    let scan = brulee::nmap::xml::read_scan(reader, "fixture", |_| {}).unwrap();
    let vulners = brulee::findings::VulnersStatus::from_xml(&scan);
    let provenance = Provenance {
        targets: vec![],
        xml_files: vec![],
        vulners,
        database: None,
    };
    let mut report = Report::build(&scan, provenance, None).unwrap();
    let one = report.findings.clone();
    report.findings = one.iter().cycle().take(n).cloned().collect();
    report
}

/// One step's run over all findings: the pipeline as `brulee report --manifest` runs it,
/// loading included (amortised over the findings; WASM from the compiled-component cache).
fn plugin(c: &mut Criterion) {
    let Some(n) = std::env::var("BRULEE_BENCH_FINDINGS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    else {
        eprintln!("plugin: skipped (set BRULEE_BENCH_FINDINGS)");
        return;
    };
    let wasm = root().join("target/wasm/wasm32-wasip2/release");
    let lua = root().join("fixtures/plugins/lua/accepted-risk.lua");
    let dir = tempfile::tempdir().unwrap();
    // The floor: the same filter built into brulee, so that the pipeline's own work (loading,
    // applying verdicts, recounting the report) can be told from what a plugin adds.
    let accepted = dir.path().join("accepted-risk.toml");
    std::fs::write(
        &accepted,
        "[[accept]]\nids = [\"none\"]\nuntil = \"2999-12-31\"\nreason = \"bench\"\n",
    )
    .unwrap();
    let steps = [
        (
            "builtin-filter",
            format!(
                "[[filter]]\nbuiltin = \"accepted-risk\"\nconfig = {{ path = {accepted:?} }}\n"
            ),
        ),
        (
            "lua-filter",
            format!("[[filter]]\nlua = {lua:?}\nconfig = {{ ids = [\"none\"] }}\n"),
        ),
        (
            "wasm-filter",
            format!(
                "[[filter]]\nwasm = {:?}\nconfig = {{ ids = [\"none\"] }}\n",
                wasm.join("accepted_risk_filter.wasm")
            ),
        ),
        (
            "wasm-enricher",
            format!(
                "[[enrich]]\nwasm = {:?}\nconfig = {{ owner = \"x\" }}\n",
                wasm.join("tag_enricher.wasm")
            ),
        ),
    ];
    // A cache of our own: the first run compiles, every measured one is a cache hit.
    std::env::set_var("BRULEE_CACHE_DIR", dir.path().join("cache"));
    let report = report_with(n);
    let mut group = c.benchmark_group("plugin");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    for (name, text) in steps {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let manifest = brulee::pipeline::load_manifest(&path).unwrap_or_else(|e| {
            panic!("{name}: {e} (are the WASM plugins built? cargo xtask plugins)")
        });
        group.bench_function(name, |b| {
            b.iter_batched(
                || report.clone(),
                |mut report| {
                    brulee::pipeline::process(&manifest, &mut report, None).unwrap();
                    // A step that failed would be skipped, and measured as free.
                    assert_eq!(
                        report.steps[0].status, "ok",
                        "{name}: {:?}",
                        report.steps[0].error
                    );
                    report
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, cve_lookup, plugin);
criterion_main!(benches);
