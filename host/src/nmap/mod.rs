//! Running nmap and reading what it writes.
//!
//! `command` decides the arguments, `run` starts the process and streams its XML through
//! `xml` into the model while `progress` shows how far it got.

pub mod command;
pub mod progress;
pub mod run;
pub mod xml;

pub use command::{NmapArgError, ScanOptions};
pub use run::{locate_nmap, run_nmap, NmapError};
