//! The `azure-blob` sink: uploads the report files and the raw nmap XML to an Azure Blob
//! Storage container as `{prefix}/{date}/{scan_id}/NAME`.
//!
//! ```toml
//! [[sink]]
//! plugin = "azure-blob"
//! allow_hosts = ["myaccount.blob.core.windows.net"]
//! env = ["AZURE_STORAGE_KEY"]                       # or a SAS token: sas_env
//! config = { account = "myaccount", container = "scans", prefix = "nightly" }
//! ```
//!
//! Requests are signed with the account key (Shared Key, HMAC-SHA256 over the canonicalized
//! headers and resource) or carry a SAS token. Blobs up to `block_threshold` bytes go in one
//! Put Blob; larger ones as blocks (Put Block) committed by one Put Block List. The stored
//! reports are read back (the `results` interface, for `brulee merge`) with List Blobs and
//! Get Blob.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use brulee_sdk::http::{Request, Response};
use brulee_sdk::{Artifact, Level, Results, Sink, StoredReport};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sink_upload::{percent_encode, Layout, Listing, Retry, ScanPlace};

/// The REST API version sent: one Azure serves and Azurite 3.35 knows.
const API_VERSION: &str = "2021-08-06";
const DEFAULT_KEY_ENV: &str = "AZURE_STORAGE_KEY";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    account: String,
    container: String,
    #[serde(default)]
    prefix: String,
    /// The account's blob endpoint; default `https://{account}.blob.core.windows.net`.
    /// Azurite's is path-style: `http://127.0.0.1:10000/devstoreaccount1`.
    endpoint: Option<String>,
    /// The granted variable holding the account key (base64); default AZURE_STORAGE_KEY.
    key_env: Option<String>,
    /// A granted variable holding a SAS token; used instead of the account key.
    sas_env: Option<String>,
    /// Blobs larger than this many bytes go as blocks (default 8 MiB).
    #[serde(default = "sink_upload::default_part_size")]
    block_threshold: usize,
    /// Bytes per block (default 8 MiB; Azure allows up to 4000 MiB).
    #[serde(default = "sink_upload::default_part_size")]
    block_size: usize,
    /// Tries per request, for 5xx answers and transport errors (default 4).
    #[serde(default = "sink_upload::default_attempts")]
    attempts: u32,
}

enum Credential {
    /// The decoded account key.
    SharedKey(Vec<u8>),
    /// The SAS query string, without a leading `?`.
    Sas(String),
}

struct Container {
    account: String,
    /// `endpoint/container`, no trailing slash.
    url: String,
    /// The URL path of `url`, as the signature's canonicalized resource needs it.
    path: String,
    name: String,
    credential: Credential,
    retry: Retry,
}

struct AzureBlob;

impl Sink for AzureBlob {
    fn deliver(report: String, artifacts: Vec<Artifact>) -> Result<(), String> {
        let config: Config = brulee_sdk::config()?;
        if config.block_size == 0 {
            return Err("config.block_size must be positive".into());
        }
        let place = ScanPlace::of_report(&report)?;
        let container = Container::new(&config)?;
        for artifact in &artifacts {
            let blob = place.object_name(&config.prefix, &artifact.name);
            if artifact.contents.len() > config.block_threshold {
                container.put_blocks(&blob, artifact, config.block_size)?;
            } else {
                container.put_blob(&blob, artifact)?;
            }
        }
        brulee_sdk::log(
            Level::Info,
            &format!(
                "uploaded {} files to {}/{}",
                artifacts.len(),
                container.url,
                place.object_name(&config.prefix, "")
            ),
        );
        Ok(())
    }
}

impl Results for AzureBlob {
    fn location() -> Result<String, String> {
        let config: Config = brulee_sdk::config()?;
        Ok(format!(
            "{}/{}",
            container_url(&config),
            Layout::new(&config.prefix).root()
        ))
    }

    fn dates() -> Result<Vec<String>, String> {
        let (container, layout) = open_store()?;
        Ok(layout.dates_in(&container.list(layout.root(), true)?))
    }

    fn reports(date: String) -> Result<Vec<StoredReport>, String> {
        let (container, layout) = open_store()?;
        let listing = container.list(&layout.date_folder(&date)?, false)?;
        Ok(layout
            .reports_in(&date, listing)
            .into_iter()
            .map(|(key, scan_id, size)| StoredReport { key, scan_id, size })
            .collect())
    }

    fn fetch(key: String) -> Result<Vec<u8>, String> {
        let (container, layout) = open_store()?;
        layout.check_report_key(&key)?;
        let response = container.send("GET", Some(&key), &[], b"", &[]);
        container
            .answered(
                &format!("reading {key} from container {}", container.name),
                response,
                200,
            )
            .map(|r| r.body)
    }
}

fn open_store() -> Result<(Container, Layout), String> {
    let config: Config = brulee_sdk::config()?;
    Ok((Container::new(&config)?, Layout::new(&config.prefix)))
}

/// `{endpoint}/{container}`, no trailing slash.
fn container_url(config: &Config) -> String {
    let endpoint = match &config.endpoint {
        Some(e) => e.trim_end_matches('/').to_string(),
        None => format!("https://{}.blob.core.windows.net", config.account),
    };
    format!("{endpoint}/{}", percent_encode(&config.container, false))
}

impl Container {
    fn new(config: &Config) -> Result<Self, String> {
        let credential = match &config.sas_env {
            Some(name) => Credential::Sas(
                brulee_sdk::env(name)?
                    .filter(|s| !s.is_empty())
                    .ok_or(format!("config.sas_env names {name}, which is not set"))?
                    .trim_start_matches('?')
                    .to_string(),
            ),
            None => {
                let name = config.key_env.as_deref().unwrap_or(DEFAULT_KEY_ENV);
                let key = brulee_sdk::env(name)
                    .map_err(|e| format!("{e} (the account key is read from {name}: grant it with env = [\"{name}\"], or set config.sas_env)"))?
                    .ok_or(format!("{name} is not set: it must hold the storage account key"))?;
                Credential::SharedKey(STANDARD.decode(key.trim()).map_err(|e| {
                    format!("{name} is not a storage account key (base64 expected): {e}")
                })?)
            }
        };
        let url = container_url(config);
        let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        let path = after_scheme
            .find('/')
            .map_or("/".to_string(), |i| after_scheme[i..].to_string());
        Ok(Container {
            account: config.account.clone(),
            url,
            path,
            name: config.container.clone(),
            credential,
            retry: Retry {
                attempts: config.attempts,
                ..Retry::default()
            },
        })
    }

    fn put_blob(&self, blob: &str, artifact: &Artifact) -> Result<(), String> {
        let response = self.put(
            blob,
            &[],
            &artifact.contents,
            &[
                ("content-type", artifact.media_type.as_str()),
                ("x-ms-blob-type", "BlockBlob"),
            ],
        );
        self.check(blob, response)
    }

    /// Put Block for each piece, then Put Block List to commit them in order.
    fn put_blocks(&self, blob: &str, artifact: &Artifact, size: usize) -> Result<(), String> {
        let mut ids = Vec::new();
        for (i, piece) in artifact.contents.chunks(size).enumerate() {
            // Every id of a blob must have the same length before base64.
            let id = STANDARD.encode(format!("brulee-block-{i:08}"));
            let response = self.put(blob, &[("blockid", &id), ("comp", "block")], piece, &[]);
            self.check(blob, response)?;
            ids.push(id);
        }
        let mut list = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        for id in &ids {
            list.push_str(&format!("<Latest>{id}</Latest>"));
        }
        list.push_str("</BlockList>");
        let response = self.put(
            blob,
            &[("comp", "blocklist")],
            list.as_bytes(),
            &[
                ("content-type", "application/xml"),
                ("x-ms-blob-content-type", artifact.media_type.as_str()),
            ],
        );
        self.check(blob, response)?;
        brulee_sdk::log(
            Level::Info,
            &format!(
                "{blob}: {} bytes as {} blocks",
                artifact.contents.len(),
                ids.len()
            ),
        );
        Ok(())
    }

    /// A signed PUT of `body` to the blob, with `query` and `headers`.
    fn put(
        &self,
        blob: &str,
        query: &[(&str, &str)],
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<Response, String> {
        self.send("PUT", Some(blob), query, body, headers)
    }

    /// The blobs (name, size) under `prefix`, and with `folders` the "folders" below it
    /// (`BlobPrefix` of a listing with delimiter `/`), page by page.
    fn list(&self, prefix: &str, folders: bool) -> Result<Listing, String> {
        let (mut blobs, mut found) = (Vec::new(), Vec::new());
        let mut marker = String::new();
        loop {
            let mut query = vec![
                ("comp", "list"),
                ("prefix", prefix),
                ("restype", "container"),
            ];
            if folders {
                query.push(("delimiter", "/"));
            }
            if !marker.is_empty() {
                query.push(("marker", marker.as_str()));
            }
            let what = format!("listing {prefix} in container {}", self.name);
            let response = self.send("GET", None, &query, b"", &[]);
            let response = self.answered(&what, response, 200)?;
            let doc = roxmltree::Document::parse(std::str::from_utf8(&response.body).unwrap_or(""))
                .map_err(|e| format!("{what}: the answer is not a listing: {e}"))?;
            let text = |node: roxmltree::Node, name: &str| {
                node.children()
                    .find(|c| c.has_tag_name(name))
                    .and_then(|c| c.text())
                    .map(str::to_string)
            };
            for node in doc.descendants() {
                if node.has_tag_name("Blob") {
                    let size = node
                        .children()
                        .find(|c| c.has_tag_name("Properties"))
                        .and_then(|p| text(p, "Content-Length"))
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    blobs.extend(text(node, "Name").map(|n| (n, size)));
                } else if node.has_tag_name("BlobPrefix") {
                    found.extend(text(node, "Name"));
                }
            }
            marker = text(doc.root_element(), "NextMarker").unwrap_or_default();
            if marker.is_empty() {
                return Ok(Listing {
                    objects: blobs,
                    folders: found,
                });
            }
        }
    }

    /// A signed request to the blob (or, without one, to the container), with `query` and
    /// `headers`.
    fn send(
        &self,
        method: &str,
        blob: Option<&str>,
        query: &[(&str, &str)],
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<Response, String> {
        let (mut url, resource) = match blob {
            Some(blob) => {
                let blob_path = percent_encode(blob, true);
                (
                    format!("{}/{blob_path}", self.url),
                    format!("/{}{}/{blob_path}", self.account, self.path),
                )
            }
            None => (self.url.clone(), format!("/{}{}", self.account, self.path)),
        };
        let mut separator = '?';
        for (name, value) in query {
            url.push_str(&format!(
                "{separator}{name}={}",
                percent_encode(value, false)
            ));
            separator = '&';
        }
        if let Credential::Sas(sas) = &self.credential {
            url.push_str(&format!("{separator}{sas}"));
        }
        sink_upload::send(&self.retry, || {
            let date = httpdate::fmt_http_date(std::time::SystemTime::now());
            let mut all: Vec<(&str, String)> = vec![
                ("x-ms-date", date),
                ("x-ms-version", API_VERSION.to_string()),
            ];
            if method == "PUT" {
                all.push(("content-length", body.len().to_string()));
            }
            all.extend(headers.iter().map(|(n, v)| (*n, v.to_string())));
            let mut request = Request::new(method, &url);
            request.body = body.to_vec();
            if let Credential::SharedKey(key) = &self.credential {
                let signature = sign(key, &string_to_sign(method, &all, &resource, query));
                request = request.header(
                    "authorization",
                    &format!("SharedKey {}:{signature}", self.account),
                );
            }
            for (name, value) in &all {
                request = request.header(name, value);
            }
            request
        })
    }

    fn check(&self, blob: &str, response: Result<Response, String>) -> Result<(), String> {
        let where_ = format!("uploading {blob} to container {}", self.name);
        self.answered(&where_, response, 201).map(|_| ())
    }

    /// The response when its status is `ok`; else what Azure said, `where_` first.
    fn answered(
        &self,
        where_: &str,
        response: Result<Response, String>,
        ok: u16,
    ) -> Result<Response, String> {
        let response = response.map_err(|e| format!("{where_}: {e}"))?;
        if response.status == ok {
            return Ok(response);
        }
        let text = response.text();
        // Azure says why in the x-ms-error-code header and the XML body's <Code>.
        let code = response
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-ms-error-code"))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .or_else(|| {
                let start = text.find("<Code>")? + 6;
                Some(text[start..start + text[start..].find("</Code>")?].to_string())
            })
            .unwrap_or_default();
        let hint = match response.status {
            403 => match self.credential {
                Credential::SharedKey(_) => ": Azure refused the signature; check that the account key (AZURE_STORAGE_KEY or config.key_env) belongs to this account",
                Credential::Sas(_) => ": Azure refused the SAS token; check that it is current and allows what is asked (create and write to upload; read and list to merge)",
            },
            404 => ": does the container exist?",
            _ => "",
        };
        Err(format!("{where_}: HTTP {} {code}{hint}", response.status))
    }
}

/// Shared Key's string to sign (version 2009-09-19 and later): the method, the standard
/// headers in their fixed order (Content-Length empty when 0), the `x-ms-` headers sorted,
/// then the resource with its query parameters sorted by name.
fn string_to_sign(
    method: &str,
    headers: &[(&str, String)],
    resource: &str,
    query: &[(&str, &str)],
) -> String {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    };
    let length = match get("content-length") {
        "0" => "",
        other => other,
    };
    let mut text = format!(
        "{method}\n{}\n{}\n{length}\n{}\n{}\n\n{}\n{}\n{}\n{}\n{}\n",
        get("content-encoding"),
        get("content-language"),
        get("content-md5"),
        get("content-type"),
        get("if-modified-since"),
        get("if-match"),
        get("if-none-match"),
        get("if-unmodified-since"),
        get("range"),
    );
    let mut ms: Vec<(String, &str)> = headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-ms-"))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim()))
        .collect();
    ms.sort();
    for (name, value) in ms {
        text.push_str(&format!("{name}:{value}\n"));
    }
    text.push_str(resource);
    let mut query = query.to_vec();
    query.sort();
    for (name, value) in query {
        text.push_str(&format!("\n{}:{value}", name.to_ascii_lowercase()));
    }
    text
}

fn sign(key: &[u8], text: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(text.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

brulee_sdk::export!(AzureBlob as storage);
