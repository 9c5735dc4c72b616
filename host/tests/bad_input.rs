//! Bad input, end to end through the real binary: targets that name millions of hosts or do
//! not resolve, NVD data of the wrong shape or with pathological values, and text from scanned
//! services that tries to take over the terminal. Each must give a clear error (or a correct
//! report), the documented exit code, and never a panic. (Flag injection, truncated and
//! hostile XML, and hostile banners in the report formats have their own tests: scan.rs,
//! report.rs, nmap/xml/tests.rs, formats/hostile.rs.)

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::json;
use testkit::{LoopbackService, ServiceKind};

#[test]
fn a_scan_of_more_addresses_than_the_limit_is_refused_until_confirmed() {
    // 16.7 million addresses (loopback, so even a failure of this check scans nothing else).
    let out = tempfile::tempdir().unwrap();
    let result = run(brulee()
        .args(["scan", "127.0.0.0/8", "-n", "-p", "1", "-o"])
        .arg(out.path()));
    assert_eq!(result.status.code(), Some(2));
    let message = stderr(&result);
    assert!(
        message.contains("the targets name 16777216 addresses")
            && message.contains("more than --max-hosts 65536")
            && message.contains("confirm with --max-hosts 16777216"),
        "{message}"
    );
    assert!(!out.path().join("nmap-ipv4.xml").exists(), "nmap never ran");
    assert!(!message.contains("panicked"));

    // Confirmed: four addresses with --max-hosts 4 are scanned; 3 is too few.
    require_tools();
    let redis = LoopbackService::start(ServiceKind::Redis, "127.0.0.61".parse::<IpAddr>().unwrap())
        .unwrap_or_else(|e| panic!("{e}"));
    let port = redis.port.to_string();
    let scan = |limit: &str, out: &Path| {
        run(brulee()
            .args([
                "scan",
                "127.0.0.60/30",
                "-n",
                "--no-vulners",
                "-q",
                "-p",
                &port,
            ])
            .args(["--max-hosts", limit, "-o"])
            .arg(out))
    };
    let refused = tempfile::tempdir().unwrap();
    let result = scan("3", refused.path());
    assert_eq!(result.status.code(), Some(2));
    assert!(stderr(&result).contains("confirm with --max-hosts 4"));
    let out = tempfile::tempdir().unwrap();
    let result = scan("4", out.path());
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    let report = read_json(&out.path().join("report.json"));
    assert_eq!(
        report["services"][0]["endpoints"][0]["address"],
        "127.0.0.61"
    );
}

#[test]
fn host_names_that_do_not_resolve_stop_the_scan_before_nmap() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.txt");
    // RFC 6761: .invalid never resolves.
    std::fs::write(&file, "localhost\nbrulee-typo.invalid\n").unwrap();
    let out = dir.path().join("out");
    let result = run(brulee()
        .args(["scan", "-n", "-p", "1"])
        .arg(format!("@{}", file.display()))
        .arg("-o")
        .arg(&out));
    assert_eq!(result.status.code(), Some(2));
    let message = stderr(&result);
    assert!(
        message.contains("this host name does not resolve: \"brulee-typo.invalid\" (")
            && message.contains("check the spelling, or give the address instead"),
        "{message}"
    );
    assert!(!out.join("nmap-ipv4.xml").exists(), "nmap never ran");
}

/// An NVD 2.0 feed of `records` (the `cve` objects).
fn nvd_feed(path: &Path, records: &[serde_json::Value]) -> PathBuf {
    let feed = json!({
        "format": "NVD_CVE",
        "version": "2.0",
        "vulnerabilities": records.iter().map(|cve| json!({"cve": cve})).collect::<Vec<_>>(),
    });
    std::fs::write(path, feed.to_string()).unwrap();
    path.to_path_buf()
}

/// A CVE record for product `criteria` with one version bound.
fn cve(id: &str, criteria: &str, bound: (&str, &str)) -> serde_json::Value {
    let mut cpe_match = json!({"vulnerable": true, "criteria": criteria});
    cpe_match[bound.0] = json!(bound.1);
    json!({
        "id": id,
        "lastModified": "2026-01-01T00:00:00.000",
        "vulnStatus": "Analyzed",
        "descriptions": [{"lang": "en", "value": format!("{id}: {} {}", bound.0, bound.1)}],
        "metrics": {"cvssMetricV31": [{"type": "Primary", "cvssData": {
            "version": "3.1", "baseScore": 7.5, "baseSeverity": "HIGH",
            "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}}]},
        "configurations": [{"nodes": [{"operator": "OR", "negate": false,
            "cpeMatch": [cpe_match]}]}],
    })
}

fn import(db: &Path, file: &Path) -> std::process::Output {
    run(brulee().args(["db", "import", "--db"]).arg(db).arg(file))
}

#[test]
fn nvd_files_of_the_wrong_shape_are_refused_by_name_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cve.sqlite");
    let good = nvd_feed(
        &dir.path().join("good.json"),
        &[cve(
            "CVE-2099-0001",
            "cpe:2.3:a:acme:widget:*:*:*:*:*:*:*:*",
            ("versionEndExcluding", "2.0"),
        )],
    );
    assert_eq!(import(&db, &good).status.code(), Some(0));

    for (name, text) in [
        // JSON, but not a feed: a brulee report, an array, a feed whose records are no list.
        (
            "report.json",
            r#"{"schema_version":"1.1","scan":{},"services":[]}"#.to_string(),
        ),
        ("array.json", "[1, 2, 3]".to_string()),
        (
            "not-a-list.json",
            r#"{"format":"NVD_CVE","version":"2.0","vulnerabilities":{"cve":{}}}"#.to_string(),
        ),
        // Not JSON at all.
        ("feed.json", "<html>rate limited</html>".to_string()),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let result = import(&db, &file);
        assert_eq!(result.status.code(), Some(1), "{name}");
        let message = stderr(&result);
        assert!(message.contains(name), "{name}: {message}");
        assert!(!message.contains("panicked"), "{name}: {message}");
    }
    let status = run(brulee().args(["db", "status", "--json", "--db"]).arg(&db));
    let status: serde_json::Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(status["cves"], 1, "the bad files changed nothing");
}

#[test]
fn escaped_cpes_and_pathological_versions_in_nvd_data_match_exactly_what_they_say() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cve.sqlite");
    // NVD escapes the colon and the bang inside a 2.3 name; nmap percent-encodes them in its
    // 2.2 URIs. Both must name the same product.
    let product = r"cpe:2.3:a:acme\:labs:widget\!pro:*:*:*:*:*:*:*:*";
    let huge = format!("1{}", "0".repeat(400));
    let feed = nvd_feed(
        &dir.path().join("hostile.json"),
        &[
            cve("CVE-2099-0001", product, ("versionEndExcluding", "2.0")),
            // A bound no integer type holds: 1.5 is still below it.
            cve("CVE-2099-0002", product, ("versionEndExcluding", &huge)),
            // Fixed before 1.5.
            cve("CVE-2099-0003", product, ("versionEndExcluding", "1.0")),
            // Bounds that are no version at all must not turn into "every version".
            cve("CVE-2099-0004", product, ("versionEndExcluding", "unknown")),
            cve(
                "CVE-2099-0005",
                product,
                ("versionStartIncluding", &"1.".repeat(100)),
            ),
            cve("CVE-2099-0006", product, ("versionEndIncluding", "")),
        ],
    );
    let result = import(&db, &feed);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));

    let xml = std::fs::read_to_string(fixture("loopback-services.xml"))
        .unwrap()
        .replace(
            "<cpe>cpe:/a:vsftpd:vsftpd:3.0.3</cpe>",
            "<cpe>cpe:/a:acme%3alabs:widget%21pro:1.5</cpe>",
        );
    let file = dir.path().join("scan.xml");
    std::fs::write(&file, xml).unwrap();
    let result = run(brulee()
        .arg("report")
        .arg(&file)
        .args(["--format", "json", "--db"])
        .arg(&db));
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    let report: serde_json::Value = serde_json::from_str(&stdout(&result)).unwrap();
    assert_schema_valid(&report);
    let mut found: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"].as_str().unwrap().starts_with("CVE-2099-"))
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    found.sort();
    assert_eq!(found, ["CVE-2099-0001", "CVE-2099-0002"]);
}

#[test]
fn escape_sequences_from_scanned_services_never_reach_the_terminal() {
    // What a hostile service can put in nmap's XML: its banner (product, version, extra
    // info), its host name (reverse DNS), script output. Set the terminal title (OSC), clear
    // the screen, ring the bell, and move the cursor back over a line.
    let evil = "&#x1b;]0;owned&#x7;&#x1b;[2J&#x1b;[1A&#x8;&#x9b;31m";
    let xml = std::fs::read_to_string(fixture("nmap793_vulners_mockapi.xml"))
        .unwrap()
        .replace(
            r#"product="OpenSSH""#,
            &format!(r#"product="OpenSSH{evil}""#),
        )
        .replace(
            r#"version="8.2p1 Ubuntu 4ubuntu0.5""#,
            &format!(r#"version="8.2p1 Ubuntu 4ubuntu0.5{evil}""#),
        )
        .replacen(
            "<hostnames>\n</hostnames>",
            &format!(r#"<hostnames><hostname name="evil{evil}.example" type="PTR"/></hostnames>"#),
            1,
        );
    assert!(xml.contains("owned"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostile.xml");
    std::fs::write(&file, &xml).unwrap();

    let printed = |output: &std::process::Output| format!("{}{}", stdout(output), stderr(output));
    let assert_inert = |text: &str| {
        for c in ['\x1b', '\x07', '\x08', '\u{9b}'] {
            assert!(!text.contains(c), "{c:?} reached the terminal:\n{text:?}");
        }
    };
    // The terminal summary (stdout) and the progress and file lines (stderr).
    let out = dir.path().join("out");
    let result = run(brulee().arg("report").arg(&file).arg("-o").arg(&out));
    assert_eq!(result.status.code(), Some(0));
    let text = printed(&result);
    assert_inert(&text);
    assert!(
        text.contains(r"OpenSSH\u{1b}]0;owned\u{7}"),
        "shown, not obeyed: {text}"
    );
    // The Markdown report shows them as codes too.
    assert_inert(&std::fs::read_to_string(out.join("report.md")).unwrap());

    // An error quoting the input: a root element whose name carries raw control bytes.
    let bad = dir.path().join("bad.xml");
    std::fs::write(
        &bad,
        b"<?xml version=\"1.0\"?>\n<evil\x1b]0;owned\x07 a=\"1\"/>\n",
    )
    .unwrap();
    let result = run(brulee().arg("report").arg(&bad));
    assert_eq!(result.status.code(), Some(2));
    assert_inert(&printed(&result));
}
