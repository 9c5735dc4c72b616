//! Advisory data end to end: NVD, KEV, EPSS and Debian/Ubuntu advisories imported into one
//! database, and the kev, epss and distro-backports plugins run over a live scan of Debian's
//! own openssh-server and over a real nmap XML with vulners output.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// A database of the fixtures: NVD records of OpenSSH and nginx, CISA's KEV catalog, the EPSS
/// rows of those CVEs and the Debian/Ubuntu advisories of `fixtures/advisories/distro`.
fn advisory_db(dir: &Path) -> PathBuf {
    let db = dir.join("cve.sqlite");
    let result = run(brulee()
        .args(["db", "import", "--db"])
        .arg(&db)
        .arg(repo("fixtures/nvd/nvd2_openssh.json.gz"))
        .arg(repo("fixtures/nvd/nvd2_nginx.json.gz"))
        .arg(repo("fixtures/nvd/nvd2_recent_debian12.json.gz"))
        .arg(repo(
            "../shared/data/kev/known_exploited_vulnerabilities.json",
        ))
        .arg(repo(
            "fixtures/advisories/epss_scores-2026-01-30-subset.csv",
        ))
        .arg(repo("fixtures/advisories/distro")));
    assert_eq!(result.status.code(), Some(0));
    let log = stderr(&result);
    assert!(log.contains("(FIRST EPSS): 192 EPSS scores"), "{log}");
    assert!(
        log.contains("(Debian changelog): 17 advisory statements"),
        "{log}"
    );
    assert!(log.contains("(Debian security tracker record)"), "{log}");
    assert!(log.contains("(OSV): 2 advisory statements"), "{log}");
    db
}

/// The manifest of the issue: kev and epss enrichers (`epss_config`: the epss step's
/// `config` line, if any), the distro-backports filter.
fn manifest(dir: &Path, epss_config: &str) -> PathBuf {
    let path = dir.join("scan.toml");
    std::fs::write(
        &path,
        format!(
            "[[enrich]]\nplugin = \"kev\"\n\n[[enrich]]\nplugin = \"epss\"\n{epss_config}\n\n\
             [[filter]]\nplugin = \"distro-backports\"\n\n[[report]]\nformat = \"json\"\n\n\
             [[report]]\nformat = \"markdown\"\n"
        ),
    )
    .unwrap();
    path
}

fn by_id<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list.as_array().unwrap().iter().find(|f| f["cve"] == id)
}

fn priority(v: &Value) -> f64 {
    v["priority"].as_f64().unwrap_or(-1.0)
}

/// Findings come highest priority first.
fn assert_ordered_by_priority(findings: &Value) {
    let priorities: Vec<f64> = findings.as_array().unwrap().iter().map(priority).collect();
    assert!(
        priorities.windows(2).all(|w| w[0] >= w[1]),
        "not ordered by priority: {priorities:?}"
    );
}

/// The "Done when" of the backport filter: Debian 12's real sshd ("OpenSSH 9.2p1 Debian
/// 2+deb12u10"), scanned on loopback; what Debian fixed is suppressed with its reason, what it
/// did not fix is kept and says so, and EPSS gives the order.
#[test]
fn a_live_scan_of_debian_openssh_drops_what_debian_fixed() {
    require_tools();
    use testkit::{LoopbackService, ServiceKind};
    let ssh = LoopbackService::start(ServiceKind::Ssh, "127.0.0.31".parse().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = advisory_db(dir.path());
    let out = dir.path().join("out");
    let result = run(brulee()
        .args(["scan", "127.0.0.31", "-n", "-q", "-p", &ssh.port.to_string()])
        .arg("--db")
        .arg(&db)
        .arg("--manifest")
        .arg(manifest(
            dir.path(),
            "config = { thresholds = [{ percentile = 0.8, priority = 40 }, { percentile = 0.3, priority = 20 }] }",
        ))
        .arg("-o")
        .arg(&out));
    assert_eq!(result.status.code(), Some(0));
    let report = read_json(&out.join("report.json"));
    assert_schema_valid(&report);
    let version = report["hosts"][0]["ports"][0]["version"].as_str().unwrap();
    assert!(version.starts_with("9.2p1 Debian 2+deb12u"), "{version}");

    // Fixed in bookworm, each with the source that says so.
    let suppressed = &report["suppressed"];
    let reason = |id: &str| {
        by_id(suppressed, id).unwrap_or_else(|| panic!("{id} not suppressed: {suppressed}"))
            ["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        reason("CVE-2024-6387"),
        "fixed in Debian bookworm 1:9.2p1-2+deb12u3 (DSA-5724-1)"
    );
    assert_eq!(
        reason("CVE-2023-38408"),
        "fixed in Debian bookworm 1:9.2p1-2+deb12u1 (changelog)"
    );
    assert_eq!(
        reason("CVE-2023-51385"),
        "fixed in Debian bookworm 1:9.2p1-2+deb12u2 (changelog)"
    );
    assert!(suppressed
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["step"] == "distro-backports"));

    // Open in Debian (the tracker's unstable line, inherited by bookworm): kept, and said.
    let findings = &report["findings"];
    let open = by_id(findings, "CVE-2007-2768").expect("CVE-2007-2768 is kept");
    assert_eq!(
        open["notes"],
        serde_json::json!([
            "distro-backports: no fix in Debian bookworm (security tracker, sid's line: open: urgency unimportant)"
        ])
    );
    // No Debian data: kept, marked as possibly backported.
    assert_eq!(
        by_id(findings, "CVE-2008-3844").unwrap()["notes"],
        serde_json::json!([
            "distro-backports: distro build: may be backported (no Debian bookworm data on CVE-2008-3844 in openssh)"
        ])
    );
    // Everything else NVD's ranges gave 9.2p1 was fixed by Debian.
    assert_eq!(findings.as_array().unwrap().len(), 2, "{findings}");
    assert!(by_id(findings, "CVE-2024-6387").is_none());

    // EPSS from the database, on the finding and under the epss step.
    assert_eq!(open["epss"], 0.00119);
    assert_eq!(open["epss_percentile"], 0.31126);
    assert_eq!(open["enrichment"]["epss"]["percentile"], 0.31126);
    assert_eq!(open["enrichment"]["epss"]["date"], "2026-01-30T12:55:00Z");
    // The configured thresholds: percentile ≥ 0.8 → 40, ≥ 0.3 → 20.
    for f in findings.as_array().unwrap() {
        let expected = match f["epss_percentile"].as_f64() {
            Some(p) if p >= 0.8 => Some(40.0),
            Some(p) if p >= 0.3 => Some(20.0),
            _ => None,
        };
        assert_eq!(f["priority"].as_f64(), expected, "{}", f["cve"]);
    }
    assert_eq!(open["priority"], 20.0);
    // Priority comes before the usual order: CVE-2008-3844 (EPSS percentile 0.856) is read
    // first although its platform is unconfirmed, which would otherwise put it last.
    let trojan = &findings[0];
    assert_eq!(trojan["cve"], "CVE-2008-3844", "{findings}");
    assert_eq!(trojan["confidence"], "platform-unconfirmed");
    assert_eq!(trojan["priority"], 40.0);
    assert_ordered_by_priority(findings);
    let group = &report["services"][0]["vulnerabilities"];
    assert_ordered_by_priority(group);

    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        markdown.contains(r"fixed in Debian bookworm 1:9.2p1-2\+deb12u3 \(DSA-5724-1\)"),
        "{markdown}"
    );
    assert!(
        markdown.contains("**priority 40** EPSS 2.7% (percentile 85.6)"),
        "{markdown}"
    );
    drop(ssh);
}

/// A KEV CVE marked with its EPSS and ordered first: CVE-2023-44487 (HTTP/2 Rapid Reset),
/// which nmap's vulners script reported for nginx in a real scan.
#[test]
fn kev_and_epss_raise_a_known_exploited_cve_to_the_top() {
    let dir = tempfile::tempdir().unwrap();
    let db = advisory_db(dir.path());
    let result = run(brulee()
        .arg("report")
        .arg(fixture("nmap793_vulners_mockapi.xml"))
        .args(["--format", "json", "--db"])
        .arg(&db)
        .arg("--manifest")
        .arg(manifest(dir.path(), "")));
    assert_eq!(result.status.code(), Some(0));
    let report: Value = serde_json::from_str(&stdout(&result)).unwrap();
    assert_schema_valid(&report);
    let findings = &report["findings"];
    let rapid_reset = &findings[0];
    assert_eq!(rapid_reset["cve"], "CVE-2023-44487", "{findings}");
    assert_eq!(rapid_reset["kev"], true);
    assert_eq!(rapid_reset["epss"], 0.94394);
    assert_eq!(rapid_reset["epss_percentile"], 0.99972);
    assert_eq!(rapid_reset["priority"], 90.0);
    let kev = &rapid_reset["enrichment"]["kev"];
    assert_eq!(kev["name"], "HTTP/2 Rapid Reset Attack Vulnerability");
    assert_eq!(kev["date_added"], "2023-10-10");
    assert_eq!(kev["ransomware"], false);
    assert_eq!(rapid_reset["enrichment"]["epss"]["priority"], 70);
    // nginx shows no Debian revision: kept, marked.
    assert!(rapid_reset["notes"][0].as_str().unwrap().starts_with(
        "distro-backports: distro build: may be backported (nmap shows no package revision"
    ));
    assert_ordered_by_priority(findings);
    // The service with the highest priority comes first.
    assert_eq!(report["services"][0]["product"], "nginx");
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["ok", "ok", "ok"], "{}", report["steps"]);
}

/// Without a database the advisory functions return nil and the step says so once.
#[test]
fn without_a_database_the_plugins_say_so_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let result = run(brulee()
        .arg("report")
        .arg(fixture("nmap793_vulners_mockapi.xml"))
        .args(["--format", "json", "--db"])
        .arg(dir.path().join("absent.sqlite"))
        .arg("--manifest")
        .arg(manifest(dir.path(), "")));
    assert_eq!(result.status.code(), Some(0));
    let log = stderr(&result);
    assert_eq!(
        log.matches("kev warn: this run has no CVE database")
            .count(),
        1,
        "{log}"
    );
    let report: Value = serde_json::from_str(&stdout(&result)).unwrap();
    assert!(report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f.get("priority").is_none()));
}
