//! Faults brulee must come through without losing what it already has, with real processes:
//! nmap killed mid-scan, nmap stuck on a service that never answers, an output folder that is
//! read-only or on a full disk. (A sink's server dying mid-upload is in sink_s3.rs, beside the
//! S3 server it kills.)
//!
//! Every scan names only loopback addresses and the ports of the services the test started;
//! daemons are stopped by PID when their `LoopbackService` drops. Mounts are made by
//! `unshare` in a mount namespace of brulee's own (and a user namespace, so no root is needed):
//! they vanish with it.

mod common;

use std::net::{IpAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use testkit::{LoopbackService, ServiceKind};

fn start(kind: ServiceKind, addr: &str) -> LoopbackService {
    LoopbackService::start(kind, addr.parse::<IpAddr>().unwrap()).unwrap_or_else(|e| panic!("{e}"))
}

/// A service that accepts connections and never says a word: nmap's version detection waits
/// on it for minutes (165 s measured with nmap 7.93), which is what a hung scan looks like.
fn silent_service(addr: &str) -> (TcpListener, u16) {
    let listener = TcpListener::bind((addr, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Processes whose command line contains `needle`, as (pid, command line).
fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) && pid != std::process::id() {
            found.push((pid, cmdline));
        }
    }
    found
}

/// The nmap that `parent` started.
fn nmap_child_of(parent: u32) -> u32 {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_string_lossy().parse::<u32>().ok())
        .find(|pid| {
            // "PID (COMM) STATE PPID …"; COMM may hold spaces, so split at its last ')'.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some((head, tail)) = stat.rsplit_once(')') else {
                return false;
            };
            head.ends_with("(nmap")
                && tail.split_whitespace().nth(1) == Some(parent.to_string().as_str())
        })
        .unwrap_or_else(|| panic!("brulee ({parent}) has no nmap child"))
}

/// Wait until nmap's raw XML in `out` holds a complete host.
fn wait_for_first_host(out: &Path, child: &mut Child) {
    let raw = out.join("nmap-ipv4.xml");
    let started = Instant::now();
    while !std::fs::read_to_string(&raw)
        .unwrap_or_default()
        .contains("</host>")
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "brulee exited before nmap finished a host"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nmap never finished the first host"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn finish(child: Child) -> Output {
    let output = child.wait_with_output().unwrap();
    eprintln!(
        "--- exited {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn services_named<'a>(report: &'a serde_json::Value, product: &str) -> Vec<&'a serde_json::Value> {
    report["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["product"] == product)
        .collect()
}

fn warnings(report: &serde_json::Value) -> Vec<&str> {
    report["scan"]["warnings"]
        .as_array()
        .map(|w| w.iter().filter_map(|w| w.as_str()).collect())
        .unwrap_or_default()
}

#[test]
fn nmap_killed_mid_scan_keeps_the_hosts_it_completed_and_exits_3() {
    require_tools();
    let ssh = start(ServiceKind::Ssh, "127.0.0.40");
    let (silent, silent_port) = silent_service("127.0.0.41");
    let out = tempfile::tempdir().unwrap();
    let mut child = brulee()
        .args([
            "scan",
            "127.0.0.40-41",
            "-n",
            "--no-vulners",
            "-q",
            // One host at a time: the first is complete while nmap waits on the second.
            "--nmap-arg=--max-hostgroup=1",
        ])
        .args(["-p", &format!("{},{silent_port}", ssh.port)])
        .arg("-o")
        .arg(out.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_first_host(out.path(), &mut child);
    let nmap = nmap_child_of(child.id());
    // SAFETY: kill(2) on a process this test's child started.
    assert_eq!(unsafe { libc::kill(nmap as libc::pid_t, libc::SIGKILL) }, 0);
    let output = finish(child);

    assert_eq!(output.status.code(), Some(3), "partial: exit code 3");
    assert!(String::from_utf8_lossy(&output.stdout).contains("PARTIAL RESULTS"));
    let raw = std::fs::read_to_string(out.path().join("nmap-ipv4.xml")).unwrap();
    assert!(
        raw.contains("</host>") && !raw.contains("</nmaprun>"),
        "the raw XML is kept as nmap left it"
    );
    let report = read_json(&out.path().join("report.json"));
    assert_schema_valid(&report);
    assert_eq!(report["scan"]["complete"], false);
    let openssh = services_named(&report, "OpenSSH");
    assert_eq!(openssh.len(), 1, "{:#}", report["services"]);
    assert_eq!(openssh[0]["endpoints"][0]["address"], "127.0.0.40");
    assert_eq!(openssh[0]["endpoints"][0]["port"], ssh.port);
    assert!(
        warnings(&report)
            .iter()
            .any(|w| w.contains("SIGKILL") && w.contains("partial")),
        "{:?}",
        warnings(&report)
    );
    // The Markdown report says so too.
    let markdown = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(markdown.contains("SIGKILL"), "{markdown}");
    drop(silent);
}

#[test]
fn a_hung_nmap_is_stopped_by_the_group_timeout_and_the_other_groups_complete() {
    require_tools();
    let ssh = start(ServiceKind::Ssh, "127.0.0.42");
    let (silent, silent_port) = silent_service("127.0.0.43");
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    // Two groups of one host each: the OpenSSH host's and the silent host's.
    let result = run(brulee()
        .args([
            "scan",
            "127.0.0.42-43",
            "-n",
            "--no-vulners",
            "--parallel",
            "2",
            "--group-timeout",
            "8s",
        ])
        .args(["-p", &format!("{},{silent_port}", ssh.port)])
        .arg("-o")
        .arg(out.path()));
    let took = started.elapsed();

    assert_eq!(result.status.code(), Some(3), "partial: exit code 3");
    // Two attempts of 8 s for the stuck group, not nmap's 165 s.
    assert!(took < Duration::from_secs(60), "took {took:?}");
    let report = read_json(&out.path().join("report.json"));
    assert_schema_valid(&report);
    assert_eq!(report["scan"]["complete"], false);
    assert_eq!(
        services_named(&report, "OpenSSH")[0]["endpoints"][0]["address"],
        "127.0.0.42",
        "the group that finished is reported"
    );
    let failed: Vec<&str> = warnings(&report)
        .into_iter()
        .filter(|w| w.contains("failed: nmap did not finish within 8s"))
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", warnings(&report));
    assert!(
        failed[0].starts_with("nmap-ipv4-group02.xml (1 targets)"),
        "{failed:?}"
    );
    assert!(
        stderr(&result)
            .contains("nmap-ipv4-group02.xml: nmap did not finish within 8s; trying once more"),
        "the progress lines say why the group runs again"
    );
    // Both attempts' nmap processes were stopped, not left behind.
    let target = "127.0.0.43";
    let left: Vec<(u32, String)> = processes_mentioning(target)
        .into_iter()
        .chain(processes_mentioning(&out.path().display().to_string()))
        .filter(|(_, cmd)| cmd.contains("nmap"))
        .collect();
    assert!(left.is_empty(), "nmap still running: {left:?}");
    drop(silent);
}

/// `brulee ARGS` in a mount namespace where `setup` (shell) has run first; prints what is in
/// `dir` afterwards (the namespace, and its mounts, are gone once it exits).
fn brulee_after_mount(setup: &str, dir: &Path, args: &[&str]) -> Output {
    let script = format!(
        "{setup} || exit 99\n\"$0\" \"$@\"; code=$?\necho \"left in the folder: $(ls -A '{}')\"\nexit $code",
        dir.display()
    );
    run(brulee_under(&[
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        &script,
    ])
    .args(args))
}

#[test]
fn a_full_disk_or_a_read_only_folder_fails_before_nmap_starts() {
    // A port of a service of ours; nmap must never get to scan it.
    let (service, port) = silent_service("127.0.0.44");
    let port = port.to_string();
    let scan = [
        "scan",
        "127.0.0.44",
        "-n",
        "--no-vulners",
        "-p",
        &port,
        "-o",
    ];

    // A tmpfs of 256 KiB, filled up.
    let full = tempfile::tempdir().unwrap();
    let dir = full.path().display().to_string();
    let started = Instant::now();
    let result = brulee_after_mount(
        &format!(
            "mount -t tmpfs -o size=256k tmpfs '{dir}' && \
             {{ dd if=/dev/zero of='{dir}/filler' bs=4k 2>/dev/null; true; }}"
        ),
        full.path(),
        &[&scan[..], &[&dir]].concat(),
    );
    assert_eq!(result.status.code(), Some(1), "{}", stderr(&result));
    let message = stderr(&result);
    assert!(
        message.contains(&format!("the output folder {dir} is on a full file system"))
            && message.contains("choose another folder with -o DIR"),
        "{message}"
    );
    assert!(
        stdout(&result).contains("left in the folder: filler\n"),
        "nothing was written, not even nmap's XML: {}",
        stdout(&result)
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // A read-only bind mount of an existing folder.
    let read_only = tempfile::tempdir().unwrap();
    let dir = read_only.path().display().to_string();
    let result = brulee_after_mount(
        &format!("mount --bind '{dir}' '{dir}' && mount -o remount,bind,ro '{dir}'"),
        read_only.path(),
        &[&scan[..], &[&dir]].concat(),
    );
    assert_eq!(result.status.code(), Some(1), "{}", stderr(&result));
    assert!(
        stderr(&result).contains(&format!(
            "cannot write to the output folder {dir}; choose another with -o DIR"
        )),
        "{}",
        stderr(&result)
    );
    assert!(stdout(&result).contains("left in the folder: \n"));
    drop(service);
}
