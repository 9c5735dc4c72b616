//! Reading back what storage sinks stored, for `brulee merge s3://BUCKET/PREFIX/`.
//!
//! A URL names a place under one of the manifest's `[[sink]]` steps: the step whose plugin
//! says it stores there (the `location` of the WIT `results` interface, e.g.
//! `s3://scans/nightly/`). Everything is read through that step's plugin, with that step's
//! config and grants (`allow_hosts`, `env`): brulee itself has no storage client. Below the
//! location come the date folders and the scan folders the sinks write
//! (`{prefix}/{date}/{scan_id}/report.json`), so a URL names either the whole prefix (then one
//! date is read: `--date`, or the newest), a date folder, or one scan folder.

use std::sync::Arc;

use crate::manifest::{ScanManifest, StepCodeRef, StepConfig};
use crate::plugin::grants::Grants;
use crate::plugin::wasm::WasmRuntime;
use crate::plugin::{PluginError, ResultStore, Stage};

use super::{on_own_thread, StepFailed};

/// Which date folder to read when a URL names the whole prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateChoice {
    /// The newest date folder there is.
    Newest,
    /// This one: `YYYY-MM-DD`.
    On(String),
}

/// The reports read for one URL.
#[derive(Debug)]
pub struct StoredSet {
    /// The folder read, as a URL: `s3://scans/nightly/2026-11-25/` (or a scan folder).
    pub place: String,
    /// True when `place` is a whole date folder: it may hold other runs' reports too (the
    /// caller picks), where a scan folder holds exactly the report asked for.
    pub whole_date: bool,
    /// Each report's URL and its bytes.
    pub reports: Vec<(String, Vec<u8>)>,
}

/// Why stored reports could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    #[error("{url} is not where any sink of the manifest stores reports; {stores}")]
    NoStore { url: String, stores: String },
    #[error("{url}: after {location} comes a date folder (YYYY-MM-DD), then a scan folder; {rest:?} is neither")]
    BadPlace {
        url: String,
        location: String,
        rest: String,
    },
    #[error("{url} names a date already: leave out --date, or name the prefix ({location})")]
    TwoDates { url: String, location: String },
    #[error(
        "nothing is stored under {location} yet (no date folders): have the shards' sinks run?"
    )]
    NoDates { location: String },
    #[error("{place} holds no report.json: {hint}")]
    NoReports { place: String, hint: String },
    #[error(transparent)]
    Step(#[from] StepFailed),
}

impl StoredError {
    /// Whether the user named something wrong (exit code 2) rather than something failing.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            StoredError::NoStore { .. }
                | StoredError::BadPlace { .. }
                | StoredError::TwoDates { .. }
        )
    }
}

/// Whether a merge input is a URL (`s3://…`, `gs://…`, `https://…`) rather than a path.
pub fn is_url(input: &str) -> bool {
    input.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+')
    })
}

/// Read the reports the URLs name through the manifest's storage sinks.
pub fn read(
    manifest: &ScanManifest,
    urls: &[String],
    date: &DateChoice,
) -> Result<Vec<StoredSet>, StoredError> {
    on_own_thread(|| {
        let mut stores = Stores::open(manifest)?;
        urls.iter()
            .map(|url| {
                let (store, rest) = stores.find(url)?;
                store.read(url, &rest, date)
            })
            .collect()
    })
}

/// One `[[sink]]` step opened as a reader of what it stored.
struct Store<'m> {
    config: &'m StepConfig,
    code: Box<dyn ResultStore>,
    location: String,
}

/// The manifest's sink steps that can read back, and why the others cannot.
struct Stores<'m> {
    open: Vec<Store<'m>>,
    not_storage: Vec<String>,
}

impl<'m> Stores<'m> {
    fn open(manifest: &'m ScanManifest) -> Result<Self, StoredError> {
        let mut runtime: Option<Arc<WasmRuntime>> = None;
        let mut stores = Stores {
            open: Vec::new(),
            not_storage: Vec::new(),
        };
        for config in manifest.steps(Stage::Sink) {
            let path = match &config.code {
                StepCodeRef::Wasm(path) => path,
                StepCodeRef::Plugin { path, .. }
                    if path.extension().is_some_and(|e| e == "wasm") =>
                {
                    path
                }
                _ => {
                    stores.not_storage.push(format!(
                        "{} (only WASM storage plugins read back)",
                        config.name
                    ));
                    continue;
                }
            };
            let rt = match &runtime {
                Some(rt) => rt.clone(),
                None => runtime
                    .insert(
                        WasmRuntime::new(WasmRuntime::default_cache_dir())
                            .map_err(|e| failed(config, e))?,
                    )
                    .clone(),
            };
            let grants = Grants::new(config.allow_hosts.clone(), &config.env);
            match rt.load_results(path, &config.name, config.config.to_string(), grants) {
                Ok(mut code) => {
                    let location = code.location().map_err(|e| failed(config, e))?;
                    stores.open.push(Store {
                        config,
                        code: Box::new(code),
                        location,
                    });
                }
                // A sink that only delivers (webhook, a plugin of the 0.1.0 contract).
                Err(_) => stores.not_storage.push(format!(
                    "{} (its plugin cannot read back: no results interface)",
                    config.name
                )),
            }
        }
        Ok(stores)
    }

    /// The store whose location holds `url`, and the rest of the URL below it.
    fn find(&mut self, url: &str) -> Result<(&mut Store<'m>, String), StoredError> {
        let with_slash = format!("{}/", url.trim_end_matches('/'));
        let found = self
            .open
            .iter()
            .position(|s| with_slash.starts_with(&s.location) || s.location == with_slash);
        match found {
            Some(i) => {
                let rest = with_slash[self.open[i].location.len().min(with_slash.len())..]
                    .trim_end_matches('/')
                    .to_string();
                Ok((&mut self.open[i], rest))
            }
            None => Err(StoredError::NoStore {
                url: url.to_string(),
                stores: self.describe(),
            }),
        }
    }

    fn describe(&self) -> String {
        let mut text = if self.open.is_empty() {
            "it has no storage sink (the s3, gcs and azure-blob plugins read back what they store)"
                .to_string()
        } else {
            let places: Vec<String> = self
                .open
                .iter()
                .map(|s| format!("{} → {}", s.config.name, s.location))
                .collect();
            format!("its storage sinks store under: {}", places.join(", "))
        };
        if !self.not_storage.is_empty() {
            text.push_str(&format!(
                "; sinks that cannot read back: {}",
                self.not_storage.join(", ")
            ));
        }
        text
    }
}

impl Store<'_> {
    /// Read the reports below the location: `rest` is empty, `DATE` or `DATE/SCAN_ID`
    /// (`/report.json` may follow).
    fn read(
        &mut self,
        url: &str,
        rest: &str,
        choice: &DateChoice,
    ) -> Result<StoredSet, StoredError> {
        let rest = rest.strip_suffix("/report.json").unwrap_or(rest);
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        let bad = || StoredError::BadPlace {
            url: url.to_string(),
            location: self.location.clone(),
            rest: rest.to_string(),
        };
        let (date, scan_id) = match (parts.as_slice(), choice) {
            ([], DateChoice::On(date)) => (date.clone(), None),
            ([], DateChoice::Newest) => (self.newest_date()?, None),
            ([_, ..], DateChoice::On(_)) => {
                return Err(StoredError::TwoDates {
                    url: url.to_string(),
                    location: self.location.clone(),
                })
            }
            // The plugin checks that a date is one (its layout is the authority).
            ([date], _) => (date.to_string(), None),
            ([date, scan_id], _) => (date.to_string(), Some(scan_id.to_string())),
            _ => return Err(bad()),
        };
        let mut place = format!("{}{date}/", self.location);
        let mut listed = self.call(|code| code.reports(&date))?;
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        if let Some(scan_id) = &scan_id {
            place.push_str(&format!("{scan_id}/"));
            listed.retain(|r| &r.scan_id == scan_id);
        }
        if listed.is_empty() {
            let hint = match (&scan_id, choice) {
                (Some(_), _) => "no such scan folder".to_string(),
                (None, DateChoice::On(_)) => format!(
                    "no run stored its report on that date (brulee merge {} lists the newest date)",
                    self.location
                ),
                (None, DateChoice::Newest) => "its scan folders have no report.json".to_string(),
            };
            return Err(StoredError::NoReports { place, hint });
        }
        let mut reports = Vec::with_capacity(listed.len());
        for stored in listed {
            let bytes = self.call(|code| code.fetch(&stored.key))?;
            reports.push((
                format!("{}{date}/{}/report.json", self.location, stored.scan_id),
                bytes,
            ));
        }
        Ok(StoredSet {
            place,
            whole_date: scan_id.is_none(),
            reports,
        })
    }

    /// The newest `YYYY-MM-DD` folder (`undated` only when there is nothing else).
    fn newest_date(&mut self) -> Result<String, StoredError> {
        let dates = self.call(|code| code.dates())?;
        let newest = dates
            .iter()
            .filter(|d| *d != "undated")
            .max()
            .or_else(|| dates.iter().find(|d| *d == "undated"));
        newest.cloned().ok_or_else(|| StoredError::NoDates {
            location: self.location.clone(),
        })
    }

    fn call<R>(
        &mut self,
        f: impl FnOnce(&mut dyn ResultStore) -> Result<R, PluginError>,
    ) -> Result<R, StoredError> {
        f(self.code.as_mut()).map_err(|e| failed(self.config, e).into())
    }
}

fn failed(config: &StepConfig, error: PluginError) -> StepFailed {
    StepFailed {
        stage: Stage::Sink.table(),
        name: config.name.clone(),
        code: config.code.to_string(),
        location: config.location.clone(),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths() {
        assert!(is_url("s3://scans/nightly/"));
        assert!(is_url("gs://b/"));
        assert!(is_url("https://acct.blob.core.windows.net/c/p/"));
        assert!(!is_url("shards/0"));
        assert!(!is_url("./odd://name"));
    }
}
