//! The scan manifest (TOML): nmap settings and the steps of each stage.
//!
//! ```toml
//! [scan]
//! ports = "22,80"
//!
//! [[filter]]
//! lua = "filters/accepted-risk.lua"
//! config = { ids = ["CVE-2023-38408"] }
//!
//! [[sink]]
//! plugin = "webhook"
//! allow_hosts = ["127.0.0.1:8080"]
//! config = { url = "http://127.0.0.1:8080/scans" }
//! ```
//!
//! The TOML is read into toml's spanned tree and walked by hand rather than through serde, so
//! that every error points at the key or value at fault (`scan.toml:14:9: …`) and unknown keys
//! come with the nearest known one as a hint.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_spanned::Spanned;
use toml::de::{DeTable, DeValue};

use crate::plugin::grants::{valid_env_name, FileGrant, HostGrant};
use crate::plugin::Stage;

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct ScanManifest {
    pub path: PathBuf,
    pub scan: ScanSettings,
    /// Every step, in stage order then file order.
    pub steps: Vec<StepConfig>,
    /// `[[report]] format = "…"` entries.
    pub formats: Vec<String>,
}

/// `[scan]`: the same settings as `brulee scan`'s options, which override them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanSettings {
    pub ports: Option<String>,
    pub top_ports: Option<u32>,
    pub udp: Option<bool>,
    pub vulners: Option<bool>,
    pub no_dns: Option<bool>,
    pub nmap_args: Vec<String>,
    pub output: Option<PathBuf>,
}

/// Where a step's code comes from: exactly one of `builtin`, `lua`, `wasm`, `plugin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepCodeRef {
    Builtin(String),
    /// Resolved against the manifest's folder.
    Lua(PathBuf),
    Wasm(PathBuf),
    /// A first-party plugin, resolved to its file.
    Plugin {
        name: String,
        path: PathBuf,
    },
}

impl StepCodeRef {
    pub fn is_lua(&self) -> bool {
        match self {
            StepCodeRef::Lua(_) => true,
            StepCodeRef::Plugin { path, .. } => path.extension().is_some_and(|e| e == "lua"),
            StepCodeRef::Builtin(_) | StepCodeRef::Wasm(_) => false,
        }
    }
}

impl fmt::Display for StepCodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepCodeRef::Builtin(n) => write!(f, "builtin {n}"),
            StepCodeRef::Lua(p) => write!(f, "lua {}", p.display()),
            StepCodeRef::Wasm(p) => write!(f, "wasm {}", p.display()),
            StepCodeRef::Plugin { name, path } => write!(f, "plugin {name} ({})", path.display()),
        }
    }
}

/// What to do when a step fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Stop the run with an error.
    Fail,
    /// Leave the step out (as if it were not in the manifest) and record why in the report.
    Skip,
}

impl OnError {
    pub fn default_for(stage: Stage) -> OnError {
        match stage {
            Stage::Source | Stage::Sink => OnError::Fail,
            Stage::Enrich | Stage::Filter => OnError::Skip,
        }
    }
}

/// One `[[source]]`, `[[enrich]]`, `[[filter]]` or `[[sink]]` entry.
#[derive(Debug, Clone)]
pub struct StepConfig {
    pub stage: Stage,
    /// Unique across the manifest: `name`, else derived from the code (file stem, built-in or
    /// plugin name).
    pub name: String,
    pub code: StepCodeRef,
    pub allow_hosts: Vec<HostGrant>,
    pub env: Vec<String>,
    pub files: Vec<FileGrant>,
    /// The `config` table, as JSON.
    pub config: serde_json::Value,
    pub on_error: OnError,
    /// `file:line:col` of the entry, for messages.
    pub location: String,
    /// The manifest's folder: a step's relative paths are relative to it.
    pub dir: PathBuf,
}

/// A manifest error: where, what, and a hint when there is one.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}{}", hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
pub struct ManifestError {
    pub location: String,
    pub message: String,
    pub hint: Option<String>,
}

/// Every problem found in one manifest, reported together.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ManifestErrors(pub Vec<ManifestError>);

/// Finds first-party plugins by name.
pub trait PluginCatalog {
    fn find(&self, name: &str) -> Option<PathBuf>;
    fn names(&self) -> Vec<String>;
}

/// Names of the built-in steps of a stage.
pub type BuiltinNames = dyn Fn(Stage) -> Vec<&'static str>;

const TOP_KEYS: &[&str] = &["scan", "source", "enrich", "filter", "report", "sink"];
const SCAN_KEYS: &[&str] = &[
    "ports",
    "top_ports",
    "udp",
    "vulners",
    "no_dns",
    "nmap_args",
    "output",
];
const STEP_KEYS: &[&str] = &[
    "name",
    "builtin",
    "lua",
    "wasm",
    "plugin",
    "allow_hosts",
    "env",
    "files",
    "config",
    "on_error",
];
const REPORT_KEYS: &[&str] = &["format"];

impl ScanManifest {
    /// Read and validate the manifest at `path`.
    pub fn load(
        path: &Path,
        builtins: &BuiltinNames,
        plugins: &dyn PluginCatalog,
        formats: &[&str],
    ) -> Result<ScanManifest, ManifestErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ManifestErrors(vec![ManifestError {
                location: path.display().to_string(),
                message: format!("cannot read the manifest: {e}"),
                hint: None,
            }])
        })?;
        Self::parse(&text, path, builtins, plugins, formats)
    }

    /// Validate manifest `text`; `path` names it in errors and anchors relative paths.
    pub fn parse(
        text: &str,
        path: &Path,
        builtins: &BuiltinNames,
        plugins: &dyn PluginCatalog,
        formats: &[&str],
    ) -> Result<ScanManifest, ManifestErrors> {
        let mut reader = Reader {
            text,
            file: path.display().to_string(),
            base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            errors: Vec::new(),
        };
        let root = match DeTable::parse(text) {
            Ok(root) => root,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                reader.error(span.start, e.message().trim().to_string(), None);
                return Err(ManifestErrors(reader.errors));
            }
        };
        let mut manifest = ScanManifest {
            path: path.to_path_buf(),
            scan: ScanSettings::default(),
            steps: Vec::new(),
            formats: Vec::new(),
        };
        reader.unknown_keys(root.get_ref(), TOP_KEYS, "the manifest");
        for (key, value) in root.get_ref() {
            match key.get_ref().as_ref() {
                "scan" => manifest.scan = reader.scan(value),
                "report" => {
                    for entry in reader.tables(value, "report") {
                        reader.unknown_keys(entry.get_ref(), REPORT_KEYS, "[[report]]");
                        if let Some(format) =
                            reader.string(entry.get_ref(), "format", entry.span().start)
                        {
                            if formats.contains(&format.get_ref().as_str()) {
                                manifest.formats.push(format.into_inner());
                            } else {
                                let hint = suggest(format.get_ref(), formats)
                                    .map(|s| format!("did you mean {s:?}?"))
                                    .unwrap_or_else(|| {
                                        format!("available: {}", formats.join(", "))
                                    });
                                reader.error(
                                    format.span().start,
                                    format!("unknown report format {:?}", format.get_ref()),
                                    Some(hint),
                                );
                            }
                        }
                    }
                }
                table => {
                    let Some(stage) = Stage::ALL.into_iter().find(|s| s.table() == table) else {
                        continue;
                    };
                    for entry in reader.tables(value, table) {
                        if let Some(step) = reader.step(stage, &entry, builtins, plugins) {
                            manifest.steps.push(step);
                        }
                    }
                }
            }
        }
        manifest.steps.sort_by_key(|s| s.stage);
        // Step names identify steps in the report (`suppressed[].step`, `enrichment.<name>`).
        for (i, step) in manifest.steps.iter().enumerate() {
            if let Some(first) = manifest.steps[..i].iter().find(|s| s.name == step.name) {
                reader.errors.push(ManifestError {
                    location: step.location.clone(),
                    message: format!(
                        "duplicate step name {:?} (first at {})",
                        step.name, first.location
                    ),
                    hint: Some("give one of them another `name = \"…\"`".into()),
                });
            }
        }
        if reader.errors.is_empty() {
            Ok(manifest)
        } else {
            Err(ManifestErrors(reader.errors))
        }
    }

    pub fn steps(&self, stage: Stage) -> impl Iterator<Item = &StepConfig> {
        self.steps.iter().filter(move |s| s.stage == stage)
    }
}

type SpannedTable<'i> = Spanned<DeTable<'i>>;

/// `file:line:col` of a byte offset into `text`, the place every error about a TOML file names.
pub fn location(file: &str, text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{file}:{line}:{col}")
}

struct Reader<'t> {
    text: &'t str,
    file: String,
    base: PathBuf,
    errors: Vec<ManifestError>,
}

impl Reader<'_> {
    fn location(&self, offset: usize) -> String {
        location(&self.file, self.text, offset)
    }

    fn error(&mut self, offset: usize, message: String, hint: Option<String>) {
        self.errors.push(ManifestError {
            location: self.location(offset),
            message,
            hint,
        });
    }

    fn unknown_keys(&mut self, table: &DeTable<'_>, known: &[&str], what: &str) {
        for key in table.keys() {
            if !known.contains(&key.get_ref().as_ref()) {
                let hint = suggest(key.get_ref(), known)
                    .map(|s| format!("did you mean {s:?}?"))
                    .or_else(|| Some(format!("known keys: {}", known.join(", "))));
                self.error(
                    key.span().start,
                    format!("{what} has unknown key {:?}", key.get_ref().as_ref()),
                    hint,
                );
            }
        }
    }

    fn type_error(&mut self, value: &Spanned<DeValue<'_>>, key: &str, expected: &str) {
        self.error(
            value.span().start,
            format!(
                "{key} must be {expected}, not {}",
                value.get_ref().type_str()
            ),
            None,
        );
    }

    /// `[[name]]` entries (an array of tables).
    fn tables<'i>(&mut self, value: &Spanned<DeValue<'i>>, name: &str) -> Vec<SpannedTable<'i>> {
        match value.get_ref() {
            DeValue::Array(items) => {
                let mut tables = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::Table(t) => tables.push(Spanned::new(item.span(), t.clone())),
                        _ => self.type_error(item, name, "a table ([[…]])"),
                    }
                }
                tables
            }
            _ => {
                self.type_error(value, name, &format!("a list of tables: write [[{name}]]"));
                Vec::new()
            }
        }
    }

    fn string(&mut self, table: &DeTable<'_>, key: &str, _at: usize) -> Option<Spanned<String>> {
        let value = table.get(key)?;
        match value.get_ref().as_str() {
            Some(s) => Some(Spanned::new(value.span(), s.to_string())),
            None => {
                self.type_error(value, key, "a string");
                None
            }
        }
    }

    fn bool(&mut self, table: &DeTable<'_>, key: &str) -> Option<bool> {
        let value = table.get(key)?;
        match value.get_ref().as_bool() {
            Some(b) => Some(b),
            None => {
                self.type_error(value, key, "true or false");
                None
            }
        }
    }

    fn strings(&mut self, table: &DeTable<'_>, key: &str) -> Vec<Spanned<String>> {
        let Some(value) = table.get(key) else {
            return Vec::new();
        };
        let Some(items) = value.get_ref().as_array() else {
            self.type_error(value, key, "a list of strings");
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref().as_str() {
                Some(s) => out.push(Spanned::new(item.span(), s.to_string())),
                None => self.type_error(item, key, "a list of strings"),
            }
        }
        out
    }

    fn scan(&mut self, value: &Spanned<DeValue<'_>>) -> ScanSettings {
        let Some(table) = value.get_ref().as_table() else {
            self.type_error(value, "scan", "a table ([scan])");
            return ScanSettings::default();
        };
        self.unknown_keys(table, SCAN_KEYS, "[scan]");
        let top_ports = table.get("top_ports").and_then(|v| {
            match v
                .get_ref()
                .as_integer()
                .and_then(|i| i.as_str().parse::<u32>().ok())
            {
                Some(n) if n > 0 => Some(n),
                _ => {
                    self.type_error(v, "top_ports", "a positive integer");
                    None
                }
            }
        });
        let ports = self.string(table, "ports", 0).map(Spanned::into_inner);
        if let (Some(_), Some(v)) = (
            &ports,
            table.get("top_ports").filter(|_| top_ports.is_some()),
        ) {
            self.error(
                v.span().start,
                "[scan] takes ports or top_ports, not both".into(),
                None,
            );
        }
        ScanSettings {
            ports,
            top_ports,
            udp: self.bool(table, "udp"),
            vulners: self.bool(table, "vulners"),
            no_dns: self.bool(table, "no_dns"),
            nmap_args: self
                .strings(table, "nmap_args")
                .into_iter()
                .map(Spanned::into_inner)
                .collect(),
            output: self
                .string(table, "output", 0)
                .map(|o| self.base.join(o.get_ref())),
        }
    }

    fn step(
        &mut self,
        stage: Stage,
        entry: &SpannedTable<'_>,
        builtins: &BuiltinNames,
        plugins: &dyn PluginCatalog,
    ) -> Option<StepConfig> {
        let table = entry.get_ref();
        let what = format!("[[{}]]", stage.table());
        let errors_before = self.errors.len();
        self.unknown_keys(table, STEP_KEYS, &what);
        let location = self.location(entry.span().start);

        let sources: Vec<(&str, Spanned<String>)> = ["builtin", "lua", "wasm", "plugin"]
            .into_iter()
            .filter_map(|k| self.string(table, k, 0).map(|v| (k, v)))
            .collect();
        let code = match sources.as_slice() {
            [] => {
                self.errors.push(ManifestError {
                    location: location.clone(),
                    message: format!("{what} names no code"),
                    hint: Some("add one of builtin = \"…\", lua = \"FILE.lua\", wasm = \"FILE.wasm\" or plugin = \"NAME\"".into()),
                });
                None
            }
            [(kind, value)] => self.code(stage, kind, value, builtins, plugins),
            [_, (kind, value), ..] => {
                self.error(
                    value.span().start,
                    format!("{what} names its code twice (also {kind} = …)"),
                    Some("a step is exactly one of builtin, lua, wasm or plugin".into()),
                );
                None
            }
        };

        let mut allow_hosts = Vec::new();
        for host in self.strings(table, "allow_hosts") {
            match HostGrant::parse(host.get_ref()) {
                Ok(g) => allow_hosts.push(g),
                Err(why) => self.error(
                    host.span().start,
                    format!("bad allow_hosts entry {:?}: {why}", host.get_ref()),
                    Some("write host or host:port, e.g. \"s3.eu-west-1.amazonaws.com\" or \"127.0.0.1:9000\"".into()),
                ),
            }
        }
        let mut env = Vec::new();
        for name in self.strings(table, "env") {
            if valid_env_name(name.get_ref()) {
                env.push(name.into_inner());
            } else {
                self.error(
                    name.span().start,
                    format!("bad env entry {:?}: not a variable name", name.get_ref()),
                    Some("list variable names, e.g. env = [\"AWS_ACCESS_KEY_ID\"]".into()),
                );
            }
        }
        let files = self.files(table, code.as_ref());
        let config = match table.get("config") {
            None => serde_json::Value::Object(Default::default()),
            Some(v) if v.get_ref().is_table() => to_json(v.get_ref()),
            Some(v) => {
                self.type_error(v, "config", "a table");
                serde_json::Value::Null
            }
        };
        let on_error = match self.string(table, "on_error", 0) {
            None => OnError::default_for(stage),
            Some(v) => match v.get_ref().as_str() {
                "fail" => OnError::Fail,
                "skip" => OnError::Skip,
                other => {
                    let hint =
                        suggest(other, &["fail", "skip"]).map(|s| format!("did you mean {s:?}?"));
                    self.error(
                        v.span().start,
                        format!("on_error must be \"fail\" or \"skip\", not {other:?}"),
                        hint,
                    );
                    OnError::default_for(stage)
                }
            },
        };
        let name = match self.string(table, "name", 0) {
            Some(n) if valid_step_name(n.get_ref()) => Some(n.into_inner()),
            Some(n) => {
                self.error(
                    n.span().start,
                    format!("bad step name {:?}", n.get_ref()),
                    Some("use letters, digits, '-', '_' and '.'".into()),
                );
                None
            }
            None => code.as_ref().map(default_name),
        };
        if self.errors.len() > errors_before {
            return None;
        }
        Some(StepConfig {
            stage,
            name: name?,
            code: code?,
            allow_hosts,
            env,
            files,
            config,
            on_error,
            location,
            dir: self.base.clone(),
        })
    }

    /// The `files` grant: files a Lua step may read whole, each relative to the manifest.
    fn files(&mut self, table: &DeTable<'_>, code: Option<&StepCodeRef>) -> Vec<FileGrant> {
        let mut files = Vec::new();
        let entries = self.strings(table, "files");
        if let (Some(first), Some(code)) = (entries.first(), code) {
            if !code.is_lua() {
                self.error(
                    first.span().start,
                    format!("files are granted to Lua steps only, and this step is {code}"),
                    Some(
                        "WASM plugins have no filesystem; built-ins take their files in config"
                            .into(),
                    ),
                );
                return files;
            }
        }
        for name in entries {
            let path = self.base.join(name.get_ref());
            if path.is_file() {
                files.push(FileGrant {
                    name: name.into_inner(),
                    path,
                });
            } else {
                self.error(
                    name.span().start,
                    format!(
                        "files entry {:?}: {} is not a file",
                        name.get_ref(),
                        path.display()
                    ),
                    Some("paths are relative to the manifest's folder".into()),
                );
            }
        }
        files
    }

    fn code(
        &mut self,
        stage: Stage,
        kind: &str,
        value: &Spanned<String>,
        builtins: &BuiltinNames,
        plugins: &dyn PluginCatalog,
    ) -> Option<StepCodeRef> {
        let at = value.span().start;
        let text = value.get_ref();
        match kind {
            "builtin" => {
                let names = builtins(stage);
                if names.contains(&text.as_str()) {
                    return Some(StepCodeRef::Builtin(text.clone()));
                }
                let hint = suggest(text, &names)
                    .map(|s| format!("did you mean {s:?}?"))
                    .unwrap_or_else(|| match names.is_empty() {
                        true => format!("there are no built-in {} steps", stage.table()),
                        false => format!("built-in {} steps: {}", stage.table(), names.join(", ")),
                    });
                self.error(
                    at,
                    format!("no built-in {} step {text:?}", stage.table()),
                    Some(hint),
                );
                None
            }
            "lua" | "wasm" => {
                let path = self.base.join(text);
                if !path.is_file() {
                    self.error(
                        at,
                        format!("{kind} file {} not found", path.display()),
                        Some("paths are relative to the manifest's folder".into()),
                    );
                    return None;
                }
                Some(if kind == "lua" {
                    StepCodeRef::Lua(path)
                } else {
                    StepCodeRef::Wasm(path)
                })
            }
            _ => match plugins.find(text) {
                Some(path) => Some(StepCodeRef::Plugin {
                    name: text.clone(),
                    path,
                }),
                None => {
                    let names = plugins.names();
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    let hint = suggest(text, &names)
                        .map(|s| format!("did you mean {s:?}?"))
                        .unwrap_or_else(|| match names.is_empty() {
                            true => {
                                "no first-party plugins are built: run `cargo xtask plugins`".into()
                            }
                            false => format!("available: {}", names.join(", ")),
                        });
                    self.error(at, format!("no first-party plugin {text:?}"), Some(hint));
                    None
                }
            },
        }
    }
}

fn default_name(code: &StepCodeRef) -> String {
    match code {
        StepCodeRef::Builtin(n) => n.clone(),
        StepCodeRef::Plugin { name, .. } => name.clone(),
        StepCodeRef::Lua(p) | StepCodeRef::Wasm(p) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "step".into()),
    }
}

fn valid_step_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A TOML value as JSON (dates become their TOML text).
fn to_json(value: &DeValue<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        DeValue::String(s) => J::String(s.to_string()),
        DeValue::Integer(i) => i
            .as_str()
            .replace('_', "")
            .parse::<i64>()
            .ok()
            .or_else(|| i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok())
            .map(J::from)
            .unwrap_or(J::Null),
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(J::Number)
            .unwrap_or(J::Null),
        DeValue::Boolean(b) => J::Bool(*b),
        DeValue::Datetime(d) => J::String(d.to_string()),
        DeValue::Array(items) => J::Array(items.iter().map(|v| to_json(v.get_ref())).collect()),
        DeValue::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| (k.get_ref().to_string(), to_json(v.get_ref())))
                .collect(),
        ),
    }
}

/// The known word nearest to `word`, if it is near enough to be a typo.
pub fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, k)| *d <= (k.len().max(word.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests;
