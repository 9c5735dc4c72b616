//! brulee: a network vulnerability scanner.
//!
//! The pipeline, in order: targets ([`targets`]) → nmap ([`nmap`], into the typed [`model`]) →
//! findings ([`findings`], from the sources of vulnerabilities such as [`vulners`]) → the report
//! ([`report`]), rendered by the `brulee-reports` templates. The `brulee` binary ([`cli`]) is a
//! thin layer over this library, so tests can call any stage without a process.
//!
//! The `plugins` feature (on by default) brings the plugin runtimes, the pipeline that runs
//! them and the command line. Without it the library keeps every parser, the model, the CVE
//! database and the reports, and builds without wasmtime: the fuzz targets (`fuzz/`) use it
//! that way.

pub mod builtin;
#[cfg(feature = "plugins")]
pub mod cli;
pub mod findings;
pub mod manifest;
pub mod model;
pub mod nmap;
#[cfg(feature = "plugins")]
pub mod pipeline;
pub mod plugin;
pub mod report;
pub mod targets;
pub mod vulndb;
pub mod vulners;
