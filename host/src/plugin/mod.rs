//! The plugin runtimes: WASM components ([`wasm`]) and Lua scripts ([`lua`]), both sandboxed
//! with the same [`grants`] and [`limits`], behind one interface, [`StepCode`], that built-in
//! steps implement too.

#[cfg(feature = "plugins")]
pub mod advisory;
pub mod grants;
pub mod limits;
#[cfg(feature = "plugins")]
pub mod lua;
#[cfg(feature = "plugins")]
pub mod wasm;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::findings::Finding;

/// The stages a manifest composes, in pipeline order (the scan and report are not steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Source,
    Enrich,
    Filter,
    Sink,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Source, Stage::Enrich, Stage::Filter, Stage::Sink];

    /// The manifest's table name: `[[source]]`, `[[enrich]]`, …
    pub fn table(self) -> &'static str {
        match self {
            Stage::Source => "source",
            Stage::Enrich => "enrich",
            Stage::Filter => "filter",
            Stage::Sink => "sink",
        }
    }

    /// The WIT world / Lua function a step of this stage implements.
    pub fn entry_point(self) -> &'static str {
        match self {
            Stage::Source => "targets",
            Stage::Enrich => "enrich",
            Stage::Filter => "filter",
            Stage::Sink => "deliver",
        }
    }

    /// Per call or per run: the limits its calls run under.
    pub fn limits(self) -> limits::Limits {
        match self {
            Stage::Enrich | Stage::Filter => limits::Limits::PER_FINDING,
            Stage::Source | Stage::Sink => limits::Limits::PER_RUN,
        }
    }
}

/// What a filter decided about a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// Keep it, with a note for the reader ("distro build: may be backported"); the note lands
    /// in `enrichment.<step>.note` and in the vulnerability's `notes`.
    KeepWithNote(String),
    Drop(String),
}

/// A file handed to sinks: a rendered report or the raw nmap XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub name: String,
    pub media_type: String,
    pub contents: Vec<u8>,
}

/// Fields an enricher adds; they land under `enrichment.<step-name>` of the finding.
pub type Fields = serde_json::Map<String, serde_json::Value>;

/// Why a plugin call failed. The pipeline adds which step (and which plugin file) it was.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PluginError {
    #[error("cannot load: {0}")]
    Load(String),
    #[error("{0}")]
    Failed(String),
    #[error("stopped: ran past its time budget of {limit:?} per call")]
    OutOfTime { limit: Duration },
    #[error("stopped: exceeded its memory limit of {} MiB", limit_bytes >> 20)]
    OutOfMemory { limit_bytes: usize },
    #[error("{0}")]
    Denied(String),
    #[error("returned something invalid: {0}")]
    BadOutput(String),
}

/// The code of one step: a built-in, a Lua script or a WASM component. A step implements the
/// one method of its stage; the manifest loader makes sure the others are never called.
pub trait StepCode {
    fn targets(&mut self) -> Result<Vec<String>, PluginError> {
        Err(wrong_stage(Stage::Source))
    }
    fn enrich(&mut self, _finding: &Finding) -> Result<Fields, PluginError> {
        Err(wrong_stage(Stage::Enrich))
    }
    fn filter(&mut self, _finding: &Finding) -> Result<Verdict, PluginError> {
        Err(wrong_stage(Stage::Filter))
    }
    fn deliver(&mut self, _report_json: &str, _artifacts: &[Artifact]) -> Result<(), PluginError> {
        Err(wrong_stage(Stage::Sink))
    }
}

/// A `report.json` that a storage step stored, as its plugin lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    /// The object's name in the store, which [`ResultStore::fetch`] takes.
    pub key: String,
    /// The scan-id folder it is in.
    pub scan_id: String,
    pub size: u64,
}

/// Reads back the reports a storage sink stored under `{prefix}/{date}/{scan_id}/report.json`
/// (the `results` interface of the WIT contract), for `brulee merge`.
pub trait ResultStore {
    /// Where the step stores, as the store's tools name it, ending in `/` (`s3://b/nightly/`).
    fn location(&mut self) -> Result<String, PluginError>;
    /// The date folders under the prefix.
    fn dates(&mut self) -> Result<Vec<String>, PluginError>;
    /// The `report.json` objects of one date folder.
    fn reports(&mut self, date: &str) -> Result<Vec<StoredReport>, PluginError>;
    /// The bytes of one listed object.
    fn fetch(&mut self, key: &str) -> Result<Vec<u8>, PluginError>;
}

/// Print a plugin's log line on stderr, prefixed by its step. Plugin text (often a scanned
/// service's or a server's words) goes to a terminal: control characters are dropped, the
/// length capped; `debug` is not shown.
pub fn print_log(step: &str, level: &str, message: &str) {
    let clean = |text: &str, max: usize| -> String {
        text.chars().filter(|c| !c.is_control()).take(max).collect()
    };
    if level != "debug" {
        eprintln!("{step} {}: {}", clean(level, 16), clean(message, 2000));
    }
}

fn wrong_stage(stage: Stage) -> PluginError {
    PluginError::Load(format!("this step cannot run as a {} step", stage.table()))
}
