//! What brulee's object-storage sinks (s3, gcs, azure-blob) share: where each artifact is stored,
//! `{prefix}/{date}/{scan_id}/{name}`, how the stored reports are found again ([`Layout`], for
//! the `results` interface that `brulee merge` reads through), and sending a request with
//! bounded retries.
//!
//! The report has no scan id, so one is derived from what identifies the scan and stays the
//! same whenever the same scan is reported again: the first 12 hex digits of the SHA-256 of
//! `scan.started` and the nmap command lines (see [`ScanPlace::of_report`]).

use std::time::Duration;

use sha2::{Digest, Sha256};

/// Where one scan's artifacts go inside the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPlace {
    /// `YYYY-MM-DD` of the scan's start (UTC), or `undated` when nmap recorded no start.
    pub date: String,
    pub scan_id: String,
}

impl ScanPlace {
    /// Reads `scan.started` and `scan.nmap_commands` of the JSON report.
    pub fn of_report(report_json: &str) -> Result<Self, String> {
        let report: serde_json::Value = serde_json::from_str(report_json)
            .map_err(|e| format!("the report brulee handed over is not JSON: {e}"))?;
        let scan = &report["scan"];
        let started = scan["started"].as_str();
        // Both become parts of object names: a report read back from elsewhere (`brulee
        // merge`) must not be able to name "../" or anything but a date and a plain id.
        let date = match started.and_then(|s| s.get(..10)) {
            Some(day) if is_date(day) => day.to_string(),
            _ => "undated".to_string(),
        };
        // A report that carries its own id (a later schema) keeps it.
        if let Some(id) = scan["id"].as_str().filter(|id| is_plain_id(id)) {
            return Ok(ScanPlace {
                date,
                scan_id: id.to_string(),
            });
        }
        let mut hash = Sha256::new();
        hash.update(started.unwrap_or("").as_bytes());
        for command in scan["nmap_commands"].as_array().into_iter().flatten() {
            hash.update(b"\n");
            hash.update(command.as_str().unwrap_or("").as_bytes());
        }
        let digest = hash.finalize();
        let scan_id = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        Ok(ScanPlace { date, scan_id })
    }

    /// `{prefix}/{date}/{scan_id}/{name}`; an empty prefix adds no leading slash.
    pub fn object_name(&self, prefix: &str, name: &str) -> String {
        format!(
            "{}{}/{}/{}",
            Layout::new(prefix).root(),
            self.date,
            self.scan_id,
            name
        )
    }
}

/// The name every run's JSON report has in its scan folder.
pub const REPORT_NAME: &str = "report.json";

/// The layout under one prefix, read back: date folders, then scan folders, then the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `nightly/`, or empty without a prefix.
    root: String,
}

impl Layout {
    /// Leading and trailing `/` of the prefix are ignored, as when storing.
    pub fn new(prefix: &str) -> Self {
        let prefix = prefix.trim_matches('/');
        Layout {
            root: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        }
    }

    /// Where the date folders are: `nightly/`, or empty.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// `{prefix}/{date}/`, for a date as brulee names it (`YYYY-MM-DD` or `undated`).
    pub fn date_folder(&self, date: &str) -> Result<String, String> {
        if !is_date(date) {
            return Err(format!(
                "{date:?} is not a date folder: YYYY-MM-DD (or \"undated\") expected"
            ));
        }
        Ok(format!("{}{date}/", self.root))
    }

    /// The date of a folder a listing returned (`nightly/2026-11-25/` → `2026-11-25`); `None`
    /// for folders that are not date folders of this prefix.
    pub fn date_of(&self, folder: &str) -> Option<String> {
        let date = folder.strip_prefix(&self.root)?.strip_suffix('/')?;
        is_date(date).then(|| date.to_string())
    }

    /// The scan id of `key` when it is `{prefix}/{date}/{scan_id}/report.json`.
    pub fn scan_of(&self, date: &str, key: &str) -> Option<String> {
        let rest = key.strip_prefix(&self.date_folder(date).ok()?)?;
        let scan_id = rest.strip_suffix(REPORT_NAME)?.strip_suffix('/')?;
        (!scan_id.is_empty() && !scan_id.contains('/')).then(|| scan_id.to_string())
    }

    /// Refuses to fetch anything but a stored report of this prefix: brulee only asks for
    /// what the plugin listed, and the step's credentials are for this place only.
    pub fn check_report_key(&self, key: &str) -> Result<(), String> {
        let mut parts = key.strip_prefix(&self.root).unwrap_or("").split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(date), Some(scan_id), Some(REPORT_NAME), None)
                if self.scan_of(date, key).as_deref() == Some(scan_id) =>
            {
                Ok(())
            }
            _ => Err(format!(
                "{key:?} is not a stored report under {:?} ({{date}}/{{scan_id}}/{REPORT_NAME})",
                self.root
            )),
        }
    }
}

/// What a store's listing under a prefix held.
#[derive(Debug, Default)]
pub struct Listing {
    /// (name, size in bytes)
    pub objects: Vec<(String, u64)>,
    /// With delimiter `/`: the "folders" right below the prefix, ending in `/`.
    pub folders: Vec<String>,
}

impl Layout {
    /// The date folders among a delimited listing of [`Layout::root`].
    pub fn dates_in(&self, listing: &Listing) -> Vec<String> {
        listing
            .folders
            .iter()
            .filter_map(|folder| self.date_of(folder))
            .collect()
    }

    /// The stored reports, (key, scan id, size), among a listing of a date folder.
    pub fn reports_in(&self, date: &str, listing: Listing) -> Vec<(String, String, u64)> {
        listing
            .objects
            .into_iter()
            .filter_map(|(key, size)| Some((key.clone(), self.scan_of(date, &key)?, size)))
            .collect()
    }
}

/// `YYYY-MM-DD` (digits) or `undated`, as [`ScanPlace`] names date folders.
fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    text == "undated"
        || (b.len() == 10
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                _ => c.is_ascii_digit(),
            }))
}

/// Letters, digits, `-` and `_`, at most 64: a safe name for one folder level.
fn is_plain_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Percent-encodes everything but RFC 3986's unreserved characters (and `/` when `keep_slash`).
pub fn percent_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The size above which the sinks switch to their large-object upload, and of each piece:
/// 8 MiB (a multiple of the 256 KiB GCS wants; S3 wants at least 5 MiB).
pub fn default_part_size() -> usize {
    8 << 20
}

/// For serde's `default = "sink_upload::default_attempts"`.
pub fn default_attempts() -> u32 {
    Retry::default().attempts
}

/// How often a request is tried and how long to wait in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all, at least 1.
    pub attempts: u32,
    /// The wait after the first failure; it doubles after each further one.
    pub first_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 4,
            first_backoff: Duration::from_millis(500),
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub use client::send;

#[cfg(target_arch = "wasm32")]
mod client {
    use brulee_sdk::http::{self, Request, Response};

    use super::Retry;

    /// Sends `make()`'s request until the server answers with something other than a 5xx,
    /// 408 or 429, or the attempts run out. A transport error (refused, reset, timed out) is
    /// retried too; a host the manifest does not grant is not, as no retry can change that.
    /// `make` is called per attempt so that each may carry a fresh date or signature.
    pub fn send(retry: &Retry, mut make: impl FnMut() -> Request) -> Result<Response, String> {
        let mut wait = retry.first_backoff;
        let attempts = retry.attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            if attempt > 1 {
                std::thread::sleep(wait);
                wait *= 2;
            }
            let request = make();
            match http::send(&request) {
                Ok(response) if !transient(response.status) => return Ok(response),
                Ok(response) => {
                    last = format!(
                        "{} {} answered HTTP {}: {}",
                        request.method,
                        request.url,
                        response.status,
                        response.text().chars().take(300).collect::<String>()
                    )
                }
                Err(e) if e.contains("request denied") => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(format!("gave up after {attempts} attempts: {last}"))
    }

    fn transient(status: u16) -> bool {
        status >= 500 || status == 408 || status == 429
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_place_comes_from_the_start_date_and_a_stable_hash() {
        let report = r#"{"scan": {"started": "2026-11-25T14:38:02Z",
            "nmap_commands": ["nmap -sV -oX - 127.0.0.2"]}}"#;
        let place = ScanPlace::of_report(report).unwrap();
        assert_eq!(place.date, "2026-11-25");
        assert_eq!(place.scan_id.len(), 12);
        assert_eq!(place, ScanPlace::of_report(report).unwrap());
        let other = r#"{"scan": {"started": "2026-11-25T14:38:02Z",
            "nmap_commands": ["nmap -sV -oX - 127.0.0.3"]}}"#;
        assert_ne!(place.scan_id, ScanPlace::of_report(other).unwrap().scan_id);
        assert_eq!(
            place.object_name("/nightly/", "report.json"),
            format!("nightly/2026-11-25/{}/report.json", place.scan_id)
        );
        assert_eq!(
            place.object_name("", "a.xml"),
            format!("2026-11-25/{}/a.xml", place.scan_id)
        );
    }

    #[test]
    fn a_scan_without_start_is_undated_and_an_own_id_is_kept() {
        let place = ScanPlace::of_report(r#"{"scan": {"started": null, "id": "s1"}}"#).unwrap();
        assert_eq!(
            (place.date.as_str(), place.scan_id.as_str()),
            ("undated", "s1")
        );
        assert!(ScanPlace::of_report("not json").is_err());
    }

    #[test]
    fn stored_reports_are_found_again_where_the_sinks_put_them() {
        let layout = Layout::new("/nightly/");
        assert_eq!(layout.root(), "nightly/");
        assert_eq!(Layout::new("").root(), "");
        assert_eq!(
            layout.date_of("nightly/2026-11-25/").as_deref(),
            Some("2026-11-25")
        );
        assert_eq!(
            layout.date_of("nightly/undated/").as_deref(),
            Some("undated")
        );
        assert_eq!(layout.date_of("nightly/combined/"), None);
        assert_eq!(layout.date_of("other/2026-11-25/"), None);
        assert!(layout.date_folder("2026-11-25/../x").is_err());
        let place = ScanPlace {
            date: "2026-11-25".into(),
            scan_id: "0a1b2c3d4e5f".into(),
        };
        let key = place.object_name("nightly", REPORT_NAME);
        assert_eq!(
            layout.scan_of("2026-11-25", &key).as_deref(),
            Some("0a1b2c3d4e5f")
        );
        assert_eq!(
            layout.scan_of("2026-11-25", "nightly/2026-11-25/x/report.md"),
            None
        );
        assert_eq!(
            layout.scan_of("2026-11-25", "nightly/2026-11-25/a/b/report.json"),
            None
        );
        assert!(layout.check_report_key(&key).is_ok());
        for refused in [
            "nightly/2026-11-25/x/report.md",
            "other/2026-11-25/x/report.json",
            "nightly/2026-11-25/report.json",
            "nightly/../secrets/x/report.json",
        ] {
            assert!(layout.check_report_key(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn a_report_cannot_steer_its_files_out_of_their_folder() {
        for (started, id) in [
            (r#""2026-/../../etc""#, r#""../../etc""#),
            (r#""2026-11-2€T00""#, r#""a/b""#),
            (r#""../../../x/y""#, r#""""#),
            (r#""2026-11-25""#, r#""x\u001b[2J""#),
        ] {
            let report = format!(r#"{{"scan": {{"started": {started}, "id": {id}}}}}"#);
            let place = ScanPlace::of_report(&report).unwrap();
            let name = place.object_name("nightly", "report.json");
            assert!(
                !name.contains("..") && name.matches('/').count() == 3,
                "{report} → {name}"
            );
            assert!(
                place.date == "undated" || place.date == "2026-11-25",
                "{name}"
            );
            assert!(
                place.scan_id.bytes().all(|b| b.is_ascii_alphanumeric()),
                "{name}"
            );
        }
    }

    #[test]
    fn percent_encoding_keeps_unreserved_characters() {
        assert_eq!(percent_encode("a b/c~d+é", false), "a%20b%2Fc~d%2B%C3%A9");
        assert_eq!(percent_encode("a b/c", true), "a%20b/c");
    }
}
