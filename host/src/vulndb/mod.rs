//! The offline CVE database: NVD feeds, CISA's KEV catalog, FIRST's EPSS scores and Debian's
//! and Ubuntu's advisories in an embedded SQLite file, and the matching of nmap's CPEs
//! against NVD's configurations.
//!
//! `nvd`, `epss` and `distro` read the data files as streams, `store` keeps them, `import`
//! ties the two together (recognising each format by content), `cpe`, `version` and
//! `debversion` parse what is compared, and `matcher` decides which CVEs apply.

pub mod cpe;
pub mod debversion;
pub mod distro;
pub mod epss;
pub mod import;
pub mod matcher;
pub mod nvd;
pub mod store;
pub mod version;

use std::path::PathBuf;

pub use matcher::{Confidence, DbMatch, Matcher, Verdict};
pub use store::{AdvisoryTable, Status, Store, StoreError, Summary};

/// Where the database lives: `--db`, else `BRULEE_DB`, else the user's data directory
/// (`$XDG_DATA_HOME/brulee/cve.sqlite`, by default `~/.local/share/brulee/cve.sqlite`).
pub fn default_path() -> PathBuf {
    if let Some(path) = std::env::var_os("BRULEE_DB").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("brulee").join("cve.sqlite")
}
