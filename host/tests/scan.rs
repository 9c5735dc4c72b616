//! `brulee scan` end to end: real nmap against real daemons on loopback addresses.
//!
//! Every scan here names only loopback addresses and only the ports of the services the test
//! started; the daemons are stopped (by PID) when their `LoopbackService` drops.

mod common;

use std::net::IpAddr;

use common::*;
use testkit::{LoopbackService, ServiceKind};

fn start(kind: ServiceKind, addr: &str) -> LoopbackService {
    LoopbackService::start(kind, addr.parse::<IpAddr>().unwrap()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn scan_finds_and_reports_every_service_on_its_host() {
    require_tools();
    let services = [
        start(ServiceKind::Ssh, "127.0.0.2"),
        start(ServiceKind::Ftp, "127.0.0.3"),
        start(ServiceKind::Http, "127.0.0.4"),
        start(ServiceKind::Redis, "127.0.0.5"),
    ];
    let ports: Vec<String> = services.iter().map(|s| s.port.to_string()).collect();
    let out = tempfile::tempdir().unwrap();
    let result = run(brulee()
        .args(["scan", "127.0.0.2-5", "-n", "-p", &ports.join(",")])
        .arg("-o")
        .arg(out.path()));
    assert_eq!(result.status.code(), Some(0));

    // The raw XML is kept beside the reports.
    assert!(std::fs::read_to_string(out.path().join("nmap-ipv4.xml"))
        .unwrap()
        .contains("</nmaprun>"));
    let report = read_json(&out.path().join("report.json"));
    assert_schema_valid(&report);
    assert_eq!(report["scan"]["vulners"], "unreachable");
    assert_eq!(report["summary"]["hosts_up"], 4);

    let expected = [
        (&services[0], "OpenSSH", "cpe:/a:openbsd:openssh"),
        (&services[1], "vsftpd", "vsftpd"),
        (&services[2], "nginx", "nginx"),
        (&services[3], "Redis key-value store", "redis"),
    ];
    for (service, product, cpe) in expected {
        let group = report["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["product"] == product)
            .unwrap_or_else(|| panic!("no {product} in {:#}", report["services"]));
        assert_eq!(group["endpoints"][0]["address"], service.addr.to_string());
        assert_eq!(group["endpoints"][0]["port"], service.port);
        assert_eq!(
            group["status"], "not_checked",
            "vulners was unreachable: nothing may look clean"
        );
        let reason = group["reason"].as_str().unwrap();
        if product == "Redis key-value store" {
            // nmap 7.93's redis fingerprint carries no CPE: there is nothing to look up.
            assert!(reason.contains("no CPE"), "{reason}");
        } else {
            assert!(reason.contains("vulners: unreachable"), "{reason}");
            assert!(
                group["cpes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c.as_str().unwrap().contains(cpe)),
                "{group:#}"
            );
        }
    }

    let markdown = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(markdown.contains("vulners: unreachable"));
    for service in &services {
        assert!(
            markdown.contains(&format!("{}:{}/tcp", service.addr, service.port)),
            "{markdown}"
        );
    }
    assert!(stdout(&result).contains("NOT CHECKED"));
}

#[test]
fn ipv4_and_ipv6_targets_are_scanned_in_separate_runs_and_merged() {
    require_tools();
    let v4 = start(ServiceKind::Redis, "127.0.0.6");
    let v6 = start(ServiceKind::Http, "::1");
    let out = tempfile::tempdir().unwrap();
    let ports = format!("{},{}", v4.port, v6.port);
    let result = run(brulee()
        .args([
            "scan",
            "127.0.0.6",
            "::1",
            "-n",
            "--no-vulners",
            "-q",
            "-p",
            &ports,
        ])
        .arg("-o")
        .arg(out.path()));
    assert_eq!(result.status.code(), Some(0));
    assert!(out.path().join("nmap-ipv4.xml").exists() && out.path().join("nmap-ipv6.xml").exists());
    let report = read_json(&out.path().join("report.json"));
    assert_schema_valid(&report);
    assert_eq!(report["scan"]["vulners"], "disabled");
    assert_eq!(report["scan"]["nmap_commands"].as_array().unwrap().len(), 2);
    let addresses: Vec<&str> = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, ["127.0.0.6", "::1"]);
    let endpoints: Vec<String> = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["endpoints"].as_array().unwrap().clone())
        .map(|e| format!("{}:{}", e["address"].as_str().unwrap(), e["port"]))
        .collect();
    assert!(
        endpoints.contains(&format!("127.0.0.6:{}", v4.port)),
        "{endpoints:?}"
    );
    assert!(
        endpoints.contains(&format!("::1:{}", v6.port)),
        "{endpoints:?}"
    );
}

#[test]
fn targets_that_could_be_nmap_options_are_refused_before_nmap_runs() {
    for target in [
        "-iL /etc/shadow",
        "--script=http-brute",
        "127.0.0.1;id",
        "$(id)",
        "127.0.0.1 -oN x",
    ] {
        let out = tempfile::tempdir().unwrap();
        let result = run(brulee()
            .args(["scan", "-o"])
            .arg(out.path())
            .args(["--", target]));
        assert_eq!(result.status.code(), Some(2), "{target}");
        assert!(stderr(&result).contains("refused"), "{target}");
        assert!(
            !out.path().join("nmap-ipv4.xml").exists(),
            "nmap must not have run for {target:?}"
        );
    }
    // The same from a target file, with the line named.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ips.txt");
    std::fs::write(&file, "# hosts\n127.0.0.1\n--script=vuln\n").unwrap();
    let result = run(brulee()
        .args(["scan"])
        .arg(format!("@{}", file.display()))
        .arg("-o")
        .arg(dir.path()));
    assert_eq!(result.status.code(), Some(2));
    assert!(stderr(&result).contains("ips.txt:3"));

    // A file with no targets at all is an error, not an empty report.
    std::fs::write(&file, "\n# nothing yet\n\n").unwrap();
    let result = run(brulee()
        .args(["scan"])
        .arg(format!("@{}", file.display()))
        .arg("-o")
        .arg(dir.path()));
    assert_eq!(result.status.code(), Some(2));
    assert!(stderr(&result).contains("no targets"));

    let result = run(brulee()
        .args(["scan", "127.0.0.1", "--nmap-arg=-iL", "-o"])
        .arg(dir.path()));
    assert_eq!(result.status.code(), Some(2));
}

#[test]
fn missing_nmap_says_how_to_install_it() {
    let out = tempfile::tempdir().unwrap();
    let result = run(brulee()
        .env("BRULEE_NMAP", "/nonexistent/nmap")
        .args(["scan", "127.0.0.1", "-o"])
        .arg(out.path()));
    assert_eq!(result.status.code(), Some(1));
    assert!(
        stderr(&result).contains("apt-get install nmap"),
        "{}",
        stderr(&result)
    );
    let result = run(brulee()
        .env("PATH", "/nonexistent")
        .args(["scan", "127.0.0.1", "-o"])
        .arg(out.path()));
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("nmap is not installed"));
}

#[test]
fn an_unwritable_output_folder_fails_before_the_scan() {
    let result = run(brulee().args([
        "scan",
        "127.0.0.1",
        "-p",
        "9",
        "-o",
        "/proc/brulee-cannot-write-here",
    ]));
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("-o DIR"), "{}", stderr(&result));
}

#[test]
fn help_teaches_usage_and_exit_codes() {
    let result = run(brulee().args(["scan", "--help"]));
    let help = stdout(&result);
    for needle in [
        "TARGET",
        "--top-ports",
        "--no-vulners",
        "@FILE",
        "--nmap-arg",
        "markdown",
    ] {
        assert!(help.contains(needle), "scan --help lacks {needle}");
    }
    let help = stdout(&run(brulee().arg("--help")));
    assert!(help.contains("Exit codes"));
}

#[test]
fn ctrl_c_stops_nmap_and_keeps_what_it_completed() {
    require_tools();
    let ssh = start(ServiceKind::Ssh, "127.0.0.30");
    // A service that accepts connections and never says a word: nmap's version detection
    // waits on it for a long time, which leaves room to interrupt the scan.
    let silent = std::net::TcpListener::bind("127.0.0.31:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let out = tempfile::tempdir().unwrap();
    let child = brulee()
        .args([
            "scan",
            "127.0.0.30-31",
            "-n",
            "--no-vulners",
            "-q",
            "--nmap-arg=--max-hostgroup=1",
        ])
        .args(["-p", &format!("{},{}", ssh.port, silent_port)])
        .arg("-o")
        .arg(out.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until nmap has finished the first host, then press Ctrl-C (SIGINT to brulee only,
    // as `kill -INT` would: brulee must stop nmap itself).
    let raw = out.path().join("nmap-ipv4.xml");
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(&raw)
        .unwrap_or_default()
        .contains("</host>")
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "nmap never finished the first host"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(130));
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let report = read_json(&out.path().join("report.json"));
    assert_schema_valid(&report);
    assert_eq!(report["scan"]["complete"], false);
    assert!(
        report["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["product"] == "OpenSSH"),
        "{:#}",
        report["services"]
    );
    drop(silent);
}
