//! `brulee report` end to end: reports from nmap XML that someone else produced.

mod common;

use common::*;

#[test]
fn report_lists_each_vulnerable_service_with_its_cves_and_where_it_runs() {
    let out = tempfile::tempdir().unwrap();
    let result = run(brulee()
        .arg("report")
        .arg(fixture("nmap793_vulners_mockapi.xml"))
        .arg("-o")
        .arg(out.path()));
    assert_eq!(result.status.code(), Some(0));
    let report = read_json(&out.path().join("report.json"));
    assert_schema_valid(&report);
    assert_eq!(report["scan"]["vulners"], "used");
    let ssh = &report["services"][0];
    assert_eq!(ssh["title"], "OpenSSH 8.2p1 Ubuntu 4ubuntu0.5");
    assert_eq!(ssh["vulnerabilities"][0]["id"], "CVE-2023-38408");
    assert_eq!(ssh["endpoints"][0]["port"], 12222);

    let markdown = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    let vulnerable = markdown
        .split("## Vulnerable services")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    assert!(vulnerable.contains("### OpenSSH 8.2p1 Ubuntu 4ubuntu0.5"));
    assert!(
        vulnerable.contains("[CVE-2023-38408](https://nvd.nist.gov/vuln/detail/CVE-2023-38408)")
    );
    assert!(vulnerable.contains("`127.0.0.1:12222/tcp`"));
    assert!(vulnerable.contains("### nginx 1.22.1"));
    assert!(
        !vulnerable.contains("vsftpd"),
        "vsftpd had no vulnerabilities"
    );
}

#[test]
fn several_files_and_folders_make_one_report() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("upstream_golden_1x.xml"), dir.path().join("a.xml")).unwrap();
    let result = run(brulee()
        .arg("report")
        .arg(dir.path())
        .arg(fixture("nmap793_vulners_mockapi.xml"))
        .args(["--format", "json"]));
    assert_eq!(result.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_str(&stdout(&result)).unwrap();
    assert_schema_valid(&report);
    assert_eq!(report["scan"]["xml_files"].as_array().unwrap().len(), 2);
    let titles: Vec<&str> = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert!(
        titles.contains(&"nginx 1.13.4") && titles.contains(&"OpenSSH 8.2p1 Ubuntu 4ubuntu0.5"),
        "{titles:?}"
    );
}

#[test]
fn xml_from_a_scan_without_vulners_output_says_nothing_was_looked_up() {
    let dir = tempfile::tempdir().unwrap();
    let xml = std::fs::read_to_string(fixture("nmap793_vulners_mockapi.xml")).unwrap();
    // The same scan as nmap writes it when the vulners API is unreachable: no script output.
    let start = xml.find("<script id=\"vulners\"").unwrap();
    let mut silent = xml.clone();
    while let Some(start) = silent.find("<script id=\"vulners\"") {
        let end = start + silent[start..].find("</script>").unwrap() + "</script>".len();
        silent.replace_range(start..end, "");
    }
    assert!(start > 0 && !silent.contains("id=\"vulners\""));
    let file = dir.path().join("silent.xml");
    std::fs::write(&file, silent).unwrap();
    let result = run(brulee().arg("report").arg(&file).args(["-f", "json"]));
    let report: serde_json::Value = serde_json::from_str(&stdout(&result)).unwrap();
    assert_eq!(report["scan"]["vulners"], "no_output");
    assert!(report["services"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "not_checked"));
}

#[test]
fn truncated_xml_gives_a_partial_report_and_exit_code_3() {
    let dir = tempfile::tempdir().unwrap();
    let xml = std::fs::read_to_string(fixture("nmap793_vulners_mockapi.xml")).unwrap();
    let file = dir.path().join("cut.xml");
    std::fs::write(&file, &xml[..xml.find("<runstats>").unwrap()]).unwrap();
    let result = run(brulee().arg("report").arg(&file));
    assert_eq!(result.status.code(), Some(3));
    assert!(stdout(&result).contains("PARTIAL RESULTS"));
    assert!(
        stdout(&result).contains("CVE-2023-38408"),
        "the complete host is kept"
    );
}

#[test]
fn bad_input_files_are_named_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("feed.xml");
    std::fs::write(
        &file,
        "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"></rss>\n",
    )
    .unwrap();
    let result = run(brulee().arg("report").arg(&file));
    assert_eq!(result.status.code(), Some(2));
    assert!(
        stderr(&result).contains("feed.xml:2: not nmap XML"),
        "{}",
        stderr(&result)
    );

    let result = run(brulee().args(["report", "/nonexistent/scan.xml"]));
    assert_eq!(result.status.code(), Some(2));
    assert!(stderr(&result).contains("no such file"));

    let result = run(brulee()
        .arg("report")
        .arg(fixture("nmap793_vulners_mockapi.xml"))
        .args(["-f", "pdf"]));
    assert_eq!(result.status.code(), Some(2));
    assert!(stderr(&result)
        .contains("available: csv, html, json, jsonl, latex, markdown, sarif, summary"));
}
