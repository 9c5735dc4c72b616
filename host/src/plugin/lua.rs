//! The Lua host (Lua 5.4 through mlua): filters, enrichers, sources and sinks as a few lines
//! of script.
//!
//! A script gets Lua's safe libraries only (string, table, math, utf8, coroutine; no io, os,
//! debug or package), `load` of source text only (never bytecode), a `require` that reads
//! modules from the script's own folder, and the `brulee` table (log, config, env, http,
//! version comparison, CPE parsing, JSON). Its limits:
//! - memory: `Lua::set_memory_limit`;
//! - CPU: an instruction-count hook, which also checks the call's wall-clock deadline;
//! - the C functions the hook cannot interrupt: `string.rep` is refused when its result
//!   would not fit the memory limit, and the pattern functions (`find`, `match`, `gmatch`,
//!   `gsub`) when their worst-case backtracking over the subject exceeds a bound
//!   ([`pattern_work`]); each also checks the deadline.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use mlua::{
    chunk::ChunkMode, Function, HookTriggers, Lua, LuaOptions, LuaSerdeExt, MultiValue, StdLib,
    Table, Value, VmState,
};

use super::grants::Grants;
use super::limits::{Limits, LUA_HOOK_EVERY, LUA_PATTERN_WORK};
use super::{Artifact, Fields, PluginError, Stage, StepCode, Verdict};
use crate::findings::Finding;

/// One Lua step: its state, entry point and budget.
pub struct LuaStep {
    lua: Lua,
    entry: Function,
    /// [`FINDING_CALL`]: calls the entry point with a finding table built from its fields.
    finding_call: Function,
    /// The Lua strings of field values seen in earlier findings.
    strings: StringCache,
    budget: Rc<Budget>,
    limits: Limits,
    stage: Stage,
}

/// Lua strings made once for the field values findings share (addresses, products, CVE ids,
/// "tcp", …). Making a Lua string is a protected call into Lua (it may fail the memory limit)
/// and was half the cost of passing a finding; pushing one already made is a copy.
#[derive(Default)]
struct StringCache {
    index: std::collections::HashMap<String, usize>,
    strings: Vec<mlua::LuaString>,
}

impl StringCache {
    /// Enough for the distinct values of a large scan's findings, bounded all the same: each
    /// string counts against the plugin's memory limit.
    const MAX: usize = 16 * 1024;

    /// The slot of `text`'s Lua string, made if new.
    fn slot(&mut self, lua: &Lua, text: &str) -> mlua::Result<usize> {
        if let Some(&i) = self.index.get(text) {
            return Ok(i);
        }
        if self.strings.len() >= Self::MAX {
            self.index.clear();
            self.strings.clear();
        }
        self.strings.push(lua.create_string(text)?);
        self.index.insert(text.to_string(), self.strings.len() - 1);
        Ok(self.strings.len() - 1)
    }
}

/// Builds the finding table and calls the step's function with it (see
/// [`LuaStep::call_with_finding`]). `hostname` is the only host name, `hostnames` the table of
/// them when there are several: nearly every finding has none or one, and the constructor
/// makes that table faster than the host can.
const FINDING_CALL: &str = "return function(entry, address, port, protocol, service, product, \
    version, cpe, cve, id, kind, cvss, cvss_version, severity, exploit, kev, epss, epss_percentile, \
    url, source, enrichment, hostname, hostnames) return entry({address = address, \
    hostnames = hostnames or {hostname}, port = port, protocol = protocol, service = service, \
    product = product, version = version, cpe = cpe, cve = cve, id = id, kind = kind, \
    cvss = cvss, cvss_version = cvss_version, severity = severity, exploit = exploit, kev = kev, \
    epss = epss, epss_percentile = epss_percentile, url = url, source = source, enrichment = enrichment}) end";

/// The running call's budget, shared by the hook and the guarded C functions.
struct Budget {
    deadline: Cell<Instant>,
    instructions_left: Cell<u64>,
    /// Set when a limit stopped the call, so the error can say which.
    exceeded: Cell<Option<Exceeded>>,
}

#[derive(Debug, Clone, Copy)]
enum Exceeded {
    Time,
    Instructions,
    Memory,
}

impl Budget {
    fn check_time(&self) -> mlua::Result<()> {
        if Instant::now() > self.deadline.get() {
            self.exceeded.set(Some(Exceeded::Time));
            return Err(mlua::Error::runtime("time budget exceeded"));
        }
        Ok(())
    }
}

impl LuaStep {
    /// Load the script at `path` as a step of `stage`; `db` is the run's CVE database, which
    /// the advisory functions read.
    pub fn load(
        path: &Path,
        stage: Stage,
        step_name: &str,
        config: &serde_json::Value,
        grants: Grants,
        db: Option<&Path>,
    ) -> Result<LuaStep, PluginError> {
        let source = std::fs::read_to_string(path)
            .map_err(|e| PluginError::Load(format!("cannot read {}: {e}", path.display())))?;
        let limits = stage.limits();
        let lua = Lua::new_with(
            StdLib::STRING | StdLib::TABLE | StdLib::MATH | StdLib::UTF8 | StdLib::COROUTINE,
            LuaOptions::default(),
        )
        .map_err(|e| PluginError::Load(format!("Lua: {e}")))?;
        let budget = Rc::new(Budget {
            deadline: Cell::new(Instant::now() + limits.call_time),
            instructions_left: Cell::new(limits.lua_instructions),
            exceeded: Cell::new(None),
        });
        let setup = || -> mlua::Result<()> {
            lua.set_memory_limit(limits.memory_bytes)?;
            let hook_budget = budget.clone();
            lua.set_global_hook(
                HookTriggers::new().every_nth_instruction(LUA_HOOK_EVERY),
                move |_, _| {
                    let left = hook_budget.instructions_left.get();
                    if left < u64::from(LUA_HOOK_EVERY) {
                        hook_budget.exceeded.set(Some(Exceeded::Instructions));
                        return Err(mlua::Error::runtime("instruction budget exceeded"));
                    }
                    hook_budget
                        .instructions_left
                        .set(left - u64::from(LUA_HOOK_EVERY));
                    hook_budget.check_time()?;
                    Ok(VmState::Continue)
                },
            )?;
            sandbox(&lua, path, &budget, limits)?;
            install_brulee_table(&lua, step_name, config, grants, limits)?;
            let brulee: Table = lua.globals().get("brulee")?;
            super::advisory::install(&lua, &brulee, step_name, db.map(Path::to_path_buf))?;
            Ok(())
        };
        setup().map_err(|e| PluginError::Load(format!("Lua sandbox: {e}")))?;

        let finding_call = lua
            .load(FINDING_CALL)
            .set_name("=brulee")
            .eval::<Function>()
            .map_err(|e| PluginError::Load(format!("Lua: {e}")))?;
        let mut step = LuaStep {
            entry: lua
                .create_function(|_, ()| Ok(()))
                .map_err(|e| PluginError::Load(e.to_string()))?,
            finding_call,
            strings: StringCache::default(),
            lua,
            budget,
            limits,
            stage,
        };
        // The script's top level runs under the same budget as a call.
        let chunk_name = format!("@{}", path.display());
        step.guarded(|lua| {
            lua.load(&source)
                .set_name(chunk_name)
                .set_mode(ChunkMode::Text)
                .exec()
        })
        .map_err(|e| match e {
            PluginError::Failed(m) => PluginError::Load(m),
            other => other,
        })?;
        let name = stage.entry_point();
        step.entry = match step.lua.globals().get::<Value>(name) {
            Ok(Value::Function(f)) => f,
            _ => {
                let signature = match stage {
                    Stage::Source => "targets(config)",
                    Stage::Enrich => "enrich(f)",
                    Stage::Filter => "filter(f)",
                    Stage::Sink => "deliver(report, artifacts)",
                };
                return Err(PluginError::Load(format!(
                    "{} defines no global function {signature}",
                    path.display()
                )));
            }
        };
        Ok(step)
    }

    /// Run `f` with a fresh budget and turn its failure into a [`PluginError`].
    fn guarded<R>(&self, f: impl FnOnce(&Lua) -> mlua::Result<R>) -> Result<R, PluginError> {
        self.budget
            .deadline
            .set(Instant::now() + self.limits.call_time);
        self.budget
            .instructions_left
            .set(self.limits.lua_instructions);
        self.budget.exceeded.set(None);
        let result = f(&self.lua);
        result.map_err(|e| match (self.budget.exceeded.get(), &e) {
            (Some(Exceeded::Time), _) => PluginError::OutOfTime {
                limit: self.limits.call_time,
            },
            (Some(Exceeded::Instructions), _) => PluginError::Failed(format!(
                "stopped: ran past its budget of {} Lua instructions per call",
                self.limits.lua_instructions
            )),
            (Some(Exceeded::Memory), _) => PluginError::OutOfMemory {
                limit_bytes: self.limits.memory_bytes,
            },
            _ if is_memory_error(&e) => PluginError::OutOfMemory {
                limit_bytes: self.limits.memory_bytes,
            },
            _ => PluginError::Failed(lua_message(&e)),
        })
    }

    /// Call `entry(f)` where `f` is the finding as scripts see it: the report's finding
    /// object, absent fields nil. The table is built by a Lua constructor from positional
    /// arguments, in the same call, and the arguments go straight onto Lua's stack (a tuple of
    /// strings from [`StringCache`], not `Value`s, each of which would be a reference made and
    /// freed per field).
    fn call_with_finding<R: mlua::FromLuaMulti>(
        &mut self,
        finding: &Finding,
    ) -> Result<R, PluginError> {
        let lua = &self.lua;
        let v = &finding.vulnerability;
        let convert = |e: mlua::Error| PluginError::Failed(e.to_string());
        let enrichment = match finding.enrichment.is_empty() {
            true => None,
            false => Some(lua.to_value(&finding.enrichment).map_err(convert)?),
        };
        let (hostname, hostnames) = match finding.hostnames.as_slice() {
            [] => (None, None),
            [one] => (Some(one.as_str()), None),
            many => (
                None,
                Some(
                    lua.create_sequence_from(many.iter().map(String::as_str))
                        .map_err(convert)?,
                ),
            ),
        };
        // Every string field, as slots of the cache, then as the Lua strings themselves.
        let texts = [
            Some(finding.address.as_str()),
            Some(finding.protocol.as_str()),
            Some(finding.service.as_str()),
            finding.product.as_deref(),
            finding.version.as_deref(),
            finding.cpe.as_deref(),
            Some(finding.cve.as_str()),
            Some(v.id.as_str()),
            Some(v.kind.as_str()),
            v.cvss_version.as_deref(),
            Some(v.severity.as_str()),
            v.url.as_deref(),
            Some(v.source.as_str()),
            hostname,
        ];
        let mut slots = [None; 14];
        for (slot, text) in slots.iter_mut().zip(texts) {
            if let Some(text) = text {
                *slot = Some(self.strings.slot(lua, text).map_err(convert)?);
            }
        }
        let cached = &self.strings.strings;
        let [address, protocol, service, product, version, cpe, cve, id, kind, cvss_version, severity, url, source, hostname] =
            slots.map(|slot| slot.map(|i| &cached[i]));
        // A tuple takes at most 16 values; its last one may be a tuple again.
        let args = (
            &self.entry,
            address,
            i64::from(finding.port),
            protocol,
            service,
            product,
            version,
            cpe,
            cve,
            id,
            kind,
            v.cvss,
            cvss_version,
            severity,
            v.exploit,
            (
                v.kev,
                v.epss,
                v.epss_percentile,
                url,
                source,
                enrichment,
                hostname,
                hostnames,
            ),
        );
        self.guarded(|_| self.finding_call.call::<R>(args))
    }
}

/// Whether Lua ran out of its memory limit, also when that happened inside a callback.
fn is_memory_error(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::MemoryError(_) => true,
        mlua::Error::CallbackError { cause, .. } => is_memory_error(cause),
        other => other.to_string().contains("not enough memory"),
    }
}

/// The first line of a Lua error, without mlua's wrapping and the traceback.
fn lua_message(e: &mlua::Error) -> String {
    let text = match e {
        mlua::Error::CallbackError { cause, .. } => return lua_message(cause),
        other => other.to_string(),
    };
    text.lines()
        .take_while(|l| !l.starts_with("stack traceback"))
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .trim_start_matches("runtime error: ")
        .to_string()
}

impl StepCode for LuaStep {
    fn targets(&mut self) -> Result<Vec<String>, PluginError> {
        let entry = self.entry.clone();
        let config: Value = self
            .lua
            .globals()
            .get::<Table>("brulee")
            .and_then(|b| b.get("config"))
            .unwrap_or(Value::Nil);
        let value = self.guarded(|_| entry.call::<Value>(config))?;
        self.lua.from_value::<Vec<String>>(value).map_err(|e| {
            PluginError::BadOutput(format!("targets must return a list of strings: {e}"))
        })
    }

    fn enrich(&mut self, finding: &Finding) -> Result<Fields, PluginError> {
        let returned = self.call_with_finding::<Value>(finding)?;
        let Value::Table(returned) = returned else {
            return Err(PluginError::BadOutput(
                "enrich(f) must return the finding table".into(),
            ));
        };
        // New keys are the step's fields; the finding's own fields stay the host's.
        let original = serde_json::to_value(finding).unwrap_or_default();
        let mut fields = Fields::new();
        for pair in returned.pairs::<String, Value>() {
            let (key, value) = pair.map_err(|e| PluginError::BadOutput(e.to_string()))?;
            // `priority` is the report's own copy of what steps gave (set after them): a step's
            // own `priority` is always its field, also when a report is processed again.
            if (original.get(&key).is_some() && key != "priority") || key == "enrichment" {
                continue;
            }
            let value: serde_json::Value = self
                .lua
                .from_value(value)
                .map_err(|e| PluginError::BadOutput(format!("field {key}: {e}")))?;
            fields.insert(key, value);
        }
        Ok(fields)
    }

    fn filter(&mut self, finding: &Finding) -> Result<Verdict, PluginError> {
        let (keep, reason) = self.call_with_finding::<(Value, Option<String>)>(finding)?;
        match keep {
            Value::Boolean(true) => Ok(match reason {
                Some(note) if !note.trim().is_empty() => Verdict::KeepWithNote(note),
                _ => Verdict::Keep,
            }),
            Value::Boolean(false) => Ok(Verdict::Drop(
                reason.unwrap_or_else(|| "dropped (no reason given)".into()),
            )),
            other => Err(PluginError::BadOutput(format!(
                "filter(f) must return true (keep), true, \"note\" (keep with a note) or false, \"reason\" (drop), not {}",
                other.type_name()
            ))),
        }
    }

    fn deliver(&mut self, report_json: &str, artifacts: &[Artifact]) -> Result<(), PluginError> {
        let convert = |e: mlua::Error| PluginError::Failed(e.to_string());
        let report: serde_json::Value =
            serde_json::from_str(report_json).map_err(|e| PluginError::Failed(e.to_string()))?;
        let report = self.lua.to_value(&report).map_err(convert)?;
        let list = self.lua.create_table().map_err(convert)?;
        for artifact in artifacts {
            let t = self.lua.create_table().map_err(convert)?;
            t.set("name", artifact.name.as_str()).map_err(convert)?;
            t.set("media_type", artifact.media_type.as_str())
                .map_err(convert)?;
            t.set(
                "contents",
                self.lua
                    .create_string(&artifact.contents)
                    .map_err(convert)?,
            )
            .map_err(convert)?;
            list.push(t).map_err(convert)?;
        }
        let entry = self.entry.clone();
        let (ok, message) =
            self.guarded(|_| entry.call::<(Value, Option<String>)>((report, list)))?;
        match ok {
            Value::Nil | Value::Boolean(true) if message.is_none() => Ok(()),
            _ => Err(PluginError::Failed(
                message.unwrap_or_else(|| "deliver returned false".into()),
            )),
        }
    }
}

impl std::fmt::Debug for LuaStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LuaStep({:?})", self.stage)
    }
}

/// Remove or wrap what a script must not reach.
fn sandbox(lua: &Lua, path: &Path, budget: &Rc<Budget>, limits: Limits) -> mlua::Result<()> {
    let globals = lua.globals();
    for name in ["dofile", "loadfile", "print"] {
        globals.set(name, Value::Nil)?;
    }
    // `load` of source text only: Lua bytecode can break the VM's memory safety.
    let load: Function = globals.get("load")?;
    globals.set(
        "load",
        lua.create_function(
            move |_, (chunk, name, _mode, env): (Value, Value, Value, Value)| {
                load.call::<MultiValue>((chunk, name, "t", env))
            },
        )?,
    )?;
    // Memory statistics and collection only: stopping the collector helps nobody.
    let collect: Function = globals.get("collectgarbage")?;
    globals.set(
        "collectgarbage",
        lua.create_function(move |_, opt: Option<String>| match opt.as_deref() {
            None | Some("collect") | Some("count") | Some("step") => {
                collect.call::<MultiValue>(opt)
            }
            Some(other) => Err(mlua::Error::runtime(format!(
                "collectgarbage(\"{other}\") is not available to plugins"
            ))),
        })?,
    )?;
    install_require(lua, path)?;
    guard_string_functions(lua, budget, limits)?;
    Ok(())
}

/// `require "name"` loads `name.lua` (dots are folders) from the script's own folder, once.
fn install_require(lua: &Lua, path: &Path) -> mlua::Result<()> {
    let dir: PathBuf = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let loaded = lua.create_table()?;
    let require = lua.create_function(move |lua, name: String| {
        if let Ok(Value::Table(module)) = loaded.get::<Value>(name.as_str()) {
            return Ok(Value::Table(module));
        }
        let valid = !name.is_empty()
            && name.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
        if !valid {
            return Err(mlua::Error::runtime(format!(
                "require({name:?}): module names are words separated by dots, read from the plugin's folder"
            )));
        }
        let file = dir.join(format!("{}.lua", name.replace('.', "/")));
        let source = std::fs::read_to_string(&file).map_err(|e| {
            mlua::Error::runtime(format!("require({name:?}): cannot read {}: {e}", file.display()))
        })?;
        let value: Value = lua
            .load(&source)
            .set_name(format!("@{}", file.display()))
            .set_mode(ChunkMode::Text)
            .call(())?;
        let value = match value {
            Value::Nil => Value::Boolean(true),
            v => v,
        };
        loaded.set(name.as_str(), value.clone())?;
        Ok(value)
    })?;
    lua.globals().set("require", require)
}

/// Wrap the string functions whose C code the instruction hook cannot interrupt.
fn guard_string_functions(lua: &Lua, budget: &Rc<Budget>, limits: Limits) -> mlua::Result<()> {
    let string: Table = lua.globals().get("string")?;

    let rep: Function = string.get("rep")?;
    let rep_budget = budget.clone();
    string.set(
        "rep",
        lua.create_function(
            move |lua, (s, n, sep): (mlua::LuaString, i64, Option<mlua::LuaString>)| {
                rep_budget.check_time()?;
                let n = n.max(0) as u128;
                let sep_len = sep.as_ref().map_or(0, |s| s.as_bytes().len()) as u128;
                let bytes = n * (s.as_bytes().len() as u128 + sep_len);
                let free = limits.memory_bytes.saturating_sub(lua.used_memory()) as u128;
                if bytes > free {
                    rep_budget.exceeded.set(Some(Exceeded::Memory));
                    return Err(mlua::Error::runtime(format!(
                        "string.rep would make {bytes} bytes: over the plugin's memory limit"
                    )));
                }
                rep.call::<mlua::LuaString>((s, n as i64, sep))
            },
        )?,
    )?;

    for name in ["find", "match", "gmatch", "gsub"] {
        let original: Function = string.get(name)?;
        let guard_budget = budget.clone();
        string.set(
            name,
            lua.create_function(move |_, args: MultiValue| {
                guard_budget.check_time()?;
                let subject = match args.front() {
                    Some(Value::String(s)) => s.as_bytes().len(),
                    Some(Value::Integer(_)) | Some(Value::Number(_)) => 24,
                    _ => 0,
                };
                let pattern = match args.get(1) {
                    Some(Value::String(p)) => p.as_bytes().to_vec(),
                    _ => Vec::new(),
                };
                let plain = name == "find" && matches!(args.get(3), Some(v) if v.as_boolean() != Some(false) && !v.is_nil());
                if !plain {
                    let work = pattern_work(subject, &pattern);
                    if work > LUA_PATTERN_WORK {
                        return Err(mlua::Error::runtime(format!(
                            "string.{name}: this pattern may backtrack for ~{work:.0e} steps over a \
                             {subject}-byte subject (the limit is {LUA_PATTERN_WORK:.0e}); use a \
                             simpler pattern, a shorter subject or a plain find"
                        )));
                    }
                }
                original.call::<MultiValue>(args)
            })?,
        )?;
    }
    Ok(())
}

/// Worst-case steps of Lua's backtracking matcher for `pattern` over `n` bytes.
///
/// Each `*`, `+` or `-` quantifier followed by more pattern may retry the rest at every
/// length it can take: up to `n + 1` choices each, multiplied, times `n + 1` start positions
/// (one when anchored with `^`). `?` adds a factor of 2. A quantifier that ends the pattern
/// (before `$` and closing captures) tries its choices but never retries the rest, so it adds
/// a factor of `n` only once.
pub fn pattern_work(n: usize, pattern: &[u8]) -> f64 {
    let n = n as f64 + 1.0;
    let anchored = pattern.first() == Some(&b'^');
    let mut retrying = 0i32;
    let mut optional = 0i32;
    let mut trailing = false;
    let mut i = usize::from(anchored);
    while i < pattern.len() {
        // One single-character class…
        match pattern[i] {
            b'%' => match pattern.get(i + 1) {
                Some(b'b') => {
                    i += 4;
                    continue;
                }
                Some(b'f') => {
                    i += 2;
                    i = skip_set(pattern, i);
                    continue;
                }
                _ => i += 2,
            },
            b'[' => i = skip_set(pattern, i),
            b'(' | b')' => {
                i += 1;
                continue;
            }
            _ => i += 1,
        }
        // …and its quantifier.
        match pattern.get(i) {
            Some(b'*' | b'+' | b'-') => {
                i += 1;
                let rest_is_empty = pattern[i..].iter().all(|&c| c == b')' || c == b'$');
                if rest_is_empty {
                    trailing = true;
                } else {
                    retrying += 1;
                }
            }
            Some(b'?') => {
                i += 1;
                optional += 1;
            }
            _ => {}
        }
    }
    let starts = if anchored { 1.0 } else { n };
    let last = if trailing { n } else { 1.0 };
    starts * n.powi(retrying) * 2f64.powi(optional.min(60)) * last
}

/// Index just past the `[set]` starting at `i` (Lua's rules: `]` first is literal).
fn skip_set(pattern: &[u8], mut i: usize) -> usize {
    i += 1;
    if pattern.get(i) == Some(&b'^') {
        i += 1;
    }
    let mut first = true;
    while i < pattern.len() {
        match pattern[i] {
            b'%' => i += 2,
            b']' if !first => return i + 1,
            _ => i += 1,
        }
        first = false;
    }
    i
}

/// The `brulee` table: what the host offers every script.
fn install_brulee_table(
    lua: &Lua,
    step_name: &str,
    config: &serde_json::Value,
    grants: Grants,
    limits: Limits,
) -> mlua::Result<()> {
    let brulee = lua.create_table()?;
    brulee.set("config", lua.to_value(config)?)?;

    let name = step_name.to_string();
    brulee.set(
        "log",
        lua.create_function(move |_, args: MultiValue| {
            let (level, message) = match (args.front(), args.get(1)) {
                (Some(Value::String(level)), Some(msg)) => {
                    (level.to_string_lossy(), msg.to_string()?)
                }
                (Some(msg), _) => ("info".to_string(), msg.to_string()?),
                _ => return Ok(()),
            };
            super::print_log(&name, &level, &message);
            Ok(())
        })?,
    )?;

    let grants = Rc::new(grants);
    let env_grants = grants.clone();
    brulee.set(
        "env",
        lua.create_function(move |_, name: String| {
            env_grants.env(&name).map_err(mlua::Error::runtime)
        })?,
    )?;

    let http_grants = grants.clone();
    brulee.set(
        "http",
        lua.create_function(move |lua, request: Table| {
            let method: String = request
                .get::<Option<String>>("method")?
                .unwrap_or_else(|| "GET".into());
            let url: String = request.get("url")?;
            let body: Option<mlua::LuaString> = request.get("body")?;
            let headers: Option<Table> = request.get("headers")?;
            let mut header_list = Vec::new();
            if let Some(headers) = headers {
                for pair in headers.pairs::<String, String>() {
                    header_list.push(pair?);
                }
            }
            let response = http_request(
                &http_grants,
                limits,
                &method,
                &url,
                &header_list,
                body.map(|b| b.as_bytes().to_vec()),
            )
            .map_err(mlua::Error::runtime)?;
            let t = lua.create_table()?;
            t.set("status", response.0)?;
            t.set("body", lua.create_string(&response.1)?)?;
            Ok(t)
        })?,
    )?;

    brulee.set(
        "version_compare",
        lua.create_function(|_, (a, b): (String, String)| {
            Ok(match crate::vulndb::debversion::compare(&a, &b) {
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
                std::cmp::Ordering::Greater => 1,
            })
        })?,
    )?;

    brulee.set(
        "cpe",
        lua.create_function(|lua, text: String| match parse_cpe(&text) {
            Some(cpe) => lua.to_value(&cpe),
            None => Ok(Value::Nil),
        })?,
    )?;

    let file_grants = grants.clone();
    brulee.set(
        "read_file",
        lua.create_function(move |lua, name: String| {
            let path = file_grants.file(&name).map_err(mlua::Error::runtime)?;
            let fail = |e: std::io::Error| {
                mlua::Error::runtime(format!("cannot read {name} ({}): {e}", path.display()))
            };
            // Refused before reading: a file larger than the step's memory could never fit.
            let size = std::fs::metadata(path).map_err(fail)?.len();
            if size > limits.memory_bytes as u64 {
                return Err(mlua::Error::runtime(format!(
                    "{name} is {size} bytes, more than this step's memory limit of {} MiB",
                    limits.memory_bytes >> 20
                )));
            }
            lua.create_string(std::fs::read(path).map_err(fail)?)
        })?,
    )?;

    brulee.set(
        "ip_in",
        lua.create_function(|_, (address, network): (String, String)| {
            let net = network
                .parse::<ipnet::IpNet>()
                .or_else(|_| network.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    mlua::Error::runtime(format!(
                        "{network:?} is not an IP address or CIDR block (such as 127.0.1.0/24)"
                    ))
                })?;
            // Host names and other non-addresses are in no network.
            Ok(address
                .parse::<std::net::IpAddr>()
                .is_ok_and(|a| net.contains(&a)))
        })?,
    )?;

    brulee.set(
        "json_encode",
        lua.create_function(|lua, value: Value| {
            let json: serde_json::Value = lua.from_value(value)?;
            Ok(json.to_string())
        })?,
    )?;
    brulee.set(
        "json_decode",
        lua.create_function(|lua, text: String| {
            let json: serde_json::Value =
                serde_json::from_str(&text).map_err(mlua::Error::external)?;
            lua.to_value(&json)
        })?,
    )?;

    lua.globals().set("brulee", brulee)
}

/// One HTTP request on behalf of a Lua step, to a granted host only; redirects are not
/// followed (they could lead anywhere).
fn http_request(
    grants: &Grants,
    limits: Limits,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<Vec<u8>>,
) -> Result<(u16, Vec<u8>), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        _ => {
            return Err(format!(
                "{url}: only http:// and https:// URLs are supported"
            ))
        }
    });
    let host = uri.host().unwrap_or_default();
    if !grants.allows_http(host, port) {
        return Err(grants.refusal(host, port));
    }
    let agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(limits.call_time))
        .build()
        .new_agent();
    let mut request = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let request = request
        .body(body.unwrap_or_default())
        .map_err(|e| format!("{url}: {e}"))?;
    let mut response = agent.run(request).map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(limits.memory_bytes as u64)
        .read_to_vec()
        .map_err(|e| format!("{url}: {e}"))?;
    Ok((status, body))
}

/// The parts of a CPE name, 2.2 URI (`cpe:/a:openbsd:openssh:9.2p1`) or 2.3 formatted
/// string (`cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CpeParts {
    pub part: String,
    pub vendor: String,
    pub product: String,
    pub version: Option<String>,
    pub update: Option<String>,
}

/// `brulee.cpe`: the parts of a name as [`CpeName`](crate::vulndb::cpe::CpeName) reads it
/// (escapes undone, lower-cased), so a plugin sees what the matcher sees; `None` when it is not
/// a CPE name or names no vendor and product.
pub fn parse_cpe(text: &str) -> Option<CpeParts> {
    let cpe = crate::vulndb::cpe::CpeName::parse(text).ok()?;
    let named = |s: String| (!s.is_empty() && s != "*" && s != "-").then_some(s);
    Some(CpeParts {
        part: cpe.part.to_string(),
        vendor: named(cpe.vendor)?,
        product: named(cpe.product)?,
        version: cpe.version.as_value().map(str::to_owned),
        update: cpe.update.as_value().map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpes_of_both_forms_are_parsed() {
        let c = parse_cpe("cpe:/a:openbsd:openssh:9.2p1").unwrap();
        assert_eq!(
            (c.vendor.as_str(), c.product.as_str()),
            ("openbsd", "openssh")
        );
        assert_eq!(c.version.as_deref(), Some("9.2p1"));
        let c = parse_cpe("cpe:2.3:a:nginx:nginx:1.22.1:*:*:*:*:*:*:*").unwrap();
        assert_eq!(c.version.as_deref(), Some("1.22.1"));
        assert_eq!(c.update, None);
        assert_eq!(parse_cpe("cpe:/a:vsftpd").map(|c| c.product), None);
        assert!(parse_cpe("not a cpe").is_none());
        // An escaped colon is part of the value, as NVD writes it.
        let c = parse_cpe(r"cpe:2.3:a:foo\:bar:baz:1.0:*:*:*:*:*:*:*").unwrap();
        assert_eq!((c.vendor.as_str(), c.product.as_str()), ("foo:bar", "baz"));
        assert_eq!(c.version.as_deref(), Some("1.0"));
    }

    #[test]
    fn pattern_work_bounds_backtracking() {
        // Anchored patterns over short fields cost nothing.
        assert!(pattern_work(20, b"^(%d+)%.(%d+)") < 1e3);
        // A trailing quantifier is linear per start.
        assert!(pattern_work(100_000, b"%s+") < 1e11);
        assert!(pattern_work(1000, b"%s+") < LUA_PATTERN_WORK);
        // Nested retries explode.
        assert!(pattern_work(100_000, b".-.-.-.-b") > 1e20);
        assert!(pattern_work(10, b"[%]]*x") < 1e3);
    }
}
