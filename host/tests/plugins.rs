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
    let error = brulee::pipeline::process(&m, &mut report, None)
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
    brulee::pipeline::process(&m, &mut report, None).unwrap();
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
    brulee::pipeline::process(&m, &mut report, None).unwrap();
    assert_eq!(report.steps[0].status, "failed");
    assert!(report.steps[0].error.as_deref().unwrap().contains("budget"));
    assert_eq!(report.steps[1].status, "ok");
    assert_eq!(report.findings.len(), before - 1);
    assert_eq!(report.suppressed[0].step, "accepted-risk");
    assert_eq!(report.summary.findings, before - 1);
}

#[test]
fn a_plugin_built_against_the_0_1_0_contract_still_runs() {
    // Built from sdk/wit/since_v0.1.0 with bare wit-bindgen: it imports the 0.1.0 host
    // interface, which the host's 0.1.1 one serves.
    let old = wasm("contract_v0_1_0");
    let bytes = std::fs::read(&old).unwrap();
    let imports = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(imports("brulee:plugin/host@0.1.0") && !imports("brulee:plugin/host@0.1.1"));
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        &format!(
            "[[enrich]]\nname = \"old\"\nwasm = {:?}\non_error = \"fail\"\nconfig = {{ label = \"x\" }}\n",
            old.display().to_string()
        ),
    );
    let mut report = fixture_report();
    brulee::pipeline::process(&m, &mut report, None).unwrap_or_else(|e| panic!("{e}"));
    assert!(!report.findings.is_empty());
    for finding in &report.findings {
        assert_eq!(
            finding.enrichment["old"],
            serde_json::json!({"contract": "0.1.0", "label": "configured", "port": finding.port})
        );
    }
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
    assert_eq!(report["schema_version"], "1.2");
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
    let plugins = &markdown[markdown
        .find("## Plugins used")
        .expect("a Plugins used section")..];
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
    assert!(
        stderr(&without_output).contains("give -o DIR"),
        "{}",
        stderr(&without_output)
    );

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

/// A report of nginx `version` made with the fixture database, as JSON on disk; with a
/// manifest and a baseline when given.
fn nginx_report(
    dir: &Path,
    db: &Path,
    version: &str,
    baseline: Option<&Path>,
    manifest: Option<&Path>,
) -> (std::process::Output, PathBuf) {
    let out = dir.join(format!("out-{version}-{}", baseline.is_some()));
    let mut command = brulee();
    command
        .arg("report")
        .arg(nginx_scan(dir, version))
        .args(["-f", "json", "--db"])
        .arg(db)
        .arg("-o")
        .arg(&out)
        .env("BRULEE_CACHE_DIR", dir.join("cache"));
    if let Some(baseline) = baseline {
        command.arg("--baseline").arg(baseline);
    }
    if let Some(manifest) = manifest {
        command.arg("--manifest").arg(manifest);
    }
    (run(&mut command), out.join("report.json"))
}

/// A manifest with the accepted-risk filter (dropping `accepted`) and these webhook sinks
/// (`(path, extra config)`), all posting to 127.0.0.1:`port`.
fn webhook_manifest(dir: &Path, port: u16, accepted: &str, sinks: &[(&str, &str)]) -> PathBuf {
    std::fs::create_dir_all(dir.join("filters")).unwrap();
    std::fs::copy(lua("accepted-risk"), dir.join("filters/accepted-risk.lua")).unwrap();
    let mut text = format!(
        "[[filter]]\nlua = \"filters/accepted-risk.lua\"\nconfig = {{ ids = [\"{accepted}\"], why = \"behind the VPN\" }}\n"
    );
    for (path, extra) in sinks {
        text.push_str(&format!(
            "\n[[sink]]\nname = \"{path}\"\nplugin = \"webhook\"\nallow_hosts = [\"127.0.0.1:{port}\"]\nconfig = {{ url = \"http://127.0.0.1:{port}/{path}\"{extra} }}\n"
        ));
    }
    let path = dir.join("alerts.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The new vulnerabilities of a report's diff section, as "address:port/protocol CVE".
fn new_in_diff(report: &serde_json::Value) -> Vec<String> {
    let mut new: Vec<String> = report["diff"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| {
            e["new"].as_array().unwrap().iter().map(move |cve| {
                format!(
                    "{}:{}/{} {}",
                    e["address"].as_str().unwrap(),
                    e["port"],
                    e["protocol"].as_str().unwrap(),
                    cve.as_str().unwrap()
                )
            })
        })
        .collect();
    new.sort();
    new
}

#[test]
fn webhook_with_a_baseline_sends_only_the_new_vulnerabilities_as_slack_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    // Last week nginx 1.22.1 ran there; now 1.14.0 does (rolled back): its older CVEs are new.
    let (made, baseline) = nginx_report(dir.path(), &db, "1.22.1", None, None);
    assert_eq!(made.status.code(), Some(0));
    let (port, received) = receiver(2);
    let manifest = webhook_manifest(
        dir.path(),
        port,
        "CVE-2021-23017",
        &[
            ("slack", ", format = \"slack\", max_listed = 5"),
            ("json", ""),
        ],
    );
    let (made, report) = nginx_report(dir.path(), &db, "1.14.0", Some(&baseline), Some(&manifest));
    assert_eq!(made.status.code(), Some(0));
    let report = read_json(&report);
    let new = new_in_diff(&report);
    assert!(
        new.len() > 5,
        "enough new CVEs to overflow the list: {new:?}"
    );
    // The accepted risk is filtered before the comparison: it is not new, and not sent.
    assert!(report["suppressed"][0]["cve"] == "CVE-2021-23017");
    assert!(
        !new.iter().any(|n| n.ends_with("CVE-2021-23017")),
        "{new:?}"
    );
    assert_eq!(report["diff"]["new"], new.len());

    let (request, slack) = received.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(request.starts_with("POST /slack "), "{request}");
    let slack: serde_json::Value = serde_json::from_slice(&slack).unwrap();
    let headline = slack["text"].as_str().unwrap();
    assert!(
        headline.starts_with(&format!("brulee: {} new vulnerabilities (", new.len()))
            && headline.ends_with(" since the scan of 2023-11-14 22:13 UTC"),
        "{headline}"
    );
    let blocks = slack["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], headline);
    assert!(blocks.len() <= 50, "Slack takes at most 50 blocks");
    let text: String = blocks
        .iter()
        .filter(|b| b["type"] == "section" && b["text"]["type"] == "mrkdwn")
        .map(|b| b["text"]["text"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "max_listed = 5: {text}");
    for line in &lines {
        let cve = line.split(['|', ' ']).find(|w| w.contains("CVE-")).unwrap();
        let cve = cve.trim_start_matches("<https://nvd.nist.gov/vuln/detail/");
        assert!(
            new.contains(&format!("127.0.0.4:80/tcp {cve}")),
            "{line} is not new"
        );
        assert!(line.contains("nginx 1.14.0 · `127.0.0.4:80/tcp`"), "{line}");
    }
    assert!(
        lines[0].starts_with("*CRITICAL") || lines[0].starts_with("*HIGH"),
        "most severe first: {}",
        lines[0]
    );
    let more = blocks.last().unwrap();
    assert_eq!(more["type"], "context");
    assert_eq!(
        more["elements"][0]["text"],
        format!("… and {} more in the report", new.len() - 5)
    );

    let (request, json) = received.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(request.starts_with("POST /json "), "{request}");
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["kind"], "brulee.new-vulnerabilities");
    assert_eq!(json["new"], new.len());
    assert_eq!(json["fixed"], report["diff"]["fixed"]);
    let mut sent: Vec<String> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}:{}/{} {}",
                f["address"].as_str().unwrap(),
                f["port"],
                f["protocol"].as_str().unwrap(),
                f["cve"].as_str().unwrap()
            )
        })
        .collect();
    sent.sort();
    assert_eq!(sent, new);
    for finding in json["findings"].as_array().unwrap() {
        assert!(
            report["findings"].as_array().unwrap().contains(finding),
            "{finding}"
        );
    }
}

#[test]
fn webhook_with_nothing_new_posts_nothing_or_a_teams_card_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let (made, baseline) = nginx_report(dir.path(), &db, "1.22.1", None, None);
    assert_eq!(made.status.code(), Some(0));
    let (port, received) = receiver(1);
    let manifest = webhook_manifest(
        dir.path(),
        port,
        "none",
        &[
            ("quiet", ", format = \"slack\""),
            ("teams", ", format = \"teams\", when_nothing_new = \"send\""),
        ],
    );
    let (made, report) = nginx_report(dir.path(), &db, "1.22.1", Some(&baseline), Some(&manifest));
    assert_eq!(made.status.code(), Some(0));
    let report = read_json(&report);
    assert_eq!(report["diff"]["new"], 0);
    assert!(
        stderr(&made).contains(&format!(
            "quiet info: brulee: no new vulnerabilities since the scan of 2023-11-14 22:13 UTC: nothing sent to http://127.0.0.1:{port}/…"
        )),
        "{}",
        stderr(&made)
    );
    // Only the Teams sink posted: the first request the receiver saw is its.
    let (request, body) = received.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(request.starts_with("POST /teams "), "{request}");
    let message: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(message["type"], "message");
    let card = &message["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    let body = card["content"]["body"].as_array().unwrap();
    assert_eq!(
        body[0]["text"],
        "brulee: no new vulnerabilities since the scan of 2023-11-14 22:13 UTC"
    );
    let facts = body[1]["facts"].as_array().unwrap();
    assert!(facts.iter().any(|f| f["title"] == "Since baseline"
        && f["value"] == format!("0 new, 0 fixed, {} unchanged", report["diff"]["unchanged"])));
    assert_eq!(body.len(), 2, "nothing listed");
    let steps: Vec<(&str, &str)> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [("accepted-risk", "ok"), ("quiet", "ok"), ("teams", "ok")]
    );
}
