//! The report model: what a scan found, grouped the way a person acts on it.
//!
//! Like Flan Scan's report, the centre is the vulnerable *service* (product + version) → its
//! vulnerabilities, most severe first → every IP:port that runs it. The JSON form of
//! [`Report`] is brulee's public, versioned schema (`docs/report.schema.json`): plugins and
//! other tools consume it, and every rendered format is made from it.

mod builder;
mod diff;
mod merge;
pub mod pdf;
mod render;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::findings::{Finding, Lookup, Severity, Vulnerability, VulnersStatus};
use crate::model::{Host, ScanRun};
use crate::vulndb::{Matcher, StoreError};

pub use brulee_reports::UserTemplate;
pub use builder::{CompactReport, ReportBuilder};
pub use diff::{Diff, EndpointDiff};
pub use merge::{latest_shard_set, MergeError, MergeInput, ShardSet};
pub use render::{
    render, render_user_template, write_json, write_reports, RenderError, WriteError, FORMATS_HELP,
};

/// Bumped on any change a consumer could notice: minor for additions, major for the rest.
pub const SCHEMA_VERSION: &str = "1.2";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub schema_version: String,
    pub generator: Generator,
    pub scan: ScanMeta,
    pub summary: Summary,
    /// Every service found on an open port, vulnerable ones first (highest risk first).
    pub services: Vec<ServiceGroup>,
    /// One object per (host, port, vulnerability).
    pub findings: Vec<Finding>,
    /// Findings that a filter dropped, each with the reason (filters come with plugins).
    pub suppressed: Vec<Suppressed>,
    /// Every host nmap reported, up or down.
    pub hosts: Vec<HostSummary>,
    /// What changed since a baseline report (`--baseline OLD.json`), when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<Diff>,
    /// What each step of the manifest's pipeline did (schema 1.1; absent without a manifest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepRecord>,
}

impl AsRef<Report> for Report {
    fn as_ref(&self) -> &Report {
        self
    }
}

/// What one pipeline step did, or why it failed (schema 1.1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepRecord {
    pub name: String,
    /// "source", "enrich", "filter" or "sink".
    pub stage: String,
    /// Its code: "builtin file", "lua filters/x.lua", "wasm …", "plugin webhook (…)".
    pub code: String,
    /// "ok", or "failed" (with on_error = skip the run went on without the step's effects).
    pub status: String,
    pub on_error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Targets yielded, findings enriched or dropped, artifacts delivered.
    pub count: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Generator {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScanMeta {
    /// RFC 3339 times, UTC.
    pub started: Option<String>,
    pub finished: Option<String>,
    pub duration_seconds: Option<i64>,
    pub nmap_version: Option<String>,
    /// The nmap command line of every run that went into the report.
    pub nmap_commands: Vec<String>,
    /// The targets as the user gave them (empty for reports made from files).
    pub targets: Vec<String>,
    /// The nmap XML files the report was made from.
    pub xml_files: Vec<String>,
    pub vulners: VulnersStatus,
    /// The same, said for a person: "unreachable", "disabled (--no-vulners)", …
    pub vulners_note: String,
    /// The sources of vulnerabilities this report used: "nvd" (the offline database),
    /// "vulners" (nmap's script). Empty means nothing was looked up.
    pub vuln_sources: Vec<String>,
    /// The offline CVE database and how fresh it is, when the report used it.
    pub database: Option<DatabaseInfo>,
    /// False when nmap was stopped before it finished: the report is partial.
    pub complete: bool,
    pub warnings: Vec<String>,
    /// Which part of a sharded run (`brulee scan --shard I/N`) this report is (schema 1.2;
    /// absent for whole runs and for merged reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

/// Part `index` (from 0) of a run split into `count` shards.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatabaseInfo {
    pub path: String,
    pub cves: u64,
    pub kev_entries: u64,
    /// The newest `lastModified` of its records: how fresh the data is.
    pub newest_modified: Option<String>,
    pub last_import: Option<String>,
    /// The score date of its EPSS data, when it has some (schema 1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss_date: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub hosts_scanned: usize,
    pub hosts_up: usize,
    pub open_ports: usize,
    pub services: usize,
    pub vulnerable_services: usize,
    /// Services whose vulnerabilities could not be looked up.
    pub unchecked_services: usize,
    pub findings: usize,
    /// Distinct vulnerability ids among the findings.
    pub vulnerabilities: usize,
    /// Findings, counted by severity ("critical", "high", …).
    pub by_severity: BTreeMap<String, usize>,
    pub exploitable_findings: usize,
    /// Findings of CVEs in CISA's Known Exploited Vulnerabilities catalog.
    pub kev_findings: usize,
}

/// One piece of software (product + version) and everywhere it runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceGroup {
    /// How a person names it: "OpenSSH 9.2p1 Debian 2+deb12u3".
    pub title: String,
    /// nmap's service name(s), e.g. "ssh".
    pub service: String,
    pub product: Option<String>,
    pub version: Option<String>,
    pub cpes: Vec<String>,
    #[serde(flatten)]
    pub lookup: Lookup,
    pub max_severity: Option<Severity>,
    pub max_cvss: Option<f64>,
    pub vulnerabilities: Vec<Vulnerability>,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    pub address: String,
    pub hostnames: Vec<String>,
    pub port: u16,
    pub protocol: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Suppressed {
    #[serde(flatten)]
    pub finding: Finding,
    pub reason: String,
    /// The pipeline step that dropped it.
    pub step: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HostSummary {
    pub address: String,
    pub addresses: Vec<String>,
    pub hostnames: Vec<String>,
    pub status: String,
    pub os: Option<String>,
    pub ports: Vec<PortSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PortSummary {
    pub port: u16,
    pub protocol: String,
    pub state: String,
    pub service: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
}

/// Where a report's scan came from, beyond what the XML says.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub targets: Vec<String>,
    pub xml_files: Vec<String>,
    pub vulners: VulnersStatus,
    /// The offline database the matcher reads, if one is used.
    pub database: Option<DatabaseInfo>,
}

impl Report {
    /// Build the report of a (possibly merged) scan, looking services up in `db` too when
    /// given.
    pub fn build(
        scan: &ScanRun,
        provenance: Provenance,
        db: Option<Matcher<'_>>,
    ) -> Result<Report, StoreError> {
        let mut builder = ReportBuilder::new(provenance.vulners.clone(), db);
        for host in &scan.hosts {
            builder.add_host(host)?;
        }
        Ok(builder.finish(scan, provenance).into_report())
    }

    /// Put every list in its canonical order and count the summary. The order depends only on
    /// the content, so the same hosts give the same report however they were scanned (one run,
    /// shards merged, files in any order).
    pub(crate) fn finish(&mut self) {
        self.order();
        self.summary = Summary::count(
            &self.services,
            self.findings
                .iter()
                .map(|f| (f.cve.as_str(), &f.vulnerability)),
            &self.hosts,
        );
    }

    /// Sort every list (see [`Report::finish`]).
    fn order(&mut self) {
        for group in &mut self.services {
            group.vulnerabilities.sort_by(|a, b| a.priority_cmp(b));
            group.max_severity = group.vulnerabilities.first().map(|v| v.severity);
            group.max_cvss = group
                .vulnerabilities
                .iter()
                .filter_map(|v| v.cvss)
                .reduce(f64::max);
            group.endpoints.sort_by_key(endpoint_key);
            group.cpes.sort();
        }
        self.services.sort_by(|a, b| {
            let vulnerable = |g: &ServiceGroup| g.lookup == Lookup::Vulnerable;
            let priority = |g: &ServiceGroup| {
                g.vulnerabilities
                    .iter()
                    .filter_map(|v| v.priority)
                    .fold(-1.0, f64::max)
            };
            vulnerable(b)
                .cmp(&vulnerable(a))
                .then_with(|| priority(b).total_cmp(&priority(a)))
                .then_with(|| b.max_severity.cmp(&a.max_severity))
                .then_with(|| {
                    b.max_cvss
                        .unwrap_or(0.0)
                        .total_cmp(&a.max_cvss.unwrap_or(0.0))
                })
                .then_with(|| b.endpoints.len().cmp(&a.endpoints.len()))
                .then_with(|| a.title.cmp(&b.title))
        });
        let finding_order = |a: &Finding, b: &Finding| {
            a.vulnerability
                .priority_cmp(&b.vulnerability)
                .then_with(|| address_key(&a.address).cmp(&address_key(&b.address)))
                .then_with(|| (a.port, &a.protocol).cmp(&(b.port, &b.protocol)))
        };
        self.findings.sort_by(finding_order);
        self.suppressed
            .sort_by(|a, b| finding_order(&a.finding, &b.finding));
        self.hosts.sort_by_key(|h| address_key(&h.address));
    }
}

/// Service groups being built, with indexes so that adding a port's data costs the same
/// however many ports and vulnerabilities are already in (a /16 has tens of thousands).
#[derive(Default)]
pub(crate) struct GroupSet {
    groups: Vec<ServiceGroup>,
    /// (product or service name, version) → index in `groups`.
    by_software: HashMap<(String, Option<String>), usize>,
    /// Per group: vulnerability id → index in its `vulnerabilities`.
    vulns: Vec<HashMap<String, usize>>,
}

impl GroupSet {
    /// Add one service group's data to the group of the same software (product + version),
    /// or as a new group.
    /// The software a group is about: its product (or service name) and version.
    pub(crate) fn key(
        product: &Option<String>,
        service: &str,
        version: &Option<String>,
    ) -> (String, Option<String>) {
        (
            product.clone().unwrap_or_else(|| service.to_string()),
            version.clone(),
        )
    }

    /// Make the lookup of the group of `key` at least as strong as `lookup`.
    pub(crate) fn strengthen(&mut self, key: &(String, Option<String>), lookup: &Lookup) {
        if let Some(&i) = self.by_software.get(key) {
            let group = &mut self.groups[i];
            group.lookup = stronger(&group.lookup, lookup);
        }
    }

    pub(crate) fn add(&mut self, new: ServiceGroup) {
        let key = GroupSet::key(&new.product, &new.service, &new.version);
        let Some(&i) = self.by_software.get(&key) else {
            self.by_software.insert(key, self.groups.len());
            self.vulns.push(
                new.vulnerabilities
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v.id.clone(), i))
                    .collect(),
            );
            self.groups.push(new);
            return;
        };
        let (group, index) = (&mut self.groups[i], &mut self.vulns[i]);
        for cpe in new.cpes {
            if !group.cpes.contains(&cpe) {
                group.cpes.push(cpe);
            }
        }
        group.lookup = stronger(&group.lookup, &new.lookup);
        for vuln in new.vulnerabilities {
            match index.get(&vuln.id) {
                Some(&at) if vuln.cvss > group.vulnerabilities[at].cvss => {
                    group.vulnerabilities[at] = vuln
                }
                Some(_) => {}
                None => {
                    index.insert(vuln.id.clone(), group.vulnerabilities.len());
                    group.vulnerabilities.push(vuln);
                }
            }
        }
        group.endpoints.extend(new.endpoints);
    }

    pub(crate) fn into_groups(self) -> Vec<ServiceGroup> {
        self.groups
    }
}

impl Summary {
    /// Count the summary of the lists of a report; `findings` gives each finding's
    /// vulnerability id and vulnerability.
    fn count<'a>(
        services: &[ServiceGroup],
        findings: impl Iterator<Item = (&'a str, &'a Vulnerability)> + Clone,
        hosts: &[HostSummary],
    ) -> Summary {
        let mut ids: Vec<&str> = findings.clone().map(|(id, _)| id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut by_severity: BTreeMap<String, usize> = Severity::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), 0))
            .collect();
        let (mut count, mut exploitable, mut kev) = (0, 0, 0);
        for (_, v) in findings {
            count += 1;
            *by_severity
                .entry(v.severity.as_str().to_string())
                .or_default() += 1;
            exploitable += usize::from(v.exploit);
            kev += usize::from(v.kev == Some(true));
        }
        Summary {
            hosts_scanned: hosts.len(),
            hosts_up: hosts.iter().filter(|h| h.status == "up").count(),
            open_ports: services.iter().map(|s| s.endpoints.len()).sum(),
            services: services.len(),
            vulnerable_services: services
                .iter()
                .filter(|g| g.lookup == Lookup::Vulnerable)
                .count(),
            unchecked_services: services
                .iter()
                .filter(|g| matches!(g.lookup, Lookup::NotChecked(_)))
                .count(),
            findings: count,
            vulnerabilities: ids.len(),
            by_severity,
            exploitable_findings: exploitable,
            kev_findings: kev,
        }
    }
}

/// Of two lookups of the same software, the one that says most: vulnerable beats not checked
/// beats none known.
fn stronger(a: &Lookup, b: &Lookup) -> Lookup {
    match (a, b) {
        (Lookup::Vulnerable, _) | (_, Lookup::Vulnerable) => Lookup::Vulnerable,
        (Lookup::NotChecked(r), _) | (_, Lookup::NotChecked(r)) => Lookup::NotChecked(r.clone()),
        _ => Lookup::NoneKnown,
    }
}

fn service_title(service: &crate::model::Service) -> String {
    match (&service.product, &service.version) {
        (Some(p), Some(v)) => format!("{p} {v}"),
        (Some(p), None) => p.clone(),
        (None, _) if !service.name.is_empty() => format!("{} (unidentified product)", service.name),
        (None, _) => "unknown service".to_string(),
    }
}

fn host_summary(host: &Host) -> HostSummary {
    HostSummary {
        address: host.primary_address().unwrap_or_default().to_string(),
        addresses: host.addresses.iter().map(|a| a.addr.clone()).collect(),
        hostnames: host.hostnames.clone(),
        status: host.status.clone(),
        os: host.os_matches.first().map(|m| m.name.clone()),
        ports: host
            .ports
            .iter()
            .map(|p| PortSummary {
                port: p.number,
                protocol: p.protocol.clone(),
                state: p.state.clone(),
                service: p.service.as_ref().map(|s| s.name.clone()),
                product: p.service.as_ref().and_then(|s| s.product.clone()),
                version: p.service.as_ref().and_then(|s| s.version.clone()),
            })
            .collect(),
    }
}

/// Sort addresses numerically (127.0.0.10 after 127.0.0.9); names after addresses.
fn address_key(address: &str) -> (u8, Option<IpAddr>, String) {
    match address.parse::<IpAddr>() {
        Ok(ip) => (0, Some(ip), String::new()),
        Err(_) => (1, None, address.to_string()),
    }
}

fn endpoint_key(e: &Endpoint) -> ((u8, Option<IpAddr>, String), u16, String) {
    (address_key(&e.address), e.port, e.protocol.clone())
}

fn rfc3339(unix: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests;
