use super::*;
use crate::model::{Address, AddressKind, ScanRun};
use crate::nmap::xml::read_scan;

pub(crate) fn fixture_run(name: &str) -> ScanRun {
    let path = format!("{}/../fixtures/nmap/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap();
    read_scan(bytes.as_slice(), name, |_| {}).unwrap()
}

fn provenance(vulners: VulnersStatus) -> Provenance {
    Provenance {
        targets: vec!["127.0.0.1".into()],
        xml_files: vec![],
        vulners,
        database: None,
    }
}

/// Validate a report against the published JSON Schema (docs/report.schema.json).
pub(crate) fn assert_valid(report: &Report) {
    let schema_path = format!("{}/../docs/report.schema.json", env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let value = serde_json::to_value(report).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match docs/report.schema.json:\n{}",
        errors.join("\n")
    );
}

#[test]
fn groups_by_service_with_most_severe_first() {
    let report = Report::build(
        &fixture_run("nmap793_vulners_mockapi.xml"),
        provenance(VulnersStatus::Used),
        None,
    )
    .unwrap();
    assert_valid(&report);
    let titles: Vec<&str> = report.services.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "OpenSSH 8.2p1 Ubuntu 4ubuntu0.5",
            "nginx 1.22.1",
            "vsftpd 3.0.3"
        ]
    );
    let ssh = &report.services[0];
    assert_eq!(ssh.lookup, Lookup::Vulnerable);
    let ids: Vec<&str> = ssh.vulnerabilities.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(
        ids,
        ["CVE-2023-38408", "CVE-2020-15778", "PACKETSTORM:173661"]
    );
    assert_eq!(ssh.max_severity, Some(Severity::Critical));
    assert_eq!(ssh.endpoints[0].port, 12222);
    assert_eq!(report.services[2].lookup, Lookup::NoneKnown);

    assert_eq!(report.findings.len(), 4);
    let first = &report.findings[0];
    assert_eq!(
        (first.address.as_str(), first.port, first.cve.as_str()),
        ("127.0.0.1", 12222, "CVE-2023-38408")
    );
    assert_eq!(first.cpe.as_deref(), Some("cpe:/a:openbsd:openssh:8.2p1"));
    assert_eq!(report.summary.by_severity["critical"], 1);
    assert_eq!(report.summary.by_severity["high"], 2);
    assert_eq!(report.summary.vulnerable_services, 2);
    assert!(report.suppressed.is_empty());
}

#[test]
fn one_service_on_many_hosts_is_one_group_with_every_endpoint() {
    let run = fixture_run("nmap793_vulners_mockapi.xml");
    let mut other = run.clone();
    other.hosts[0].addresses = vec![Address {
        addr: "127.0.0.9".into(),
        kind: AddressKind::Ipv4,
        vendor: None,
    }];
    let report = Report::build(
        &ScanRun::merge([other, run]),
        provenance(VulnersStatus::Used),
        None,
    )
    .unwrap();
    let ssh = &report.services[0];
    let endpoints: Vec<String> = ssh
        .endpoints
        .iter()
        .map(|e| format!("{}:{}", e.address, e.port))
        .collect();
    assert_eq!(endpoints, ["127.0.0.1:12222", "127.0.0.9:12222"]);
    assert_eq!(
        ssh.vulnerabilities.len(),
        3,
        "vulnerabilities are listed once per service"
    );
    assert_eq!(
        report.findings.len(),
        8,
        "but once per host in the flat findings"
    );
    assert_eq!(report.hosts.len(), 2);
}

#[test]
fn says_when_nothing_could_be_looked_up() {
    // The same services, scanned without vulners: none may look "clean".
    let mut run = fixture_run("nmap793_vulners_mockapi.xml");
    for port in &mut run.hosts[0].ports {
        port.scripts.clear();
    }
    let report = Report::build(&run, provenance(VulnersStatus::Unreachable), None).unwrap();
    assert_valid(&report);
    assert!(report
        .services
        .iter()
        .all(|s| matches!(&s.lookup, Lookup::NotChecked(r) if r.contains("vulners: unreachable"))));
    assert_eq!(report.summary.unchecked_services, 3);

    // A service nmap could not identify has no CPE to look up, whatever vulners did.
    run.hosts[0].ports[0].service.as_mut().unwrap().cpes.clear();
    let report = Report::build(&run, provenance(VulnersStatus::Used), None).unwrap();
    let vsftpd = report
        .services
        .iter()
        .find(|s| s.title == "vsftpd 3.0.3")
        .unwrap();
    assert!(
        matches!(&vsftpd.lookup, Lookup::NotChecked(r) if r.contains("no CPE")),
        "{:?}",
        vsftpd.lookup
    );
}

#[test]
fn a_failed_vulners_script_is_reported_not_crashed_on() {
    // Flan Scan crashed with KeyError: 'table' on a port whose script errored.
    let xml = br#"<nmaprun scanner="nmap" args="nmap -sV --script vulners" version="7.93">
<host><status state="up"/><address addr="127.0.0.2" addrtype="ipv4"/><ports>
<port protocol="tcp" portid="22"><state state="open"/><service name="ssh" product="OpenSSH" version="9.2p1"><cpe>cpe:/a:openbsd:openssh:9.2p1</cpe></service>
<script id="vulners" output="ERROR: Script execution failed (use -d to debug)"/></port>
</ports></host></nmaprun>"#;
    let run = read_scan(&xml[..], "t", |_| {}).unwrap();
    let report = Report::build(&run, provenance(VulnersStatus::from_xml(&run)), None).unwrap();
    assert_valid(&report);
    assert!(matches!(&report.services[0].lookup, Lookup::NotChecked(r) if r.contains("failed")));
}

#[test]
fn every_format_renders_the_report() {
    let report = Report::build(
        &fixture_run("upstream_golden_1x.xml"),
        provenance(VulnersStatus::Used),
        None,
    )
    .unwrap();
    assert_valid(&report);
    let markdown = render(&report, "markdown").unwrap();
    assert!(
        markdown.contains("[CVE-2018-16843](https://nvd.nist.gov/vuln/detail/CVE-2018-16843)"),
        "{markdown}"
    );
    assert!(markdown.contains("`127.0.0.1:0/tcp`"), "{markdown}");
    let summary = render(&report, "summary").unwrap();
    assert!(summary.contains("CVE-2018-16843"), "{summary}");
    let json: Report = serde_json::from_str(&render(&report, "json").unwrap()).unwrap();
    assert_eq!(json, report, "the JSON report reads back as the same model");
}

#[test]
fn hostile_banners_cannot_break_out_of_markdown_or_the_terminal() {
    let xml = br#"<nmaprun scanner="nmap" args="nmap" version="7.93">
<host><status state="up"/><address addr="127.0.0.2" addrtype="ipv4"/><ports>
<port protocol="tcp" portid="80"><state state="open"/><service name="http" product="evil | &lt;script&gt;alert(1)&lt;/script&gt; [x](http://e)" version="1&#x1b;[2J"/></port>
</ports></host></nmaprun>"#;
    let run = read_scan(&xml[..], "t", |_| {}).unwrap();
    let report = Report::build(&run, provenance(VulnersStatus::Used), None).unwrap();
    let markdown = render(&report, "markdown").unwrap();
    assert!(!markdown.contains("<script>"), "{markdown}");
    assert!(!markdown.contains("[x](http://e)"), "{markdown}");
    assert!(markdown.contains(r"evil \|"), "{markdown}");
    let summary = render(&report, "summary").unwrap();
    assert!(!summary.contains('\x1b'), "{summary:?}");
}

/// The fixture's report as shard `index` of `count`, started at `started`, over `targets`.
fn shard(index: usize, count: usize, started: &str, targets: &str) -> (String, Report) {
    let mut report = Report::build(
        &fixture_run("loopback-services.xml"),
        provenance(VulnersStatus::Used),
        None,
    )
    .unwrap();
    report.scan.shard = Some(Shard { index, count });
    report.scan.started = Some(started.to_string());
    report.scan.targets = vec![targets.to_string()];
    (format!("{targets} {index}/{count} {started}"), report)
}

#[test]
fn of_a_date_folder_the_newest_runs_shards_are_picked_newest_copy_first() {
    let day = "2026-11-25T02:0";
    let mut merged_earlier = shard(0, 3, &format!("{day}1:00Z"), "10.0.0.0/8").1;
    merged_earlier.scan.shard = None;
    let set = latest_shard_set(vec![
        shard(2, 3, &format!("{day}1:00Z"), "10.0.0.0/8"),
        ("earlier merge".into(), merged_earlier),
        shard(0, 3, &format!("{day}1:00Z"), "10.0.0.0/8"),
        shard(0, 3, &format!("{day}5:00Z"), "10.0.0.0/8"), // the pod ran again
        shard(1, 3, &format!("{day}1:00Z"), "10.0.0.0/8"),
        shard(0, 2, &format!("{day}0:00Z"), "192.0.2.0/24"), // another team's run, older
    ]);
    let chosen: Vec<&str> = set.chosen.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        chosen,
        [
            "10.0.0.0/8 0/3 2026-11-25T02:05:00Z",
            "10.0.0.0/8 1/3 2026-11-25T02:01:00Z",
            "10.0.0.0/8 2/3 2026-11-25T02:01:00Z"
        ]
    );
    let left_out: Vec<(&str, &str)> = set
        .left_out
        .iter()
        .map(|(n, why)| (n.as_str(), why.as_str()))
        .collect();
    assert_eq!(
        left_out,
        [
            (
                "earlier merge",
                "not a shard (a whole run, or a merged report)"
            ),
            (
                "10.0.0.0/8 0/3 2026-11-25T02:01:00Z",
                "shard 0/3 again, older than 10.0.0.0/8 0/3 2026-11-25T02:05:00Z"
            ),
            (
                "192.0.2.0/24 0/2 2026-11-25T02:00:00Z",
                "a shard of another run (2 shards of 192.0.2.0/24)"
            ),
        ]
    );
}

#[test]
fn merging_shards_orders_them_refuses_one_twice_and_names_the_missing() {
    let merged = Report::merge(vec![
        shard(2, 4, "2026-11-25T02:02:00Z", "t"),
        shard(0, 4, "2026-11-25T02:00:00Z", "t"),
    ])
    .unwrap();
    assert_eq!(merged.scan.shard, None, "a merge is not a shard");
    assert!(!merged.scan.complete);
    assert!(merged
        .scan
        .warnings
        .contains(&"shards 1/4, 3/4 are missing: their hosts are not in this report".to_string()));
    assert_eq!(merged.scan.started.as_deref(), Some("2026-11-25T02:00:00Z"));
    assert_valid(&merged);

    let whole = Report::merge(vec![shard(1, 2, "b", "t"), shard(0, 2, "a", "t")]).unwrap();
    assert!(whole.scan.complete);
    assert!(!whole.scan.warnings.iter().any(|w| w.contains("missing")));

    let twice = Report::merge(vec![shard(1, 2, "a", "t"), shard(1, 2, "b", "t")]).unwrap_err();
    assert_eq!(
        twice.to_string(),
        "shard 1/2 is given twice, t 1/2 a and t 1/2 b: its hosts would be counted twice; merge one of them"
    );
}
