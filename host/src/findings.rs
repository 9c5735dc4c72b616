//! Findings: which known vulnerability affects which service on which host and port.
//!
//! A finding is one (host, port, vulnerability) triple. The sources of vulnerabilities plug in
//! here: today the output of nmap's `vulners` script; the offline CVE database adds its own
//! through the same [`Vulnerability`] type.

use serde::{Deserialize, Serialize};

use crate::model::{Host, Port, ScanRun};
use crate::vulners::{self, VulnersReading};

/// CVSS v3's qualitative rating of a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// No score was given.
    Unknown,
    /// A score of 0.0.
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Critical ≥ 9.0, High ≥ 7.0, Medium ≥ 4.0, Low > 0.
    pub fn from_cvss(score: Option<f64>) -> Severity {
        match score {
            None => Severity::Unknown,
            Some(s) if s >= 9.0 => Severity::Critical,
            Some(s) if s >= 7.0 => Severity::High,
            Some(s) if s >= 4.0 => Severity::Medium,
            Some(s) if s > 0.0 => Severity::Low,
            Some(_) => Severity::None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::None => "none",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Every severity, most severe first.
    pub const ALL: [Severity; 6] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::None,
        Severity::Unknown,
    ];
}

/// A known vulnerability (or exploit bulletin) as a source reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// "CVE-2023-38408", or a bulletin id such as "PACKETSTORM:173661".
    pub id: String,
    /// The bulletin type: "cve", "packetstorm", "exploitdb", …
    pub kind: String,
    pub cvss: Option<f64>,
    /// "cvss3.1", … when the source says which CVSS version scored it.
    pub cvss_version: Option<String>,
    pub severity: Severity,
    /// A public exploit exists.
    pub exploit: bool,
    /// Listed in CISA's Known Exploited Vulnerabilities catalog, when the source says.
    pub kev: Option<bool>,
    /// EPSS probability of exploitation in the next 30 days, when the source says.
    pub epss: Option<f64>,
    pub url: Option<String>,
    /// Which source reported it: "vulners", "nvd", …
    pub source: String,
}

impl Vulnerability {
    /// The order a person should read vulnerabilities in: most severe, then exploitable, first.
    pub fn priority_cmp(&self, other: &Vulnerability) -> std::cmp::Ordering {
        other
            .severity
            .cmp(&self.severity)
            .then_with(|| {
                other
                    .cvss
                    .unwrap_or(0.0)
                    .total_cmp(&self.cvss.unwrap_or(0.0))
            })
            .then_with(|| other.exploit.cmp(&self.exploit))
            .then_with(|| self.id.cmp(&other.id))
    }
}

/// Whether the vulnerabilities of a service could be looked up, and what came of it. Telling
/// "none known" apart from "could not look up" is the point: Flan Scan's report showed both as
/// an empty list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum Lookup {
    /// Known vulnerabilities were found.
    Vulnerable,
    /// Looked up; nothing known.
    NoneKnown,
    /// Not looked up; the reason says why, and what to do about it.
    NotChecked(String),
}

/// How the `vulners` script took part in a scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VulnersStatus {
    /// The script ran with the API reachable.
    Used,
    /// The API did not answer the pre-scan check, so the script was left out.
    Unreachable,
    /// Left out on request (`--no-vulners`).
    Disabled,
    /// The XML came from elsewhere and its nmap command did not run the script.
    NotRun,
    /// The script was in the nmap command but wrote nothing anywhere: with the API unreachable
    /// it dies silently, so "no output" cannot be read as "no vulnerabilities".
    NoOutput,
}

impl VulnersStatus {
    /// What the status of an XML file brulee did not run itself says.
    pub fn from_xml(scan: &ScanRun) -> VulnersStatus {
        if !scan.commands.iter().any(|c| c.contains(vulners::SCRIPT_ID)) {
            return VulnersStatus::NotRun;
        }
        let any_output = scan
            .hosts
            .iter()
            .flat_map(|h| &h.ports)
            .any(|p| p.scripts.iter().any(|s| vulners::is_vulners_script(&s.id)));
        if any_output {
            VulnersStatus::Used
        } else {
            VulnersStatus::NoOutput
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            VulnersStatus::Used => "used",
            VulnersStatus::Unreachable => "unreachable",
            VulnersStatus::Disabled => "disabled (--no-vulners)",
            VulnersStatus::NotRun => "not run by this nmap command",
            VulnersStatus::NoOutput => "ran but wrote no output (API probably unreachable)",
        }
    }
}

/// One vulnerability on one host and port: the flat view machines and plugins consume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub address: String,
    pub hostnames: Vec<String>,
    pub port: u16,
    pub protocol: String,
    /// nmap's service name ("ssh").
    pub service: String,
    pub product: Option<String>,
    pub version: Option<String>,
    /// The CPE the vulnerability was reported for.
    pub cpe: Option<String>,
    /// The vulnerability's id (a CVE id, or a bulletin id for exploit bulletins).
    pub cve: String,
    #[serde(flatten)]
    pub vulnerability: Vulnerability,
    /// What enricher steps added, by step name (schema 1.1).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub enrichment: serde_json::Map<String, serde_json::Value>,
}

/// What was learned about one open port.
#[derive(Debug, Clone)]
pub struct PortFindings<'a> {
    pub host: &'a Host,
    pub port: &'a Port,
    pub lookup: Lookup,
    /// The port's vulnerabilities, each once, most severe first, with the CPE it was found for.
    pub vulnerabilities: Vec<(Option<String>, Vulnerability)>,
}

/// Look at every open port of every host that is up, and say what is known about it.
pub fn assess<'a>(scan: &'a ScanRun, vulners: &VulnersStatus) -> Vec<PortFindings<'a>> {
    let mut out = Vec::new();
    for host in scan.hosts.iter().filter(|h| h.is_up()) {
        for port in host.ports.iter().filter(|p| p.is_open()) {
            out.push(assess_port(host, port, vulners));
        }
    }
    out
}

fn assess_port<'a>(host: &'a Host, port: &'a Port, vulners: &VulnersStatus) -> PortFindings<'a> {
    let mut vulnerabilities: Vec<(Option<String>, Vulnerability)> = Vec::new();
    let has_cpe = port.service.as_ref().is_some_and(|s| !s.cpes.is_empty());
    // Read every vulners element of the port, not only the first (Flan Scan read only one).
    let readings: Vec<VulnersReading> = port
        .scripts
        .iter()
        .filter(|s| vulners::is_vulners_script(&s.id))
        .map(vulners::read_vulners_script)
        .collect();
    let mut failure = None;
    for reading in &readings {
        match reading {
            VulnersReading::Found(found) => {
                for (cpe, vuln) in found {
                    // The same bulletin is often listed under several CPEs of one port.
                    match vulnerabilities.iter_mut().find(|(_, v)| v.id == vuln.id) {
                        Some((_, known)) => {
                            if vuln.cvss > known.cvss {
                                *known = vuln.clone();
                            }
                        }
                        None => vulnerabilities
                            .push((Some(cpe.clone()).filter(|c| !c.is_empty()), vuln.clone())),
                    }
                }
            }
            VulnersReading::Failed(why) => failure = Some(why.clone()),
            VulnersReading::Nothing => {}
        }
    }
    vulnerabilities.sort_by(|a, b| a.1.priority_cmp(&b.1));

    let lookup = if !vulnerabilities.is_empty() {
        Lookup::Vulnerable
    } else if let Some(why) = failure {
        Lookup::NotChecked(format!("the vulners script failed: {why}"))
    } else if !has_cpe {
        Lookup::NotChecked(
            "nmap identified no product version (no CPE), so nothing could be looked up".into(),
        )
    } else {
        match vulners {
            VulnersStatus::Used if !readings.is_empty() => Lookup::NoneKnown,
            // The 1.x script writes nothing when the API knows nothing about a CPE.
            VulnersStatus::Used => Lookup::NoneKnown,
            VulnersStatus::Unreachable => Lookup::NotChecked(
                "vulners: unreachable (its API did not answer the pre-scan check), so nothing was looked up".into(),
            ),
            VulnersStatus::Disabled => Lookup::NotChecked("vulners was disabled (--no-vulners)".into()),
            VulnersStatus::NotRun => Lookup::NotChecked("the nmap run did not include the vulners script".into()),
            VulnersStatus::NoOutput => Lookup::NotChecked(
                "the vulners script wrote no output anywhere in this scan; its API was probably unreachable".into(),
            ),
        }
    };
    PortFindings {
        host,
        port,
        lookup,
        vulnerabilities,
    }
}

impl PortFindings<'_> {
    /// The flat findings of this port.
    pub fn findings(&self) -> impl Iterator<Item = Finding> + '_ {
        let service = self.port.service.clone().unwrap_or_default();
        let address = self.host.primary_address().unwrap_or_default().to_string();
        self.vulnerabilities.iter().map(move |(cpe, vuln)| Finding {
            address: address.clone(),
            hostnames: self.host.hostnames.clone(),
            port: self.port.number,
            protocol: self.port.protocol.clone(),
            service: service.name.clone(),
            product: service.product.clone(),
            version: service.version.clone(),
            cpe: cpe.clone().or_else(|| service.cpes.first().cloned()),
            cve: vuln.id.clone(),
            vulnerability: vuln.clone(),
            enrichment: serde_json::Map::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_buckets_follow_cvss_v3() {
        assert_eq!(Severity::from_cvss(Some(9.0)), Severity::Critical);
        assert_eq!(Severity::from_cvss(Some(8.99)), Severity::High);
        assert_eq!(Severity::from_cvss(Some(7.0)), Severity::High);
        assert_eq!(Severity::from_cvss(Some(4.0)), Severity::Medium);
        assert_eq!(Severity::from_cvss(Some(3.9)), Severity::Low);
        assert_eq!(Severity::from_cvss(Some(0.1)), Severity::Low);
        assert_eq!(Severity::from_cvss(Some(0.0)), Severity::None);
        assert_eq!(Severity::from_cvss(None), Severity::Unknown);
    }
}
