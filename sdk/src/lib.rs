//! The SDK for brulee's WASM plugins: implement one trait, call one macro, build for
//! `wasm32-wasip2`.
//!
//! ```ignore
//! use brulee_sdk::{Filter, Finding, Verdict};
//!
//! struct LowSeverity;
//!
//! impl Filter for LowSeverity {
//!     fn filter(finding: Finding) -> Result<Verdict, String> {
//!         Ok(match finding.cvss {
//!             Some(score) if score < 4.0 => Verdict::Drop(format!("CVSS {score} < 4.0")),
//!             _ => Verdict::Keep,
//!         })
//!     }
//! }
//!
//! brulee_sdk::export!(LowSeverity as filter);
//! ```
//!
//! The plugin's `Cargo.toml` enables the feature of its kind (`source`, `enricher`, `filter`,
//! `sink`, or `storage`: a sink that also implements [`Results`]) on this crate and builds a
//! `cdylib`. The contract itself is `wit/since_v0.1.1/plugin.wit`; the bindings generated from
//! it stay inside this crate.

#[cfg(any(
    all(feature = "source", feature = "enricher"),
    all(feature = "source", feature = "filter"),
    all(feature = "source", feature = "sink"),
    all(feature = "source", feature = "storage"),
    all(feature = "enricher", feature = "filter"),
    all(feature = "enricher", feature = "sink"),
    all(feature = "enricher", feature = "storage"),
    all(feature = "filter", feature = "sink"),
    all(feature = "filter", feature = "storage"),
    all(feature = "sink", feature = "storage"),
))]
compile_error!(
    "enable exactly one of the features source, enricher, filter, sink, storage: a plugin is one \
     kind of step (build plugins one by one, as `cargo xtask plugins` does)"
);

// The generated bindings name this crate by its absolute path, also from inside it.
extern crate self as brulee_sdk;

#[cfg(target_arch = "wasm32")]
pub mod http;

/// The generated bindings of the one world this plugin implements. Not for plugin authors.
#[doc(hidden)]
pub mod bindings {
    #[allow(unused_macros)] // without a world feature (native builds of the SDK itself)
    macro_rules! world {
        ($name:literal) => {
            wit_bindgen::generate!({
                path: "wit/since_v0.1.1",
                world: $name,
                pub_export_macro: true,
                export_macro_name: "__export_world",
                default_bindings_module: "::brulee_sdk::bindings",
                runtime_path: "::brulee_sdk::__private::wit_bindgen::rt",
            });
        };
    }
    #[cfg(feature = "source")]
    world!("source");
    #[cfg(feature = "enricher")]
    world!("enricher");
    #[cfg(feature = "filter")]
    world!("filter");
    #[cfg(feature = "sink")]
    world!("sink");
    #[cfg(feature = "storage")]
    world!("storage");
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;

    /// Connects a plugin's trait impl to the generated `Guest` trait.
    pub struct Glue<T>(core::marker::PhantomData<T>);
}

#[cfg(any(
    feature = "source",
    feature = "enricher",
    feature = "filter",
    feature = "sink",
    feature = "storage"
))]
mod host {
    use crate::bindings::brulee::plugin::host;

    pub use host::Level;

    /// Write a line to brulee's log, prefixed by the step's name.
    pub fn log(level: Level, message: &str) {
        host::log(level, message);
    }

    /// The step's `config` table from the manifest, deserialised into `T`.
    pub fn config<T: serde::de::DeserializeOwned>() -> Result<T, String> {
        serde_json::from_str(&host::config()).map_err(|e| format!("bad config: {e}"))
    }

    /// An environment variable the manifest grants this step (`env = ["NAME"]`).
    ///
    /// `Ok(None)` when granted but unset; `Err` when the manifest does not grant it.
    pub fn env(name: &str) -> Result<Option<String>, String> {
        host::env(name)
    }
}
#[cfg(any(
    feature = "source",
    feature = "enricher",
    feature = "filter",
    feature = "sink",
    feature = "storage"
))]
pub use host::{config, env, log, Level};

#[cfg(any(feature = "enricher", feature = "filter"))]
pub use bindings::brulee::plugin::types::{Finding, Severity};

/// Fields an enricher adds to a finding; they land under `enrichment.<step-name>`.
pub type Fields = serde_json::Map<String, serde_json::Value>;

/// A source step: yields targets to scan.
#[cfg(feature = "source")]
pub trait Source {
    fn targets() -> Result<Vec<String>, String>;
}

#[cfg(feature = "source")]
impl<T: Source> bindings::Guest for __private::Glue<T> {
    fn targets() -> Result<Vec<String>, String> {
        T::targets()
    }
}

/// An enricher step: adds fields to each finding.
#[cfg(feature = "enricher")]
pub trait Enricher {
    fn enrich(finding: Finding) -> Result<Fields, String>;
}

#[cfg(feature = "enricher")]
impl<T: Enricher> bindings::Guest for __private::Glue<T> {
    fn enrich(finding: Finding) -> Result<String, String> {
        T::enrich(finding).map(|fields| serde_json::Value::Object(fields).to_string())
    }
}

#[cfg(feature = "filter")]
pub use bindings::brulee::plugin::types::Verdict;

/// A filter step: keeps or drops each finding.
#[cfg(feature = "filter")]
pub trait Filter {
    fn filter(finding: Finding) -> Result<Verdict, String>;
}

#[cfg(feature = "filter")]
impl<T: Filter> bindings::Guest for __private::Glue<T> {
    fn filter(finding: Finding) -> Result<Verdict, String> {
        T::filter(finding)
    }
}

#[cfg(any(feature = "sink", feature = "storage"))]
pub use bindings::brulee::plugin::types::Artifact;

/// A sink step: delivers the finished report.
#[cfg(any(feature = "sink", feature = "storage"))]
pub trait Sink {
    /// `report` is the JSON report; `artifacts` the rendered files and the raw nmap XML.
    fn deliver(report: String, artifacts: Vec<Artifact>) -> Result<(), String>;
}

#[cfg(any(feature = "sink", feature = "storage"))]
impl<T: Sink> bindings::Guest for __private::Glue<T> {
    fn deliver(report: String, artifacts: Vec<Artifact>) -> Result<(), String> {
        T::deliver(report, artifacts)
    }
}

#[cfg(feature = "storage")]
pub use bindings::exports::brulee::plugin::results::StoredReport;

/// A storage step: a [`Sink`] that can also read back the reports it stored, under
/// `{prefix}/{date}/{scan_id}/report.json`, for `brulee merge` (feature `storage`).
#[cfg(feature = "storage")]
pub trait Results {
    /// Where the step stores, as the store's own tools name it, ending in `/`
    /// (`s3://scans/nightly/`).
    fn location() -> Result<String, String>;
    /// The date folders under the prefix.
    fn dates() -> Result<Vec<String>, String>;
    /// The `report.json` objects of one date folder.
    fn reports(date: String) -> Result<Vec<StoredReport>, String>;
    /// The bytes of one object that [`Results::reports`] listed.
    fn fetch(key: String) -> Result<Vec<u8>, String>;
}

#[cfg(feature = "storage")]
impl<T: Results> bindings::exports::brulee::plugin::results::Guest for __private::Glue<T> {
    fn location() -> Result<String, String> {
        T::location()
    }
    fn dates() -> Result<Vec<String>, String> {
        T::dates()
    }
    fn reports(date: String) -> Result<Vec<StoredReport>, String> {
        T::reports(date)
    }
    fn fetch(key: String) -> Result<Vec<u8>, String> {
        T::fetch(key)
    }
}

/// Export a type as the plugin: `brulee_sdk::export!(MyFilter as filter);`
///
/// The kind after `as` must match the SDK feature the plugin enables; it is there so that the
/// plugin's source says what it is.
#[macro_export]
macro_rules! export {
    ($plugin:ty as $kind:ident) => {
        #[allow(dead_code)]
        type __BruleePlugin = $crate::__private::Glue<$plugin>;
        $crate::__check_kind!($kind);
        $crate::bindings::__export_world!(__BruleePlugin with_types_in $crate::bindings);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __check_kind {
    (source) => {};
    (enricher) => {};
    (filter) => {};
    (sink) => {};
    (storage) => {};
    ($other:ident) => {
        compile_error!("the kind is one of: source, enricher, filter, sink, storage");
    };
}
