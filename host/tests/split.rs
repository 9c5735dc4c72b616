//! Splitting scans (--shard, --parallel), merging them back, and diffing scans.

mod common;

use std::path::Path;

use common::*;
use testkit::{LoopbackService, ServiceKind};

/// The parts of a report that must not depend on how the scan was split.
fn content(report: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "summary": report["summary"],
        "services": report["services"],
        "findings": report["findings"],
        "hosts": report["hosts"],
        "complete": report["scan"]["complete"],
    })
}

#[test]
fn four_shards_merged_equal_one_run_and_so_does_parallel() {
    require_tools();
    let kinds = [
        ServiceKind::Ssh,
        ServiceKind::Ftp,
        ServiceKind::Http,
        ServiceKind::Redis,
        ServiceKind::Ssh,
        ServiceKind::Http,
    ];
    let services: Vec<LoopbackService> = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            LoopbackService::start(*kind, format!("127.0.0.{}", 20 + i).parse().unwrap()).unwrap()
        })
        .collect();
    let ports: Vec<String> = services.iter().map(|s| s.port.to_string()).collect();
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let scan = |extra: &[&str], out: &Path| {
        let result = run(brulee()
            .args([
                "scan",
                "127.0.0.20-25",
                "-n",
                "--no-vulners",
                "-p",
                &ports.join(","),
                "-f",
                "json",
                "--db",
            ])
            .arg(&db)
            .args(extra)
            .arg("-o")
            .arg(out));
        assert_eq!(result.status.code(), Some(0), "{extra:?}");
        result
    };

    let single = dir.path().join("single");
    scan(&["-q"], &single);
    let whole = read_json(&single.join("report.json"));
    assert_eq!(whole["summary"]["hosts_up"], 6);

    // The shards run side by side, as the pods of an Indexed Job would.
    std::thread::scope(|threads| {
        for i in 0..4 {
            let (scan, out) = (&scan, dir.path().join(format!("shards/{i}")));
            threads.spawn(move || scan(&["-q", "--shard", &format!("{i}/4")], &out));
        }
    });
    let merged_dir = dir.path().join("merged");
    let out = run(brulee()
        .arg("merge")
        .arg(dir.path().join("shards"))
        .args(["-f", "json", "-o"])
        .arg(&merged_dir));
    assert_eq!(out.status.code(), Some(0));
    let merged = read_json(&merged_dir.join("report.json"));
    assert_schema_valid(&merged);
    assert_eq!(merged["scan"]["nmap_commands"].as_array().unwrap().len(), 4);
    assert_eq!(
        content(&merged),
        content(&whole),
        "4 shards merged must equal one run"
    );

    let parallel = dir.path().join("parallel");
    let progress = stderr(&scan(&["--parallel", "3"], &parallel));
    // Not a terminal: plain progress lines, with the groups done and the time left.
    assert!(progress.contains(" left) · "), "{progress}");
    let report = read_json(&parallel.join("report.json"));
    assert!(
        report["scan"]["nmap_commands"].as_array().unwrap().len() > 1,
        "several nmap processes"
    );
    assert_eq!(
        content(&report),
        content(&whole),
        "--parallel must not change the result"
    );
}

#[test]
fn bad_shards_and_unmergeable_input_are_refused() {
    for bad in ["4/4", "1", "a/b", "0/0"] {
        let out = run(brulee().args(["scan", "127.0.0.1", "--shard", bad]));
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
    let dir = tempfile::tempdir().unwrap();
    let not_a_report = dir.path().join("x.json");
    std::fs::write(&not_a_report, "{\"hello\": 1}").unwrap();
    let out = run(brulee().arg("merge").arg(&not_a_report));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a brulee JSON report"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn diff_around_a_service_upgrade_shows_the_fixed_cves() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let report_of = |version: &str| {
        let out_dir = dir.path().join(version);
        let out = run(brulee()
            .arg("report")
            .arg(nginx_scan(dir.path(), version))
            .args(["-f", "json", "--db"])
            .arg(&db)
            .arg("-o")
            .arg(&out_dir));
        assert_eq!(out.status.code(), Some(0));
        out_dir.join("report.json")
    };
    let before = report_of("1.20.0");
    let after = report_of("1.22.1");
    let out = run(brulee()
        .args(["diff", "-f", "json"])
        .arg(&before)
        .arg(&after));
    assert_eq!(out.status.code(), Some(0));
    let diff: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let endpoint = &diff["endpoints"][0];
    assert_eq!(endpoint["before"], "nginx 1.20.0");
    assert_eq!(endpoint["after"], "nginx 1.22.1");
    let fixed: Vec<&str> = endpoint["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(fixed.contains(&"CVE-2021-23017"), "{fixed:?}");
    assert!(diff["fixed"].as_u64().unwrap() >= 1);

    let text = stdout(&run(brulee().arg("diff").arg(&before).arg(&after)));
    assert!(
        text.contains("nginx 1.20.0 → nginx 1.22.1") && text.contains("CVE-2021-23017"),
        "{text}"
    );

    // The same, inside a report made with --baseline.
    let out = run(brulee()
        .arg("report")
        .arg(nginx_scan(dir.path(), "1.22.1"))
        .args(["-f", "json", "--db"])
        .arg(&db)
        .arg("--baseline")
        .arg(&before));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_schema_valid(&report);
    assert!(report["diff"]["endpoints"][0]["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == "CVE-2021-23017"));
}
