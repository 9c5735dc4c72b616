//! Golden files: every format, rendered from two fixed reports, must equal the files in
//! `reports/golden/`. After an intended change, bless the new output and review its diff:
//!
//! ```sh
//! BRULEE_BLESS=1 cargo test -p brulee --test formats golden
//! git diff reports/golden/
//! ```
//!
//! `fixture/` is the fixture scan through brulee's real pipeline (XML parser, findings,
//! report model); `extended/` is the same report plus what other sources and steps add (KEV,
//! EPSS, priority, notes, descriptions, CVE database, a service not checked, a suppressed
//! finding, warnings, a partial scan), so that every branch of every template is covered.

use std::path::Path;

use brulee::findings::VulnersStatus;
use brulee::nmap::xml::read_scan;
use brulee::report::{Provenance, Report};
use serde_json::{json, Value};

use super::*;

const BLESS: &str = "BRULEE_BLESS=1 cargo test -p brulee --test formats golden";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/golden")
}

/// The fixture's report, with what changes from run to run (brulee's version) fixed.
fn fixture_report() -> Value {
    let name = format!("fixtures/nmap/{FIXTURE}");
    let bytes = std::fs::read(fixture(FIXTURE)).unwrap();
    let run = read_scan(bytes.as_slice(), &name, |_| {}).unwrap();
    let vulners = VulnersStatus::from_xml(&run);
    let mut report = Report::build(
        &run,
        Provenance {
            targets: Vec::new(),
            xml_files: vec![name],
            vulners,
            database: None,
        },
        None,
    )
    .unwrap();
    report.generator.version = "0.0.0-golden".into();
    serde_json::to_value(report).unwrap()
}

/// The fixture's report with the fields other sources of vulnerabilities add.
fn extended_report() -> Value {
    let mut report = fixture_report();
    let extra = |id: &str| match id {
        "CVE-2023-38408" => Some(json!({
            "description": "The PKCS#11 feature in ssh-agent in OpenSSH before 9.3p2 has an insufficiently trustworthy search path, leading to remote code execution if an agent is forwarded to an attacker-controlled system.",
            "published": "2023-07-20T03:15:10.170",
            "cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "confidence": "exact",
            "sources": ["vulners", "nvd"],
            "kev": true,
            "kev_due_date": "2023-08-10",
            "epss": 0.0421,
            "epss_percentile": 0.98518,
            "priority": 90,
            "notes": ["kev: CISA KEV: known to be used in ransomware campaigns"],
        })),
        "CVE-2020-15778" => Some(json!({
            "description": "scp in OpenSSH through 8.3p1 allows command injection in the scp.c toremote function.",
            "published": "2020-07-24T14:15:12.450",
            "confidence": "range",
            "sources": ["nvd"],
            "kev": false,
            "kev_due_date": null,
            "epss": 0.6,
            "notes": ["distro-backports: distro build: may be backported (no Ubuntu focal data on CVE-2020-15778 in openssh)"],
        })),
        _ => None,
    };
    let add = |v: &mut Value| {
        if let Some(Value::Object(fields)) = extra(v["id"].as_str().unwrap_or("")) {
            for (key, value) in fields {
                v[key] = value;
            }
        }
    };
    for service in report["services"].as_array_mut().unwrap() {
        for v in service["vulnerabilities"].as_array_mut().unwrap() {
            add(v);
        }
    }
    for f in report["findings"].as_array_mut().unwrap() {
        add(f);
    }
    let mut suppressed = report["findings"][1].clone();
    suppressed["id"] = json!("CVE-2021-41617");
    suppressed["cve"] = json!("CVE-2021-41617");
    suppressed["reason"] = json!("fixed by the distribution's backport (USN-5095-1)");
    suppressed["step"] = json!("ubuntu-backports");
    report["suppressed"] = json!([suppressed]);
    report["services"].as_array_mut().unwrap().push(json!({
        "title": "redis (unidentified product)", "service": "redis", "product": null,
        "version": null, "cpes": [], "status": "not_checked",
        "reason": "nmap identified no product version (no CPE), so nothing could be looked up",
        "max_severity": null, "max_cvss": null, "vulnerabilities": [],
        "endpoints": [{"address": "127.0.0.1", "hostnames": ["db.example"], "port": 16379, "protocol": "tcp"}],
    }));
    report["summary"]["services"] = json!(4);
    report["summary"]["unchecked_services"] = json!(1);
    report["scan"]["complete"] = json!(false);
    report["scan"]["finished"] = Value::Null;
    report["scan"]["warnings"] = json!(["127.0.0.9: nmap gave up on the host (--host-timeout)"]);
    report["scan"]["database"] = json!({
        "path": "/var/lib/brulee/cve.sqlite", "cves": 251234, "kev_entries": 1404,
        "newest_modified": "2026-11-20T04:00:00.000", "last_import": "2026-11-20T05:00:00Z"
    });
    report["scan"]["vuln_sources"] = json!(["nvd", "vulners"]);
    report["steps"] = json!([
        {"name": "ubuntu-backports", "stage": "filter", "code": "lua filters/ubuntu_backports.lua",
         "status": "ok", "on_error": "skip", "count": 1},
        {"name": "owner", "stage": "enrich", "code": "wasm plugins/owner.wasm",
         "status": "failed", "on_error": "skip", "count": 0,
         "error": "trap: out of fuel after 10% & {50_000_000} #instructions"},
    ]);
    report
}

/// Compare (or, with BRULEE_BLESS set, write) every format of `report` under `golden/name/`.
fn check(name: &str, report: &Value, mismatches: &mut Vec<String>) -> Vec<(String, String)> {
    let bless = std::env::var_os("BRULEE_BLESS").is_some();
    let dir = golden_dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rendered = Vec::new();
    for format in brulee_reports::formats() {
        let actual = brulee_reports::render(format, report)
            .unwrap_or_else(|e| panic!("{name} as {}: {e}", format.name));
        let path = dir.join(format!("report.{}", format.extension));
        if bless {
            std::fs::write(&path, &actual).unwrap();
        } else {
            match std::fs::read_to_string(&path) {
                Err(_) => mismatches.push(format!("{}: missing", path.display())),
                Ok(expected) if expected != actual => {
                    let line = expected
                        .lines()
                        .zip(actual.lines())
                        .position(|(e, a)| e != a)
                        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
                    mismatches.push(format!(
                        "{}:{}: expected {:?}, rendered {:?}",
                        path.display(),
                        line + 1,
                        expected.lines().nth(line).unwrap_or("<end>"),
                        actual.lines().nth(line).unwrap_or("<end>"),
                    ));
                }
                Ok(_) => {}
            }
        }
        rendered.push((format.name.to_string(), actual));
    }
    rendered
}

#[test]
fn golden_every_format_of_the_fixture_and_the_extended_report() {
    let mut mismatches = Vec::new();
    check("fixture", &fixture_report(), &mut mismatches);
    let extended = check("extended", &extended_report(), &mut mismatches);
    assert!(
        mismatches.is_empty(),
        "rendered reports differ from reports/golden/; if that is intended, run `{BLESS}` and \
         review `git diff reports/golden/`:\n{}",
        mismatches.join("\n")
    );

    // The machine formats are valid JSON whatever the report holds.
    for (format, text) in &extended {
        match format.as_str() {
            "json" | "sarif" => {
                serde_json::from_str::<Value>(text).unwrap();
            }
            "jsonl" => {
                for line in text.lines() {
                    serde_json::from_str::<Value>(line).unwrap();
                }
            }
            _ => {}
        }
    }

    // The fields other sources add are shown by the formats made for people.
    for (format, text) in &extended {
        if matches!(format.as_str(), "html" | "latex" | "markdown") {
            for expected in [
                "trustworthy",
                "KEV",
                "EPSS 4.2",
                "251234",
                "redis",
                "backport",
                "gave up",
            ] {
                assert!(
                    text.contains(expected),
                    "{format} does not show {expected:?}"
                );
            }
        }
    }
}
