//! The plugin runtime end to end: hostile plugins are contained, and a manifest with a Lua
//! filter, a WASM enricher and a WASM sink runs through the real `brulee` binary.
//!
//! The WASM plugins are built by `cargo xtask plugins` (which `cargo xtask test` runs first).
//! The only network traffic is to HTTP servers these tests start on 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn wasm(name: &str) -> PathBuf {
    let path = root()
        .join("target/wasm/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask plugins` first",
        path.display()
    );
    path
}

fn lua(name: &str) -> PathBuf {
    root()
        .join("fixtures/plugins/lua")
        .join(format!("{name}.lua"))
}

/// Write `text` as scan.toml in a new folder and load it.
fn manifest(dir: &Path, text: &str) -> brulee::manifest::ScanManifest {
    let path = dir.join("scan.toml");
    std::fs::write(&path, text).unwrap();
    brulee::pipeline::load_manifest(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn fixture_report() -> brulee::report::Report {
    let file = fixture("nmap793_vulners_mockapi.xml");
    let reader = BufReader::new(std::fs::File::open(&file).unwrap());
    let scan = brulee::nmap::xml::read_scan(reader, "fixture", |_| {}).unwrap();
    let vulners = brulee::findings::VulnersStatus::from_xml(&scan);
    brulee::report::Report::build(
        &scan,
        brulee::report::Provenance {
            targets: vec![],
            xml_files: vec![],
            vulners,
            database: None,
        },
        None,
    )
    .unwrap()
}

/// Run a one-filter manifest with `on_error = "fail"` and return the error it stops with.
fn contained(code: &str, config: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        &format!(
            "[[filter]]\nname = \"hostile\"\n{code}\non_error = \"fail\"\nconfig = {config}\n"
        ),
    );
    let mut report = fixture_report();
    let started = Instant::now();
    let error = brulee::pipeline::process(&m, &mut report)
        .expect_err("the hostile plugin must fail")
        .to_string();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "containment took {:?}",
        started.elapsed()
    );
    assert!(
        error.contains("filter step \"hostile\"") && error.contains("scan.toml:1:1"),
        "the error names the step and where it is: {error}"
    );
    error
}

fn wasm_step(attack: &str) -> String {
    contained(
        &format!("wasm = {:?}", wasm("hostile").display().to_string()),
        &format!("{{ attack = {attack:?}, url = \"http://127.0.0.1:9/\" }}"),
    )
}

fn lua_step(name: &str, config: &str) -> String {
    contained(
        &format!("lua = {:?}", lua(name).display().to_string()),
        config,
    )
}

#[test]
fn wasm_infinite_loop_is_stopped_by_the_time_budget() {
    let e = wasm_step("loop");
    assert!(e.contains("ran past its time budget"), "{e}");
    assert!(e.contains("hostile.wasm"), "{e}");
}

#[test]
fn wasm_memory_bomb_hits_the_memory_limit() {
    let e = wasm_step("memory");
    assert!(e.contains("exceeded its memory limit of 64 MiB"), "{e}");
}

#[test]
fn wasm_http_to_a_host_not_granted_is_refused() {
    let e = wasm_step("http");
    assert!(
        e.contains("HTTP request to 127.0.0.1:9 refused: not in allow_hosts (granted: none)"),
        "{e}"
    );
}

#[test]
fn wasm_env_read_without_grant_is_refused_and_wasi_env_is_empty() {
    let e = wasm_step("env");
    assert!(e.contains("HOME is not granted"), "{e}");
    // Through WASI's own environment: empty, so the plugin says so by dropping.
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        &format!(
            "[[filter]]\nwasm = {:?}\nconfig = {{ attack = \"wasi-env\" }}\n",
            wasm("hostile").display().to_string()
        ),
    );
    let mut report = fixture_report();
    brulee::pipeline::process(&m, &mut report).unwrap();
    assert_eq!(report.suppressed[0].reason, "no environment");
}

#[test]
fn wasm_filesystem_access_finds_nothing() {
    let e = wasm_step("fs");
    assert!(e.contains("filesystem:"), "{e}");
    assert!(!e.contains("read /etc/passwd"), "{e}");
}

#[test]
fn wasm_panic_fails_the_step_with_its_message() {
    let e = wasm_step("panic");
    assert!(e.contains("crashed"), "{e}");
    assert!(e.contains("hostile plugin panics on purpose"), "{e}");
}

#[test]
fn lua_infinite_loop_is_stopped() {
    let e = lua_step("loop", "{}");
    assert!(
        e.contains("ran past its budget of 50000000 Lua instructions"),
        "{e}"
    );
    assert!(e.contains("loop.lua"), "{e}");
}

#[test]
fn lua_string_rep_of_gigabytes_is_refused_before_allocating() {
    let e = lua_step("rep-bomb", "{}");
    assert!(e.contains("exceeded its memory limit"), "{e}");
}

#[test]
fn lua_pathological_pattern_is_refused() {
    let e = lua_step("pattern-bomb", "{}");
    assert!(e.contains("string.find: this pattern may backtrack"), "{e}");
}

#[test]
fn lua_memory_bomb_hits_the_memory_limit() {
    let e = lua_step("memory-bomb", "{}");
    assert!(e.contains("exceeded its memory limit of 64 MiB"), "{e}");
}

#[test]
fn lua_has_no_os_io_files_bytecode_or_ungranted_env_and_http() {
    for (attack, expected) in [
        ("os", "global 'os'"),
        ("io", "global 'io'"),
        ("require", "module names are words"),
        ("bytecode", "bytecode refused"),
        ("env", "HOME is not granted"),
        ("http", "HTTP request to 127.0.0.1:9 refused"),
    ] {
        let e = lua_step(
            "escape",
            &format!("{{ attack = {attack:?}, url = \"http://127.0.0.1:9/\" }}"),
        );
        assert!(e.contains(expected), "{attack}: {e}");
    }
}

#[test]
fn a_failing_filter_with_skip_is_left_out_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        &format!(
            "[[filter]]\nlua = {:?}\n\n[[filter]]\nlua = {:?}\nconfig = {{ ids = [\"CVE-2023-44487\"] }}\n",
            lua("loop").display().to_string(),
            lua("accepted-risk").display().to_string()
        ),
    );
    let mut report = fixture_report();
    let before = report.findings.len();
    brulee::pipeline::process(&m, &mut report).unwrap();
    assert_eq!(report.steps[0].status, "failed");
    assert!(report.steps[0].error.as_deref().unwrap().contains("budget"));
    assert_eq!(report.steps[1].status, "ok");
    assert_eq!(report.findings.len(), before - 1);
    assert_eq!(report.suppressed[0].step, "accepted-risk");
    assert_eq!(report.summary.findings, before - 1);
}

#[test]
fn compiled_components_are_cached_on_disk() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = brulee::plugin::wasm::WasmRuntime::new(Some(cache.path().to_path_buf())).unwrap();
    let (_, first) = runtime.component(&wasm("tag_enricher")).unwrap();
    let (_, second) = runtime.component(&wasm("tag_enricher")).unwrap();
    assert_eq!(first, brulee::plugin::wasm::CacheOutcome::Compiled);
    assert_eq!(second, brulee::plugin::wasm::CacheOutcome::Hit);
}

/// An HTTP server on 127.0.0.1 that answers 200 to `count` requests and hands their bodies
/// over.
fn receiver(count: usize) -> (u16, mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(count) {
            let mut stream = stream.unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .unwrap();
            tx.send((request_line, body)).unwrap();
        }
    });
    (port, rx)
}

fn e2e_manifest(dir: &Path, sink_host: &str, port: u16) -> PathBuf {
    std::fs::create_dir_all(dir.join("filters")).unwrap();
    std::fs::copy(lua("accepted-risk"), dir.join("filters/accepted-risk.lua")).unwrap();
    let text = format!(
        r#"[[enrich]]
name = "owner"
wasm = {enricher:?}
config = {{ owner = "blue-team" }}

[[filter]]
lua = "filters/accepted-risk.lua"
config = {{ ids = ["CVE-2020-15778"], why = "scp is not installed" }}

[[report]]
format = "json"

[[report]]
format = "markdown"

[[sink]]
plugin = "webhook"
allow_hosts = ["{sink_host}"]
config = {{ url = "http://127.0.0.1:{port}/scans" }}
"#,
        enricher = wasm("tag_enricher").display().to_string(),
    );
    let path = dir.join("scan.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn manifest_with_lua_filter_wasm_enricher_and_wasm_sink_runs_end_to_end() {
    let (port, received) = receiver(1);
    let dir = tempfile::tempdir().unwrap();
    let manifest = e2e_manifest(dir.path(), &format!("127.0.0.1:{port}"), port);
    let out = dir.path().join("out");
    let result = run(brulee()
        .arg("report")
        .arg(fixture("nmap793_vulners_mockapi.xml"))
        .arg("--manifest")
        .arg(&manifest)
        .arg("-o")
        .arg(&out)
        .env("BRULEE_CACHE_DIR", dir.path().join("cache")));
    assert_eq!(result.status.code(), Some(0));

    let report = read_json(&out.join("report.json"));
    assert_schema_valid(&report);
    assert_eq!(report["schema_version"], "1.1");
    let suppressed = report["suppressed"].as_array().unwrap();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["cve"], "CVE-2020-15778");
    assert_eq!(suppressed[0]["step"], "accepted-risk");
    assert_eq!(
        suppressed[0]["reason"],
        "accepted risk: scp is not installed"
    );
    for finding in report["findings"].as_array().unwrap() {
        assert_eq!(finding["enrichment"]["owner"]["owner"], "blue-team");
        assert_ne!(finding["cve"], "CVE-2020-15778");
    }
    let steps: Vec<(&str, &str)> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [("owner", "ok"), ("accepted-risk", "ok"), ("webhook", "ok")]
    );
    // The rendered report names the steps that shaped it (sinks run after it is written).
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    let plugins = &markdown[markdown.find("## Plugins used").expect("a Plugins used section")..];
    assert!(plugins.contains("| owner | enrich |"), "{plugins}");
    assert!(plugins.contains("| accepted-risk | filter |"), "{plugins}");

    let (request_line, body) = received.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(request_line.starts_with("POST /scans "), "{request_line}");
    let delivered: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(delivered["findings"], report["findings"]);
    assert_eq!(delivered["suppressed"], report["suppressed"]);
}

#[test]
fn a_sink_to_a_host_not_granted_is_refused_and_the_report_stays_on_disk() {
    // The server would accept, but the grant names another address: nothing may reach it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = e2e_manifest(dir.path(), &format!("127.0.0.2:{port}"), port);
    let out = dir.path().join("out");
    let result = run(brulee()
        .arg("report")
        .arg(fixture("nmap793_vulners_mockapi.xml"))
        .arg("--manifest")
        .arg(&manifest)
        .arg("-o")
        .arg(&out)
        .env("BRULEE_CACHE_DIR", dir.path().join("cache")));
    assert_eq!(result.status.code(), Some(1));
    let stderr = stderr(&result);
    assert!(
        stderr.contains("sink step \"webhook\"")
            && stderr.contains(&format!("HTTP request to 127.0.0.1:{port} refused")),
        "{stderr}"
    );
    assert!(
        listener.accept().is_err(),
        "no connection reached the server"
    );
    let report = read_json(&out.join("report.json"));
    assert_schema_valid(&report);
    let sink = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "sink")
        .unwrap();
    assert_eq!(sink["status"], "failed");
    assert!(sink["error"].as_str().unwrap().contains("refused"));
    assert!(out.join("report.md").is_file());
}

#[test]
fn manifest_check_reports_errors_with_their_place_and_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.toml");
    std::fs::write(
        &path,
        "[scan]\nports = \"22\"\n\n[[filter]]\nlau = \"x.lua\"\n\n[[sink]]\nplugin = \"webhok\"\nallow_hosts = [\"https://example.org\"]\n",
    )
    .unwrap();
    let result = run(brulee().args(["manifest", "check"]).arg(&path));
    assert_eq!(result.status.code(), Some(2));
    let stderr = stderr(&result);
    assert!(
        stderr
            .contains("scan.toml:5:1: [[filter]] has unknown key \"lau\" (did you mean \"lua\"?)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "scan.toml:8:10: no first-party plugin \"webhok\" (did you mean \"webhook\"?)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("scan.toml:9:16: bad allow_hosts entry"),
        "{stderr}"
    );
}

#[test]
fn scan_with_a_manifest_scans_its_sources_targets_and_runs_its_steps() {
    require_tools();
    let addr: std::net::IpAddr = "127.0.0.9".parse().unwrap();
    let http = testkit::LoopbackService::start(testkit::ServiceKind::Http, addr)
        .unwrap_or_else(|e| panic!("{e}"));
    let (sink_port, received) = receiver(1);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ips.txt"),
        "# the test's nginx\n127.0.0.9\n",
    )
    .unwrap();
    let base = e2e_manifest(dir.path(), &format!("127.0.0.1:{sink_port}"), sink_port);
    let text = format!(
        "[scan]\nports = \"{}\"\nno_dns = true\n\n[[source]]\nbuiltin = \"file\"\nconfig = {{ path = \"ips.txt\" }}\n\n{}",
        http.port,
        std::fs::read_to_string(&base).unwrap()
    );
    std::fs::write(&base, text).unwrap();
    let out = dir.path().join("out");
    let result = run(brulee()
        .args(["scan", "--manifest"])
        .arg(&base)
        .arg("-o")
        .arg(&out)
        .env("BRULEE_CACHE_DIR", dir.path().join("cache")));
    assert_eq!(result.status.code(), Some(0));
    let report = read_json(&out.join("report.json"));
    assert_schema_valid(&report);
    assert_eq!(report["scan"]["targets"], serde_json::json!(["127.0.0.9"]));
    let nginx = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["product"] == "nginx")
        .unwrap_or_else(|| panic!("{:#}", report["services"]));
    assert_eq!(nginx["endpoints"][0]["port"], http.port);
    let steps: Vec<(&str, &str)> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("file", "ok"),
            ("owner", "ok"),
            ("accepted-risk", "ok"),
            ("webhook", "ok")
        ]
    );
    let (_, body) = received.recv_timeout(Duration::from_secs(10)).unwrap();
    let delivered: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(delivered["services"], report["services"]);
}

#[test]
fn plugin_new_scaffolds_a_lua_filter_that_runs() {
    let dir = tempfile::tempdir().unwrap();
    let result = run(brulee()
        .args([
            "plugin", "new", "--lang", "lua", "--kind", "filter", "low-cvss",
        ])
        .current_dir(dir.path()));
    assert_eq!(result.status.code(), Some(0));
    let result = run(brulee()
        .arg("report")
        .arg(fixture("nmap793_vulners_mockapi.xml"))
        .args(["--manifest", "low-cvss/manifest.toml", "-f", "json"])
        .current_dir(dir.path()));
    assert_eq!(result.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_str(&stdout(&result)).unwrap();
    assert_eq!(report["steps"][0]["name"], "low-cvss");
    assert_eq!(report["steps"][0]["status"], "ok");
}

#[test]
fn plugin_new_scaffolds_a_rust_filter_that_builds_passes_its_test_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let result = run(brulee()
        .args([
            "plugin", "new", "--lang", "rust", "--kind", "filter", "low-cvss",
        ])
        .current_dir(dir.path()));
    assert_eq!(result.status.code(), Some(0));
    let krate = dir.path().join("low-cvss");
    // Share the build of the SDK's dependencies with the other plugin builds.
    let target = root().join("target/wasm");
    let cargo = || {
        let mut c = std::process::Command::new(env!("CARGO"));
        c.current_dir(&krate).env("CARGO_TARGET_DIR", &target);
        c
    };
    let test = run(cargo().arg("test"));
    assert!(test.status.success());
    assert!(stdout(&test).contains("drops_below_the_threshold ... ok"));
    let build = run(cargo().args(["build", "--release", "--target", "wasm32-wasip2"]));
    assert!(build.status.success());
    let manifest = std::fs::read_to_string(krate.join("manifest.toml"))
        .unwrap()
        .replace(
            "wasm = \"target/",
            &format!("wasm = \"{}/", target.display()),
        );
    std::fs::write(krate.join("manifest.toml"), manifest).unwrap();
    let result = run(brulee()
        .arg("report")
        .arg(fixture("nmap793_vulners_mockapi.xml"))
        .arg("--manifest")
        .arg(krate.join("manifest.toml"))
        .args(["-f", "json"])
        .env("BRULEE_CACHE_DIR", dir.path().join("cache")));
    assert_eq!(result.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_str(&stdout(&result)).unwrap();
    assert_eq!(report["steps"][0]["status"], "ok");
}

#[test]
fn merge_with_a_manifest_delivers_the_merged_report_through_its_sinks() {
    // What the Kubernetes merge Job runs: shard reports in, one report out through the sink.
    let dir = tempfile::tempdir().unwrap();
    let mut shards = Vec::new();
    for xml in ["loopback-services.xml", "nmap793_vulners_mockapi.xml"] {
        let out = dir.path().join(xml);
        let result = run(brulee()
            .arg("report")
            .arg(fixture(xml))
            .args(["-f", "json", "-o"])
            .arg(&out));
        assert_eq!(result.status.code(), Some(0));
        shards.push(out);
    }
    let (port, received) = receiver(1);
    let manifest = dir.path().join("merge.toml");
    std::fs::write(
        &manifest,
        format!(
            "[[report]]\nformat = \"json\"\n\n[[sink]]\nplugin = \"webhook\"\nallow_hosts = [\"127.0.0.1:{port}\"]\nconfig = {{ url = \"http://127.0.0.1:{port}/merged\" }}\n"
        ),
    )
    .unwrap();

    let without_output = run(brulee()
        .arg("merge")
        .args(&shards)
        .arg("--manifest")
        .arg(&manifest));
    assert_eq!(without_output.status.code(), Some(2));
    assert!(stderr(&without_output).contains("give -o DIR"), "{}", stderr(&without_output));

    let out = dir.path().join("merged");
    let result = run(brulee()
        .arg("merge")
        .args(&shards)
        .arg("--manifest")
        .arg(&manifest)
        .arg("-o")
        .arg(&out)
        .env("BRULEE_CACHE_DIR", dir.path().join("cache")));
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    let report = read_json(&out.join("report.json"));
    assert_eq!(report["scan"]["xml_files"].as_array().unwrap().len(), 2);
    assert_eq!(report["steps"][0]["name"], "webhook");
    assert_eq!(report["steps"][0]["status"], "ok");
    let (request_line, body) = received.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(request_line.starts_with("POST /merged "), "{request_line}");
    let delivered: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(delivered["hosts"], report["hosts"]);
    assert_eq!(delivered["findings"], report["findings"]);
}
