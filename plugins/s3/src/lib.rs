//! The `s3` sink: uploads every artifact of a run (the rendered reports and the raw nmap XML)
//! to S3 or an S3-compatible store (MinIO, Ceph, R2, s3s) under
//! `{prefix}/{date}/{scan_id}/{name}`, signed with AWS Signature Version 4.
//!
//! ```toml
//! [[sink]]
//! plugin = "s3"
//! allow_hosts = ["127.0.0.1:9000"]
//! env = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
//! config = { bucket = "scans", prefix = "nightly", endpoint = "http://127.0.0.1:9000" }
//! ```
//!
//! Objects above `multipart_threshold_mib` go up as a multipart upload of `part_size_mib`
//! parts. Transport errors, 5xx and throttling answers are retried with exponential backoff,
//! `attempts` tries in all per request; any other answer fails the step at once with what S3
//! said. The artifacts are on local disk before a sink runs, so a failed upload loses nothing.
//!
//! It also reads the stored reports back (the `results` interface, for `brulee merge
//! s3://BUCKET/PREFIX/`): ListObjectsV2 for the date folders and a date's `report.json`
//! objects, GetObject for each.

use std::time::Duration;

use aws_sigv4::service::{explain, failure, transport, xml_text, Outcome, RetryPolicy};
use aws_sigv4::{encode_path, Credentials, Signer, Timestamp};
use brulee_sdk::http::{send, Request, Response};
use brulee_sdk::{Artifact, Level, Results, Sink, StoredReport};
use sink_upload::{Layout, Listing, ScanPlace};

const MIB: u64 = 1 << 20;
/// S3 refuses parts below 5 MiB (the last part excepted).
const MIN_PART_MIB: u64 = 5;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    bucket: String,
    #[serde(default)]
    prefix: String,
    /// Else `AWS_REGION` when granted and set, else us-east-1.
    region: Option<String>,
    /// An S3-compatible store's URL; objects are then addressed path-style
    /// (`{endpoint}/{bucket}/{key}`), as such stores expect.
    endpoint: Option<String>,
    #[serde(default = "default_part_mib")]
    multipart_threshold_mib: u64,
    #[serde(default = "default_part_mib")]
    part_size_mib: u64,
    #[serde(default = "default_attempts")]
    attempts: u32,
    #[serde(default = "default_backoff_ms")]
    backoff_ms: u64,
}

fn default_part_mib() -> u64 {
    8
}
fn default_attempts() -> u32 {
    4
}
fn default_backoff_ms() -> u64 {
    500
}

/// Granted variables read as the SDK allows: unset or not granted are both "absent" here,
/// and the credential code says which variable to grant and set.
fn granted(name: &str) -> Option<String> {
    brulee_sdk::env(name).ok().flatten()
}

struct Bucket {
    signer: Signer,
    /// Up to the key: `http://127.0.0.1:9000/scans` or `https://scans.s3.eu-west-1.amazonaws.com`.
    base: String,
    retry: RetryPolicy,
}

impl Bucket {
    fn new(config: &Config) -> Result<Self, String> {
        let credentials = Credentials::from_env(granted).map_err(|e| e.to_string())?;
        let region = config
            .region
            .clone()
            .or_else(|| granted("AWS_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        if config.bucket.is_empty() || config.bucket.contains('/') {
            return Err(format!(
                "config.bucket {:?} is not a bucket name (put folders in config.prefix)",
                config.bucket
            ));
        }
        let base = match &config.endpoint {
            Some(endpoint) => format!(
                "{}/{}",
                endpoint.trim_end_matches('/'),
                aws_sigv4::encode(&config.bucket)
            ),
            None => format!("https://{}.s3.{region}.amazonaws.com", config.bucket),
        };
        Ok(Bucket {
            signer: Signer {
                credentials,
                region,
                service: "s3".into(),
                content_sha256_header: true,
            },
            base,
            retry: RetryPolicy {
                attempts: config.attempts,
                first_backoff: Duration::from_millis(config.backoff_ms),
            },
        })
    }

    fn url(&self, key: &str, query: &str) -> String {
        let mut url = format!("{}/{}", self.base, encode_path(key));
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// Sends one signed request, retried as the policy says; a 2xx answer is returned.
    fn call(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Response, String> {
        self.retry.run(std::thread::sleep, || {
            // Signed anew for each try: the signature carries the time.
            let signed = match self
                .signer
                .sign(method, url, headers, body, &Timestamp::now())
            {
                Ok(signed) => signed,
                Err(e) => return Outcome::Fail(e.to_string()),
            };
            let mut request = Request::new(method, url);
            request.headers = headers.iter().chain(&signed).cloned().collect();
            // The SDK states the length of non-empty bodies only; S3 answers a POST without
            // one (CreateMultipartUpload) with 411 MissingContentLength.
            if body.is_empty() && matches!(method, "POST" | "PUT") {
                request.headers.push(("content-length".into(), "0".into()));
            }
            request.body = body.to_vec();
            match send(&request) {
                Ok(r) if (200..300).contains(&r.status) => Outcome::Done(r),
                Ok(r) => failure("S3", &format!("{method} {url}"), r.status, &r.text()),
                Err(e) => transport(e),
            }
        })
    }

    fn put(&self, key: &str, media_type: &str, contents: &[u8]) -> Result<(), String> {
        let headers = [("content-type".to_string(), media_type.to_string())];
        self.call("PUT", &self.url(key, ""), &headers, contents)?;
        Ok(())
    }

    /// CreateMultipartUpload, UploadPart for each part, CompleteMultipartUpload; an upload
    /// that fails midway is aborted so that its parts do not linger (and cost) in the bucket.
    fn put_multipart(
        &self,
        key: &str,
        media_type: &str,
        contents: &[u8],
        part_size: usize,
    ) -> Result<usize, String> {
        let headers = [("content-type".to_string(), media_type.to_string())];
        let created = self.call("POST", &self.url(key, "uploads"), &headers, b"")?;
        let upload_id = xml_text(&created.text(), "UploadId").ok_or_else(|| {
            format!(
                "{key}: S3 answered CreateMultipartUpload without an UploadId: {}",
                created.text().chars().take(200).collect::<String>()
            )
        })?;
        let id = aws_sigv4::encode(&upload_id);
        let result = self.upload_parts(key, &id, contents, part_size);
        if result.is_err() {
            let abort = self.url(key, &format!("uploadId={id}"));
            if let Err(e) = self.call("DELETE", &abort, &[], b"") {
                brulee_sdk::log(Level::Warn, &format!("aborting the upload of {key}: {e}"));
            }
        }
        result
    }

    fn upload_parts(
        &self,
        key: &str,
        id: &str,
        contents: &[u8],
        part_size: usize,
    ) -> Result<usize, String> {
        let mut completion = String::from("<CompleteMultipartUpload>");
        let parts = contents.chunks(part_size);
        let count = parts.len();
        for (index, part) in parts.enumerate() {
            let number = index + 1;
            let url = self.url(key, &format!("partNumber={number}&uploadId={id}"));
            let answer = self.call("PUT", &url, &[], part)?;
            let etag = answer
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("etag"))
                .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
                .ok_or_else(|| format!("{key}: S3 answered part {number} without an ETag"))?;
            completion.push_str(&format!(
                "<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>",
                etag.replace('&', "&amp;").replace('"', "&quot;")
            ));
        }
        completion.push_str("</CompleteMultipartUpload>");
        let url = self.url(key, &format!("uploadId={id}"));
        let headers = [("content-type".to_string(), "application/xml".to_string())];
        let done = self.call("POST", &url, &headers, completion.as_bytes())?;
        // S3 may answer 200 and still report an error in the body.
        if xml_text(&done.text(), "Code").is_some() {
            return Err(format!(
                "{key}: completing the multipart upload failed: {}",
                explain("S3", 200, &done.text())
            ));
        }
        Ok(count)
    }
}

impl Bucket {
    /// Every object (or, with `delimiter`, every folder and object) under `prefix`, page by
    /// page (1000 keys a page).
    fn list(&self, prefix: &str, delimiter: Option<&str>) -> Result<Listing, String> {
        let mut listing = Listing::default();
        let mut token: Option<String> = None;
        loop {
            let mut query = format!("list-type=2&prefix={}", aws_sigv4::encode(prefix));
            if let Some(d) = delimiter {
                query.push_str(&format!("&delimiter={}", aws_sigv4::encode(d)));
            }
            if let Some(t) = &token {
                query.push_str(&format!("&continuation-token={}", aws_sigv4::encode(t)));
            }
            let url = format!("{}?{query}", self.base);
            let answer = self.call("GET", &url, &[], b"")?;
            token = parse_listing(&answer.text(), &mut listing)?;
            if token.is_none() {
                return Ok(listing);
            }
        }
    }
}

/// Adds one ListObjectsV2 answer to `listing`; the continuation token when there is more.
fn parse_listing(xml: &str, listing: &mut Listing) -> Result<Option<String>, String> {
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| format!("S3 answered a listing that is not XML: {e}"))?;
    let text = |node: roxmltree::Node, name: &str| {
        node.children()
            .find(|c| c.has_tag_name(name))
            .and_then(|c| c.text())
            .map(str::to_string)
    };
    let root = doc.root_element();
    for node in root.children() {
        if node.has_tag_name("Contents") {
            if let Some(key) = text(node, "Key") {
                let size = text(node, "Size").and_then(|s| s.parse().ok()).unwrap_or(0);
                listing.objects.push((key, size));
            }
        } else if node.has_tag_name("CommonPrefixes") {
            listing.folders.extend(text(node, "Prefix"));
        }
    }
    let truncated = text(root, "IsTruncated").is_some_and(|t| t == "true");
    Ok(text(root, "NextContinuationToken").filter(|_| truncated))
}

/// The config, the bucket and the layout of the stored files, for reading.
fn open_store() -> Result<(Config, Bucket, Layout), String> {
    let config: Config = brulee_sdk::config()?;
    let bucket = Bucket::new(&config)?;
    let layout = Layout::new(&config.prefix);
    Ok((config, bucket, layout))
}

struct S3;

impl Results for S3 {
    fn location() -> Result<String, String> {
        let config: Config = brulee_sdk::config()?;
        Ok(format!(
            "s3://{}/{}",
            config.bucket,
            Layout::new(&config.prefix).root()
        ))
    }

    fn dates() -> Result<Vec<String>, String> {
        let (_, bucket, layout) = open_store()?;
        Ok(layout.dates_in(&bucket.list(layout.root(), Some("/"))?))
    }

    fn reports(date: String) -> Result<Vec<StoredReport>, String> {
        let (_, bucket, layout) = open_store()?;
        let listing = bucket.list(&layout.date_folder(&date)?, None)?;
        Ok(layout
            .reports_in(&date, listing)
            .into_iter()
            .map(|(key, scan_id, size)| StoredReport { key, scan_id, size })
            .collect())
    }

    fn fetch(key: String) -> Result<Vec<u8>, String> {
        let (_, bucket, layout) = open_store()?;
        layout.check_report_key(&key)?;
        Ok(bucket.call("GET", &bucket.url(&key, ""), &[], b"")?.body)
    }
}

impl Sink for S3 {
    fn deliver(report: String, artifacts: Vec<Artifact>) -> Result<(), String> {
        let config: Config = brulee_sdk::config()?;
        if config.part_size_mib < MIN_PART_MIB {
            return Err(format!(
                "config.part_size_mib = {}: S3 needs parts of at least {MIN_PART_MIB} MiB",
                config.part_size_mib
            ));
        }
        let bucket = Bucket::new(&config)?;
        // The same place as the other storage sinks: plugins/README.md, "Where the storage
        // sinks put the files". `Results` reads it back.
        let folder = ScanPlace::of_report(&report)?.object_name(&config.prefix, "");
        let folder = folder.trim_end_matches('/');
        let threshold = config.multipart_threshold_mib.saturating_mul(MIB);
        let part_size = usize::try_from(config.part_size_mib.saturating_mul(MIB))
            .map_err(|_| "config.part_size_mib is too large".to_string())?;
        for artifact in &artifacts {
            let key = format!("{folder}/{}", artifact.name);
            let size = artifact.contents.len() as u64;
            if size > threshold {
                let parts = bucket.put_multipart(
                    &key,
                    &artifact.media_type,
                    &artifact.contents,
                    part_size,
                )?;
                brulee_sdk::log(
                    Level::Info,
                    &format!("uploaded {key} ({size} bytes, multipart: {parts} parts)"),
                );
            } else {
                bucket.put(&key, &artifact.media_type, &artifact.contents)?;
                brulee_sdk::log(Level::Info, &format!("uploaded {key} ({size} bytes)"));
            }
        }
        brulee_sdk::log(
            Level::Info,
            &format!(
                "{} artifacts in s3://{}/{folder}/",
                artifacts.len(),
                config.bucket
            ),
        );
        Ok(())
    }
}

brulee_sdk::export!(S3 as storage);
