//! Findings: which known vulnerability affects which service on which host and port.
//!
//! A finding is one (host, port, vulnerability) triple. The sources of vulnerabilities plug in
//! here: today the output of nmap's `vulners` script; the offline CVE database adds its own
//! through the same [`Vulnerability`] type.

use serde::{Deserialize, Serialize};

use crate::model::{Host, Port, ScanRun};
use crate::vulndb::{self, Matcher, StoreError, Verdict};
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
    /// The EPSS score's percentile among all scored CVEs (0–1), from the CVE database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss_percentile: Option<f64>,
    pub url: Option<String>,
    /// Which source reported it: "vulners", "nvd", or "nvd+vulners" when both did.
    pub source: String,
    /// Every source that reported it.
    #[serde(default)]
    pub sources: Vec<String>,
    /// NVD's English description.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub published: Option<String>,
    #[serde(default)]
    pub modified: Option<String>,
    /// The CVSS vector of the score.
    #[serde(default)]
    pub cvss_vector: Option<String>,
    /// How sure the match is: "exact" (the criterion names this version), "range" (the version
    /// lies in the criterion's range), "platform-unconfirmed" (the configuration also needs a
    /// platform the scan could not see). Absent for vulners, which does not say.
    #[serde(default)]
    pub confidence: Option<String>,
    /// The matching rule that fired.
    #[serde(default)]
    pub rule: Option<String>,
    /// CISA's due date for federal agencies, when the CVE is in KEV.
    #[serde(default)]
    pub kev_due_date: Option<String>,
    #[serde(default)]
    pub references: Vec<String>,
    /// The highest priority (0–100) any enricher gave it (schema 1.2); the report reads
    /// highest priority first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<f64>,
    /// What pipeline steps said about it for the reader, as "step: note" (schema 1.2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Vulnerability {
    /// The order a person should read vulnerabilities in: the highest priority an enricher
    /// gave first, then confirmed before unconfirmed, then most severe, known-exploited and
    /// exploitable first.
    pub fn priority_cmp(&self, other: &Vulnerability) -> std::cmp::Ordering {
        other
            .priority
            .unwrap_or(-1.0)
            .total_cmp(&self.priority.unwrap_or(-1.0))
            .then_with(|| self.unconfirmed().cmp(&other.unconfirmed()))
            .then_with(|| other.severity.cmp(&self.severity))
            .then_with(|| other.kev.unwrap_or(false).cmp(&self.kev.unwrap_or(false)))
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

impl Vulnerability {
    /// Reported only because a platform it needs could not be ruled out.
    pub fn unconfirmed(&self) -> bool {
        self.confidence.as_deref() == Some("platform-unconfirmed")
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
        let any_output = scan.hosts.iter().any(has_vulners_output);
        VulnersStatus::from_commands(&scan.commands, any_output)
    }

    /// The same from the runs' nmap commands and whether any port had vulners output: for a
    /// report built host by host, without the hosts at hand.
    pub fn from_commands(commands: &[String], any_output: bool) -> VulnersStatus {
        if !commands.iter().any(|c| c.contains(vulners::SCRIPT_ID)) {
            VulnersStatus::NotRun
        } else if any_output {
            VulnersStatus::Used
        } else {
            VulnersStatus::NoOutput
        }
    }

    /// What is known of a port with a CPE when no source found anything and the database did
    /// not look it up: it depends on how the vulners script took part.
    pub fn lookup(&self) -> Lookup {
        match self {
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

/// Whether any port of the host has output of the vulners script.
pub fn has_vulners_output(host: &Host) -> bool {
    host.ports
        .iter()
        .any(|p| p.scripts.iter().any(|s| vulners::is_vulners_script(&s.id)))
}

/// What was learned about one open port.
#[derive(Debug, Clone)]
pub struct PortFindings<'a> {
    pub host: &'a Host,
    pub port: &'a Port,
    pub lookup: Lookup,
    /// The lookup is [`VulnersStatus::lookup`]: nothing else said anything about the port.
    pub vulners_dependent: bool,
    /// The port's vulnerabilities, each once, most severe first, with the CPE it was found for.
    pub vulnerabilities: Vec<(Option<String>, Vulnerability)>,
}

/// The sources of vulnerabilities a scan is assessed with.
pub struct Sources<'db> {
    pub vulners: VulnersStatus,
    /// The offline CVE database, when it holds data.
    pub db: Option<Matcher<'db>>,
}

/// Look at every open port of every host that is up, and say what is known about it.
pub fn assess<'a>(
    scan: &'a ScanRun,
    sources: &mut Sources<'_>,
) -> Result<Vec<PortFindings<'a>>, StoreError> {
    let mut out = Vec::new();
    for host in &scan.hosts {
        out.extend(assess_host(host, sources)?);
    }
    Ok(out)
}

/// The open ports of one host, if it is up, and what is known about each.
pub fn assess_host<'a>(
    host: &'a Host,
    sources: &mut Sources<'_>,
) -> Result<Vec<PortFindings<'a>>, StoreError> {
    if !host.is_up() {
        return Ok(Vec::new());
    }
    // Everything nmap saw on the host can confirm a configuration's platform.
    let host_cpes: Vec<String> = host
        .ports
        .iter()
        .filter_map(|p| p.service.as_ref())
        .flat_map(|s| s.cpes.iter().cloned())
        .collect();
    host.ports
        .iter()
        .filter(|p| p.is_open())
        .map(|port| assess_port(host, port, &host_cpes, sources))
        .collect()
}

fn assess_port<'a>(
    host: &'a Host,
    port: &'a Port,
    host_cpes: &[String],
    sources: &mut Sources<'_>,
) -> Result<PortFindings<'a>, StoreError> {
    let vulners = &sources.vulners;
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
    // The offline database: a second source, merged by CVE id.
    let mut db_verdict = None;
    if let Some(matcher) = sources.db.as_mut() {
        let service_cpes = port
            .service
            .as_ref()
            .map(|s| s.cpes.as_slice())
            .unwrap_or_default();
        let verdict = matcher.match_service(service_cpes, host_cpes)?;
        if let Verdict::Matches(matches) = &verdict {
            for m in matches {
                let from_db = db_vulnerability(m);
                match vulnerabilities.iter_mut().find(|(_, v)| v.id == from_db.id) {
                    Some((_, known)) => merge_sources(known, from_db),
                    None => {
                        let cpe = service_cpes
                            .iter()
                            .find(|c| c.starts_with("cpe:/a:"))
                            .cloned();
                        vulnerabilities.push((cpe, from_db))
                    }
                }
            }
        }
        // KEV marks for what vulners found, too, and EPSS for every CVE: the database's
        // dated score (with its percentile) over whatever vulners said.
        for (_, vuln) in vulnerabilities.iter_mut().filter(|(_, v)| v.kind == "cve") {
            if vuln.kev.is_none() {
                let kev = matcher.kev(&vuln.id)?;
                vuln.kev = Some(kev.is_some());
                vuln.kev_due_date = kev.and_then(|k| k.due_date);
            }
            if let Some(score) = matcher.epss(&vuln.id)? {
                vuln.epss = Some(score.score);
                vuln.epss_percentile = score.percentile;
            }
        }
        db_verdict = Some(verdict);
    }
    vulnerabilities.sort_by(|a, b| a.1.priority_cmp(&b.1));

    let db_checked = matches!(db_verdict, Some(Verdict::Matches(_)));
    let mut vulners_dependent = false;
    let lookup = if !vulnerabilities.is_empty() {
        Lookup::Vulnerable
    } else if db_checked {
        Lookup::NoneKnown
    } else if let Some(Verdict::VersionUnknown { product }) = &db_verdict {
        Lookup::NotChecked(format!(
            "version unknown: nmap identified {product} but not its version, so its CVEs cannot be matched"
        ))
    } else if let Some(why) = failure {
        Lookup::NotChecked(format!("the vulners script failed: {why}"))
    } else if !has_cpe {
        Lookup::NotChecked(
            "nmap identified no product version (no CPE), so nothing could be looked up".into(),
        )
    } else {
        vulners_dependent = true;
        vulners.lookup()
    };
    Ok(PortFindings {
        host,
        port,
        lookup,
        vulners_dependent,
        vulnerabilities,
    })
}

/// A database match as a vulnerability of the report.
fn db_vulnerability(m: &vulndb::DbMatch) -> Vulnerability {
    let record = &m.record;
    let cvss = record.cvss.as_ref().map(|c| c.score);
    Vulnerability {
        id: record.id.clone(),
        kind: "cve".into(),
        cvss,
        cvss_version: record.cvss.as_ref().map(|c| format!("cvss{}", c.version)),
        severity: Severity::from_cvss(cvss),
        exploit: false,
        kev: Some(m.kev.is_some()),
        epss: None,
        epss_percentile: None,
        url: Some(format!("https://nvd.nist.gov/vuln/detail/{}", record.id)),
        source: "nvd".into(),
        sources: vec!["nvd".into()],
        description: record.description.clone(),
        published: record.published.clone(),
        modified: record.last_modified.clone(),
        cvss_vector: record.cvss.as_ref().and_then(|c| c.vector.clone()),
        confidence: Some(m.confidence.as_str().into()),
        rule: Some(m.rule.clone()),
        kev_due_date: m.kev.as_ref().and_then(|k| k.due_date.clone()),
        references: record.references.clone(),
        priority: None,
        notes: Vec::new(),
    }
}

/// One vulnerability found by two sources: NVD's record is authoritative for what a CVE is
/// (description, score), vulners adds what NVD does not say (exploits, EPSS).
fn merge_sources(known: &mut Vulnerability, from_db: Vulnerability) {
    let exploit = known.exploit;
    let epss = known.epss;
    let mut sources: Vec<String> = known
        .sources
        .iter()
        .chain(&from_db.sources)
        .cloned()
        .collect();
    sources.sort();
    sources.dedup();
    *known = Vulnerability {
        exploit,
        epss: epss.or(from_db.epss),
        source: sources.join("+"),
        sources,
        ..from_db
    };
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
