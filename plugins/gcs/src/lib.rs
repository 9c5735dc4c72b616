//! The `gcs` sink: uploads the report files and the raw nmap XML to a Google Cloud Storage
//! bucket through the JSON API, as `{prefix}/{date}/{scan_id}/NAME`.
//!
//! ```toml
//! [[sink]]
//! plugin = "gcs"
//! allow_hosts = ["storage.googleapis.com", "oauth2.googleapis.com"]
//! env = ["GOOGLE_APPLICATION_CREDENTIALS_JSON"]   # the key file's JSON text
//! config = { bucket = "scans", prefix = "nightly" }
//! ```
//!
//! Objects up to `resumable_threshold` bytes go in one multipart upload; larger ones by a
//! resumable upload in chunks (the JSON API's 308 + Range protocol). The stored reports are
//! read back (the `results` interface, for `brulee merge gs://BUCKET/PREFIX/`) by listing
//! objects with a prefix and downloading them (`alt=media`).

use brulee_sdk::http::{Request, Response};
use brulee_sdk::{Artifact, Level, Results, Sink, StoredReport};
use sink_upload::{percent_encode, Layout, Listing, Retry, ScanPlace};

const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";
/// What uploading to a bucket and reading it back needs (objects, not bucket settings).
const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_write";
/// The JSON API wants resumable chunks in multiples of 256 KiB (all but the last).
const CHUNK_UNIT: usize = 256 << 10;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    bucket: String,
    #[serde(default)]
    prefix: String,
    /// The API's base URL (an emulator's); default `https://storage.googleapis.com`.
    endpoint: Option<String>,
    /// Overrides the service-account key's `token_uri`.
    token_uri: Option<String>,
    /// A granted variable holding an OAuth access token; used instead of a key.
    token_env: Option<String>,
    /// The granted variable holding the service-account key JSON.
    credentials_env: Option<String>,
    /// Objects larger than this many bytes go by resumable upload (default 8 MiB).
    #[serde(default = "sink_upload::default_part_size")]
    resumable_threshold: usize,
    /// Bytes per resumable chunk, a multiple of 256 KiB (default 8 MiB).
    #[serde(default = "sink_upload::default_part_size")]
    chunk_size: usize,
    /// Tries per request, for 5xx answers and transport errors (default 4).
    #[serde(default = "sink_upload::default_attempts")]
    attempts: u32,
}

struct Gcs;

impl Sink for Gcs {
    fn deliver(report: String, artifacts: Vec<Artifact>) -> Result<(), String> {
        let config: Config = brulee_sdk::config()?;
        if config.chunk_size == 0 || !config.chunk_size.is_multiple_of(CHUNK_UNIT) {
            return Err(format!(
                "config.chunk_size = {}: it must be a positive multiple of 262144 (256 KiB), as the GCS JSON API requires",
                config.chunk_size
            ));
        }
        let place = ScanPlace::of_report(&report)?;
        let bucket = Bucket::open(&config)?;
        for artifact in &artifacts {
            let object = place.object_name(&config.prefix, &artifact.name);
            if artifact.contents.len() > config.resumable_threshold {
                bucket.resumable_upload(&object, artifact, config.chunk_size)?;
            } else {
                bucket.multipart_upload(&object, artifact)?;
            }
        }
        brulee_sdk::log(
            Level::Info,
            &format!(
                "uploaded {} files to gs://{}/{}",
                artifacts.len(),
                config.bucket,
                place.object_name(&config.prefix, "")
            ),
        );
        Ok(())
    }
}

impl Results for Gcs {
    fn location() -> Result<String, String> {
        let config: Config = brulee_sdk::config()?;
        Ok(format!(
            "gs://{}/{}",
            config.bucket,
            Layout::new(&config.prefix).root()
        ))
    }

    fn dates() -> Result<Vec<String>, String> {
        let (bucket, layout) = open_store()?;
        Ok(layout.dates_in(&bucket.list(layout.root(), true)?))
    }

    fn reports(date: String) -> Result<Vec<StoredReport>, String> {
        let (bucket, layout) = open_store()?;
        let listing = bucket.list(&layout.date_folder(&date)?, false)?;
        Ok(layout
            .reports_in(&date, listing)
            .into_iter()
            .map(|(key, scan_id, size)| StoredReport { key, scan_id, size })
            .collect())
    }

    fn fetch(key: String) -> Result<Vec<u8>, String> {
        let (bucket, layout) = open_store()?;
        layout.check_report_key(&key)?;
        let url = format!(
            "{}/storage/v1/b/{}/o/{}?alt=media",
            bucket.base,
            percent_encode(&bucket.name, false),
            percent_encode(&key, false)
        );
        let response = bucket.send(|| Request::get(&url));
        let response = bucket.answered(
            &format!("reading gs://{}/{key}", bucket.name),
            response,
            &[200],
        )?;
        Ok(response.body)
    }
}

fn open_store() -> Result<(Bucket, Layout), String> {
    let config: Config = brulee_sdk::config()?;
    Ok((Bucket::open(&config)?, Layout::new(&config.prefix)))
}

fn access_token(config: &Config, retry: &Retry) -> Result<String, String> {
    gcp_auth::Credential::from_env(
        config.token_env.as_deref(),
        config.credentials_env.as_deref(),
        brulee_sdk::env,
    )?
    .access_token(SCOPE, config.token_uri.as_deref(), retry)
}

struct Bucket {
    base: String,
    name: String,
    token: String,
    retry: Retry,
}

impl Bucket {
    /// The bucket of `config`, with an access token.
    fn open(config: &Config) -> Result<Self, String> {
        let retry = Retry {
            attempts: config.attempts,
            ..Retry::default()
        };
        let token = access_token(config, &retry)?;
        Ok(Bucket {
            base: config
                .endpoint
                .as_deref()
                .unwrap_or(DEFAULT_ENDPOINT)
                .trim_end_matches('/')
                .to_string(),
            name: config.bucket.clone(),
            token,
            retry,
        })
    }

    /// The objects (name, size) under `prefix`, and with `folders` the "folders" below it
    /// (the JSON API's `prefixes` of a listing with delimiter `/`), page by page.
    fn list(&self, prefix: &str, folders: bool) -> Result<Listing, String> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            #[serde(default)]
            items: Vec<Object>,
            #[serde(default)]
            prefixes: Vec<String>,
            next_page_token: Option<String>,
        }
        #[derive(serde::Deserialize)]
        struct Object {
            name: String,
            /// A decimal string, as the JSON API writes 64-bit numbers.
            size: Option<String>,
        }
        let (mut objects, mut found) = (Vec::new(), Vec::new());
        let mut token: Option<String> = None;
        loop {
            let mut url = format!(
                "{}/storage/v1/b/{}/o?prefix={}",
                self.base,
                percent_encode(&self.name, false),
                percent_encode(prefix, false)
            );
            if folders {
                url.push_str("&delimiter=%2F");
            }
            if let Some(t) = &token {
                url.push_str(&format!("&pageToken={}", percent_encode(t, false)));
            }
            let what = format!("listing gs://{}/{prefix}", self.name);
            let response = self.answered(&what, self.send(|| Request::get(&url)), &[200])?;
            let page: Page = serde_json::from_slice(&response.body)
                .map_err(|e| format!("{what}: the answer is not a listing: {e}"))?;
            objects.extend(page.items.into_iter().map(|o| {
                let size = o.size.and_then(|s| s.parse().ok()).unwrap_or(0);
                (o.name, size)
            }));
            found.extend(page.prefixes);
            token = page.next_page_token.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(Listing {
                    objects,
                    folders: found,
                });
            }
        }
    }

    fn upload_url(&self, query: &str) -> String {
        format!(
            "{}/upload/storage/v1/b/{}/o?{query}",
            self.base,
            percent_encode(&self.name, false)
        )
    }

    fn send(&self, make: impl Fn() -> Request) -> Result<Response, String> {
        sink_upload::send(&self.retry, || {
            make().header("authorization", &format!("Bearer {}", self.token))
        })
    }

    /// One request: the object's metadata and its bytes as `multipart/related`.
    fn multipart_upload(&self, object: &str, artifact: &Artifact) -> Result<(), String> {
        let boundary = "brulee-gcs-boundary-7c1f0e9a";
        let metadata = serde_json::json!({"name": object, "contentType": artifact.media_type});
        let mut body = format!(
            "--{boundary}\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n--{boundary}\r\ncontent-type: {}\r\n\r\n",
            artifact.media_type
        )
        .into_bytes();
        body.extend_from_slice(&artifact.contents);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let url = self.upload_url("uploadType=multipart");
        let response = self.send(|| {
            Request::post(&url, body.clone()).header(
                "content-type",
                &format!("multipart/related; boundary={boundary}"),
            )
        });
        self.check(object, response, &[200])
    }

    /// Starts a resumable upload session, then sends the bytes in `chunk`-sized pieces; the
    /// server acknowledges each but the last with 308 and the range it has.
    fn resumable_upload(
        &self,
        object: &str,
        artifact: &Artifact,
        chunk: usize,
    ) -> Result<(), String> {
        let total = artifact.contents.len();
        let url = self.upload_url(&format!(
            "uploadType=resumable&name={}",
            percent_encode(object, false)
        ));
        let metadata = serde_json::json!({"name": object, "contentType": artifact.media_type});
        let started = self.send(|| {
            Request::post(&url, metadata.to_string())
                .header("content-type", "application/json; charset=UTF-8")
                .header("x-upload-content-type", &artifact.media_type)
                .header("x-upload-content-length", &total.to_string())
        })?;
        if started.status != 200 {
            return self.check(object, Ok(started), &[200]);
        }
        let session = header(&started, "location").ok_or(format!(
            "{}: starting a resumable upload of {object}: the answer has no Location header",
            self.name
        ))?;
        let mut offset = 0;
        let mut chunks = 0;
        while offset < total {
            chunks += 1;
            let end = (offset + chunk).min(total);
            let piece = &artifact.contents[offset..end];
            let response = self.send(|| {
                Request::put(&session, piece.to_vec()).header(
                    "content-range",
                    &format!("bytes {offset}-{}/{total}", end - 1),
                )
            })?;
            match response.status {
                308 => {
                    // "bytes=0-N": the server has everything up to N; continue after it.
                    offset = match header(&response, "range")
                        .and_then(|r| r.rsplit('-').next().and_then(|n| n.parse::<usize>().ok()))
                    {
                        Some(last) => last + 1,
                        None => 0,
                    };
                }
                200 | 201 if end == total => {
                    brulee_sdk::log(
                        Level::Info,
                        &format!(
                            "gs://{}/{object}: {total} bytes by resumable upload in {chunks} chunks",
                            self.name
                        ),
                    );
                    return Ok(());
                }
                _ => return self.check(object, Ok(response), &[]),
            }
        }
        Ok(())
    }

    fn check(
        &self,
        object: &str,
        response: Result<Response, String>,
        ok: &[u16],
    ) -> Result<(), String> {
        let where_ = format!("uploading gs://{}/{object}", self.name);
        self.answered(&where_, response, ok).map(|_| ())
    }

    /// The response when its status is one of `ok`; else what went wrong, `where_` first.
    fn answered(
        &self,
        where_: &str,
        response: Result<Response, String>,
        ok: &[u16],
    ) -> Result<Response, String> {
        let response = response.map_err(|e| format!("{where_}: {e}"))?;
        if ok.contains(&response.status) {
            return Ok(response);
        }
        let hint = match response.status {
            401 | 403 => ": GCS refused the credentials; check the token or key and that the account may use the bucket",
            404 => ": no such bucket or object",
            _ => "",
        };
        Err(format!(
            "{where_}: HTTP {}{hint}: {}",
            response.status,
            response.text().chars().take(300).collect::<String>()
        ))
    }
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
}

brulee_sdk::export!(Gcs as storage);
