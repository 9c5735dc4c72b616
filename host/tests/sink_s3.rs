//! The `s3` sink and the `aws-ec2` source, end to end through the real `brulee` binary against
//! real servers on 127.0.0.1: `s3s-fs` (verifies SigV4) and moto (EC2). What the sink uploaded
//! is read back with the AWS CLI. Both plugins are built by `cargo xtask plugins`, the servers
//! and the CLI installed by `cargo xtask setup --test` (both run by `cargo xtask test`).
//!
//! The instance addresses moto makes up are data: the aws-ec2 test only lists them with
//! `brulee scan --list-targets`, which exits before nmap would start.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use testkit::storage::{self, Server};

const ACCESS_KEY: &str = "brulee-test";
const SECRET_KEY: &str = "brulee-test-secret-key";
const BUCKET: &str = "scans";

fn started<T>(result: Result<T, testkit::Error>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a command that must succeed; its stdout.
fn checked(command: &mut Command) -> String {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn aws(server: &Server) -> Command {
    started(storage::aws_cli(&server.endpoint(), ACCESS_KEY, SECRET_KEY))
}

/// s3s-fs with the bucket made by the AWS CLI.
fn s3_server() -> Server {
    require_plugin("s3");
    let server = started(storage::start_s3s_fs(ACCESS_KEY, SECRET_KEY));
    checked(aws(&server).args(["s3api", "create-bucket", "--bucket", BUCKET]));
    server
}

fn s3_manifest(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let text = format!(
        r#"[[report]]
format = "json"

[[report]]
format = "markdown"

[[sink]]
plugin = "s3"
allow_hosts = ["127.0.0.1:{port}"]
env = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
[sink.config]
bucket = "{BUCKET}"
prefix = "nightly/"
region = "us-east-1"
endpoint = "http://127.0.0.1:{port}"
backoff_ms = 100
{extra}
"#
    );
    let path = dir.join("scan.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn report_with_sink(xml: &Path, manifest: &Path, out: &Path, secret: &str) -> Output {
    run(brulee()
        .arg("report")
        .arg(xml)
        .arg("--manifest")
        .arg(manifest)
        .arg("-o")
        .arg(out)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("BRULEE_CACHE_DIR", out.with_extension("cache")))
}

/// Every key in the bucket, as the AWS CLI lists them.
fn keys(server: &Server) -> BTreeSet<String> {
    checked(aws(server).args(["s3", "ls", "--recursive", &format!("s3://{BUCKET}/")]))
        .lines()
        .filter_map(|line| line.split_whitespace().nth(3).map(str::to_string))
        .collect()
}

/// An object, downloaded by the AWS CLI.
fn download(server: &Server, key: &str, dir: &Path) -> Vec<u8> {
    let file = dir.join("downloaded");
    checked(
        aws(server)
            .args(["s3", "cp", &format!("s3://{BUCKET}/{key}")])
            .arg(&file),
    );
    std::fs::read(&file).unwrap()
}

/// The report as the sink got it: the one on disk was written again after the sinks ran, with
/// their step records added.
fn without_sink_steps(mut report: serde_json::Value) -> serde_json::Value {
    let steps = report["steps"].as_array_mut().unwrap();
    steps.retain(|s| s["stage"] != "sink");
    // An empty list of steps is left out of the report.
    if steps.is_empty() {
        report.as_object_mut().unwrap().remove("steps");
    }
    report
}

/// The sink's record in the report's steps.
fn sink_step(report: &serde_json::Value) -> &serde_json::Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "sink")
        .expect("the report records the sink step")
}

#[test]
fn artifacts_are_uploaded_under_prefix_date_scan_id_and_read_back_identical() {
    let server = s3_server();
    let dir = tempfile::tempdir().unwrap();
    let manifest = s3_manifest(dir.path(), server.port, "");
    let out = dir.path().join("out");
    let xml = fixture("loopback-services.xml");
    let result = report_with_sink(&xml, &manifest, &out, SECRET_KEY);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));

    let report = read_json(&out.join("report.json"));
    let date = &report["scan"]["started"].as_str().unwrap()[..10];
    let uploaded = keys(&server);
    assert_eq!(uploaded.len(), 3, "{uploaded:?}");
    let folder = uploaded
        .first()
        .unwrap()
        .rsplit_once('/')
        .unwrap()
        .0
        .to_string();
    let (head, scan_id) = folder.rsplit_once('/').unwrap();
    assert_eq!(head, format!("nightly/{date}"));
    assert!(
        scan_id.len() == 12 && scan_id.chars().all(|c| c.is_ascii_hexdigit()),
        "{scan_id}"
    );
    let expected: BTreeSet<String> = ["report.json", "report.md", "loopback-services.xml"]
        .iter()
        .map(|name| format!("{folder}/{name}"))
        .collect();
    assert_eq!(uploaded, expected);

    assert_eq!(
        download(&server, &format!("{folder}/report.md"), dir.path()),
        std::fs::read(out.join("report.md")).unwrap()
    );
    assert_eq!(
        download(
            &server,
            &format!("{folder}/loopback-services.xml"),
            dir.path()
        ),
        std::fs::read(&xml).unwrap()
    );
    let uploaded: serde_json::Value = serde_json::from_slice(&download(
        &server,
        &format!("{folder}/report.json"),
        dir.path(),
    ))
    .unwrap();
    assert_eq!(uploaded, without_sink_steps(report.clone()));
    let sink = sink_step(&report);
    assert_eq!(
        (sink["status"].as_str(), sink["count"].as_u64()),
        (Some("ok"), Some(3))
    );

    // The scan id comes from the report, so the same report lands in the same folder again.
    let again = report_with_sink(&xml, &manifest, &dir.path().join("again"), SECRET_KEY);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(keys(&server), expected);
}

/// An nmap XML file of `size` bytes: a real scan padded with a comment.
fn large_xml(dir: &Path, size: usize) -> PathBuf {
    let original = std::fs::read_to_string(fixture("loopback-services.xml")).unwrap();
    let end = original.rfind("</nmaprun>").unwrap();
    let overhead = original.len() + "<!--\n-->\n".len();
    // Varied text, so that no layer can shrink it.
    let mut padding = String::with_capacity(size - overhead);
    let mut state: u32 = 0x2545_f491;
    while padding.len() < size - overhead {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        padding.push(char::from(b'a' + (state % 26) as u8));
        if padding.len() % 100 == 99 {
            padding.push('\n');
        }
    }
    padding.truncate(size - overhead);
    let text = format!(
        "{}<!--\n{padding}-->\n{}",
        &original[..end],
        &original[end..]
    );
    assert_eq!(text.len(), size);
    let path = dir.join("large-scan.xml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_20_mb_artifact_goes_up_as_a_multipart_upload() {
    let server = s3_server();
    let dir = tempfile::tempdir().unwrap();
    let xml = large_xml(dir.path(), 20 * 1024 * 1024);
    let manifest = s3_manifest(dir.path(), server.port, "");
    let out = dir.path().join("out");
    let result = report_with_sink(&xml, &manifest, &out, SECRET_KEY);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert!(
        stderr(&result).contains("multipart: 3 parts"),
        "20 MiB in 8 MiB parts: {}",
        stderr(&result)
    );

    let key = keys(&server)
        .into_iter()
        .find(|k| k.ends_with("/large-scan.xml"))
        .expect("the XML was uploaded");
    // S3 (and s3s-fs) give a multipart object the ETag "md5-of-part-md5s-N".
    let head =
        checked(aws(&server).args(["s3api", "head-object", "--bucket", BUCKET, "--key", &key]));
    let head: serde_json::Value = serde_json::from_str(&head).unwrap();
    let etag = head["ETag"].as_str().unwrap();
    assert!(etag.trim_matches('"').ends_with("-3"), "ETag {etag}");
    assert_eq!(head["ContentLength"], 20 * 1024 * 1024);
    assert!(
        download(&server, &key, dir.path()) == std::fs::read(&xml).unwrap(),
        "the object read back differs from the local file"
    );
}

#[test]
fn a_wrong_secret_fails_the_step_with_the_servers_code_and_keeps_the_files() {
    let server = s3_server();
    let dir = tempfile::tempdir().unwrap();
    let manifest = s3_manifest(dir.path(), server.port, "");
    let out = dir.path().join("out");
    let result = report_with_sink(
        &fixture("loopback-services.xml"),
        &manifest,
        &out,
        "not-the-secret",
    );
    assert_eq!(result.status.code(), Some(1));
    let stderr = stderr(&result);
    assert!(
        stderr.contains("sink step \"s3\"")
            && stderr.contains(
                "S3 refused the credentials (SignatureDoesNotMatch): check AWS_SECRET_ACCESS_KEY"
            ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("not-the-secret"),
        "the secret must not be printed"
    );
    assert!(keys(&server).is_empty(), "nothing was stored");
    let report = read_json(&out.join("report.json"));
    let sink = sink_step(&report);
    assert_eq!(sink["status"], "failed");
    assert!(out.join("report.md").is_file());
}

#[test]
fn a_server_that_is_down_is_retried_then_the_step_fails_and_the_files_stay() {
    require_plugin("s3");
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let manifest = s3_manifest(dir.path(), port, "attempts = 3");
    let out = dir.path().join("out");
    let started = std::time::Instant::now();
    let result = report_with_sink(
        &fixture("loopback-services.xml"),
        &manifest,
        &out,
        SECRET_KEY,
    );
    assert_eq!(result.status.code(), Some(1));
    let stderr = stderr(&result);
    assert!(
        stderr.contains("sink step \"s3\"") && stderr.contains("gave up after 3 attempts"),
        "{stderr}"
    );
    // Two waits between three tries: 100 ms, then 200 ms.
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    for name in ["report.json", "report.md"] {
        assert!(out.join(name).is_file(), "{name} stays on disk");
    }
}

/// The parts of two merged reports that must be equal whichever way the shards came: all
/// but the pipeline's step records (a report in the bucket is the one its sink got, before
/// the sink's own record was added to the copy on disk).
fn merged_content(mut report: serde_json::Value) -> serde_json::Value {
    report.as_object_mut().unwrap().remove("steps");
    report
}

/// `brulee merge ARGS` with the test's credentials.
fn merge(dir: &Path, args: &[&str]) -> Output {
    run(brulee()
        .arg("merge")
        .args(args)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("BRULEE_CACHE_DIR", dir.join("cache")))
}

#[test]
fn merge_reads_the_shards_back_from_the_bucket_and_equals_the_local_merge() {
    require_tools();
    let server = s3_server();
    let services: Vec<testkit::LoopbackService> = [
        testkit::ServiceKind::Ssh,
        testkit::ServiceKind::Http,
        testkit::ServiceKind::Redis,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, kind)| {
        started(testkit::LoopbackService::start(
            kind,
            format!("127.0.0.{}", 40 + i).parse().unwrap(),
        ))
    })
    .collect();
    let ports: Vec<String> = services.iter().map(|s| s.port.to_string()).collect();
    let dir = tempfile::tempdir().unwrap();
    let db = fixture_db(dir.path());
    let manifest = s3_manifest(dir.path(), server.port, "");

    // The shards, as the pods of the Kubernetes Job run them: each scans its slice and its
    // sink uploads the report.
    for i in 0..3 {
        let out = dir.path().join(format!("shards/{i}"));
        let scanned = run(brulee()
            .args(["scan", "127.0.0.40-42", "-n", "--no-vulners", "-q", "-p"])
            .arg(ports.join(","))
            .arg("--db")
            .arg(&db)
            .arg("--manifest")
            .arg(&manifest)
            .args(["--shard", &format!("{i}/3"), "-o"])
            .arg(&out)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("BRULEE_CACHE_DIR", dir.path().join("cache")));
        assert_eq!(scanned.status.code(), Some(0), "shard {i}");
        let report = read_json(&out.join("report.json"));
        assert_eq!(
            report["scan"]["shard"],
            serde_json::json!({"index": i, "count": 3})
        );
    }
    let shard_keys: BTreeSet<String> = keys(&server)
        .into_iter()
        .filter(|k| k.ends_with("/report.json"))
        .collect();
    assert_eq!(shard_keys.len(), 3, "{shard_keys:?}");
    let date = shard_keys
        .first()
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .to_string();

    let local = dir.path().join("local");
    let out = merge(
        dir.path(),
        &[
            "-f",
            "json",
            "-o",
            local.to_str().unwrap(),
            dir.path().join("shards").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let local = read_json(&local.join("report.json"));

    // As the Kubernetes merge Job runs it: the prefix, read through the manifest's s3 sink,
    // which also uploads the combined report.
    let combined = dir.path().join("combined");
    let out = merge(
        dir.path(),
        &[
            "--manifest",
            manifest.to_str().unwrap(),
            "-o",
            combined.to_str().unwrap(),
            &format!("s3://{BUCKET}/nightly/"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "s3://{BUCKET}/nightly/{date}/: merging 3 of 3 shards"
        )),
        "{}",
        stderr(&out)
    );
    let from_bucket = read_json(&combined.join("report.json"));
    assert_schema_valid(&from_bucket);
    assert_eq!(from_bucket["summary"]["hosts_up"], 3);
    assert!(
        from_bucket["scan"].get("shard").is_none(),
        "a merge is not a shard"
    );
    assert_eq!(
        merged_content(from_bucket.clone()),
        merged_content(local.clone())
    );
    assert_eq!(sink_step(&from_bucket)["status"], "ok");
    let reports: Vec<String> = keys(&server)
        .into_iter()
        .filter(|k| k.ends_with("/report.json"))
        .collect();
    assert_eq!(
        reports.len(),
        4,
        "the combined report went up too: {reports:?}"
    );

    // Merged again from the date folder: the combined report in it is left out, not counted
    // twice.
    let again = dir.path().join("again");
    let out = merge(
        dir.path(),
        &[
            "--manifest",
            manifest.to_str().unwrap(),
            "-f",
            "json",
            "-o",
            again.to_str().unwrap(),
            &format!("s3://{BUCKET}/nightly/{date}/"),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("not a shard (a whole run, or a merged report)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        merged_content(read_json(&again.join("report.json"))),
        merged_content(local.clone())
    );

    // A shard whose report never arrived: the merge says which, and is partial (exit 3).
    let lost = shard_keys.iter().find(|k| {
        let report: serde_json::Value =
            serde_json::from_slice(&download(&server, k, dir.path())).unwrap();
        report["scan"]["shard"]["index"] == 1
    });
    checked(aws(&server).args(["s3", "rm", &format!("s3://{BUCKET}/{}", lost.unwrap())]));
    let partial = dir.path().join("partial");
    let out = merge(
        dir.path(),
        &[
            "--manifest",
            manifest.to_str().unwrap(),
            "-f",
            "json",
            "-o",
            partial.to_str().unwrap(),
            "--date",
            &date,
            &format!("s3://{BUCKET}/nightly"),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let report = read_json(&partial.join("report.json"));
    assert_eq!(report["scan"]["complete"], false);
    assert!(report["scan"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w == "shard 1/3 is missing: its hosts are not in this report"));
    assert_eq!(report["summary"]["hosts_up"], 2);
}

#[test]
fn merge_from_a_place_no_sink_stores_or_without_reports_says_what_to_do() {
    let server = s3_server();
    let dir = tempfile::tempdir().unwrap();
    let manifest = s3_manifest(dir.path(), server.port, "");
    let m = manifest.to_str().unwrap();
    let out_dir = dir.path().join("out");
    let o = out_dir.to_str().unwrap();
    let out = merge(
        dir.path(),
        &["--manifest", m, "-o", o, "s3://elsewhere/nightly/"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("s3://elsewhere/nightly/ is not where any sink of the manifest stores reports; its storage sinks store under: s3 → s3://{BUCKET}/nightly/")),
        "{}",
        stderr(&out)
    );
    let out = merge(
        dir.path(),
        &["-f", "json", &format!("s3://{BUCKET}/nightly/")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("needs the manifest whose sink stores there"),
        "{}",
        stderr(&out)
    );
    let out = merge(
        dir.path(),
        &["--manifest", m, "-o", o, &format!("s3://{BUCKET}/nightly/")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("nothing is stored under s3://scans/nightly/ yet"),
        "{}",
        stderr(&out)
    );
    let out = merge(
        dir.path(),
        &[
            "--manifest",
            m,
            "-o",
            o,
            "--date",
            "2026-02-30",
            &format!("s3://{BUCKET}/nightly/"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "not a date");
}

/// Fault suite: the S3 server is killed (SIGKILL, by its PID) once the first part of a 20 MiB
/// multipart upload has landed. The sink retries, gives up, says so; the files stay on disk.
#[test]
fn a_server_that_dies_mid_upload_is_retried_then_reported_and_the_files_stay() {
    let server = s3_server();
    let dir = tempfile::tempdir().unwrap();
    let xml = large_xml(dir.path(), 20 * 1024 * 1024);
    let manifest = s3_manifest(dir.path(), server.port, "attempts = 3");
    let out = dir.path().join("out");
    let mut child = brulee()
        .arg("report")
        .arg(&xml)
        .arg("--manifest")
        .arg(&manifest)
        .arg("-o")
        .arg(&out)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("BRULEE_CACHE_DIR", out.with_extension("cache"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // s3s-fs keeps a finished part as `.upload_id-UUID.part-N` in its data folder.
    let data = server.dir().join("data");
    let started = std::time::Instant::now();
    while !std::fs::read_dir(&data).unwrap().flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.starts_with(".upload_id-") && name.ends_with(".part-1")
    }) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "brulee finished before the first part landed"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(120));
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    // SAFETY: kill(2) on the server this test started.
    assert_eq!(
        unsafe { libc::kill(server.pid() as libc::pid_t, libc::SIGKILL) },
        0
    );
    let result = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    eprintln!("{stderr}");

    assert_eq!(result.status.code(), Some(1));
    assert!(
        stderr.contains("sink step \"s3\"") && stderr.contains("gave up after 3 attempts"),
        "{stderr}"
    );
    let report = read_json(&out.join("report.json"));
    assert_schema_valid(&report);
    let sink = sink_step(&report);
    assert_eq!(sink["status"], "failed");
    assert!(
        sink["error"]
            .as_str()
            .unwrap()
            .contains("gave up after 3 attempts"),
        "{sink:#}"
    );
    // The local artifacts are whole: the report lists every service of the scan.
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    for product in ["OpenSSH", "vsftpd", "nginx", "Redis"] {
        assert!(
            markdown.contains(product),
            "{product} missing from report.md"
        );
    }
    // Nothing half-uploaded passes for the object.
    let mut folders = vec![data.join(BUCKET)];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap().flatten() {
            let path = entry.path();
            assert!(!path.ends_with("large-scan.xml"), "{}", path.display());
            if path.is_dir() {
                folders.push(path);
            }
        }
    }
}

fn ec2(server: &Server, region: &str) -> Command {
    let mut command = aws(server);
    command.args(["--region", region, "ec2"]);
    command
}

/// Starts `count` instances tagged team=`team` in `region`; their ids.
fn run_instances(server: &Server, region: &str, team: &str, count: u32) -> Vec<String> {
    let image = checked(ec2(server, region).args([
        "describe-images",
        "--query",
        "Images[0].ImageId",
        "--output",
        "text",
    ]));
    let ids = checked(ec2(server, region).args([
        "run-instances",
        "--image-id",
        image.trim(),
        "--count",
        &count.to_string(),
        "--instance-type",
        "t3.micro",
        "--tag-specifications",
        &format!("ResourceType=instance,Tags=[{{Key=team,Value={team}}}]"),
        "--query",
        "Instances[].InstanceId",
        "--output",
        "text",
    ]));
    ids.split_whitespace().map(str::to_string).collect()
}

/// What the AWS CLI says the addresses of running team=`team` instances are.
fn addresses(server: &Server, region: &str, team: &str, field: &str) -> BTreeSet<String> {
    checked(ec2(server, region).args([
        "describe-instances",
        "--filters",
        &format!("Name=tag:team,Values={team}"),
        "Name=instance-state-name,Values=running",
        "--query",
        &format!("Reservations[].Instances[].{field}"),
        "--output",
        "text",
    ]))
    .split_whitespace()
    .map(str::to_string)
    .collect()
}

fn list_targets(server: &Server, dir: &Path, config: &str) -> Output {
    let manifest = dir.join("ec2.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"[[source]]
plugin = "aws-ec2"
allow_hosts = ["127.0.0.1:{port}"]
env = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
[source.config]
endpoint = "{endpoint}"
{config}
"#,
            port = server.port,
            endpoint = server.endpoint()
        ),
    )
    .unwrap();
    run(brulee()
        .args(["scan", "--list-targets", "--manifest"])
        .arg(&manifest)
        .arg("-o")
        .arg(dir.join("never-written"))
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("BRULEE_CACHE_DIR", dir.join("cache")))
}

fn listed(output: &Output) -> BTreeSet<String> {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    stdout(output).lines().map(str::to_string).collect()
}

#[test]
fn aws_ec2_lists_running_instances_by_region_tag_and_address_kind_without_scanning() {
    require_plugin("aws-ec2");
    let server = started(storage::start_moto());
    let blue_east = run_instances(&server, "us-east-1", "blue", 2);
    run_instances(&server, "us-east-1", "red", 1);
    run_instances(&server, "us-west-2", "blue", 1);
    let stopped = run_instances(&server, "us-east-1", "blue", 1);
    checked(ec2(&server, "us-east-1").args(["stop-instances", "--instance-ids", &stopped[0]]));
    assert_eq!(blue_east.len(), 2);

    let dir = tempfile::tempdir().unwrap();
    let private_east = addresses(&server, "us-east-1", "blue", "PrivateIpAddress");
    assert_eq!(private_east.len(), 2, "the stopped instance is not running");
    let result = list_targets(
        &server,
        dir.path(),
        "regions = [\"us-east-1\"]\ntags = { team = \"blue\" }",
    );
    assert_eq!(listed(&result), private_east);

    let both_regions = list_targets(
        &server,
        dir.path(),
        "regions = [\"us-east-1\", \"us-west-2\"]\ntags = { team = \"blue\" }\naddress = \"public\"",
    );
    let mut public = addresses(&server, "us-east-1", "blue", "PublicIpAddress");
    public.extend(addresses(&server, "us-west-2", "blue", "PublicIpAddress"));
    assert_eq!(public.len(), 3);
    assert_eq!(listed(&both_regions), public);
    assert!(
        !dir.path().join("never-written").exists(),
        "--list-targets exits before anything is scanned or written"
    );
}

#[test]
fn aws_ec2_without_granted_credentials_says_which_variable() {
    require_plugin("aws-ec2");
    let server = started(storage::start_moto());
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("ec2.toml");
    std::fs::write(
        &manifest,
        format!(
            "[[source]]\nplugin = \"aws-ec2\"\nallow_hosts = [\"127.0.0.1:{}\"]\n\
             [source.config]\nendpoint = \"{}\"\n",
            server.port,
            server.endpoint()
        ),
    )
    .unwrap();
    let result = run(brulee()
        .args(["scan", "--list-targets", "--manifest"])
        .arg(&manifest)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("BRULEE_CACHE_DIR", dir.path().join("cache")));
    assert_ne!(result.status.code(), Some(0));
    assert!(
        stderr(&result)
            .contains("AWS_ACCESS_KEY_ID is not set: grant it with env = [\"AWS_ACCESS_KEY_ID\"]"),
        "{}",
        stderr(&result)
    );
}
