//! The wasmtime host of WASM component plugins (`sdk/wit/since_v0.1.1/plugin.wit`).
//!
//! The bindings are those of the newest contract. Plugins built against an older one of the
//! same 0.1 line (`brulee:plugin@0.1.0`) import `brulee:plugin/host@0.1.0`, which wasmtime's
//! linker resolves to the 0.1.1 definition by semver: 0.1.1 only added to 0.1.0.
//!
//! A plugin gets WASI 0.2 with nothing in it — no preopened folder, no sockets, no name
//! lookups, only the environment variables its step is granted — plus `wasi:http`, whose
//! outgoing requests go through [`GrantedHttp`], and brulee's `host` interface (log, config,
//! env). Each step owns one [`Store`] and its state ([`PluginState`]); its calls run under
//! the step's [`Limits`]: memory through a limiter, CPU and wall-clock time through an epoch
//! deadline (for code that spins) and a timer (for code blocked in a host call).
//!
//! Compiled components are cached on disk, keyed by the SHA-256 of the component and of the
//! engine's settings, so a second run does not compile again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store, StoreLimits, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use super::grants::Grants;
use super::limits::{Limits, EPOCH_TICK};
use super::{Artifact, Fields, PluginError, ResultStore, Stage, StepCode, StoredReport, Verdict};
use crate::findings::{Finding, Severity};

/// Host bindings, one module per world. The first generates the shared interfaces; the
/// others reuse them, so one linker serves every world.
mod bindings {
    wasmtime::component::bindgen!({
        path: "../sdk/wit/since_v0.1.1",
        world: "filter",
        exports: { default: async },
    });

    pub mod enricher {
        wasmtime::component::bindgen!({
            path: "../sdk/wit/since_v0.1.1",
            world: "enricher",
            exports: { default: async },
            with: {
                "brulee:plugin/types": super::brulee::plugin::types,
                "brulee:plugin/host": super::brulee::plugin::host,
            },
        });
    }

    pub mod sink {
        wasmtime::component::bindgen!({
            path: "../sdk/wit/since_v0.1.1",
            world: "sink",
            exports: { default: async },
            with: {
                "brulee:plugin/types": super::brulee::plugin::types,
                "brulee:plugin/host": super::brulee::plugin::host,
            },
        });
    }

    pub mod source {
        wasmtime::component::bindgen!({
            path: "../sdk/wit/since_v0.1.1",
            world: "source",
            exports: { default: async },
            with: {
                "brulee:plugin/host": super::brulee::plugin::host,
            },
        });
    }

    pub mod results {
        wasmtime::component::bindgen!({
            path: "../sdk/wit/since_v0.1.1",
            world: "results-reader",
            exports: { default: async },
            with: {
                "brulee:plugin/host": super::brulee::plugin::host,
            },
        });
    }
}

use bindings::brulee::plugin::{host as wit_host, types as wit};

/// Captured guest stderr (panic messages), kept small.
const STDERR_CAPACITY: usize = 16 << 10;

/// The engine, linker and async runtime shared by the WASM steps of one run.
pub struct WasmRuntime {
    engine: Engine,
    linker: Linker<PluginState>,
    /// Drives the async host calls (HTTP) and the per-call timers. Current-thread: steps run
    /// one at a time, from a plain thread.
    tokio: tokio::runtime::Runtime,
    cache_dir: Option<PathBuf>,
}

impl WasmRuntime {
    /// `cache_dir`: where compiled components are kept (None: compile every time).
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Arc<WasmRuntime>, PluginError> {
        let load = |e: wasmtime::Error| PluginError::Load(format!("WASM engine: {e:#}"));
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(load)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(load)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(load)?;
        wit_host::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(load)?;
        wit::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(load)?;
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| PluginError::Load(format!("async runtime: {e}")))?;
        spawn_epoch_ticker(&engine);
        Ok(Arc::new(WasmRuntime {
            engine,
            linker,
            tokio,
            cache_dir,
        }))
    }

    /// The default cache folder: `$BRULEE_CACHE_DIR`, else `$XDG_CACHE_HOME/brulee/wasm`,
    /// else `~/.cache/brulee/wasm`.
    pub fn default_cache_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("BRULEE_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("brulee").join("wasm"))
    }

    /// Compile a component, or load its compiled form from the cache.
    pub fn component(&self, path: &Path) -> Result<(Component, CacheOutcome), PluginError> {
        let bytes = std::fs::read(path)
            .map_err(|e| PluginError::Load(format!("cannot read {}: {e}", path.display())))?;
        let key = self.cache_key(&bytes);
        let cached = self
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(format!("{key}.cwasm")));
        // A compiled component is native code: it is loaded only from a folder nobody else
        // can write to.
        let cached = cached.filter(|file| file.parent().is_some_and(private_or_absent));
        if let Some(file) = cached.as_ref().filter(|f| f.is_file()) {
            // SAFETY: the file is one this function wrote with `precompile_component` for an
            // engine of the same settings (they are in the key), in a folder that only this
            // user can write to (checked above), trusted as wasmtime trusts its own cache.
            if let Ok(component) = unsafe { Component::deserialize_file(&self.engine, file) } {
                return Ok((component, CacheOutcome::Hit));
            }
        }
        let not_a_component = |e: wasmtime::Error| {
            PluginError::Load(format!(
                "{} is not a WASM component of brulee's contract: {e:#}",
                path.display()
            ))
        };
        let compiled = self
            .engine
            .precompile_component(&bytes)
            .map_err(not_a_component)?;
        if let Some(file) = &cached {
            // A cache that cannot be written only costs time.
            let _ = write_cache(file, &compiled);
        }
        // SAFETY: `compiled` was produced just now by this engine.
        let component =
            unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(not_a_component)?;
        Ok((component, CacheOutcome::Compiled))
    }

    fn cache_key(&self, bytes: &[u8]) -> String {
        use std::hash::{Hash, Hasher};
        let mut settings = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut settings);
        let mut hash = Sha256::new();
        hash.update(bytes);
        hash.update(settings.finish().to_le_bytes());
        hash.update(env!("CARGO_PKG_VERSION").as_bytes());
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Instantiate the component at `path` as a step of `stage`.
    pub fn load_step(
        self: &Arc<Self>,
        path: &Path,
        stage: Stage,
        step_name: &str,
        config_json: String,
        grants: Grants,
    ) -> Result<WasmStep, PluginError> {
        let (component, _) = self.component(path)?;
        self.instantiate(
            &component,
            Contract::Step(stage),
            step_name,
            config_json,
            grants,
        )
        .map_err(|e| {
            PluginError::Load(format!(
                "{} does not fit the {} world of brulee:plugin@0.1.1: {e:#}",
                path.display(),
                stage.entry_point()
            ))
        })
    }

    /// Instantiate the component at `path`, the code of the sink step `step_name`, as a
    /// reader of the reports it stored (the `results` world), under a sink's limits.
    pub fn load_results(
        self: &Arc<Self>,
        path: &Path,
        step_name: &str,
        config_json: String,
        grants: Grants,
    ) -> Result<WasmStep, PluginError> {
        let (component, _) = self.component(path)?;
        self.instantiate(
            &component,
            Contract::Results,
            step_name,
            config_json,
            grants,
        )
        .map_err(|e| {
            PluginError::Load(format!(
                "{} cannot read back stored reports: it does not export the results \
                     interface of brulee:plugin@0.1.1 (storage plugins such as s3, gcs and \
                     azure-blob do): {e:#}",
                path.display()
            ))
        })
    }

    fn instantiate(
        self: &Arc<Self>,
        component: &Component,
        contract: Contract,
        step_name: &str,
        config_json: String,
        grants: Grants,
    ) -> Result<WasmStep, wasmtime::Error> {
        let limits = match contract {
            Contract::Step(stage) => stage.limits(),
            Contract::Results => Stage::Sink.limits(),
        };
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtx::builder()
            .envs(&grants.env_pairs())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let state = PluginState {
            step_name: step_name.to_string(),
            config_json,
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: GrantedHttp {
                grants,
                refused: Vec::new(),
                limits,
            },
            memory: MemoryCap {
                inner: limits.store_limits(),
                limit_bytes: limits.memory_bytes,
                refused: false,
            },
            stderr,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.memory);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(limits.epoch_ticks());
        let linker = &self.linker;
        let instance = self.tokio.block_on(async {
            let instance = match contract {
                Contract::Step(Stage::Filter) => World::Filter(
                    bindings::Filter::instantiate_async(&mut store, component, linker).await?,
                ),
                Contract::Step(Stage::Enrich) => World::Enricher(
                    bindings::enricher::Enricher::instantiate_async(&mut store, component, linker)
                        .await?,
                ),
                Contract::Step(Stage::Sink) => World::Sink(
                    bindings::sink::Sink::instantiate_async(&mut store, component, linker).await?,
                ),
                Contract::Step(Stage::Source) => World::Source(
                    bindings::source::Source::instantiate_async(&mut store, component, linker)
                        .await?,
                ),
                Contract::Results => World::Results(
                    bindings::results::ResultsReader::instantiate_async(
                        &mut store, component, linker,
                    )
                    .await?,
                ),
            };
            Ok::<_, wasmtime::Error>(instance)
        })?;
        Ok(WasmStep {
            runtime: self.clone(),
            store,
            instance,
            limits,
        })
    }
}

/// What a component is instantiated as: the step of a stage, or a reader of stored reports.
#[derive(Debug, Clone, Copy)]
enum Contract {
    Step(Stage),
    Results,
}

/// Whether [`WasmRuntime::component`] compiled or found the compiled form on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Compiled,
}

/// Whether `dir` is ours alone: owned by this user and writable by no one else (or not made
/// yet; [`write_cache`] makes it so).
fn private_or_absent(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(dir) {
        // SAFETY: geteuid(2) has no preconditions.
        Ok(meta) => meta.uid() == unsafe { libc::geteuid() } && meta.mode() & 0o022 == 0,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

fn write_cache(file: &Path, compiled: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let tmp = file.with_extension(format!("partial-{}", std::process::id()));
    std::fs::write(&tmp, compiled)?;
    std::fs::rename(&tmp, file)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] for as long as the engine lives, so a
/// call's deadline (in ticks) stops a plugin that never returns to the host.
fn spawn_epoch_ticker(engine: &Engine) {
    let engine = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("brulee-wasm-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match engine.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        });
    // Without the ticker, calls are still bounded by the per-call timer.
    drop(spawned);
}

/// The instantiated world of a step.
enum World {
    Filter(bindings::Filter),
    Enricher(bindings::enricher::Enricher),
    Sink(bindings::sink::Sink),
    Source(bindings::source::Source),
    Results(bindings::results::ResultsReader),
}

/// One WASM step: its store (with all its state) and instance.
pub struct WasmStep {
    runtime: Arc<WasmRuntime>,
    store: Store<PluginState>,
    instance: World,
    limits: Limits,
}

impl WasmStep {
    /// Run one call under the step's limits and turn every way it can fail into a
    /// [`PluginError`].
    fn call<R>(
        &mut self,
        f: impl AsyncFnOnce(&World, &mut Store<PluginState>) -> wasmtime::Result<Result<R, String>>,
    ) -> Result<R, PluginError> {
        self.store.set_epoch_deadline(self.limits.epoch_ticks());
        let limit = self.limits.call_time;
        let (store, instance) = (&mut self.store, &self.instance);
        let outcome = self
            .runtime
            .tokio
            .block_on(async { tokio::time::timeout(limit, f(instance, store)).await });
        let state = self.store.data();
        match outcome {
            Err(_elapsed) => Err(PluginError::OutOfTime { limit }),
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(message))) => match state.hooks.refused.last() {
                // The plugin's own words may hide why: say what the host refused.
                Some(refusal) => Err(PluginError::Denied(format!(
                    "{refusal}; the plugin said: {message}"
                ))),
                None => Err(PluginError::Failed(message)),
            },
            Ok(Err(trap)) => Err(state.explain(trap, limit)),
        }
    }
}

impl StepCode for WasmStep {
    fn targets(&mut self) -> Result<Vec<String>, PluginError> {
        self.call(async |world, store| match world {
            World::Source(w) => w.call_targets(store).await,
            _ => unreachable!("a step is instantiated as the world of its stage"),
        })
    }

    fn enrich(&mut self, finding: &Finding) -> Result<Fields, PluginError> {
        let record = to_wit(finding);
        let json = self.call(async move |world, store| match world {
            World::Enricher(w) => w.call_enrich(store, &record).await,
            _ => unreachable!("a step is instantiated as the world of its stage"),
        })?;
        match serde_json::from_str(&json) {
            Ok(serde_json::Value::Object(fields)) => Ok(fields),
            Ok(_) => Err(PluginError::BadOutput(
                "enrich must return a JSON object".into(),
            )),
            Err(e) => Err(PluginError::BadOutput(format!(
                "enrich returned bad JSON: {e}"
            ))),
        }
    }

    fn filter(&mut self, finding: &Finding) -> Result<Verdict, PluginError> {
        let record = to_wit(finding);
        let verdict = self.call(async move |world, store| match world {
            World::Filter(w) => w.call_filter(store, &record).await,
            _ => unreachable!("a step is instantiated as the world of its stage"),
        })?;
        Ok(match verdict {
            wit::Verdict::Keep => Verdict::Keep,
            wit::Verdict::Drop(reason) => Verdict::Drop(reason),
        })
    }

    fn deliver(&mut self, report_json: &str, artifacts: &[Artifact]) -> Result<(), PluginError> {
        let artifacts: Vec<wit::Artifact> = artifacts
            .iter()
            .map(|a| wit::Artifact {
                name: a.name.clone(),
                media_type: a.media_type.clone(),
                contents: a.contents.clone(),
            })
            .collect();
        let report = report_json.to_string();
        self.call(async move |world, store| match world {
            World::Sink(w) => w.call_deliver(store, &report, &artifacts).await,
            _ => unreachable!("a step is instantiated as the world of its stage"),
        })
    }
}

impl ResultStore for WasmStep {
    fn location(&mut self) -> Result<String, PluginError> {
        self.call(async |world, store| match world {
            World::Results(w) => w.brulee_plugin_results().call_location(store).await,
            _ => unreachable!("a results reader is instantiated as the results world"),
        })
    }

    fn dates(&mut self) -> Result<Vec<String>, PluginError> {
        self.call(async |world, store| match world {
            World::Results(w) => w.brulee_plugin_results().call_dates(store).await,
            _ => unreachable!("a results reader is instantiated as the results world"),
        })
    }

    fn reports(&mut self, date: &str) -> Result<Vec<StoredReport>, PluginError> {
        let date = date.to_string();
        let listed = self.call(async move |world, store| match world {
            World::Results(w) => w.brulee_plugin_results().call_reports(store, &date).await,
            _ => unreachable!("a results reader is instantiated as the results world"),
        })?;
        Ok(listed
            .into_iter()
            .map(|r| StoredReport {
                key: r.key,
                scan_id: r.scan_id,
                size: r.size,
            })
            .collect())
    }

    fn fetch(&mut self, key: &str) -> Result<Vec<u8>, PluginError> {
        let key = key.to_string();
        self.call(async move |world, store| match world {
            World::Results(w) => w.brulee_plugin_results().call_fetch(store, &key).await,
            _ => unreachable!("a results reader is instantiated as the results world"),
        })
    }
}

fn to_wit(f: &Finding) -> wit::Finding {
    let v = &f.vulnerability;
    wit::Finding {
        address: f.address.clone(),
        hostnames: f.hostnames.clone(),
        port: f.port,
        protocol: f.protocol.clone(),
        service: f.service.clone(),
        product: f.product.clone(),
        version: f.version.clone(),
        cpe: f.cpe.clone(),
        cve: f.cve.clone(),
        kind: v.kind.clone(),
        cvss: v.cvss,
        cvss_version: v.cvss_version.clone(),
        severity: match v.severity {
            Severity::Unknown => wit::Severity::Unknown,
            Severity::None => wit::Severity::None,
            Severity::Low => wit::Severity::Low,
            Severity::Medium => wit::Severity::Medium,
            Severity::High => wit::Severity::High,
            Severity::Critical => wit::Severity::Critical,
        },
        exploit: v.exploit,
        kev: v.kev,
        epss: v.epss,
        url: v.url.clone(),
        source: v.source.clone(),
        enrichment: serde_json::to_string(&f.enrichment).unwrap_or_else(|_| "{}".into()),
    }
}

/// Everything one plugin instance owns: its WASI context, its grants, its limits.
pub struct PluginState {
    step_name: String,
    config_json: String,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: GrantedHttp,
    memory: MemoryCap,
    stderr: MemoryOutputPipe,
}

impl PluginState {
    /// Say why a call trapped, in the user's terms.
    fn explain(&self, trap: wasmtime::Error, limit: Duration) -> PluginError {
        if self.memory.refused {
            return PluginError::OutOfMemory {
                limit_bytes: self.memory.limit_bytes,
            };
        }
        if trap.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return PluginError::OutOfTime { limit };
        }
        let stderr = String::from_utf8_lossy(&self.stderr.contents()).into_owned();
        let said = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" | ");
        let trap_text = match trap.downcast_ref::<Trap>() {
            Some(t) => t.to_string(),
            None => format!("{trap:#}"),
        };
        if said.is_empty() {
            PluginError::Failed(format!("crashed: {trap_text}"))
        } else {
            PluginError::Failed(format!("crashed: {trap_text}; its stderr: {said}"))
        }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl wit_host::Host for PluginState {
    fn log(&mut self, level: wit_host::Level, message: String) {
        let level = match level {
            wit_host::Level::Debug => return,
            wit_host::Level::Info => "info",
            wit_host::Level::Warn => "warning",
            wit_host::Level::Error => "error",
        };
        super::print_log(&self.step_name, level, &message);
    }

    fn config(&mut self) -> String {
        self.config_json.clone()
    }

    fn env(&mut self, name: String) -> Result<Option<String>, String> {
        self.hooks.grants.env(&name)
    }
}

impl wit::Host for PluginState {}

/// The outgoing-request hook of `wasi:http`: only granted hosts are reached, with the step's
/// time limit as the transport's timeouts.
struct GrantedHttp {
    grants: Grants,
    /// Requests refused during the current call, to explain the plugin's failure.
    refused: Vec<String>,
    limits: Limits,
}

type BoxedFuture<T> = Box<dyn std::future::Future<Output = T> + Send>;
type SendResult = wasmtime_wasi_http::Result<(
    http::Response<wasmtime_wasi_http::WasiBody>,
    BoxedFuture<wasmtime_wasi_http::Result<()>>,
)>;

impl WasiHttpHooks for GrantedHttp {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: BoxedFuture<wasmtime_wasi_http::Result<()>>,
    ) -> BoxedFuture<SendResult> {
        drop(fut);
        let uri = request.uri();
        let host = uri.host().unwrap_or_default().to_string();
        let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
            Some("http") => 80,
            _ => 443,
        });
        if !self.grants.allows_http(&host, port) {
            self.refused.push(self.grants.refusal(&host, port));
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let cap = |t: Option<Duration>| {
            Some(t.map_or(self.limits.call_time, |t| t.min(self.limits.call_time)))
        };
        let options = options.unwrap_or_default();
        let options = wasmtime_wasi_http::RequestOptions {
            connect_timeout: cap(options.connect_timeout),
            first_byte_timeout: cap(options.first_byte_timeout),
            between_bytes_timeout: cap(options.between_bytes_timeout),
        };
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as BoxedFuture<_>,
            ))
        })
    }
}

/// wasmtime's [`StoreLimits`], remembering whether it refused memory so that the error can
/// say "memory limit" instead of the guest's opaque abort.
struct MemoryCap {
    inner: StoreLimits,
    limit_bytes: usize,
    refused: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let result = self.inner.memory_growing(current, desired, maximum);
        if !matches!(result, Ok(true)) {
            self.refused = true;
        }
        result
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_code_is_loaded_only_from_a_private_folder() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        assert!(private_or_absent(&cache), "made private when first written");
        write_cache(&cache.join("x.cwasm"), b"compiled").unwrap();
        assert_eq!(
            std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(private_or_absent(&cache));
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(
            !private_or_absent(&cache),
            "a folder others can write to could hand brulee native code"
        );
    }
}
