//! brulee: a network vulnerability scanner.
//!
//! The pipeline, in order: targets ([`targets`]) → nmap ([`nmap`], into the typed [`model`]) →
//! findings ([`findings`], from the sources of vulnerabilities such as [`vulners`]) → the report
//! ([`report`]), rendered by the `brulee-reports` templates. The `brulee` binary ([`cli`]) is a
//! thin layer over this library, so tests can call any stage without a process.

pub mod builtin;
pub mod cli;
pub mod findings;
pub mod manifest;
pub mod model;
pub mod nmap;
pub mod pipeline;
pub mod plugin;
pub mod report;
pub mod targets;
pub mod vulndb;
pub mod vulners;
