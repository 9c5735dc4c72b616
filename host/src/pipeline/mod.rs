//! The manifest's pipeline: sources → scan → enrich → filter → report → sinks.
//!
//! The scan and the report are brulee's own; this module runs the steps around them. Each
//! entry point loads the steps of its stages and runs them on a thread of their own (Lua
//! states stay on the thread that made them, and the WASM runtime blocks on its own async
//! runtime), so it can be called from async code and plain code alike.
//!
//! A failing step follows its `on_error`: `fail` stops the run with an error naming the step;
//! `skip` leaves the step out entirely — an enricher or filter that fails on one finding has
//! no effect on any — and the report's `steps` records why.

mod marks;
mod refresh;
pub mod stored;

use std::path::{Path, PathBuf};

use crate::findings::Finding;
use crate::manifest::{OnError, ScanManifest, StepCodeRef, StepConfig};
use crate::plugin::grants::Grants;
use crate::plugin::lua::LuaStep;
use crate::plugin::wasm::WasmRuntime;
use crate::plugin::{Artifact, PluginError, Stage, StepCode, Verdict};
use crate::report::{Report, StepRecord, Suppressed};
use crate::targets::{self, Target};

pub use refresh::refresh_after_filters;

/// A step failed and its `on_error` is `fail`.
#[derive(Debug, thiserror::Error)]
#[error("{stage} step {name:?} ({code}, {location}) failed: {error}")]
pub struct StepFailed {
    pub stage: &'static str,
    pub name: String,
    pub code: String,
    pub location: String,
    pub error: PluginError,
}

/// The outcome of the source steps.
#[derive(Debug, Default)]
pub struct Sourced {
    pub targets: Vec<Target>,
    pub records: Vec<StepRecord>,
}

/// Run the source steps; every target they yield is validated like a command-line target.
pub fn run_sources(manifest: &ScanManifest) -> Result<Sourced, StepFailed> {
    on_own_thread(|| {
        let mut out = Sourced::default();
        let mut steps = Steps::load(manifest, &[Stage::Source], None);
        for step in steps.iter_mut() {
            let result = step.code().and_then(|code| {
                let yielded = code.targets()?;
                yielded
                    .iter()
                    .map(|t| {
                        targets::parse(t).map_err(|why| {
                            PluginError::BadOutput(format!("target {t:?} refused: {why}"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            });
            match result {
                Ok(found) => {
                    out.records.push(step.record(found.len(), None));
                    out.targets.extend(found);
                }
                Err(e) => out.records.push(step.failed(e)?),
            }
        }
        Ok(out)
    })
}

/// Run the enrich and filter steps over the report's findings, then recount the report and
/// order it by the priorities the steps gave. `db` is the run's CVE database, which Lua
/// steps read advisory data from (`brulee.kev`, `brulee.epss`, `brulee.distro_fix`).
pub fn process(
    manifest: &ScanManifest,
    report: &mut Report,
    db: Option<&Path>,
) -> Result<(), StepFailed> {
    on_own_thread(|| {
        let mut steps = Steps::load(manifest, &[Stage::Enrich, Stage::Filter], db);
        for step in steps.iter_mut() {
            let record = match step.config.stage {
                Stage::Enrich => enrich(step, &mut report.findings),
                _ => filter(step, report),
            };
            report.steps.push(record?);
        }
        marks::apply(report);
        refresh_after_filters(report);
        Ok(())
    })
}

fn enrich(step: &mut Step, findings: &mut [Finding]) -> Result<StepRecord, StepFailed> {
    // All or nothing: a failure part-way leaves every finding as it was.
    let result = step.code().and_then(|code| {
        findings
            .iter()
            .map(|f| code.enrich(f).and_then(marks::check_fields))
            .collect::<Result<Vec<_>, _>>()
    });
    match result {
        Ok(added) => {
            let mut count = 0;
            for (finding, fields) in findings.iter_mut().zip(added) {
                if !fields.is_empty() {
                    count += 1;
                    finding
                        .enrichment
                        .insert(step.config.name.clone(), serde_json::Value::Object(fields));
                }
            }
            Ok(step.record(count, None))
        }
        Err(e) => step.failed(e),
    }
}

fn filter(step: &mut Step, report: &mut Report) -> Result<StepRecord, StepFailed> {
    let result = step.code().and_then(|code| {
        report
            .findings
            .iter()
            .map(|f| code.filter(f))
            .collect::<Result<Vec<_>, _>>()
    });
    let verdicts = match result {
        Ok(v) => v,
        Err(e) => return step.failed(e),
    };
    let findings = std::mem::take(&mut report.findings);
    let mut dropped = 0;
    for (finding, verdict) in findings.into_iter().zip(verdicts) {
        match verdict {
            Verdict::Keep => report.findings.push(finding),
            Verdict::KeepWithNote(note) => {
                let mut finding = finding;
                marks::add_note(&mut finding, &step.config.name, note);
                report.findings.push(finding);
            }
            Verdict::Drop(reason) => {
                dropped += 1;
                report.suppressed.push(Suppressed {
                    finding,
                    reason,
                    step: step.config.name.clone(),
                });
            }
        }
    }
    Ok(step.record(dropped, None))
}

/// Run the sink steps; the files they get are already on disk.
pub fn deliver(
    manifest: &ScanManifest,
    report: &Report,
    artifacts: &[Artifact],
) -> Result<Vec<StepRecord>, StepFailed> {
    let json = serde_json::to_string_pretty(report).expect("the report model always serialises");
    on_own_thread(|| {
        let mut records = Vec::new();
        let mut steps = Steps::load(manifest, &[Stage::Sink], None);
        for step in steps.iter_mut() {
            let result = step.code().and_then(|code| code.deliver(&json, artifacts));
            records.push(match result {
                Ok(()) => step.record(artifacts.len(), None),
                Err(e) => step.failed(e)?,
            });
        }
        Ok(records)
    })
}

/// The files a sink receives: `paths` with media types by extension.
pub fn artifacts(paths: &[PathBuf]) -> std::io::Result<Vec<Artifact>> {
    paths
        .iter()
        .map(|path| {
            Ok(Artifact {
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                media_type: media_type(path).to_string(),
                contents: std::fs::read(path)?,
            })
        })
        .collect()
}

fn media_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("md") => "text/markdown",
        Some("html") => "text/html",
        Some("tex") => "application/x-latex",
        Some("csv") => "text/csv",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}

/// Run `f` on a thread of its own and wait for it.
fn on_own_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|scope| match scope.spawn(f).join() {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// The loaded steps of some stages, in manifest order.
struct Steps {
    steps: Vec<Step>,
}

struct Step {
    config: StepConfig,
    /// `Err` when the step could not be loaded.
    code: Result<Box<dyn StepCode>, PluginError>,
}

impl Steps {
    fn load(manifest: &ScanManifest, stages: &[Stage], db: Option<&Path>) -> Steps {
        let mut wasm: Option<std::sync::Arc<WasmRuntime>> = None;
        let steps = manifest
            .steps
            .iter()
            .filter(|s| stages.contains(&s.stage))
            .map(|config| Step {
                code: load_code(config, &mut wasm, db),
                config: config.clone(),
            })
            .collect();
        Steps { steps }
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Step> {
        self.steps.iter_mut()
    }
}

fn load_code(
    config: &StepConfig,
    wasm: &mut Option<std::sync::Arc<WasmRuntime>>,
    db: Option<&Path>,
) -> Result<Box<dyn StepCode>, PluginError> {
    let grants =
        Grants::new(config.allow_hosts.clone(), &config.env).with_files(config.files.clone());
    let path = match &config.code {
        StepCodeRef::Builtin(name) => {
            let builtin = crate::builtin::find(config.stage, name)
                .ok_or_else(|| PluginError::Load(format!("no built-in {name}")))?;
            return (builtin.build)(config);
        }
        StepCodeRef::Lua(path) => {
            return Ok(Box::new(LuaStep::load(
                path,
                config.stage,
                &config.name,
                &config.config,
                grants,
                db,
            )?))
        }
        StepCodeRef::Wasm(path) => path,
        StepCodeRef::Plugin { path, .. } if path.extension().is_some_and(|e| e == "lua") => {
            return Ok(Box::new(LuaStep::load(
                path,
                config.stage,
                &config.name,
                &config.config,
                grants,
                db,
            )?))
        }
        StepCodeRef::Plugin { path, .. } => path,
    };
    let runtime = match wasm {
        Some(rt) => rt.clone(),
        None => wasm
            .insert(WasmRuntime::new(WasmRuntime::default_cache_dir())?)
            .clone(),
    };
    Ok(Box::new(runtime.load_step(
        path,
        config.stage,
        &config.name,
        config.config.to_string(),
        grants,
    )?))
}

impl Step {
    fn code(&mut self) -> Result<&mut dyn StepCode, PluginError> {
        match &mut self.code {
            Ok(code) => Ok(code.as_mut()),
            Err(e) => Err(e.clone()),
        }
    }

    fn record(&self, count: usize, error: Option<String>) -> StepRecord {
        StepRecord {
            name: self.config.name.clone(),
            stage: self.config.stage.table().to_string(),
            code: self.config.code.to_string(),
            status: if error.is_some() { "failed" } else { "ok" }.to_string(),
            on_error: match self.config.on_error {
                OnError::Fail => "fail",
                OnError::Skip => "skip",
            }
            .to_string(),
            error,
            count,
        }
    }

    /// Apply `on_error`: the run's error, or the record of a skipped step.
    fn failed(&mut self, error: PluginError) -> Result<StepRecord, StepFailed> {
        // A plugin that failed once is not called again: a trapped instance is unusable,
        // and a step over its budget would only spend it again.
        self.code = Err(error.clone());
        match self.config.on_error {
            OnError::Fail => Err(StepFailed {
                stage: self.config.stage.table(),
                name: self.config.name.clone(),
                code: self.config.code.to_string(),
                location: self.config.location.clone(),
                error,
            }),
            OnError::Skip => {
                let message = format!(
                    "{} step {:?} ({}) failed and was skipped: {error}",
                    self.config.stage.table(),
                    self.config.name,
                    self.config.code
                );
                eprintln!("warning: {message}");
                Ok(self.record(0, Some(error.to_string())))
            }
        }
    }
}

/// First-party plugins: `NAME.wasm` (built by `cargo xtask plugins`) or `NAME/NAME.lua`.
///
/// Looked up in `$BRULEE_PLUGIN_DIR`, then `plugins/` beside the brulee binary, then this
/// source tree's build output (`target/wasm/wasm32-wasip2/release`) and `plugins/`.
pub struct FirstPartyPlugins {
    dirs: Vec<PathBuf>,
}

impl Default for FirstPartyPlugins {
    fn default() -> Self {
        let mut dirs = Vec::new();
        if let Some(dir) = std::env::var_os("BRULEE_PLUGIN_DIR") {
            dirs.extend(std::env::split_paths(&dir));
        }
        if let Some(exe_dir) = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf))
        {
            dirs.push(exe_dir.join("plugins"));
        }
        let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        dirs.push(tree.join("target/wasm/wasm32-wasip2/release"));
        dirs.push(tree.join("plugins"));
        FirstPartyPlugins { dirs }
    }
}

impl crate::manifest::PluginCatalog for FirstPartyPlugins {
    fn find(&self, name: &str) -> Option<PathBuf> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return None;
        }
        let file = name.replace('-', "_");
        self.dirs.iter().find_map(|dir| {
            [
                dir.join(format!("{file}.wasm")),
                dir.join(name).join(format!("{name}.lua")),
            ]
            .into_iter()
            .find(|p| p.is_file())
        })
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .dirs
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flatten()
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                let stem = path.file_stem()?.to_string_lossy().into_owned();
                if path.extension().is_some_and(|x| x == "wasm") {
                    Some(stem.replace('_', "-"))
                } else if path.join(format!("{stem}.lua")).is_file() {
                    Some(stem)
                } else {
                    None
                }
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// Load a manifest with brulee's built-ins, first-party plugins and report formats.
pub fn load_manifest(path: &Path) -> Result<ScanManifest, crate::manifest::ManifestErrors> {
    let formats: Vec<&str> = brulee_reports::formats().iter().map(|f| f.name).collect();
    ScanManifest::load(
        path,
        &crate::builtin::names,
        &FirstPartyPlugins::default(),
        &formats,
    )
}
