//! `cargo xtask fuzz`: builds brulee's libFuzzer targets (`fuzz/`) with cargo-fuzz and runs
//! each for a while, from a corpus seeded with the project's own fixtures.
//!
//! cargo-fuzz is installed from crates.io into `target/tools` (like the storage servers). It
//! needs a nightly compiler for `-Zsanitizer=address`; only a stable one exists here, so the
//! build runs with `RUSTC_BOOTSTRAP=1`, which lets stable take `-Z` flags (the sanitizer
//! runtime ships with stable's standard library). The targets build brulee without its
//! `plugins` feature, so no wasmtime or Lua.
//!
//! The corpus lives in `target/fuzz/corpus/TARGET` and grows from run to run; a crash lands in
//! `target/fuzz/artifacts/TARGET/` and fails the command, with the line that replays it.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

pub const CARGO_FUZZ: &str = "cargo-fuzz@0.13.2";

/// Every target in `fuzz/fuzz_targets/`, in the order they run.
pub const TARGETS: [&str; 5] = ["nmap_xml", "cpe", "version", "manifest", "nvd_feed"];

/// What CI gives each target: the issue asks for at least 30 seconds.
pub const SMOKE_SECONDS: u64 = 30;

/// Faster builds at a small cost in executions per second: CI's time is what is short.
const CODEGEN_UNITS: &str = "16";

/// What `cargo xtask test` runs: every target for [`SMOKE_SECONDS`]. CI's disk is small, so
/// there (`ci`) the build (1.6 GB with the sanitizer) is removed afterwards.
pub fn smoke(ci: bool) -> Result<()> {
    let result = fuzz(SMOKE_SECONDS, None);
    if ci {
        let build = fuzz_dir().join("build");
        if let Err(e) = fs::remove_dir_all(&build) {
            eprintln!("fuzz: could not remove {}: {e}", build.display());
        }
    }
    result
}

/// One target's run, as libFuzzer's final statistics tell it.
#[derive(Debug, Default, PartialEq)]
pub struct RunStats {
    pub target: String,
    pub seconds: f64,
    pub execs: u64,
    pub execs_per_sec: u64,
    pub new_units: u64,
    pub peak_rss_mb: u64,
    pub corpus_files: usize,
    /// Inputs that crashed it (or timed out, or ran out of memory).
    pub crashes: Vec<PathBuf>,
}

pub fn fuzz(seconds: u64, only: Option<&str>) -> Result<()> {
    let targets: Vec<&str> = match only {
        Some(name) if TARGETS.contains(&name) => vec![name],
        Some(name) => bail!(
            "no fuzz target {name:?}: the targets are {}",
            TARGETS.join(", ")
        ),
        None => TARGETS.to_vec(),
    };
    let cargo_fuzz = crate::setup::cargo_tool(CARGO_FUZZ, "cargo-fuzz", &[])?;
    let started = Instant::now();
    let mut build = cargo_fuzz_command(&cargo_fuzz, "build");
    if let Some(name) = only {
        build.arg(name);
    }
    crate::run(&mut build)?;
    eprintln!(
        "fuzz: built {} target(s) in {:.0} s",
        targets.len(),
        started.elapsed().as_secs_f64()
    );

    let mut runs = Vec::new();
    for target in targets {
        let corpus = seed_corpus(target)?;
        runs.push(run_target(&cargo_fuzz, target, &corpus, seconds)?);
    }
    print_table(&runs);
    let crashed: Vec<&RunStats> = runs.iter().filter(|r| !r.crashes.is_empty()).collect();
    if !crashed.is_empty() {
        let mut message = String::from("fuzzing found crashes; replay one with:");
        for run in crashed {
            for input in &run.crashes {
                message.push_str(&format!(
                    "\n  {} {}",
                    target_binary(&run.target).display(),
                    input.display()
                ));
            }
        }
        bail!("{message}\n(then turn each into a regression test next to the code)");
    }
    Ok(())
}

/// The built target: run with an input file as argument, it replays that input.
fn target_binary(target: &str) -> PathBuf {
    fuzz_dir()
        .join("build")
        .join(HOST_TRIPLE)
        .join("release")
        .join(target)
}

/// cargo-fuzz builds for this triple unless told otherwise.
const HOST_TRIPLE: &str = "x86_64-unknown-linux-gnu";

fn fuzz_dir() -> PathBuf {
    crate::target_dir().join("fuzz")
}

fn cargo_fuzz_command(cargo_fuzz: &Path, subcommand: &str) -> Command {
    let mut command = Command::new(cargo_fuzz);
    command
        .current_dir(crate::project_root())
        .env("RUSTC_BOOTSTRAP", "1")
        // cargo-fuzz runs `cargo`: the same one that runs us.
        .env(
            "CARGO",
            std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
        )
        .args([subcommand, "--fuzz-dir", "fuzz", "--release"])
        .args(["--codegen-units", CODEGEN_UNITS])
        .arg("--target-dir")
        .arg(fuzz_dir().join("build"));
    command
}

fn run_target(cargo_fuzz: &Path, target: &str, corpus: &Path, seconds: u64) -> Result<RunStats> {
    let artifacts = fuzz_dir().join("artifacts").join(target);
    fs::create_dir_all(&artifacts)?;
    let before = files_in(&artifacts)?;
    let mut command = cargo_fuzz_command(cargo_fuzz, "run");
    command
        .arg(target)
        .arg(corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        // An input that takes this long is a hang, and fails like a crash.
        .arg("-timeout=10")
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .stderr(Stdio::piped());
    eprintln!("$ {}", crate::display(&command));
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {}", cargo_fuzz.display()))?;
    // libFuzzer reports on stderr; pass it through and keep it for the statistics.
    let mut log = String::new();
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let mut buf = [0u8; 8192];
    loop {
        let n = stderr.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = String::from_utf8_lossy(&buf[..n]);
        eprint!("{chunk}");
        log.push_str(&chunk);
    }
    let status = child.wait()?;
    let mut stats = parse_final_stats(&log);
    stats.target = target.to_string();
    stats.seconds = started.elapsed().as_secs_f64();
    stats.corpus_files = files_in(corpus)?.len();
    stats.crashes = files_in(&artifacts)?
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    if !status.success() && stats.crashes.is_empty() {
        bail!("fuzz target {target} failed without leaving a crashing input ({status})");
    }
    Ok(stats)
}

/// libFuzzer's `-print_final_stats=1` lines: `stat::number_of_executed_units: 123`.
fn parse_final_stats(log: &str) -> RunStats {
    let mut stats = RunStats::default();
    for line in log.lines() {
        let Some((key, value)) = line.strip_prefix("stat::").and_then(|l| l.split_once(':')) else {
            continue;
        };
        let Ok(value) = value.trim().parse::<u64>() else {
            continue;
        };
        match key {
            "number_of_executed_units" => stats.execs = value,
            "average_exec_per_sec" => stats.execs_per_sec = value,
            "new_units_added" => stats.new_units = value,
            "peak_rss_mb" => stats.peak_rss_mb = value,
            _ => {}
        }
    }
    stats
}

fn print_table(runs: &[RunStats]) {
    println!(
        "{:<10} {:>7} {:>12} {:>9} {:>10} {:>8} {:>8} {:>8}",
        "target", "seconds", "execs", "execs/s", "new units", "corpus", "rss MB", "crashes"
    );
    for r in runs {
        println!(
            "{:<10} {:>7.0} {:>12} {:>9} {:>10} {:>8} {:>8} {:>8}",
            r.target,
            r.seconds,
            r.execs,
            r.execs_per_sec,
            r.new_units,
            r.corpus_files,
            r.peak_rss_mb,
            r.crashes.len()
        );
    }
}

fn files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// `target/fuzz/corpus/TARGET`, with the seeds for `target` added (what earlier runs found is
/// kept).
fn seed_corpus(target: &str) -> Result<PathBuf> {
    let dir = fuzz_dir().join("corpus").join(target);
    fs::create_dir_all(&dir)?;
    let seeds = seeds(target)?;
    if seeds.is_empty() {
        bail!("no seeds for fuzz target {target} in fixtures/");
    }
    for (i, seed) in seeds.iter().enumerate() {
        fs::write(dir.join(format!("seed-{i:04}")), seed)?;
    }
    Ok(dir)
}

/// Seeds from the project's real data: nmap XML and NVD records in `fixtures/`, the manifests
/// in `deploy/` and the docs.
fn seeds(target: &str) -> Result<Vec<Vec<u8>>> {
    let root = crate::project_root();
    let fixtures = root.join("fixtures");
    let nmap_xml = || -> Result<Vec<String>> {
        let mut texts = Vec::new();
        for file in files_in(&fixtures.join("nmap"))? {
            texts.push(fs::read_to_string(&file)?);
        }
        Ok(texts)
    };
    let nvd = || -> Result<Vec<String>> {
        let mut texts = Vec::new();
        for file in files_in(&fixtures.join("nvd"))? {
            texts.push(read_maybe_gzip(&file)?);
        }
        Ok(texts)
    };
    Ok(match target {
        "nmap_xml" => nmap_xml()?.into_iter().map(String::into_bytes).collect(),
        "cpe" => {
            let mut cpes = Vec::new();
            for text in nmap_xml()?.iter().chain(&nvd()?) {
                cpes.extend(cpe_names(text));
            }
            dedup(cpes)
        }
        "version" => {
            let mut versions = Vec::new();
            for text in nmap_xml()? {
                versions.extend(quoted_after(&text, "version=\""));
            }
            for text in nvd()? {
                for key in [
                    "\"versionStartIncluding\": \"",
                    "\"versionStartExcluding\": \"",
                    "\"versionEndIncluding\": \"",
                    "\"versionEndExcluding\": \"",
                ] {
                    versions.extend(quoted_after(&text, key));
                }
            }
            let versions = dedup(versions);
            // Three to a seed, one per line, as the target reads them.
            versions.chunks(3).map(|chunk| chunk.join(&b'\n')).collect()
        }
        "manifest" => {
            let mut manifests = vec![fs::read(root.join("deploy/kubernetes/scan.toml"))?];
            for doc in ["README.md", "docs/PLUGINS.md", "plugins/README.md"] {
                let text = fs::read_to_string(root.join(doc))?;
                manifests.extend(
                    fenced_blocks(&text, "toml")
                        .into_iter()
                        .map(String::into_bytes),
                );
            }
            manifests
        }
        "nvd_feed" => {
            let mut feeds = Vec::new();
            for text in nvd()? {
                feeds.extend(single_record_feeds(&text)?);
            }
            // A 1.1 feed and a KEV catalog, as they are (small already).
            for file in files_in(&fixtures.join("feeds"))? {
                feeds.push(fs::read(file)?);
            }
            feeds
        }
        other => bail!("no seeds for {other}"),
    })
}

/// An NVD 2.0 response cut into feeds of one record each, leaving out the big ones: small
/// seeds are what a fuzzer mutates quickly.
fn single_record_feeds(text: &str) -> Result<Vec<Vec<u8>>> {
    let mut feed: serde_json::Value = serde_json::from_str(text).context("an NVD fixture")?;
    let records = feed["vulnerabilities"].take();
    let mut seeds = Vec::new();
    for record in records.as_array().into_iter().flatten() {
        feed["vulnerabilities"] = serde_json::Value::Array(vec![record.clone()]);
        let seed = serde_json::to_vec(&feed)?;
        if seed.len() <= 8 << 10 {
            seeds.push(seed);
        }
    }
    Ok(seeds)
}

fn read_maybe_gzip(path: &Path) -> Result<String> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_string(&mut text)
            .with_context(|| format!("decompressing {}", path.display()))?;
        Ok(text)
    } else {
        String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", path.display()))
    }
}

/// Every `cpe:/…` and `cpe:2.3:…` in a text, up to the quote or tag that ends it.
fn cpe_names(text: &str) -> Vec<Vec<u8>> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("cpe:") {
        let name: String = rest[i..]
            .chars()
            .take_while(|c| !matches!(c, '"' | '<' | '\n' | ' '))
            .collect();
        rest = &rest[i + "cpe:".len()..];
        if name.starts_with("cpe:/") || name.starts_with("cpe:2.3:") {
            names.push(name.into_bytes());
        }
    }
    names
}

/// The values of `key` (which ends with the opening quote) throughout a text.
fn quoted_after(text: &str, key: &str) -> Vec<Vec<u8>> {
    text.match_indices(key)
        .filter_map(|(i, _)| {
            let value = &text[i + key.len()..];
            value.find('"').map(|end| value.as_bytes()[..end].to_vec())
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// The contents of every ```LANG fenced block in Markdown.
fn fenced_blocks(markdown: &str, lang: &str) -> Vec<String> {
    let fence = format!("```{lang}\n");
    markdown
        .match_indices(&fence)
        .filter_map(|(i, _)| {
            let body = &markdown[i + fence.len()..];
            body.find("```").map(|end| body[..end].to_string())
        })
        .collect()
}

fn dedup(mut items: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    items.sort();
    items.dedup();
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_seeds_and_a_source_file() {
        for target in TARGETS {
            let seeds = seeds(target).unwrap();
            assert!(seeds.len() >= 3, "{target}: {} seeds", seeds.len());
            let source = crate::project_root()
                .join("fuzz/fuzz_targets")
                .join(format!("{target}.rs"));
            assert!(source.is_file(), "{}", source.display());
        }
        let cpes = seeds("cpe").unwrap();
        assert!(cpes.contains(&b"cpe:/a:openbsd:openssh:8.2p1".to_vec()));
        assert!(cpes.iter().any(|c| c.starts_with(b"cpe:2.3:a:")));
    }

    #[test]
    fn final_stats_are_read_from_libfuzzers_log() {
        let log = "#1024\tpulse  cov: 10\n\
                   Done 5000 runs in 30 second(s)\n\
                   stat::number_of_executed_units: 5000\n\
                   stat::average_exec_per_sec:     166\n\
                   stat::new_units_added:          42\n\
                   stat::slowest_unit_time_sec:    0\n\
                   stat::peak_rss_mb:              61\n";
        let stats = parse_final_stats(log);
        assert_eq!(
            (
                stats.execs,
                stats.execs_per_sec,
                stats.new_units,
                stats.peak_rss_mb
            ),
            (5000, 166, 42, 61)
        );
    }

    #[test]
    fn fenced_toml_blocks_are_found() {
        let md = "text\n```toml\n[scan]\nports = \"22\"\n```\n```sh\nls\n```\n";
        assert_eq!(fenced_blocks(md, "toml"), ["[scan]\nports = \"22\"\n"]);
    }
}
