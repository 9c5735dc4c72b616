//! The `gcp-compute` source end to end through the real `brulee` binary. No Compute Engine
//! emulator exists, so a server started here on 127.0.0.1 plays `instances.aggregatedList`:
//! it checks the bearer token and the query and serves the hand-written pages of
//! `fixtures/gcp-compute/` (page 1, then page 2 for page 1's `nextPageToken`). The access
//! token comes from the token endpoint of testkit's service account, which verifies the
//! plugin's RS256-signed grant and the Compute scope it asks for.
//!
//! The fixtures' addresses are data: the tests only list them with `brulee scan
//! --list-targets`, which exits before nmap would start. Needs `cargo xtask plugins` and the
//! venv of `cargo xtask setup --test` (the token endpoint's Python).

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use common::*;
use testkit::gcs_azure::{self, ServiceAccount};

const PROJECT: &str = "brulee-test";
const SCOPE: &str = "https://www.googleapis.com/auth/compute.readonly";
/// Page 1's `nextPageToken` in the fixture.
const PAGE_2_TOKEN: &str = "Cg5icnVsZWUtdGVzdC0yEgdwYWdlLTI";

fn tools() -> PathBuf {
    // target/<profile>/brulee → target
    let target = Path::new(env!("CARGO_BIN_EXE_brulee"))
        .ancestors()
        .nth(2)
        .expect("the binary lives in target/<profile>");
    gcs_azure::tools_dir(target)
}

fn started<T>(result: Result<T, testkit::Error>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn page(n: u32) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../fixtures/gcp-compute/aggregated-instances-page-{n}.json"
    ));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A stand-in for the Compute Engine API on 127.0.0.1 that serves the fixture pages to
/// requests bearing `token`, and records each request's `filter` and `pageToken`.
struct ComputeApi {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
}

impl ComputeApi {
    fn start(token: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (seen, token) = (requests.clone(), token.to_string());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = answer(stream, &token, &seen);
            }
        });
        ComputeApi { addr, requests }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `filter=… pageToken=…` of each request since the last call, in order.
    fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut self.requests.lock().unwrap())
    }
}

fn answer(stream: TcpStream, token: &str, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_string());
            }
        }
    }
    let target = request_line.split(' ').nth(1).unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let (status, body) = if authorization.as_deref() != Some(&format!("Bearer {token}")) {
        (
            401,
            r#"{"error": {"code": 401, "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", "status": "UNAUTHENTICATED"}}"#.to_string(),
        )
    } else if path != format!("/compute/v1/projects/{PROJECT}/aggregated/instances") {
        (
            404,
            format!(
                r#"{{"error": {{"code": 404, "message": "The resource '{path}' was not found", "status": "NOT_FOUND"}}}}"#
            ),
        )
    } else if param("maxResults").as_deref() != Some("500") {
        (400, format!("maxResults is {:?}", param("maxResults")))
    } else {
        seen.lock().unwrap().push(format!(
            "filter={} pageToken={}",
            param("filter").unwrap_or_default(),
            param("pageToken").unwrap_or_default()
        ));
        match param("pageToken").as_deref() {
            None => (200, page(1)),
            Some(PAGE_2_TOKEN) => (200, page(2)),
            Some(other) => (400, format!("no such page token {other}")),
        }
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json; charset=UTF-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// Undoes percent-encoding (and `+` for a space) of a query name or value.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `brulee scan --list-targets` with a gcp-compute source of `config` (after `project`);
/// `env` holds the credential.
fn list_targets(
    api: &ComputeApi,
    extra_hosts: &[String],
    dir: &Path,
    config: &str,
    env: &[(&str, &str)],
) -> Output {
    let mut hosts = vec![format!("{:?}", api.addr.to_string())];
    hosts.extend(extra_hosts.iter().map(|h| format!("{h:?}")));
    let manifest = dir.join("gcp.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"[[source]]
plugin = "gcp-compute"
allow_hosts = [{hosts}]
env = ["GOOGLE_APPLICATION_CREDENTIALS_JSON", "GCP_TOKEN"]
[source.config]
endpoint = "{endpoint}"
{config}
"#,
            hosts = hosts.join(", "),
            endpoint = api.endpoint()
        ),
    )
    .unwrap();
    let mut command = brulee();
    command
        .args(["scan", "--list-targets", "--manifest"])
        .arg(&manifest)
        .arg("-o")
        .arg(dir.join("never-written"))
        .env("BRULEE_CACHE_DIR", dir.join("cache"))
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS_JSON")
        .env_remove("GCP_TOKEN");
    for (name, value) in env {
        command.env(name, value);
    }
    run(&mut command)
}

fn listed(output: &Output) -> BTreeSet<String> {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    stdout(output).lines().map(str::to_string).collect()
}

fn set(addresses: &[&str]) -> BTreeSet<String> {
    addresses.iter().map(|a| a.to_string()).collect()
}

#[test]
fn gcp_compute_lists_running_instances_by_label_zone_and_address_kind_without_scanning() {
    require_plugin("gcp-compute");
    let account = started(ServiceAccount::start_for_scope(&tools(), SCOPE));
    let api = ComputeApi::start(&account.token);
    let dir = tempfile::tempdir().unwrap();
    let key = account.key_json(None);
    let env = [("GOOGLE_APPLICATION_CREDENTIALS_JSON", key.as_str())];
    let token_endpoint = [account.token_endpoint.addr().to_string()];

    // Default: internal addresses; both pages; only RUNNING instances of team web.
    let web = list_targets(
        &api,
        &token_endpoint,
        dir.path(),
        &format!("project = \"{PROJECT}\"\nlabels = {{ team = \"web\" }}"),
        &env,
    );
    assert_eq!(
        listed(&web),
        set(&[
            "10.128.0.2",
            "10.128.0.3",
            "2001:db8:10::3",
            "10.132.0.2",
            "192.168.10.2"
        ]),
        "web-old (TERMINATED), web-eu-2 (STOPPING) and db-1 (team db) are left out"
    );
    assert_eq!(
        api.take_requests(),
        [
            format!("filter=(status = \"RUNNING\") (labels.team = \"web\") pageToken="),
            format!(
                "filter=(status = \"RUNNING\") (labels.team = \"web\") pageToken={PAGE_2_TOKEN}"
            ),
        ]
    );
    assert!(
        stderr(&web).contains(&format!(
            "project {PROJECT}: 5 addresses of 3 matching running instances (2 pages)"
        )),
        "{}",
        stderr(&web)
    );
    // The token endpoint verified the grant's signature and scope.
    assert_eq!(
        account.grants_log().trim(),
        format!(
            "GRANTED iss={} scope={SCOPE} aud={}",
            ServiceAccount::EMAIL,
            account.token_uri()
        )
    );

    // External addresses (IPv4 NAT and external IPv6), one zone, a label with two values
    // (checked by the plugin: the API filter only carries single-valued labels).
    let external = list_targets(
        &api,
        &token_endpoint,
        dir.path(),
        &format!(
            "project = \"{PROJECT}\"\nzones = [\"us-central1-a\"]\naddress = \"external\"\n\
             labels = {{ team = \"web\", env = [\"prod\", \"staging\"] }}"
        ),
        &env,
    );
    assert_eq!(
        listed(&external),
        set(&["192.0.2.10", "192.0.2.11", "2001:db8:20::3"])
    );
    assert_eq!(
        api.take_requests()[0],
        "filter=(status = \"RUNNING\") (labels.team = \"web\") pageToken="
    );

    // Both kinds, every running instance, with an access token given as is.
    let both = list_targets(
        &api,
        &[],
        dir.path(),
        &format!("project = \"{PROJECT}\"\naddress = \"both\"\ntoken_env = \"GCP_TOKEN\""),
        &[("GCP_TOKEN", &account.token)],
    );
    assert_eq!(
        listed(&both),
        set(&[
            "10.128.0.2",
            "192.0.2.10",
            "10.128.0.3",
            "2001:db8:10::3",
            "192.0.2.11",
            "2001:db8:20::3",
            "10.128.0.4",
            "10.132.0.2",
            "192.168.10.2",
            "192.0.2.20",
        ])
    );
    assert_eq!(api.take_requests().len(), 2);
    assert!(
        !dir.path().join("never-written").exists(),
        "--list-targets exits before anything is scanned or written"
    );
}

#[test]
fn gcp_compute_with_a_wrong_token_says_which_credential_and_step_failed() {
    require_plugin("gcp-compute");
    let api = ComputeApi::start("ya29.the-right-one");
    let dir = tempfile::tempdir().unwrap();
    let result = list_targets(
        &api,
        &[],
        dir.path(),
        &format!("project = \"{PROJECT}\"\ntoken_env = \"GCP_TOKEN\""),
        &[("GCP_TOKEN", "ya29.a-wrong-one")],
    );
    assert_ne!(result.status.code(), Some(0));
    let stderr = stderr(&result);
    assert!(
        stderr.contains("source step \"gcp-compute\"")
            && stderr.contains(&format!(
                "listing the instances of project {PROJECT}: the Compute Engine API refused the access token in GCP_TOKEN: it is not a valid, current access token (HTTP 401: UNAUTHENTICATED: Request had invalid authentication credentials."
            )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("ya29.a-wrong-one"),
        "the token is not logged"
    );
    assert!(api.take_requests().is_empty(), "nothing was served");
}

#[test]
fn gcp_compute_with_a_key_the_token_endpoint_refuses_says_so_before_listing() {
    require_plugin("gcp-compute");
    let account = started(ServiceAccount::start_for_scope(&tools(), SCOPE));
    let wrong = started(ServiceAccount::other_private_key(&tools()));
    let api = ComputeApi::start(&account.token);
    let dir = tempfile::tempdir().unwrap();
    let result = list_targets(
        &api,
        &[account.token_endpoint.addr().to_string()],
        dir.path(),
        &format!("project = \"{PROJECT}\""),
        &[(
            "GOOGLE_APPLICATION_CREDENTIALS_JSON",
            &account.key_json(Some(&wrong)),
        )],
    );
    assert_ne!(result.status.code(), Some(0));
    let stderr = stderr(&result);
    assert!(
        stderr.contains("source step \"gcp-compute\"")
            && stderr.contains(&format!(
            "getting an access token for Compute Engine: the token endpoint {} refused the service-account key of {} (HTTP 400)",
            account.token_uri(),
            ServiceAccount::EMAIL
        )),
        "{stderr}"
    );
    assert!(account
        .grants_log()
        .starts_with("REJECTED the RS256 signature"));
    assert!(api.take_requests().is_empty(), "nothing was listed");
}

#[test]
fn gcp_compute_without_a_project_says_what_to_set() {
    require_plugin("gcp-compute");
    let api = ComputeApi::start("ya29.unused");
    let dir = tempfile::tempdir().unwrap();
    let result = list_targets(
        &api,
        &[],
        dir.path(),
        "token_env = \"GCP_TOKEN\"",
        &[("GCP_TOKEN", "ya29.unused")],
    );
    assert_ne!(result.status.code(), Some(0));
    assert!(
        stderr(&result).contains(
            "config.project is missing: set project = \"PROJECT_ID\" under [source.config]"
        ),
        "{}",
        stderr(&result)
    );
}
