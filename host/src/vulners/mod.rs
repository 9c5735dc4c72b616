//! nmap's `vulners` NSE script: reading what it found, and deciding whether to run it at all.
//!
//! The script asks the vulners.com API about every CPE nmap detects. Its output is one source of
//! vulnerabilities; the offline CVE database is another that plugs into the same findings.

mod probe;
mod script;

pub use probe::{probe_api, ProbeOutcome, DEFAULT_API_URL};
pub use script::{read_vulners_script, VulnersReading};

/// The id of the script in nmap's XML.
pub const SCRIPT_ID: &str = "vulners";

/// Every script id whose output has the vulners shape: the free script and the commercial
/// `vulners_enterprise` one.
pub fn is_vulners_script(id: &str) -> bool {
    id == SCRIPT_ID || id == "vulners_enterprise"
}
