//! `brulee db` and the offline matching end to end: import real NVD data, match real services.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

fn shared(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(path)
}

fn nvd_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/nvd")
        .join(name)
}

/// A database at `path` filled with the fixture feeds and the KEV catalog.
fn filled_db(dir: &Path) -> PathBuf {
    let db = dir.join("cve.sqlite");
    let result = run(brulee()
        .args(["db", "import", "--db"])
        .arg(&db)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/nvd"))
        .arg(shared("kev/known_exploited_vulnerabilities.json")));
    assert_eq!(result.status.code(), Some(0));
    db
}

#[test]
fn import_is_idempotent_and_status_tells_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let db = filled_db(dir.path());
    let status = |db: &Path| -> serde_json::Value {
        let out = run(brulee().args(["db", "status", "--json", "--db"]).arg(db));
        assert_eq!(out.status.code(), Some(0));
        serde_json::from_str(&stdout(&out)).unwrap()
    };
    let first = status(&db);
    assert_eq!(first["kev_entries"], 1404);
    assert!(first["cves"].as_u64().unwrap() > 400, "{first}");
    assert!(first["newest_modified"]
        .as_str()
        .unwrap()
        .starts_with("2026-"));
    let again = run(brulee()
        .args(["db", "import", "--db"])
        .arg(&db)
        .arg(nvd_fixture("nvd2_openssh.json.gz")));
    // The fixtures hold one newer copy of an OpenSSH record: that one is kept, not replaced.
    assert!(
        stderr(&again).contains("0 new, 95 updated, 1 older kept"),
        "{}",
        stderr(&again)
    );
    assert_eq!(status(&db)["cves"], first["cves"]);

    // A broken file is reported, the database keeps what it had, the exit code says so.
    let bad = dir.path().join("broken.json.gz");
    std::fs::write(&bad, b"\x1f\x8b\x08\x00garbage").unwrap();
    let out = run(brulee().args(["db", "import", "--db"]).arg(&db).arg(&bad));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("broken.json.gz"));
    assert_eq!(status(&db)["cves"], first["cves"]);

    let out = run(brulee().args(["db", "status", "--db", "/nonexistent/cve.sqlite"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("brulee db import"));
}

#[test]
fn report_uses_the_database_and_says_how_fresh_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let db = filled_db(dir.path());
    let out = run(brulee()
        .arg("report")
        .arg(fixture("loopback-services.xml"))
        .args(["-f", "json", "--db"])
        .arg(&db));
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_schema_valid(&report);
    assert_eq!(report["scan"]["vuln_sources"], serde_json::json!(["nvd"]));
    assert!(report["scan"]["database"]["newest_modified"]
        .as_str()
        .unwrap()
        .starts_with("2026-"));
    let ssh = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["product"] == "OpenSSH")
        .unwrap();
    assert_eq!(ssh["status"], "vulnerable");
    let regresshion = ssh["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "CVE-2024-6387")
        .unwrap();
    assert_eq!(regresshion["cvss"], 8.1);
    assert_eq!(regresshion["source"], "nvd");
    assert_eq!(regresshion["confidence"], "range");
    assert!(regresshion["description"]
        .as_str()
        .unwrap()
        .contains("sshd"));

    // No database: the report says where to get one, and services are "not checked".
    let out = run(brulee()
        .arg("report")
        .arg(fixture("loopback-services.xml"))
        .args(["-f", "json", "--db", "/nonexistent/cve.sqlite"]));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(report["scan"]["database"].is_null());
    assert!(report["scan"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("brulee db update")));
}

#[test]
fn vulners_and_the_database_are_merged_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let db = filled_db(dir.path());
    let out = run(brulee()
        .arg("report")
        .arg(fixture("nmap793_vulners_mockapi.xml"))
        .args(["-f", "json", "--db"])
        .arg(&db));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_schema_valid(&report);
    assert_eq!(
        report["scan"]["vuln_sources"],
        serde_json::json!(["nvd", "vulners"])
    );
    let on_ssh: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["cve"] == "CVE-2023-38408")
        .collect();
    assert_eq!(on_ssh.len(), 1, "one finding, found by both sources");
    assert_eq!(on_ssh[0]["source"], "nvd+vulners");
    assert_eq!(on_ssh[0]["cvss"], 9.8);
}

/// Precision and recall of the matcher over hand-labelled (CPE, CVE) pairs, against the real
/// NVD records. The figures are printed (and quoted in the README).
#[test]
fn precision_and_recall_over_labelled_pairs() {
    let labels = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/labels/cpe-cve-labels.tsv"),
    )
    .unwrap();
    let pairs: Vec<(String, String, bool)> = labels
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols[0].to_string(), cols[1].to_string(), cols[2] == "yes")
        })
        .collect();
    assert!(pairs.len() >= 30);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cve.sqlite");
    let mut feeds: Vec<PathBuf> = std::fs::read_dir(shared("nvd-2.0"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("nvd2_")
        })
        .collect();
    feeds.sort();
    let out = run(brulee()
        .args(["db", "import", "--db"])
        .arg(&db)
        .args(&feeds));
    assert_eq!(out.status.code(), Some(0));

    // One nmap XML with a host per labelled CPE, then one report over it: the real path.
    let mut cpes: Vec<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
    cpes.sort();
    cpes.dedup();
    let mut xml = String::from(r#"<nmaprun scanner="nmap" args="nmap -sV" version="7.93">"#);
    let mut host_of = BTreeMap::new();
    for (i, cpe) in cpes.iter().enumerate() {
        let address = format!("127.0.1.{}", i + 1);
        let product = cpe.split(':').nth(3).unwrap();
        let version = cpe.split(':').nth(4).unwrap();
        xml.push_str(&format!(
            r#"<host><status state="up"/><address addr="{address}" addrtype="ipv4"/><ports><port protocol="tcp" portid="1000"><state state="open"/><service name="x" product="{product}" version="{version}"><cpe>{cpe}</cpe></service></port></ports></host>"#
        ));
        host_of.insert(address, cpe.to_string());
    }
    xml.push_str("</nmaprun>");
    let file = dir.path().join("labelled.xml");
    std::fs::write(&file, xml).unwrap();
    let out = run(brulee()
        .arg("report")
        .arg(&file)
        .args(["-f", "json", "--db"])
        .arg(&db));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let found: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                host_of[f["address"].as_str().unwrap()].clone(),
                f["cve"].as_str().unwrap().to_string(),
            )
        })
        .collect();

    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for (cpe, cve, applies) in &pairs {
        let reported = found.iter().any(|(c, v)| c == cpe && v == cve);
        match (applies, reported) {
            (true, true) => tp += 1,
            (false, true) => {
                fp += 1;
                eprintln!("false positive: {cve} on {cpe}");
            }
            (true, false) => {
                fn_ += 1;
                eprintln!("false negative: {cve} on {cpe}");
            }
            (false, false) => {}
        }
    }
    let precision = tp as f64 / (tp + fp) as f64;
    let recall = tp as f64 / (tp + fn_) as f64;
    println!("labelled pairs: {}, TP {tp}, FP {fp}, FN {fn_}, precision {precision:.3}, recall {recall:.3}", pairs.len());
    eprintln!("labelled pairs: {}, TP {tp}, FP {fp}, FN {fn_}, precision {precision:.3}, recall {recall:.3}", pairs.len());
    // Both errors left are NVD's own (see the labels file); anything more is a matcher bug.
    assert!(precision >= 0.9, "precision {precision}");
    assert!(recall >= 0.9, "recall {recall}");
}

/// The "Done when" of the offline database: real daemons on loopback, scanned with vulners
/// unreachable, reported with the CVEs NVD gives their versions.
#[test]
fn an_offline_scan_of_real_services_lists_nvds_cves() {
    require_tools();
    use testkit::{LoopbackService, ServiceKind};
    let ssh = LoopbackService::start(ServiceKind::Ssh, "127.0.0.7".parse().unwrap()).unwrap();
    let http = LoopbackService::start(ServiceKind::Http, "127.0.0.8".parse().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = filled_db(dir.path());
    let out = dir.path().join("out");
    let result = run(brulee()
        .args([
            "scan",
            "127.0.0.7-8",
            "-n",
            "-q",
            "-p",
            &format!("{},{}", ssh.port, http.port),
            "--db",
        ])
        .arg(&db)
        .arg("-o")
        .arg(&out));
    assert_eq!(result.status.code(), Some(0));
    let report = read_json(&out.join("report.json"));
    assert_schema_valid(&report);
    assert_eq!(report["scan"]["vulners"], "unreachable");
    assert_eq!(report["scan"]["vuln_sources"], serde_json::json!(["nvd"]));
    let service = |product: &str| {
        report["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["product"] == product)
            .cloned()
            .unwrap()
    };
    // Debian 12's OpenSSH is 9.2p1: regreSSHion and the ssh-agent RCE by NVD's ranges (the
    // backport filter, a plugin, is what drops what Debian fixed).
    let openssh = service("OpenSSH");
    assert!(
        openssh["version"].as_str().unwrap().starts_with("9.2p1"),
        "{openssh}"
    );
    let ids: Vec<&str> = openssh["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"CVE-2024-6387") && ids.contains(&"CVE-2023-38408"),
        "{ids:?}"
    );
    assert!(!ids.contains(&"CVE-2016-6210"), "fixed in 7.3: {ids:?}");
    assert_eq!(openssh["endpoints"][0]["address"], "127.0.0.7");
    // Debian 12's nginx 1.22.1, found under nmap's igor_sysoev name.
    let nginx = service("nginx");
    assert_eq!(nginx["status"], "vulnerable", "{nginx}");
    let summary = stdout(&result);
    assert!(
        summary.contains("CVE-2024-6387") && summary.contains("CVE database"),
        "{summary}"
    );
}

/// A tiny HTTP server on 127.0.0.1 serving fixed files, counting what was asked for.
struct FeedServer {
    port: u16,
    hits: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FeedServer {
    fn start(files: BTreeMap<String, Vec<u8>>) -> FeedServer {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (h, s) = (hits.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((conn, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                }
                h.lock().unwrap().push(path.clone());
                let mut conn = conn;
                match files.get(path.trim_start_matches('/')) {
                    Some(body) => {
                        write!(
                            conn,
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        )
                        .unwrap();
                        conn.write_all(body).unwrap();
                    }
                    None => write!(
                        conn,
                        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    )
                    .unwrap(),
                }
            }
        });
        FeedServer {
            port,
            hits,
            stop,
            thread: Some(thread),
        }
    }

    fn take_hits(&self) -> Vec<String> {
        std::mem::take(&mut self.hits.lock().unwrap())
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn update_fetches_the_feeds_then_only_what_changed() {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let gz = std::fs::read(nvd_fixture("nvd2_openssh.json.gz")).unwrap();
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut json)
        .unwrap();
    let sha: String = Sha256::digest(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let meta = format!(
        "lastModifiedDate:2026-11-01T00:00:00-05:00\r\nsize:{}\r\ngzSize:{}\r\nsha256:{}\r\n",
        json.len(),
        gz.len(),
        sha.to_uppercase()
    );
    let this_year: u16 = humantime::format_rfc3339(std::time::SystemTime::now()).to_string()[..4]
        .parse()
        .unwrap();
    let mut files = BTreeMap::new();
    for feed in [this_year.to_string(), "modified".to_string()] {
        files.insert(format!("feeds/nvdcve-2.0-{feed}.json.gz"), gz.clone());
        files.insert(
            format!("feeds/nvdcve-2.0-{feed}.meta"),
            meta.clone().into_bytes(),
        );
    }
    files.insert(
        "kev.json".into(),
        std::fs::read(shared("kev/known_exploited_vulnerabilities.json")).unwrap(),
    );
    let server = FeedServer::start(files);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cve.sqlite");
    let update = || {
        run(brulee()
            .args([
                "db",
                "update",
                "--first-year",
                &this_year.to_string(),
                "--db",
            ])
            .arg(&db)
            .arg("--source")
            .arg(format!("http://127.0.0.1:{}/feeds/", server.port))
            .arg("--kev-source")
            .arg(format!("http://127.0.0.1:{}/kev.json", server.port))
            .args(["--epss-source", "none", "--debian-tracker-source", "none"]))
    };
    let first = update();
    assert_eq!(first.status.code(), Some(0));
    let hits = server.take_hits();
    assert!(
        hits.iter()
            .any(|h| h.ends_with(&format!("nvdcve-2.0-{this_year}.json.gz"))),
        "{hits:?}"
    );
    let status: serde_json::Value = serde_json::from_str(&stdout(&run(brulee()
        .args(["db", "status", "--json", "--db"])
        .arg(&db))))
    .unwrap();
    assert_eq!(status["cves"], 96);
    assert_eq!(status["kev_entries"], 1404);

    // Second run: the metas say nothing changed, so no feed is downloaded again.
    let second = update();
    assert_eq!(second.status.code(), Some(0));
    let hits = server.take_hits();
    assert!(!hits.iter().any(|h| h.ends_with(".json.gz")), "{hits:?}");
    assert!(
        hits.iter().any(|h| h.ends_with("modified.meta")),
        "{hits:?}"
    );
    assert!(stderr(&second).contains("unchanged"));

    // A feed whose content does not match its .meta is refused.
    drop(server);
    let mut files = BTreeMap::new();
    for feed in [this_year.to_string(), "modified".to_string()] {
        files.insert(format!("feeds/nvdcve-2.0-{feed}.json.gz"), gz.clone());
        files.insert(
            format!("feeds/nvdcve-2.0-{feed}.meta"),
            b"sha256:00\r\n".to_vec(),
        );
    }
    let server = FeedServer::start(files);
    let out = run(brulee()
        .args([
            "db",
            "update",
            "--kev-source",
            "none",
            "--epss-source",
            "none",
            "--debian-tracker-source",
            "none",
            "--first-year",
            &this_year.to_string(),
            "--db",
        ])
        .arg(&db)
        .arg("--source")
        .arg(format!("http://127.0.0.1:{}/feeds/", server.port)));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("SHA-256"), "{}", stderr(&out));
}

/// `db update` fetches FIRST's EPSS scores, the Debian security tracker's JSON and a zip of
/// Ubuntu OSV records from the URLs it is given (here a server on 127.0.0.1 serving the
/// fixtures), and replaces each set.
#[test]
fn update_fetches_epss_scores_and_the_debian_tracker() {
    use std::io::Write;
    let advisories = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/advisories");
    let csv = std::fs::read(advisories.join("epss_scores-2026-01-30-subset.csv")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&csv).unwrap();
    let mut files = BTreeMap::new();
    files.insert(
        "epss_scores-current.csv.gz".to_string(),
        gz.finish().unwrap(),
    );
    files.insert(
        "tracker/data/json".to_string(),
        std::fs::read(advisories.join("debian-tracker-subset.json")).unwrap(),
    );
    // The NVD feeds are not what this test is about: an empty modified feed.
    let empty = br#"{"format":"NVD_CVE","version":"2.0","vulnerabilities":[]}"#.to_vec();
    let sha: String = {
        use sha2::{Digest, Sha256};
        Sha256::digest(&empty)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let mut feed = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    feed.write_all(&empty).unwrap();
    files.insert(
        "feeds/nvdcve-2.0-modified.json.gz".into(),
        feed.finish().unwrap(),
    );
    files.insert(
        "feeds/nvdcve-2.0-modified.meta".into(),
        format!("sha256:{sha}\r\n").into_bytes(),
    );
    // Ubuntu's OSV records as OSV.dev exports them: a zip of JSON files.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "UBUNTU-CVE-2024-6387.json",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(
        &std::fs::read(advisories.join("distro/ubuntu-osv/UBUNTU-CVE-2024-6387.json")).unwrap(),
    )
    .unwrap();
    files.insert(
        "Ubuntu/all.zip".to_string(),
        zip.finish().unwrap().into_inner(),
    );
    let server = FeedServer::start(files);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cve.sqlite");
    let base = format!("http://127.0.0.1:{}", server.port);
    let update = || {
        run(brulee()
            .args(["db", "update", "--kev-source", "none", "--db"])
            .arg(&db)
            .arg("--first-year")
            .arg("2999")
            .arg("--source")
            .arg(format!("{base}/feeds/"))
            .arg("--epss-source")
            .arg(format!("{base}/epss_scores-current.csv.gz"))
            .arg("--debian-tracker-source")
            .arg(format!("{base}/tracker/data/json"))
            .arg("--ubuntu-osv-source")
            .arg(format!("{base}/Ubuntu/all.zip")))
    };
    for _ in 0..2 {
        let out = update();
        assert_eq!(out.status.code(), Some(0));
        let status: serde_json::Value = serde_json::from_str(&stdout(&run(brulee()
            .args(["db", "status", "--json", "--db"])
            .arg(&db))))
        .unwrap();
        // The second update replaces both sets rather than adding to them.
        assert_eq!(status["epss_scores"], 192, "{status}");
        assert_eq!(status["epss_date"], "2026-01-30T12:55:00Z");
        assert_eq!(status["epss_model"], "v2025.03.14");
        assert_eq!(status["distro_fixes"], 12, "{status}");
        assert_eq!(
            status["distro_releases"],
            serde_json::json!([
                "debian/bookworm",
                "debian/bullseye",
                "debian/sid",
                "ubuntu/jammy",
                "ubuntu/noble"
            ])
        );
    }
    let hits = server.take_hits();
    assert_eq!(
        hits.iter().filter(|h| *h == "/tracker/data/json").count(),
        2,
        "{hits:?}"
    );
    let text = stdout(&run(brulee().args(["db", "status", "--db"]).arg(&db)));
    assert!(
        text.contains("EPSS scores:     192 (scored 2026-01-30T12:55:00Z, model v2025.03.14)"),
        "{text}"
    );
}
