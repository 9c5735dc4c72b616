//! The typed scan model: what nmap found, independent of nmap's XML.
//!
//! The parser in [`crate::nmap::xml`] fills it; findings and reports are built from it. It keeps
//! everything a report or a plugin may want (script output included) and nothing about how the
//! XML was laid out.

use serde::{Deserialize, Serialize};

/// One nmap run, or several merged (an IPv4 and an IPv6 run, or many files given to `report`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ScanRun {
    /// nmap's version string, e.g. "7.93".
    pub nmap_version: Option<String>,
    /// The command line of every nmap run that went into this scan.
    pub commands: Vec<String>,
    /// Unix time the first run started.
    pub start: Option<i64>,
    /// Unix time the last run finished (absent when a run was cut short).
    pub end: Option<i64>,
    /// What was scanned, as nmap's `<scaninfo>` says: one entry per scan type and protocol.
    pub scan_info: Vec<ScanInfo>,
    pub hosts: Vec<Host>,
    /// False when a run ended before nmap wrote its closing `</nmaprun>` (killed mid-scan).
    pub complete: bool,
    /// Things a person should know about how the data was read (truncated files, skipped ports).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ScanInfo {
    /// "syn", "connect", "udp", …
    pub scan_type: String,
    pub protocol: String,
    pub services: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Host {
    /// "up", "down", "unknown" or "skipped".
    pub status: String,
    pub status_reason: Option<String>,
    pub addresses: Vec<Address>,
    pub hostnames: Vec<String>,
    pub ports: Vec<Port>,
    /// nmap's OS guesses, best first (only with `-O`).
    pub os_matches: Vec<OsMatch>,
    pub scripts: Vec<Script>,
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl Host {
    /// The address a person names this host by: IPv4 or IPv6 first, MAC only as a last resort.
    pub fn primary_address(&self) -> Option<&str> {
        self.addresses
            .iter()
            .find(|a| a.kind != AddressKind::Mac)
            .or_else(|| self.addresses.first())
            .map(|a| a.addr.as_str())
    }

    pub fn is_up(&self) -> bool {
        self.status == "up"
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Address {
    pub addr: String,
    pub kind: AddressKind,
    /// The NIC vendor nmap derives from a MAC address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AddressKind {
    Ipv4,
    Ipv6,
    Mac,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OsMatch {
    pub name: String,
    pub accuracy: Option<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Port {
    pub protocol: String,
    pub number: u16,
    /// "open", "closed", "filtered", "open|filtered", …
    pub state: String,
    pub reason: Option<String>,
    pub service: Option<Service>,
    pub scripts: Vec<Script>,
}

impl Port {
    pub fn is_open(&self) -> bool {
        self.state == "open"
    }

    pub fn script(&self, id: &str) -> Option<&Script> {
        self.scripts.iter().find(|s| s.id == id)
    }
}

/// What nmap's service detection says runs on a port.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Service {
    /// nmap's service name: "ssh", "http", …
    pub name: String,
    pub product: Option<String>,
    /// May carry a distribution's patch level ("9.2p1 Debian 2+deb12u3") that the CPE drops.
    pub version: Option<String>,
    pub extra_info: Option<String>,
    pub os_type: Option<String>,
    /// "ssl" when nmap talked to the service through TLS.
    pub tunnel: Option<String>,
    /// "probed" (nmap talked to it) or "table" (a guess from the port number).
    pub method: Option<String>,
    /// Confidence 0–10.
    pub confidence: Option<u8>,
    /// CPE 2.2 URIs, e.g. `cpe:/a:openbsd:openssh:9.2p1`.
    pub cpes: Vec<String>,
}

/// An NSE script's result: its text output and its structured tables.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Script {
    pub id: String,
    pub output: String,
    pub content: Vec<ScriptNode>,
}

/// A node of a script's structured output (nmap's `<table>` and `<elem>`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "node", rename_all = "lowercase")]
pub enum ScriptNode {
    Elem {
        key: Option<String>,
        value: String,
    },
    Table {
        key: Option<String>,
        children: Vec<ScriptNode>,
    },
}

impl ScriptNode {
    pub fn key(&self) -> Option<&str> {
        match self {
            ScriptNode::Elem { key, .. } | ScriptNode::Table { key, .. } => key.as_deref(),
        }
    }

    /// The value of the element named `key` directly inside this table.
    pub fn elem(&self, key: &str) -> Option<&str> {
        self.children().iter().find_map(|child| match child {
            ScriptNode::Elem {
                key: Some(k),
                value,
            } if k == key => Some(value.as_str()),
            _ => None,
        })
    }

    pub fn children(&self) -> &[ScriptNode] {
        match self {
            ScriptNode::Table { children, .. } => children,
            ScriptNode::Elem { .. } => &[],
        }
    }
}

impl ScanRun {
    /// Combine runs into one scan: hosts of all, the earliest start, the latest end.
    ///
    /// Used for the separate IPv4 and IPv6 runs of one scan and for `brulee report` over many
    /// files. A host that appears in several runs is kept once per run: each run saw it
    /// through different ports or address families.
    pub fn merge(runs: impl IntoIterator<Item = ScanRun>) -> ScanRun {
        let mut merged = ScanRun {
            complete: true,
            ..ScanRun::default()
        };
        for run in runs {
            if merged.nmap_version.is_none() {
                merged.nmap_version = run.nmap_version;
            }
            merged.commands.extend(run.commands);
            merged.start = min_some(merged.start, run.start);
            merged.end = match (merged.end, run.end) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            for info in run.scan_info {
                if !merged.scan_info.contains(&info) {
                    merged.scan_info.push(info);
                }
            }
            merged.hosts.extend(run.hosts);
            merged.complete &= run.complete;
            merged.warnings.extend(run.warnings);
        }
        merged
    }
}

fn min_some(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
