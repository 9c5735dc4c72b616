//! `cargo xtask bench`: brulee's speed and memory, side by side with the baselines users know,
//! measured in one run on this machine (docs/PERFORMANCE.md has the last published tables).
//!
//! Five benchmarks, each printing one table and writing `target/bench/NAME.json`:
//! - `report`: generated nmap XML → `brulee report -f json`, against Python's
//!   `xmltodict.parse` (Flan Scan's parser) and quick-xml's bare event loop;
//! - `cvedb`: import of every NVD 1.1 feed against reading + gunzipping them, database size,
//!   look-ups per second against the full database, time to the first match of a fresh process;
//! - `plugins`: per-finding cost of a Lua filter, a WASM filter and a WASM enricher, and a WASM
//!   plugin's cold start against its compiled-component cache;
//! - `scan`: `brulee scan` of real daemons on loopback against one bare nmap with the same
//!   flags, against Flan Scan's one-nmap-per-target loop, and with `--parallel 4`;
//! - `merge`: `brulee merge` of 10 and 100 shard reports of 10k hosts in all, against one
//!   run's report of the same hosts.
//!
//! Whole commands are timed with GNU time (median of repeated runs, peak RSS); the per-item
//! costs (look-ups, plugin calls) are criterion micro-benchmarks in `host/benches/throughput.rs`,
//! run by their compiled binary. A real run uses release builds; `--smoke` runs a tiny version
//! of each with the binaries the test build already made, so CI needs no second build.

mod cvedb;
mod merge;
mod plugins;
mod report_path;
mod scan;
mod scan_xml;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::{cargo, display, project_root, target_dir};

/// The benchmarks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Benchmark {
    /// nmap XML → JSON report, against xmltodict and the quick-xml floor.
    Report,
    /// CVE database: import, size, look-ups per second, first match.
    Cvedb,
    /// Plugin steps: per-finding cost, cold start against cache hit.
    Plugins,
    /// End to end: brulee scan of loopback daemons against bare nmap and Flan Scan's loop.
    Scan,
    /// brulee merge of 10 and 100 shard reports against one run's report: time and memory.
    Merge,
}

impl Benchmark {
    pub const ALL: [Benchmark; 5] = [
        Benchmark::Report,
        Benchmark::Cvedb,
        Benchmark::Plugins,
        Benchmark::Scan,
        Benchmark::Merge,
    ];
}

/// What `cargo xtask bench` was asked.
pub struct Options {
    pub full: bool,
    pub smoke: bool,
    pub only: Vec<Benchmark>,
    pub refresh_tables: bool,
}

/// Everything a benchmark needs: where to write, which binaries, how hard to try.
pub struct Bench {
    pub root: PathBuf,
    /// target/bench: generated inputs, databases, results.
    pub out: PathBuf,
    pub bins: Binaries,
    pub smoke: bool,
    pub full: bool,
}

impl Bench {
    /// Repeats of a timed command: medians of 3, or one run in a smoke.
    pub fn runs(&self) -> usize {
        if self.smoke {
            1
        } else {
            3
        }
    }

    /// The shared test data (`../shared/data` beside the project).
    pub fn shared_data(&self) -> Result<PathBuf> {
        let dir = self.root.join("../shared/data");
        if !dir.is_dir() {
            bail!(
                "{} is missing: the CVE benchmarks read NVD's feeds from it",
                dir.display()
            );
        }
        Ok(dir)
    }
}

/// The binaries under test: release builds, or the test build's for a smoke.
pub struct Binaries {
    pub brulee: PathBuf,
    pub xml_floor: PathBuf,
    /// The criterion benchmarks (`host/benches/throughput.rs`).
    pub throughput: PathBuf,
    pub profile: &'static str,
}

impl Binaries {
    fn build(smoke: bool) -> Result<Binaries> {
        let mut command = cargo();
        if smoke {
            // The test build's own command (nextest runs it): brulee and the examples are
            // built already, and the bench binary links against the same artifacts.
            crate::run(cargo().args(["test", "--workspace", "--no-run"]))?;
            command.args(["test", "--workspace", "--no-run", "--benches"]);
        } else {
            command.args([
                "build",
                "--release",
                "-p",
                "brulee",
                "--bins",
                "--examples",
                "--benches",
            ]);
        }
        command.arg("--message-format=json-render-diagnostics");
        command.stdout(Stdio::piped());
        eprintln!("$ {}", display(&command));
        let output = command
            .spawn()
            .and_then(|c| c.wait_with_output())
            .context("running cargo")?;
        if !output.status.success() {
            bail!("building the benchmarks failed: {}", output.status);
        }
        let mut throughput = None;
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if message["reason"] == "compiler-artifact" && message["target"]["name"] == "throughput"
            {
                if let Some(exe) = message["executable"].as_str() {
                    throughput = Some(PathBuf::from(exe));
                }
            }
        }
        let dir = target_dir().join(if smoke { "debug" } else { "release" });
        let bins = Binaries {
            brulee: dir.join("brulee"),
            xml_floor: dir.join("examples/xml_floor"),
            throughput: throughput.context("cargo built no `throughput` benchmark")?,
            profile: if smoke {
                "test build (debug)"
            } else {
                "release"
            },
        };
        for path in [&bins.brulee, &bins.xml_floor] {
            if !path.is_file() {
                bail!(
                    "{} is missing; for --smoke, build the tests first (cargo nextest run --workspace --no-run)",
                    path.display()
                );
            }
        }
        Ok(bins)
    }
}

pub fn bench(options: Options) -> Result<()> {
    let root = project_root();
    let out = target_dir().join("bench");
    std::fs::create_dir_all(&out)?;
    let bins = Binaries::build(options.smoke)?;
    let bench = Bench {
        root,
        out,
        bins,
        smoke: options.smoke,
        full: options.full,
    };
    if options.refresh_tables {
        return report_path::refresh_tables(&bench);
    }
    let selected: Vec<Benchmark> = if options.only.is_empty() {
        Benchmark::ALL.to_vec()
    } else {
        options.only
    };
    let machine = Machine::read();
    eprintln!("bench: {}", machine.describe());
    let started = std::time::Instant::now();
    let mut tables = Vec::new();
    for which in selected {
        let name = format!("{which:?}").to_lowercase();
        eprintln!("bench: {name}…");
        let produced = match which {
            Benchmark::Report => report_path::run(&bench)?,
            Benchmark::Cvedb => cvedb::run(&bench)?,
            Benchmark::Plugins => plugins::run(&bench)?,
            Benchmark::Scan => scan::run(&bench)?,
            Benchmark::Merge => merge::run(&bench)?,
        };
        let json = serde_json::json!({
            "benchmark": name,
            "machine": machine.json(),
            "binaries": bench.bins.profile,
            "smoke": bench.smoke,
            "tables": produced.iter().map(Table::json).collect::<Vec<_>>(),
        });
        std::fs::write(
            bench.out.join(format!("{name}.json")),
            serde_json::to_string_pretty(&json)? + "\n",
        )?;
        tables.extend(produced);
    }
    println!(
        "\n# cargo xtask bench{} — {}\n",
        if bench.smoke { " --smoke" } else { "" },
        machine.describe()
    );
    for table in &tables {
        println!("{}", table.markdown());
    }
    println!(
        "total {:.0} s; load average now {}; results in {}",
        started.elapsed().as_secs_f64(),
        Machine::load_average(),
        bench.out.display()
    );
    Ok(())
}

/// One table of results: printed as Markdown, saved as JSON rows.
pub struct Table {
    pub title: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    /// Machine-readable figures, one object per row.
    pub data: Vec<serde_json::Value>,
    /// Targets and what they came to, one line each.
    pub notes: Vec<String>,
}

impl Table {
    pub fn new(title: impl Into<String>, columns: &[&'static str]) -> Table {
        Table {
            title: title.into(),
            columns: columns.to_vec(),
            rows: Vec::new(),
            data: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>, data: serde_json::Value) {
        self.rows.push(cells);
        self.data.push(data);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    fn markdown(&self) -> String {
        let mut text = format!("## {}\n\n| {} |\n|", self.title, self.columns.join(" | "));
        for (i, _) in self.columns.iter().enumerate() {
            text.push_str(if i == 0 { ":---|" } else { "---:|" });
        }
        text.push('\n');
        for row in &self.rows {
            let _ = writeln!(text, "| {} |", row.join(" | "));
        }
        if !self.notes.is_empty() {
            text.push('\n');
            for note in &self.notes {
                let _ = writeln!(text, "- {note}");
            }
        }
        text
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({ "title": self.title, "rows": self.data, "notes": self.notes })
    }
}

impl Bench {
    /// "met" or "NOT met", for the notes under a table; a smoke's tiny sizes judge nothing.
    pub fn verdict(&self, met: bool) -> &'static str {
        match (self.smoke, met) {
            (true, _) => "(smoke: not judged)",
            (false, true) => "met",
            (false, false) => "NOT met",
        }
    }
}

/// The machine the numbers come from: they mean little without it.
struct Machine {
    cpus: usize,
    memory_gib: f64,
    cpu_model: String,
    date: String,
    load: String,
}

impl Machine {
    fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let field = |text: &str, key: &str| {
            text.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        };
        let memory_kib: f64 = field(&meminfo, "MemTotal")
            .and_then(|v| v.trim_end_matches(" kB").parse().ok())
            .unwrap_or(0.0);
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: memory_kib / 1_048_576.0,
            cpu_model: field(&cpuinfo, "model name").unwrap_or_else(|| "unknown CPU".into()),
            date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            load: Machine::load_average(),
        }
    }

    /// The 1, 5 and 15-minute load averages: other work on the machine skews seconds.
    fn load_average() -> String {
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into())
    }

    fn describe(&self) -> String {
        format!(
            "{} cores ({}), {:.0} GiB, {}, load average {}",
            self.cpus, self.cpu_model, self.memory_gib, self.date, self.load
        )
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "cpus": self.cpus,
            "cpu_model": self.cpu_model,
            "memory_gib": (self.memory_gib * 10.0).round() / 10.0,
            "date": self.date,
            "load_average_at_start": self.load,
        })
    }
}

/// A timed command: the median wall time of its runs and the largest peak RSS.
#[derive(Debug, Clone, Copy)]
pub struct Measure {
    pub seconds: f64,
    pub peak_kib: u64,
}

impl Measure {
    pub fn peak_mib(&self) -> f64 {
        self.peak_kib as f64 / 1024.0
    }
}

/// Run a command `runs` times under GNU time: median wall time, largest peak RSS (GNU time's
/// figure). Its output is discarded (a benchmark's output can be large), except its error
/// output on failure.
pub fn measure(runs: usize, make: impl Fn() -> Command) -> Result<Measure> {
    let mut times = Vec::new();
    let mut peak = 0;
    for _ in 0..runs {
        let inner = make();
        let mut timed = Command::new("/usr/bin/time");
        timed
            .args(["-f", "BENCH %M"])
            .arg(inner.get_program())
            .args(inner.get_args())
            .envs(
                inner
                    .get_envs()
                    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
            )
            .stdout(Stdio::null());
        if let Some(dir) = inner.get_current_dir() {
            timed.current_dir(dir);
        }
        // GNU time's own clock counts hundredths of a second: too coarse for short commands.
        let started = std::time::Instant::now();
        let output = timed
            .output()
            .context("running /usr/bin/time (apt-get install time)")?;
        let elapsed = started.elapsed().as_secs_f64();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            bail!("`{}` failed: {stderr}", display(&inner));
        }
        let line = stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("BENCH "))
            .context("no timing from /usr/bin/time")?;
        let peak_kib = line.split_whitespace().nth(1).unwrap_or("0");
        times.push(elapsed);
        peak = peak.max(peak_kib.parse::<u64>()?);
    }
    Ok(Measure {
        seconds: median(&mut times).max(0.001),
        peak_kib: peak,
    })
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Run a criterion benchmark of `host/benches/throughput.rs` whose name starts with `filter`;
/// returns the median time of one iteration, in seconds, of each benchmark id it ran.
pub fn criterion(bench: &Bench, filter: &str, env: &[(&str, &Path)]) -> Result<Vec<(String, f64)>> {
    let home = bench.out.join("criterion");
    let group = filter.split('/').next().unwrap_or(filter);
    let dir = home.join(group);
    // Estimates of an earlier run must not pass for this one's.
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let mut command = Command::new(&bench.bins.throughput);
    command
        .arg("--bench")
        .arg(filter)
        .args(["--noplot"])
        .env("CRITERION_HOME", &home)
        .current_dir(&bench.root);
    if bench.smoke {
        command.args([
            "--warm-up-time",
            "0.1",
            "--measurement-time",
            "0.2",
            "--sample-size",
            "10",
        ]);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    crate::run(&mut command)?;
    // criterion keeps each benchmark's estimates under CRITERION_HOME/GROUP/NAME/new.
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path().join("new/estimates.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let estimates: serde_json::Value = serde_json::from_str(&text)?;
        let nanos = estimates["median"]["point_estimate"]
            .as_f64()
            .with_context(|| format!("{}: no median", path.display()))?;
        let name = path
            .parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        found.push((name, nanos / 1e9));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// Format seconds for a table: "1.23 s", "45.6 ms", "7.8 µs".
pub fn seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.1} ms", s * 1e3)
    } else if s >= 1e-6 {
        format!("{:.2} µs", s * 1e6)
    } else {
        format!("{:.0} ns", s * 1e9)
    }
}
