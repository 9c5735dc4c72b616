//! The gcs and azure-blob sinks end to end: the real `brulee` binary delivers a report made
//! from nmap XML to the GCS emulator and to Azurite, started here on 127.0.0.1, and the
//! objects are read back with the clients users have (Python's google-cloud-storage and
//! azure-storage-blob) and compared with the files on local disk. The last test is issue 5's
//! acceptance run: one manifest, a live scan, the first-party plugins and all three stores.
//!
//! Needs `cargo xtask setup --test` (the servers and clients, under target/tools) and
//! `cargo xtask plugins` (the sinks). The GCS emulator checks no credentials, so the sink's
//! service-account grant goes to a token endpoint started here that verifies its RS256
//! signature with the test's own key pair; its log is the evidence.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use testkit::gcs_azure::{self, ServiceAccount, StorageServer, AZURITE_ACCOUNT, AZURITE_KEY};

const BUCKET: &str = "scans";
/// Larger than both sinks' default threshold (8 MiB), so it goes by resumable upload / blocks.
const LARGE: usize = 20 << 20;

fn tools() -> PathBuf {
    // target/<profile>/brulee → target
    let target = Path::new(env!("CARGO_BIN_EXE_brulee"))
        .ancestors()
        .nth(2)
        .expect("the binary lives in target/<profile>");
    gcs_azure::tools_dir(target)
}

fn started<T>(server: Result<T, testkit::Error>) -> T {
    server.unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a Python snippet of the test venv with `args`; fails the test on a non-zero exit.
fn python(script: &str, args: &[&str]) -> Output {
    let python = started(gcs_azure::venv_python(&tools()));
    let output = run(std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args));
    assert!(output.status.success(), "the Python client failed");
    output
}

/// The fixture with a 20 MB comment of varied text after nmap's own: a real nmap XML file
/// that brulee reads, passes to the sinks whole, and that takes the large-object path.
fn large_xml(dir: &Path) -> PathBuf {
    let xml = std::fs::read_to_string(fixture("nmap793_vulners_mockapi.xml")).unwrap();
    let split = xml.find("<nmaprun").unwrap();
    let mut padding = String::with_capacity(LARGE + 64);
    padding.push_str("<!-- padding\n");
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    while padding.len() < LARGE {
        // xorshift64: no two chunks alike, so a misplaced chunk cannot go unnoticed.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        padding.push(alphabet[(state % alphabet.len() as u64) as usize] as char);
        if padding.len() % 100 == 0 {
            padding.push('\n');
        }
    }
    padding.push_str("\n-->\n");
    let path = dir.join("large-scan.xml");
    std::fs::write(
        &path,
        format!("{}{padding}{}", &xml[..split], &xml[split..]),
    )
    .unwrap();
    path
}

/// `brulee report XML --manifest M -o OUT` with the sink `sink` (a TOML table body).
fn report_with_sink(dir: &Path, xml: &Path, sink: &str, env: &[(&str, &str)]) -> Output {
    let manifest = dir.join("scan.toml");
    std::fs::write(
        &manifest,
        format!("[[report]]\nformat = \"json\"\n\n[[report]]\nformat = \"markdown\"\n\n[[sink]]\n{sink}"),
    )
    .unwrap();
    let mut command = brulee();
    command
        .arg("report")
        .arg(xml)
        .arg("--manifest")
        .arg(&manifest)
        .arg("-o")
        .arg(dir.join("out"))
        .env("BRULEE_CACHE_DIR", dir.join("cache"));
    for (name, value) in env {
        command.env(name, value);
    }
    run(&mut command)
}

/// Checks what was read back from the store into `got` (`{prefix}/{date}/{scan_id}/NAME`)
/// against the local files: report.md and the XML byte for byte; report.json as brulee
/// handed it to the sink, which is the file on disk before brulee added the sinks' own
/// step records to it.
fn assert_delivered(got: &Path, dir: &Path, xml: &Path, sink_step: &str) {
    let out = dir.join("out");
    let local = read_json(&out.join("report.json"));
    let date = &local["scan"]["started"].as_str().unwrap()[..10];
    let scans: Vec<_> = std::fs::read_dir(got.join("nightly").join(date))
        .unwrap_or_else(|e| panic!("nothing under nightly/{date}: {e}"))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(scans.len(), 1, "one scan folder: {scans:?}");
    let scan = &scans[0];
    let scan_id = scan.file_name().unwrap().to_string_lossy();
    assert!(
        scan_id.len() == 12 && scan_id.chars().all(|c| c.is_ascii_hexdigit()),
        "derived scan id {scan_id}"
    );
    let mut names: Vec<String> = std::fs::read_dir(scan)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let xml_name = xml.file_name().unwrap().to_string_lossy().into_owned();
    let mut wanted = vec![
        "report.json".to_string(),
        "report.md".to_string(),
        xml_name.clone(),
    ];
    wanted.sort();
    assert_eq!(names, wanted);
    assert!(
        std::fs::read(scan.join("report.md")).unwrap()
            == std::fs::read(out.join("report.md")).unwrap(),
        "report.md differs"
    );
    assert!(
        std::fs::read(scan.join(&xml_name)).unwrap() == std::fs::read(xml).unwrap(),
        "{xml_name} differs"
    );
    let mut delivered = read_json(&scan.join("report.json"));
    let mut expected = local.clone();
    let steps = expected["steps"].as_array_mut().unwrap();
    assert_eq!(steps.last().unwrap()["name"], sink_step);
    assert_eq!(steps.last().unwrap()["status"], "ok");
    steps.pop();
    if delivered["steps"].is_null() {
        delivered["steps"] = serde_json::json!([]);
    }
    assert_eq!(delivered, expected);
}

const GCS_DOWNLOAD: &str = r#"
import os, sys
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
endpoint, bucket, into = sys.argv[1:4]
client = storage.Client(project="brulee-test", credentials=AnonymousCredentials(),
                        client_options={"api_endpoint": endpoint})
for blob in client.list_blobs(bucket):
    path = os.path.join(into, blob.name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    blob.download_to_filename(path)
    print(blob.name, blob.size)
"#;

fn gcs_sink(emulator: &StorageServer, extra_hosts: &[String], config: &str) -> String {
    let mut hosts = vec![format!("{:?}", emulator.addr().to_string())];
    hosts.extend(extra_hosts.iter().map(|h| format!("{h:?}")));
    format!(
        "plugin = \"gcs\"\nallow_hosts = [{}]\nenv = [\"GOOGLE_APPLICATION_CREDENTIALS_JSON\", \"GCS_TOKEN\"]\n[sink.config]\nbucket = \"{BUCKET}\"\nprefix = \"nightly\"\nendpoint = \"{}\"\n{config}",
        hosts.join(", "),
        emulator.url()
    )
}

fn gcs_read_back(emulator: &StorageServer, into: &Path) {
    python(
        GCS_DOWNLOAD,
        &[&emulator.url(), BUCKET, into.to_str().unwrap()],
    );
}

#[test]
fn gcs_with_a_service_account_key_uploads_every_artifact_byte_identical() {
    let emulator = started(gcs_azure::gcs_emulator(&tools(), BUCKET));
    let account = started(ServiceAccount::start(&tools()));
    let dir = tempfile::tempdir().unwrap();
    let xml = fixture("nmap793_vulners_mockapi.xml");
    let sink = gcs_sink(&emulator, &[account.token_endpoint.addr().to_string()], "");
    let result = report_with_sink(
        dir.path(),
        &xml,
        &sink,
        &[(
            "GOOGLE_APPLICATION_CREDENTIALS_JSON",
            &account.key_json(None),
        )],
    );
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    // The emulator takes any token; the token endpoint verified the grant's signature.
    let grants = account.grants_log();
    assert_eq!(
        grants.trim(),
        format!(
            "GRANTED iss={} scope=https://www.googleapis.com/auth/devstorage.read_write aud={}",
            ServiceAccount::EMAIL,
            account.token_uri()
        )
    );
    let got = dir.path().join("got");
    gcs_read_back(&emulator, &got);
    assert_delivered(&got, dir.path(), &xml, "gcs");
}

#[test]
fn gcs_sends_a_20_mb_artifact_by_resumable_upload_with_an_access_token() {
    let emulator = started(gcs_azure::gcs_emulator(&tools(), BUCKET));
    let dir = tempfile::tempdir().unwrap();
    let xml = large_xml(dir.path());
    let sink = gcs_sink(&emulator, &[], "token_env = \"GCS_TOKEN\"\n");
    let result = report_with_sink(dir.path(), &xml, &sink, &[("GCS_TOKEN", "ya29.given")]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    // 8 MiB chunks (the default): 8 + 8 + the rest.
    let size = std::fs::metadata(&xml).unwrap().len();
    assert!(
        stderr(&result).contains(&format!(
            "large-scan.xml: {size} bytes by resumable upload in 3 chunks"
        )),
        "{}",
        stderr(&result)
    );
    let got = dir.path().join("got");
    gcs_read_back(&emulator, &got);
    assert_delivered(&got, dir.path(), &xml, "gcs");
}

#[test]
fn gcs_with_a_key_the_token_endpoint_does_not_trust_fails_clearly_and_keeps_the_files() {
    let emulator = started(gcs_azure::gcs_emulator(&tools(), BUCKET));
    let account = started(ServiceAccount::start(&tools()));
    let wrong = started(ServiceAccount::other_private_key(&tools()));
    let dir = tempfile::tempdir().unwrap();
    let sink = gcs_sink(&emulator, &[account.token_endpoint.addr().to_string()], "");
    let result = report_with_sink(
        dir.path(),
        &fixture("nmap793_vulners_mockapi.xml"),
        &sink,
        &[(
            "GOOGLE_APPLICATION_CREDENTIALS_JSON",
            &account.key_json(Some(&wrong)),
        )],
    );
    assert_eq!(result.status.code(), Some(1));
    let stderr = stderr(&result);
    assert!(
        stderr.contains("sink step \"gcs\"")
            && stderr.contains(&format!(
                "the token endpoint {} refused the service-account key of {} (HTTP 400)",
                account.token_uri(),
                ServiceAccount::EMAIL
            ))
            && stderr.contains("signature does not verify"),
        "{stderr}"
    );
    assert!(account
        .grants_log()
        .starts_with("REJECTED the RS256 signature"));
    for file in ["report.json", "report.md"] {
        assert!(dir.path().join("out").join(file).is_file(), "{file} kept");
    }
}

#[test]
fn gcs_retries_a_server_that_is_down_then_fails_and_keeps_the_files() {
    let port = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let sink = format!(
        "plugin = \"gcs\"\nallow_hosts = [\"127.0.0.1:{port}\"]\nenv = [\"GCS_TOKEN\"]\n[sink.config]\nbucket = \"{BUCKET}\"\nendpoint = \"http://127.0.0.1:{port}\"\ntoken_env = \"GCS_TOKEN\"\nattempts = 3\n"
    );
    let started = std::time::Instant::now();
    let result = report_with_sink(
        dir.path(),
        &fixture("nmap793_vulners_mockapi.xml"),
        &sink,
        &[("GCS_TOKEN", "ya29.given")],
    );
    assert_eq!(result.status.code(), Some(1));
    let stderr = stderr(&result);
    assert!(
        stderr.contains("sink step \"gcs\"") && stderr.contains("gave up after 3 attempts"),
        "{stderr}"
    );
    // Backoff 0.5 s, then 1 s, between the three attempts.
    assert!(started.elapsed() >= std::time::Duration::from_millis(1500));
    for file in ["report.json", "report.md"] {
        assert!(dir.path().join("out").join(file).is_file(), "{file} kept");
    }
}

const AZURE: &str = r#"
import os, sys
from azure.storage.blob import BlobServiceClient
endpoint, account, key, container, action = sys.argv[1:6]
service = BlobServiceClient.from_connection_string(
    f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={endpoint};")
if action == "create":
    service.create_container(container)
elif action == "sas":
    from datetime import datetime, timedelta, timezone
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas
    print(generate_container_sas(account, container, account_key=key,
                                 permission=ContainerSasPermissions(create=True, write=True),
                                 expiry=datetime.now(timezone.utc) + timedelta(hours=1)))
else:
    client = service.get_container_client(container)
    for blob in client.list_blobs():
        path = os.path.join(sys.argv[6], blob.name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(client.download_blob(blob.name).readall())
        # Azurite's own account of how the blob was made: how many blocks it committed.
        committed, _ = client.get_blob_client(blob.name).get_block_list("committed")
        print(blob.name, blob.size, len(committed))
"#;

/// Azurite's path-style endpoint of the development account.
fn azure_endpoint(azurite: &StorageServer) -> String {
    format!("{}/{AZURITE_ACCOUNT}", azurite.url())
}

fn azure_container(azurite: &StorageServer) {
    python(
        AZURE,
        &[
            &azure_endpoint(azurite),
            AZURITE_ACCOUNT,
            AZURITE_KEY,
            BUCKET,
            "create",
        ],
    );
}

fn azure_sink(azurite: &StorageServer) -> String {
    format!(
        "plugin = \"azure-blob\"\nallow_hosts = [\"{}\"]\nenv = [\"AZURE_STORAGE_KEY\"]\n[sink.config]\naccount = \"{AZURITE_ACCOUNT}\"\ncontainer = \"{BUCKET}\"\nprefix = \"nightly\"\nendpoint = \"{}\"\n",
        azurite.addr(),
        azure_endpoint(azurite)
    )
}

#[test]
fn azure_blob_with_the_account_key_uploads_a_20_mb_artifact_as_blocks_byte_identical() {
    let azurite = started(gcs_azure::azurite(&tools()));
    azure_container(&azurite);
    let dir = tempfile::tempdir().unwrap();
    let xml = large_xml(dir.path());
    let result = report_with_sink(
        dir.path(),
        &xml,
        &azure_sink(&azurite),
        &[("AZURE_STORAGE_KEY", AZURITE_KEY)],
    );
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    let got = dir.path().join("got");
    let listing = python(
        AZURE,
        &[
            &azure_endpoint(&azurite),
            AZURITE_ACCOUNT,
            AZURITE_KEY,
            BUCKET,
            "download",
            got.to_str().unwrap(),
        ],
    );
    assert_delivered(&got, dir.path(), &xml, "azure-blob");
    // The large file went as three 8 MiB blocks, the small ones by Put Blob (no blocks).
    let size = std::fs::metadata(&xml).unwrap().len();
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    assert!(
        listing
            .lines()
            .any(|l| l.ends_with(&format!("/large-scan.xml {size} 3"))),
        "{listing}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l.contains("/report.md ") && l.ends_with(" 0")),
        "{listing}"
    );
}

#[test]
fn azure_blob_with_a_wrong_key_gets_a_clear_403_and_keeps_the_files() {
    let azurite = started(gcs_azure::azurite(&tools()));
    azure_container(&azurite);
    let dir = tempfile::tempdir().unwrap();
    // A well-formed key of the right length, but not the account's.
    let wrong = AZURITE_KEY.replacen("Eby8", "AAAA", 1);
    let result = report_with_sink(
        dir.path(),
        &fixture("nmap793_vulners_mockapi.xml"),
        &azure_sink(&azurite),
        &[("AZURE_STORAGE_KEY", &wrong)],
    );
    assert_eq!(result.status.code(), Some(1));
    let stderr = stderr(&result);
    assert!(
        stderr.contains("sink step \"azure-blob\"")
            && stderr.contains("HTTP 403")
            && stderr.contains("Azure refused the signature"),
        "{stderr}"
    );
    for file in ["report.json", "report.md"] {
        assert!(dir.path().join("out").join(file).is_file(), "{file} kept");
    }
}

#[test]
fn azure_blob_with_a_sas_token_uploads_and_a_forged_one_is_refused() {
    let azurite = started(gcs_azure::azurite(&tools()));
    azure_container(&azurite);
    let sas = python(
        AZURE,
        &[
            &azure_endpoint(&azurite),
            AZURITE_ACCOUNT,
            AZURITE_KEY,
            BUCKET,
            "sas",
        ],
    );
    let sas = String::from_utf8_lossy(&sas.stdout).trim().to_string();
    let sink = azure_sink(&azurite).replace("AZURE_STORAGE_KEY", "AZURE_SAS")
        + "sas_env = \"AZURE_SAS\"\n";
    let dir = tempfile::tempdir().unwrap();
    let xml = fixture("nmap793_vulners_mockapi.xml");
    let result = report_with_sink(dir.path(), &xml, &sink, &[("AZURE_SAS", &sas)]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    let got = dir.path().join("got");
    python(
        AZURE,
        &[
            &azure_endpoint(&azurite),
            AZURITE_ACCOUNT,
            AZURITE_KEY,
            BUCKET,
            "download",
            got.to_str().unwrap(),
        ],
    );
    assert_delivered(&got, dir.path(), &xml, "azure-blob");

    // The same token with its signature altered is refused.
    let forged = sas.replacen("sig=", "sig=AAAA", 1);
    let dir = tempfile::tempdir().unwrap();
    let result = report_with_sink(dir.path(), &xml, &sink, &[("AZURE_SAS", &forged)]);
    assert_eq!(result.status.code(), Some(1));
    assert!(
        stderr(&result).contains("HTTP 403")
            && stderr(&result).contains("Azure refused the SAS token"),
        "{}",
        stderr(&result)
    );
}

/// Two scans delivered by `sink` (into `dir/a` and `dir/b`), then merged back from the store
/// by naming their scan folders under `location`, must equal the merge of the local files;
/// the date folder alone holds no shards, which brulee says.
fn merged_back_from_the_store(dir: &Path, sink: &str, env: &[(&str, &str)], location: &str) {
    let mut folders = Vec::new();
    for (name, xml) in [
        ("a", "loopback-services.xml"),
        ("b", "nmap793_vulners_mockapi.xml"),
    ] {
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub).unwrap();
        let result = report_with_sink(&sub, &fixture(xml), sink, env);
        assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
        // The sink's log names the folder: "… uploaded 3 files to …/nightly/DATE/ID/".
        let log = stderr(&result);
        let at = log.find("nightly/").expect("the sink says where");
        let folder = log[at..].split_whitespace().next().unwrap().to_string();
        folders.push(format!(
            "{location}{}",
            folder.trim_start_matches("nightly/")
        ));
    }
    let local = dir.join("local");
    let out = run(brulee()
        .args(["merge", "-f", "json", "-o"])
        .arg(&local)
        .arg(dir.join("a/out"))
        .arg(dir.join("b/out")));
    assert_eq!(out.status.code(), Some(0));
    let mut command = brulee();
    command
        .args(["merge", "-f", "json", "--manifest"])
        .arg(dir.join("a/scan.toml"))
        .arg("-o")
        .arg(dir.join("from-store"))
        .args(&folders)
        .env("BRULEE_CACHE_DIR", dir.join("cache"));
    for (name, value) in env {
        command.env(name, value);
    }
    let out = run(&mut command);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let content = |path: &Path| {
        let mut report = read_json(path);
        report.as_object_mut().unwrap().remove("steps");
        report
    };
    assert_eq!(
        content(&dir.join("from-store/report.json")),
        content(&local.join("report.json"))
    );
    // A date folder is for the shards of a run; these are whole scans, so brulee says how
    // to name them instead (the same command with the date folder added).
    let date_folder = &folders[0][..folders[0].trim_end_matches('/').rfind('/').unwrap() + 1];
    let out = run(command.arg(date_folder));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!(
            "{date_folder}: no report there (1 found) is a shard of a `brulee scan --shard I/N` run; name the scan folders to merge ({date_folder}SCAN_ID/)"
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn gcs_reads_stored_reports_back_for_brulee_merge() {
    let emulator = started(gcs_azure::gcs_emulator(&tools(), BUCKET));
    let dir = tempfile::tempdir().unwrap();
    let sink = gcs_sink(&emulator, &[], "token_env = \"GCS_TOKEN\"\n");
    merged_back_from_the_store(
        dir.path(),
        &sink,
        &[("GCS_TOKEN", "test-token")],
        &format!("gs://{BUCKET}/nightly/"),
    );
}

#[test]
fn azure_blob_reads_stored_reports_back_for_brulee_merge() {
    let azurite = started(gcs_azure::azurite(&tools()));
    azure_container(&azurite);
    let dir = tempfile::tempdir().unwrap();
    merged_back_from_the_store(
        dir.path(),
        &azure_sink(&azurite),
        &[("AZURE_STORAGE_KEY", AZURITE_KEY)],
        &format!("{}/{BUCKET}/nightly/", azure_endpoint(&azurite)),
    );
}

/// The database of the issue's acceptance run: NVD records of OpenSSH and nginx, CISA's KEV
/// catalog, EPSS rows and the Debian advisories in fixtures/.
fn advisory_db(dir: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let db = dir.join("cve.sqlite");
    let result = run(brulee().args(["db", "import", "--db"]).arg(&db).args(
        [
            "fixtures/nvd/nvd2_openssh.json.gz",
            "fixtures/nvd/nvd2_nginx.json.gz",
            "fixtures/nvd/nvd2_recent_debian12.json.gz",
            "../shared/data/kev/known_exploited_vulnerabilities.json",
            "fixtures/advisories/epss_scores-2026-01-30-subset.csv",
            "fixtures/advisories/distro",
        ]
        .map(|p| repo.join(p)),
    ));
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    db
}

/// Issue 5's acceptance run, with one manifest: enrich with kev and epss, drop what Debian
/// backported, write LaTeX and JSON, deliver both (and the raw XML) to S3 (s3s-fs, which
/// verifies SigV4), the GCS emulator and Azurite; read back byte-identical with the AWS CLI and
/// the Python clients. Run twice: over a live scan of Debian's own sshd and nginx on loopback
/// (no service Debian 12 ships has a CVE in KEV by NVD's ranges), and over a real nmap XML with
/// vulners output, where nginx has CVE-2023-44487, which is in KEV.
#[test]
fn one_manifest_scans_filters_backports_marks_kev_and_epss_and_delivers_to_three_stores() {
    use testkit::{LoopbackService, ServiceKind};
    const S3_KEY: (&str, &str) = ("brulee-acceptance", "brulee-acceptance-secret");
    let tools = tools();
    let ssh = started(LoopbackService::start(
        ServiceKind::Ssh,
        "127.0.0.41".parse().unwrap(),
    ));
    let nginx = started(LoopbackService::start(
        ServiceKind::Http,
        "127.0.0.42".parse().unwrap(),
    ));
    let s3 = started(testkit::storage::start_s3s_fs(S3_KEY.0, S3_KEY.1));
    std::fs::create_dir_all(s3.dir().join("data").join(BUCKET)).unwrap();
    let gcs = started(gcs_azure::gcs_emulator(&tools, BUCKET));
    let azurite = started(gcs_azure::azurite(&tools));
    azure_container(&azurite);
    let dir = tempfile::tempdir().unwrap();
    let db = advisory_db(dir.path());
    let manifest = dir.path().join("scan.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"[[enrich]]
plugin = "kev"

[[enrich]]
plugin = "epss"

[[filter]]
plugin = "distro-backports"

[[report]]
format = "latex"

[[report]]
format = "json"

[[sink]]
plugin = "s3"
allow_hosts = ["127.0.0.1:{s3_port}"]
env = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
[sink.config]
bucket = "{BUCKET}"
prefix = "nightly"
region = "us-east-1"
endpoint = "{s3_url}"

[[sink]]
{gcs}
[[sink]]
{azure}"#,
            s3_port = s3.port,
            s3_url = s3.endpoint(),
            gcs = gcs_sink(&gcs, &[], "token_env = \"GCS_TOKEN\""),
            azure = azure_sink(&azurite),
        ),
    )
    .unwrap();
    let with_env = |command: &mut std::process::Command| {
        command
            .arg("--db")
            .arg(&db)
            .arg("--manifest")
            .arg(&manifest)
            .env("AWS_ACCESS_KEY_ID", S3_KEY.0)
            .env("AWS_SECRET_ACCESS_KEY", S3_KEY.1)
            .env("GCS_TOKEN", "emulator-checks-no-token")
            .env("AZURE_STORAGE_KEY", AZURITE_KEY)
            .env("BRULEE_CACHE_DIR", dir.path().join("cache"));
    };

    // 1. A live scan of Debian's sshd and nginx: only their addresses and ports.
    let live = dir.path().join("live");
    let mut scan = brulee();
    scan.args(["scan", "127.0.0.41", "127.0.0.42", "-n", "-q", "-p"])
        .arg(format!("{},{}", ssh.port, nginx.port))
        .arg("-o")
        .arg(&live);
    with_env(&mut scan);
    let result = run(&mut scan);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    let report = read_json(&live.join("report.json"));
    let suppressed = report["suppressed"].as_array().unwrap();
    let fixed: Vec<&str> = suppressed
        .iter()
        .map(|s| s["cve"].as_str().unwrap())
        .collect();
    for cve in ["CVE-2024-6387", "CVE-2023-38408", "CVE-2023-51385"] {
        assert!(fixed.contains(&cve), "{cve} is not suppressed: {fixed:?}");
    }
    assert!(suppressed.iter().all(|s| s["step"] == "distro-backports"
        && s["reason"]
            .as_str()
            .unwrap()
            .starts_with("fixed in Debian bookworm 1:9.2p1-2+deb12u")));
    let kept = report["findings"].as_array().unwrap();
    assert!(kept
        .iter()
        .any(|f| f["epss"].is_number() && f["epss_percentile"].is_number()));
    assert!(report["services"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["product"] == "nginx"));

    // 2. The same manifest over a real scan's XML with vulners output.
    let vulners = dir.path().join("vulners");
    let mut again = brulee();
    again
        .arg("report")
        .arg(fixture("nmap793_vulners_mockapi.xml"))
        .arg("-o")
        .arg(&vulners);
    with_env(&mut again);
    let result = run(&mut again);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    let report = read_json(&vulners.join("report.json"));
    let first = &report["findings"][0];
    assert_eq!(
        (&first["cve"], &first["kev"], &first["priority"]),
        (
            &serde_json::json!("CVE-2023-44487"),
            &serde_json::json!(true),
            &serde_json::json!(90.0)
        )
    );
    assert!(
        first["epss"].is_number() && first["epss_percentile"].is_number(),
        "{first}"
    );

    // Every store holds both runs' report.tex and report.json, read back by the real clients.
    let from_s3 = dir.path().join("from-s3");
    let aws = testkit::storage::aws_cli(&s3.endpoint(), S3_KEY.0, S3_KEY.1);
    let copy = run(started(aws)
        .args(["s3", "cp", "--recursive", &format!("s3://{BUCKET}/")])
        .arg(&from_s3));
    assert!(
        copy.status.success(),
        "the AWS CLI could not read the bucket"
    );
    let from_gcs = dir.path().join("from-gcs");
    gcs_read_back(&gcs, &from_gcs);
    let from_azure = dir.path().join("from-azure");
    python(
        AZURE,
        &[
            &azure_endpoint(&azurite),
            AZURITE_ACCOUNT,
            AZURITE_KEY,
            BUCKET,
            "download",
            from_azure.to_str().unwrap(),
        ],
    );
    for (store, root) in [
        ("s3", &from_s3),
        ("gcs", &from_gcs),
        ("azure-blob", &from_azure),
    ] {
        for out in [&live, &vulners] {
            let local = read_json(&out.join("report.json"));
            let date = &local["scan"]["started"].as_str().unwrap()[..10];
            // The one scan folder holding this run's LaTeX report, byte for byte.
            let tex = std::fs::read(out.join("report.tex")).unwrap();
            let folder = std::fs::read_dir(root.join("nightly").join(date))
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| std::fs::read(p.join("report.tex")).is_ok_and(|t| t == tex))
                .unwrap_or_else(|| panic!("{store}: no report.tex equal to {}", out.display()));
            // report.json as the sinks got it: the local one before the sinks' step records.
            let mut expected = local.clone();
            expected["steps"]
                .as_array_mut()
                .unwrap()
                .retain(|s| s["stage"] != "sink");
            assert_eq!(read_json(&folder.join("report.json")), expected, "{store}");
        }
    }
    drop((ssh, nginx));
}
