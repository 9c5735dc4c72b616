//! Built-in and first-party Lua steps that need no server, end to end through the real
//! binary: the `inline` source, the `json-inventory` source (a granted file), the
//! `accepted-risk` filter and the `owner` enricher. Reports come from the real loopback scan
//! fixture matched against the NVD records in fixtures/nvd.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

/// A CVE database imported from fixtures/nvd, once per test.
fn database(dir: &Path) -> PathBuf {
    let db = dir.join("cve.sqlite");
    let nvd = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/nvd");
    let out = run(brulee().args(["db", "import", "--db"]).arg(&db).arg(nvd));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    db
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `brulee report` of the loopback fixture through a manifest, as JSON on stdout.
fn report_with(dir: &Path, manifest: &str) -> (Output, serde_json::Value) {
    let manifest = write(dir, "scan.toml", manifest);
    let out = run(brulee()
        .arg("report")
        .arg(fixture("loopback-services.xml"))
        .arg("--manifest")
        .arg(&manifest)
        .args(["--format", "json", "--db"])
        .arg(database(dir)));
    let json = serde_json::from_str(&stdout(&out)).unwrap_or(serde_json::Value::Null);
    (out, json)
}

fn list_targets(dir: &Path, manifest: &str) -> Output {
    let manifest = write(dir, "scan.toml", manifest);
    run(brulee()
        .args(["scan", "--list-targets", "--manifest"])
        .arg(manifest))
}

#[test]
fn inline_targets_are_validated_like_command_line_targets() {
    let dir = tempfile::tempdir().unwrap();
    let out = list_targets(
        dir.path(),
        "[[source]]\nbuiltin = \"inline\"\nconfig = { targets = [\"127.0.0.2\", \"127.0.1.0/30\"] }\n",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "127.0.0.2\n127.0.1.0/30\n");

    let out = list_targets(
        dir.path(),
        "[[source]]\nbuiltin = \"inline\"\nconfig = { targets = [\"-iL/etc/passwd\"] }\n",
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("target \"-iL/etc/passwd\" refused"),
        "{}",
        stderr(&out)
    );
}

const INVENTORY: &str = r#"{
  "_meta": {"hostvars": {
    "web1": {"ansible_host": "127.0.0.4", "env": "prod"},
    "ssh1": {"ansible_host": "127.0.0.2"},
    "ftp1": {"ansible_host": "127.0.0.3"}
  }},
  "groups": [{"name": "db", "hosts": [{"ip": "127.0.0.5"}, {"ip": "127.0.0.4"}]}]
}"#;

#[test]
fn json_inventory_reads_a_granted_file_with_field_selectors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "inventory.json", INVENTORY);
    let out = list_targets(
        dir.path(),
        r#"[[source]]
plugin = "json-inventory"
files = ["inventory.json"]
config = { file = "inventory.json", select = ["_meta.hostvars.*.ansible_host", "groups[].hosts[].ip"] }
"#,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Sorted by host name within the object, duplicates once, in the order the paths found them.
    assert_eq!(stdout(&out), "127.0.0.3\n127.0.0.2\n127.0.0.4\n127.0.0.5\n");
    assert!(
        stderr(&out).contains("4 targets from inventory.json"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn json_inventory_cannot_read_what_is_not_granted_and_says_what_it_found() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "inventory.json", INVENTORY);
    let ungranted = list_targets(
        dir.path(),
        "[[source]]\nplugin = \"json-inventory\"\nconfig = { file = \"/etc/passwd\", select = \"x\" }\n",
    );
    assert_ne!(ungranted.status.code(), Some(0));
    assert!(
        stderr(&ungranted).contains("file \"/etc/passwd\" is not granted to this step"),
        "{}",
        stderr(&ungranted)
    );

    let wrong_path = list_targets(
        dir.path(),
        "[[source]]\nplugin = \"json-inventory\"\nfiles = [\"inventory.json\"]\nconfig = { file = \"inventory.json\", select = \"_meta.hostvars[].ansible_host\" }\n",
    );
    assert_ne!(wrong_path.status.code(), Some(0));
    assert!(
        stderr(&wrong_path).contains("_meta.hostvars is an object, not a list: use \"*\""),
        "{}",
        stderr(&wrong_path)
    );

    let missing = list_targets(
        dir.path(),
        "[[source]]\nplugin = \"json-inventory\"\nfiles = [\"nowhere.json\"]\nconfig = { file = \"nowhere.json\", select = \"x\" }\n",
    );
    assert_eq!(missing.status.code(), Some(2), "a manifest error");
    assert!(
        stderr(&missing).contains("scan.toml:3:10: files entry \"nowhere.json\"")
            && stderr(&missing).contains("is not a file"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn accepted_risks_are_suppressed_with_their_reason_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = r#"[[filter]]
builtin = "accepted-risk"
config = { path = "accepted-risk.toml" }
"#;
    let (plain, unfiltered) = report_with(dir.path(), "");
    assert_eq!(plain.status.code(), Some(0));
    let ssh: Vec<String> = unfiltered["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["address"] == "127.0.0.2")
        .map(|f| f["cve"].as_str().unwrap().to_string())
        .collect();
    assert!(ssh.contains(&"CVE-2023-38408".to_string()), "{ssh:?}");

    write(
        dir.path(),
        "accepted-risk.toml",
        r#"[[accept]]
ids = ["CVE-2023-38408"]
hosts = ["127.0.0.0/30"]
until = "2999-12-31"
reason = "agent forwarding is disabled (SEC-1234)"

[[accept]]
hosts = ["127.0.0.3"]
until = "2000-01-01"
reason = "old lab exception"
"#,
    );
    let (out, report) = report_with(dir.path(), manifest);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let suppressed = report["suppressed"].as_array().unwrap();
    assert_eq!(suppressed.len(), 1, "{suppressed:?}");
    assert_eq!(suppressed[0]["cve"], "CVE-2023-38408");
    assert_eq!(suppressed[0]["step"], "accepted-risk");
    assert_eq!(
        suppressed[0]["reason"],
        format!(
            "accepted risk until 2999-12-31: agent forwarding is disabled (SEC-1234) ({}:1:1)",
            dir.path().join("accepted-risk.toml").display()
        )
    );
    // The expired acceptance of 127.0.0.3 drops nothing and is warned about once.
    let kept = report["findings"].as_array().unwrap();
    assert_eq!(
        kept.len() + 1,
        unfiltered["findings"].as_array().unwrap().len()
    );
    assert!(kept.iter().any(|f| f["address"] == "127.0.0.3"));
    assert_eq!(
        stderr(&out).matches("expired on 2000-01-01").count(),
        1,
        "{}",
        stderr(&out)
    );

    write(
        dir.path(),
        "accepted-risk.toml",
        "[[accept]]\nids = [\"CVE-1\"]\nreason = \"x\"\n",
    );
    // A broken file fails the step, which filters skip by default: every finding is shown.
    let (bad, report) = report_with(dir.path(), manifest);
    assert_eq!(bad.status.code(), Some(0));
    assert!(
        stderr(&bad).contains("missing field `until`"),
        "{}",
        stderr(&bad)
    );
    assert_eq!(report["steps"][0]["status"], "failed");
    assert_eq!(report["findings"], unfiltered["findings"]);
}

#[test]
fn owner_tags_findings_with_the_most_specific_network() {
    let dir = tempfile::tempdir().unwrap();
    let (out, report) = report_with(
        dir.path(),
        r#"[[enrich]]
plugin = "owner"
[enrich.config]
default = "unowned"
owners = [
  { cidr = "127.0.0.0/29", owner = "platform" },
  { cidr = "127.0.0.4/32", owner = "web", contact = "web@example.org" },
]
"#,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let findings = report["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    for f in findings {
        let owner = &f["enrichment"]["owner"];
        if f["address"] == "127.0.0.4" {
            assert_eq!(owner["owner"], "web");
            assert_eq!(owner["contact"], "web@example.org");
            assert_eq!(owner["network"], "127.0.0.4/32");
        } else {
            assert_eq!(owner["owner"], "platform", "{f}");
        }
    }
    assert!(findings.iter().any(|f| f["address"] == "127.0.0.4"));

    let (bad, _) = report_with(
        dir.path(),
        "[[enrich]]\nplugin = \"owner\"\non_error = \"fail\"\nconfig = { owners = [{ cidr = \"127.0.0.0/33\", owner = \"x\" }] }\n",
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("\"127.0.0.0/33\" is not an IP address or CIDR block"),
        "{}",
        stderr(&bad)
    );
}
