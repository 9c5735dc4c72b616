//! `cargo xtask bench`: brulee's speed and memory, side by side with the baselines users know,
//! measured in one run on this machine. Results go to target/bench/*.json and a table.
//!
//! Report path: generated nmap XML (1k and 10k hosts; 100k with --full) through
//! `brulee report -f json`, against Flan Scan's parser floor (Python's `xmltodict.parse`, what
//! its report is built on, in a venv made here) and quick-xml's bare event loop (the parser
//! floor). Medians of repeated runs; peak RSS from GNU time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{cargo, project_root, run};

/// One measured command: median wall time of `runs` runs, and the largest peak RSS.
struct Measure {
    seconds: f64,
    peak_kib: u64,
}

pub fn bench(full: bool, smoke: bool) -> Result<()> {
    let root = project_root();
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out)?;
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "brulee",
        "--bin",
        "brulee",
        "--example",
        "xml_floor",
    ]))?;
    let brulee = root.join("target/release/brulee");
    let floor = root.join("target/release/examples/xml_floor");
    let python = venv_with_xmltodict(&out)?;

    let sizes: &[usize] = if smoke {
        &[200]
    } else if full {
        &[1_000, 10_000, 100_000]
    } else {
        &[1_000, 10_000]
    };
    let runs = if smoke { 1 } else { 3 };
    let mut table = String::from("| hosts | XML MB | brulee report -f json | xmltodict.parse | quick-xml floor | xmltodict / brulee | brulee / floor | brulee peak RSS |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let mut json_rows = Vec::new();
    for &hosts in sizes {
        let xml = out.join(format!("scan-{hosts}.xml"));
        if !xml.exists() {
            std::fs::write(&xml, generate_xml(hosts)).context("writing the generated XML")?;
        }
        let mb = std::fs::metadata(&xml)?.len() as f64 / 1e6;
        let report_dir = out.join(format!("report-{hosts}"));
        let ours = measure(runs, || {
            let mut c = Command::new(&brulee);
            c.arg("report")
                .arg(&xml)
                .args(["-f", "json", "--no-db", "-o"])
                .arg(&report_dir);
            c
        })?;
        let flan = measure(runs, || {
            let mut c = Command::new(&python);
            c.args([
                "-c",
                "import sys, xmltodict; xmltodict.parse(open(sys.argv[1], 'rb'))",
            ])
            .arg(&xml);
            c
        })?;
        let bare = measure(runs, || {
            let mut c = Command::new(&floor);
            c.arg(&xml);
            c
        })?;
        writeln!(
            table,
            "| {hosts} | {mb:.1} | {:.2} s ({:.0} hosts/s, {:.0} MB/s) | {:.2} s | {:.2} s | {:.1}× | {:.2}× | {:.1} MB |",
            ours.seconds,
            hosts as f64 / ours.seconds,
            mb / ours.seconds,
            flan.seconds,
            bare.seconds,
            flan.seconds / ours.seconds,
            ours.seconds / bare.seconds,
            ours.peak_kib as f64 / 1024.0
        )?;
        json_rows.push(format!(
            r#"{{"hosts":{hosts},"xml_mb":{mb:.2},"brulee_s":{:.4},"brulee_peak_kib":{},"xmltodict_s":{:.4},"xmltodict_peak_kib":{},"floor_s":{:.4}}}"#,
            ours.seconds, ours.peak_kib, flan.seconds, flan.peak_kib, bare.seconds
        ));
    }
    std::fs::write(
        out.join("report-path.json"),
        format!("[{}]\n", json_rows.join(",")),
    )?;
    println!(
        "\nReport path (median of {runs} runs; machine: {} cores):\n\n{table}",
        num_cpus()
    );
    println!("targets: 10k hosts to JSON ≥ 50× faster than xmltodict.parse alone, parse within 2× of the floor, peak RSS ≤ 64 MB");
    Ok(())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Median wall time and peak RSS of `runs` runs of a command, via GNU time.
fn measure(runs: usize, make: impl Fn() -> Command) -> Result<Measure> {
    let mut times = Vec::new();
    let mut peak = 0;
    for _ in 0..runs {
        let inner = make();
        let mut timed = Command::new("/usr/bin/time");
        timed
            .args(["-f", "BENCH %e %M"])
            .arg(inner.get_program())
            .args(inner.get_args());
        let output = timed
            .output()
            .context("running /usr/bin/time (apt-get install time)")?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            bail!("{:?} failed: {stderr}", inner.get_program());
        }
        let line = stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("BENCH "))
            .context("no timing from /usr/bin/time")?;
        let mut parts = line.split_whitespace().skip(1);
        times.push(parts.next().unwrap_or("0").parse::<f64>()?);
        peak = peak.max(parts.next().unwrap_or("0").parse::<u64>()?);
    }
    times.sort_by(f64::total_cmp);
    Ok(Measure {
        seconds: times[times.len() / 2].max(0.001),
        peak_kib: peak,
    })
}

/// A venv under target/bench with xmltodict from PyPI (made once).
fn venv_with_xmltodict(out: &Path) -> Result<PathBuf> {
    let venv = out.join("venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", "xmltodict"]))?;
    }
    Ok(python)
}

/// Realistic nmap XML: `hosts` hosts up with 3–6 open ports each, product/version/CPE, and
/// vulners tables (5–20 bulletins) on about half the ports. Deterministic.
pub fn generate_xml(hosts: usize) -> String {
    const SERVICES: &[(&str, &str, &str, &str)] = &[
        (
            "ssh",
            "OpenSSH",
            "8.2p1 Ubuntu 4ubuntu0.5",
            "cpe:/a:openbsd:openssh:8.2p1",
        ),
        ("http", "nginx", "1.18.0", "cpe:/a:igor_sysoev:nginx:1.18.0"),
        (
            "http",
            "Apache httpd",
            "2.4.41",
            "cpe:/a:apache:http_server:2.4.41",
        ),
        ("ftp", "vsftpd", "3.0.3", "cpe:/a:vsftpd:vsftpd:3.0.3"),
        (
            "mysql",
            "MySQL",
            "8.0.32-0ubuntu0.20.04.2",
            "cpe:/a:mysql:mysql:8.0.32",
        ),
        (
            "redis",
            "Redis key-value store",
            "7.0.15",
            "cpe:/a:redislabs:redis:7.0.15",
        ),
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut xml = String::with_capacity(hosts * 9000);
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner=\"nmap\" args=\"nmap -sV --script vulners -oX - 10.0.0.0/8\" start=\"1795563079\" version=\"7.93\" xmloutputversion=\"1.05\">\n<scaninfo type=\"syn\" protocol=\"tcp\" numservices=\"1000\" services=\"1-1000\"/>\n");
    for h in 0..hosts {
        let ip = format!("10.{}.{}.{}", (h >> 16) & 255, (h >> 8) & 255, h & 255);
        let _ = write!(xml, "<host starttime=\"1795563079\" endtime=\"1795563085\"><status state=\"up\" reason=\"syn-ack\" reason_ttl=\"64\"/>\n<address addr=\"{ip}\" addrtype=\"ipv4\"/>\n<hostnames><hostname name=\"host{h}.example.internal\" type=\"PTR\"/></hostnames>\n<ports><extraports state=\"closed\" count=\"995\"><extrareasons reason=\"resets\" count=\"995\"/></extraports>\n");
        let ports = 3 + (next() % 4) as usize;
        for p in 0..ports {
            let (name, product, version, cpe) = SERVICES[(h + p) % SERVICES.len()];
            let port = 20 + p * 1000 + (next() % 900) as usize;
            let _ = write!(xml, "<port protocol=\"tcp\" portid=\"{port}\"><state state=\"open\" reason=\"syn-ack\" reason_ttl=\"64\"/><service name=\"{name}\" product=\"{product}\" version=\"{version}\" method=\"probed\" conf=\"10\"><cpe>{cpe}</cpe></service>");
            if next() % 2 == 0 {
                let bulletins = 5 + (next() % 16) as usize;
                let mut output = format!("&#xa;  {cpe}: &#xa;");
                let mut tables = String::new();
                for b in 0..bulletins {
                    let id = format!(
                        "CVE-20{:02}-{}",
                        10 + (next() % 15),
                        1000 + (next() % 40000)
                    );
                    let cvss = (next() % 100) as f64 / 10.0;
                    let exploit = b % 7 == 0;
                    let _ = write!(
                        output,
                        "    &#x9;{id}&#x9;{cvss:.1}&#x9;https://vulners.com/cve/{id}&#xa;"
                    );
                    let _ = write!(tables, "<table>\n<elem key=\"id\">{id}</elem>\n<elem key=\"cvss\">{cvss:.1}</elem>\n<elem key=\"type\">cve</elem>\n<elem key=\"is_exploit\">{exploit}</elem>\n</table>\n");
                }
                let _ = write!(xml, "<script id=\"vulners\" output=\"{output}\"><table key=\"{cpe}\">\n{tables}</table>\n</script>");
            }
            xml.push_str("</port>\n");
        }
        xml.push_str("</ports>\n<times srtt=\"183\" rttvar=\"2903\" to=\"100000\"/>\n</host>\n");
    }
    let _ = write!(xml, "<runstats><finished time=\"1795563985\" elapsed=\"906\" exit=\"success\"/><hosts up=\"{hosts}\" down=\"0\" total=\"{hosts}\"/></runstats>\n</nmaprun>\n");
    xml
}
