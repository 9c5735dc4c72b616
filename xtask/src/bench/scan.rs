//! End to end (issues 7 and 9): `brulee scan` of real daemons on loopback addresses (testkit:
//! sshd, vsftpd, nginx, redis, each on its own 127.0.10.x), against one bare nmap run with the
//! very command brulee ran, against Flan Scan's way (one `nmap -sV` per target, one after
//! another), and with `--parallel 4`. Only those addresses and the daemons' ports are scanned.

use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use testkit::{LoopbackService, ServiceKind};

use super::{median, seconds, Bench, Table};

/// Issue 7's target: brulee's own overhead over the bare nmap run.
const OVERHEAD: f64 = 0.05;

pub fn run(bench: &Bench) -> Result<Vec<Table>> {
    let missing = testkit::missing_tools();
    if !missing.is_empty() {
        bail!(
            "the scan benchmark needs {}: run `cargo xtask setup --test`",
            missing.join(", ")
        );
    }
    let hosts = if bench.smoke { 4 } else { 16 };
    let mut services = Vec::new();
    for i in 0..hosts {
        let addr: IpAddr = format!("127.0.10.{}", i + 1).parse()?;
        let kind = ServiceKind::ALL[i % ServiceKind::ALL.len()];
        services.push(
            LoopbackService::start(kind, addr)
                .with_context(|| format!("starting {kind} on {addr}"))?,
        );
    }
    let ports: Vec<String> = services.iter().map(|s| s.port.to_string()).collect();
    let ports = ports.join(",");
    let range = format!("127.0.10.1-{hosts}");
    let dir = bench.out.join("scan");
    std::fs::create_dir_all(&dir)?;
    let runs = bench.runs();

    let brulee = |parallel: Option<&str>, out: &str| {
        let mut c = Command::new(&bench.bins.brulee);
        c.args([
            "scan",
            &range,
            "-n",
            "--no-vulners",
            "-q",
            "-p",
            &ports,
            "-o",
        ])
        .arg(dir.join(out))
        .args(["-f", "json"]);
        if let Some(n) = parallel {
            c.args(["--parallel", n]);
        }
        c
    };
    let sequential = time_runs(runs, || brulee(None, "sequential"))?;
    // The nmap command brulee ran, as its report records it: the bare baseline runs it as is.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("sequential/report.json"))?)?;
    let command = report["scan"]["nmap_commands"][0]
        .as_str()
        .context("the report names no nmap command")?
        .to_string();
    let found = report["summary"]["services"].as_u64().unwrap_or(0);
    let args: Vec<String> = command
        .split_whitespace()
        .skip(1)
        .map(String::from)
        .collect();
    let Some(split) = args.iter().position(|a| a == "--") else {
        bail!("brulee's nmap command has no `--` before its targets: {command}");
    };
    let flags = &args[..split];
    let bare = time_runs(runs, || {
        let mut c = Command::new("nmap");
        c.args(flags).arg("--").arg(&range);
        c
    })?;
    // Flan Scan: `nmap -sV … TARGET` for each line of ips.txt, one after another. Timed once:
    // it is the slowest by far (a minute and a half), and the bench must stay under 10 minutes.
    let flan = {
        let started = Instant::now();
        for s in &services {
            let mut c = Command::new("nmap");
            c.args(flags).arg("--").arg(s.addr.to_string());
            quiet(&mut c)?;
        }
        started.elapsed().as_secs_f64()
    };
    let parallel = time_runs(runs, || brulee(Some("4"), "parallel"))?;
    drop(services);

    let mut table = Table::new(
        format!(
            "End to end: {hosts} loopback hosts ({found} services found), median of {runs} runs (Flan Scan's loop: one run)"
        ),
        &["run", "time", "vs bare nmap"],
    );
    for (what, s) in [
        ("bare nmap, the command brulee runs", bare),
        ("brulee scan", sequential),
        ("brulee scan --parallel 4", parallel),
        ("Flan Scan's way: one nmap per target, in turn", flan),
    ] {
        table.row(
            vec![what.into(), seconds(s), format!("{:.2}×", s / bare)],
            serde_json::json!({"run": what, "seconds": s, "ratio_to_bare": s / bare}),
        );
    }
    let overhead = sequential / bare - 1.0;
    table.note(format!("nmap command: `{command}`"));
    table.note(format!(
        "brulee's overhead over bare nmap < {:.0}%: {:+.1}%, {}",
        OVERHEAD * 100.0,
        overhead * 100.0,
        bench.verdict(overhead < OVERHEAD)
    ));
    table.note(format!(
        "--parallel 4 beats the bare run: {:.2}×, {}",
        parallel / bare,
        bench.verdict(parallel < bare)
    ));
    table.note(format!(
        "against Flan Scan's loop: brulee scan {:.1}× faster, --parallel 4 {:.1}× faster",
        flan / sequential,
        flan / parallel
    ));
    Ok(vec![table])
}

/// Median wall time of `runs` runs of a command (its output discarded).
fn time_runs(runs: usize, make: impl Fn() -> Command) -> Result<f64> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let mut command = make();
        let started = Instant::now();
        quiet(&mut command)?;
        times.push(started.elapsed().as_secs_f64());
    }
    Ok(median(&mut times))
}

fn quiet(command: &mut Command) -> Result<()> {
    let output = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {}", crate::display(command)))?;
    if !output.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            crate::display(command),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
