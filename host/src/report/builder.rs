//! Building a report host by host, holding only what the report needs.
//!
//! A scan of ten thousand hosts has hundreds of thousands of findings: as [`Finding`] objects
//! (a dozen strings each) and parsed hosts they are most of a gigabyte. [`ReportBuilder`] takes
//! one host at a time, so the parsed host can go as soon as its ports are assessed, and keeps
//! findings compact: each distinct vulnerability and each port once, a finding as three
//! indexes. [`CompactReport`] serialises to exactly the JSON of the [`Report`] it stands for
//! (streamed, finding by finding, never as one string), or becomes that report when a step
//! needs the objects (plugins, templates, a baseline).

use std::collections::HashMap;
use std::net::IpAddr;

use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use super::{
    address_key, host_summary, rfc3339, service_title, Endpoint, Generator, GroupSet, HostSummary,
    Provenance, Report, ScanMeta, ServiceGroup, Summary, SCHEMA_VERSION,
};
use crate::findings::{self, Finding, Lookup, Sources, Vulnerability, VulnersStatus};
use crate::model::{Host, ScanRun};
use crate::vulndb::{Matcher, StoreError};

/// Assesses hosts one by one into the groups, host list and compact findings of a report.
pub struct ReportBuilder<'db> {
    sources: Sources<'db>,
    groups: GroupSet,
    /// Groups with a port whose lookup is the vulners status's, known only at the end.
    pending: Vec<(String, Option<String>)>,
    hosts: Vec<HostSummary>,
    findings: CompactFindings,
    vulners_output: bool,
}

/// A report whose findings are kept compact; see the module documentation.
pub struct CompactReport {
    /// The report without its findings (`findings` is empty).
    head: Report,
    findings: CompactFindings,
}

/// Findings as indexes into the distinct ports and vulnerabilities they join.
#[derive(Default)]
struct CompactFindings {
    places: Vec<Place>,
    vulnerabilities: Vec<Vulnerability>,
    /// Vulnerability id → its variants in `vulnerabilities` (sources may score one id apart).
    by_id: HashMap<String, Vec<u32>>,
    cpes: Vec<Option<String>>,
    cpe_index: HashMap<Option<String>, u32>,
    /// (place, vulnerability, cpe), in report order once finished.
    items: Vec<(u32, u32, u32)>,
}

/// Where findings are: one open port and what runs there.
struct Place {
    address: String,
    hostnames: Vec<String>,
    port: u16,
    protocol: String,
    service: String,
    product: Option<String>,
    version: Option<String>,
}

impl<'db> ReportBuilder<'db> {
    /// `vulners` is how the vulners script took part, if known; when not, ports whose lookup
    /// depends on it are settled by [`ReportBuilder::finish`].
    pub fn new(vulners: VulnersStatus, db: Option<Matcher<'db>>) -> ReportBuilder<'db> {
        ReportBuilder {
            sources: Sources { vulners, db },
            groups: GroupSet::default(),
            pending: Vec::new(),
            hosts: Vec::new(),
            findings: CompactFindings::default(),
            vulners_output: false,
        }
    }

    /// Assess one host and add it to the report.
    pub fn add_host(&mut self, host: &Host) -> Result<(), StoreError> {
        self.vulners_output |= findings::has_vulners_output(host);
        self.hosts.push(host_summary(host));
        for port in findings::assess_host(host, &mut self.sources)? {
            let service = port.port.service.clone().unwrap_or_default();
            let address = host.primary_address().unwrap_or_default().to_string();
            if !port.vulnerabilities.is_empty() {
                let place = self.findings.places.len() as u32;
                self.findings.places.push(Place {
                    address: address.clone(),
                    hostnames: host.hostnames.clone(),
                    port: port.port.number,
                    protocol: port.port.protocol.clone(),
                    service: service.name.clone(),
                    product: service.product.clone(),
                    version: service.version.clone(),
                });
                for (cpe, vulnerability) in &port.vulnerabilities {
                    let cpe = cpe.clone().or_else(|| service.cpes.first().cloned());
                    self.findings.add(place, cpe, vulnerability);
                }
            }
            let key = GroupSet::key(&service.product, &service.name, &service.version);
            // Its lookup joins the group when the vulners status is known: none known is the
            // weakest lookup, so it changes nothing until then.
            let lookup = if port.vulners_dependent {
                self.pending.push(key);
                Lookup::NoneKnown
            } else {
                port.lookup.clone()
            };
            self.groups.add(ServiceGroup {
                title: service_title(&service),
                service: service.name.clone(),
                product: service.product.clone(),
                version: service.version.clone(),
                cpes: service.cpes.clone(),
                lookup,
                max_severity: None,
                max_cvss: None,
                vulnerabilities: port
                    .vulnerabilities
                    .iter()
                    .map(|(_, v)| v.clone())
                    .collect(),
                endpoints: vec![Endpoint {
                    address,
                    hostnames: host.hostnames.clone(),
                    port: port.port.number,
                    protocol: port.port.protocol.clone(),
                }],
            });
        }
        Ok(())
    }

    /// Whether any host so far had output of the vulners script (see
    /// [`VulnersStatus::from_commands`]).
    pub fn saw_vulners_output(&self) -> bool {
        self.vulners_output
    }

    /// The report of the hosts added, with the scan's metadata (its hosts are not read) and
    /// provenance; `provenance.vulners` settles the ports that waited for it.
    pub fn finish(self, scan: &ScanRun, provenance: Provenance) -> CompactReport {
        let ReportBuilder {
            sources,
            mut groups,
            pending,
            hosts,
            mut findings,
            ..
        } = self;
        let settled = provenance.vulners.lookup();
        for key in pending {
            groups.strengthen(&key, &settled);
        }
        let mut vuln_sources = Vec::new();
        if sources.db.is_some() {
            vuln_sources.push("nvd".to_string());
        }
        if provenance.vulners == VulnersStatus::Used {
            vuln_sources.push("vulners".to_string());
        }
        let mut head = Report {
            schema_version: SCHEMA_VERSION.to_string(),
            generator: Generator {
                name: "brulee".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            scan: ScanMeta {
                started: scan.start.map(rfc3339),
                finished: scan.end.map(rfc3339),
                duration_seconds: scan.start.zip(scan.end).map(|(s, e)| e - s),
                nmap_version: scan.nmap_version.clone(),
                nmap_commands: scan.commands.clone(),
                targets: provenance.targets,
                xml_files: provenance.xml_files,
                vulners_note: provenance.vulners.describe().to_string(),
                vulners: provenance.vulners,
                vuln_sources,
                database: provenance.database,
                complete: scan.complete,
                warnings: scan.warnings.clone(),
                shard: None,
            },
            summary: Summary::default(),
            services: groups.into_groups(),
            findings: Vec::new(),
            suppressed: Vec::new(),
            hosts,
            diff: None,
            steps: Vec::new(),
        };
        head.order();
        findings.order();
        head.summary = Summary::count(&head.services, findings.iter(), &head.hosts);
        CompactReport { head, findings }
    }
}

impl CompactReport {
    /// Everything but the findings (its `findings` list is empty): what the terminal summary
    /// and the scan metadata need.
    pub fn head(&self) -> &Report {
        &self.head
    }

    pub fn warnings(&self) -> &[String] {
        &self.head.scan.warnings
    }

    /// The report with its findings as objects.
    pub fn into_report(self) -> Report {
        let CompactReport { mut head, findings } = self;
        head.findings = findings
            .items
            .iter()
            .map(|&item| findings.finding(item))
            .collect();
        head
    }
}

impl AsRef<Report> for CompactReport {
    fn as_ref(&self) -> &Report {
        &self.head
    }
}

impl CompactFindings {
    fn add(&mut self, place: u32, cpe: Option<String>, vulnerability: &Vulnerability) {
        let variants = self.by_id.entry(vulnerability.id.clone()).or_default();
        let vuln = match variants
            .iter()
            .find(|&&i| self.vulnerabilities[i as usize] == *vulnerability)
        {
            Some(&i) => i,
            None => {
                let i = self.vulnerabilities.len() as u32;
                self.vulnerabilities.push(vulnerability.clone());
                variants.push(i);
                i
            }
        };
        let cpe = match self.cpe_index.get(&cpe) {
            Some(&i) => i,
            None => {
                let i = self.cpes.len() as u32;
                self.cpe_index.insert(cpe.clone(), i);
                self.cpes.push(cpe);
                i
            }
        };
        self.items.push((place, vuln, cpe));
    }

    /// Put the findings in the report's order (`Report::finish`'s): by vulnerability priority,
    /// then address, port and protocol; ties keep the order they were found in. Each side is
    /// ranked once, so the sort compares two integers.
    fn order(&mut self) {
        let vuln_rank = ranks(self.vulnerabilities.len(), |a, b| {
            self.vulnerabilities[a].priority_cmp(&self.vulnerabilities[b])
        });
        let keys: Vec<((u8, Option<IpAddr>, String), u16, &str)> = self
            .places
            .iter()
            .map(|p| (address_key(&p.address), p.port, p.protocol.as_str()))
            .collect();
        let place_rank = ranks(keys.len(), |a, b| keys[a].cmp(&keys[b]));
        self.items.sort_by_key(|&(place, vuln, _)| {
            (vuln_rank[vuln as usize], place_rank[place as usize])
        });
    }

    /// Each finding as (vulnerability id, vulnerability), in order.
    fn iter(&self) -> impl Iterator<Item = (&str, &Vulnerability)> + Clone {
        self.items.iter().map(|&(_, vuln, _)| {
            let v = &self.vulnerabilities[vuln as usize];
            (v.id.as_str(), v)
        })
    }

    fn view(&self, (place, vuln, cpe): (u32, u32, u32)) -> FindingView<'_> {
        let p = &self.places[place as usize];
        let vulnerability = &self.vulnerabilities[vuln as usize];
        FindingView {
            address: &p.address,
            hostnames: &p.hostnames,
            port: p.port,
            protocol: &p.protocol,
            service: &p.service,
            product: p.product.as_deref(),
            version: p.version.as_deref(),
            cpe: self.cpes[cpe as usize].as_deref(),
            cve: &vulnerability.id,
            vulnerability,
        }
    }

    fn finding(&self, item: (u32, u32, u32)) -> Finding {
        let v = self.view(item);
        Finding {
            address: v.address.to_string(),
            hostnames: v.hostnames.to_vec(),
            port: v.port,
            protocol: v.protocol.to_string(),
            service: v.service.to_string(),
            product: v.product.map(str::to_string),
            version: v.version.map(str::to_string),
            cpe: v.cpe.map(str::to_string),
            cve: v.cve.to_string(),
            vulnerability: v.vulnerability.clone(),
            enrichment: serde_json::Map::new(),
        }
    }
}

/// The rank of each of `n` items in the order `cmp` gives; items that compare equal share
/// a rank.
fn ranks(n: usize, cmp: impl Fn(usize, usize) -> std::cmp::Ordering) -> Vec<u32> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| cmp(a, b));
    let mut rank = vec![0u32; n];
    let mut current = 0u32;
    for (i, &item) in order.iter().enumerate() {
        if i > 0 && cmp(order[i - 1], item) != std::cmp::Ordering::Equal {
            current += 1;
        }
        rank[item] = current;
    }
    rank
}

/// A finding, borrowed: serialises exactly as [`Finding`] does (fields in the same order, the
/// vulnerability flattened; no enrichment yet).
#[derive(Serialize)]
struct FindingView<'a> {
    address: &'a str,
    hostnames: &'a [String],
    port: u16,
    protocol: &'a str,
    service: &'a str,
    product: Option<&'a str>,
    version: Option<&'a str>,
    cpe: Option<&'a str>,
    cve: &'a str,
    #[serde(flatten)]
    vulnerability: &'a Vulnerability,
}

/// The JSON of the [`Report`] this stands for, field for field (a test holds the two equal);
/// findings are serialised one at a time as the writer asks for them.
impl Serialize for CompactReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = &self.head;
        let mut s = serializer.serialize_struct("Report", 10)?;
        s.serialize_field("schema_version", &r.schema_version)?;
        s.serialize_field("generator", &r.generator)?;
        s.serialize_field("scan", &r.scan)?;
        s.serialize_field("summary", &r.summary)?;
        s.serialize_field("services", &r.services)?;
        s.serialize_field("findings", &Findings(&self.findings))?;
        s.serialize_field("suppressed", &r.suppressed)?;
        s.serialize_field("hosts", &r.hosts)?;
        match &r.diff {
            Some(diff) => s.serialize_field("diff", diff)?,
            None => s.skip_field("diff")?,
        }
        if r.steps.is_empty() {
            s.skip_field("steps")?;
        } else {
            s.serialize_field("steps", &r.steps)?;
        }
        s.end()
    }
}

struct Findings<'a>(&'a CompactFindings);

impl Serialize for Findings<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.items.len()))?;
        for &item in &self.0.items {
            seq.serialize_element(&self.0.view(item))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::fixture_run as fixture_scan;

    #[test]
    fn the_compact_json_is_the_reports_json() {
        for name in [
            "nmap793_vulners_mockapi.xml",
            "upstream_golden_1x.xml",
            "loopback-services.xml",
            "hosts-down.xml",
        ] {
            let scan = fixture_scan(name);
            let provenance = Provenance {
                targets: vec!["127.0.0.1".into()],
                xml_files: vec![name.into()],
                vulners: VulnersStatus::from_xml(&scan),
                database: None,
            };
            let mut builder = ReportBuilder::new(provenance.vulners.clone(), None);
            for host in &scan.hosts {
                builder.add_host(host).unwrap();
            }
            let compact = builder.finish(&scan, provenance);
            let streamed = serde_json::to_string_pretty(&compact).unwrap();
            let report = compact.into_report();
            assert!(!report.findings.is_empty() || name != "nmap793_vulners_mockapi.xml");
            assert_eq!(
                streamed,
                serde_json::to_string_pretty(&report).unwrap(),
                "{name}"
            );
        }
    }

    #[test]
    fn ports_that_wait_for_the_vulners_status_get_it_at_the_end() {
        // Built with a provisional status, settled by what the whole scan showed.
        let scan = fixture_scan("loopback-services.xml");
        let mut builder = ReportBuilder::new(VulnersStatus::Used, None);
        for host in &scan.hosts {
            builder.add_host(host).unwrap();
        }
        let provenance = Provenance {
            targets: vec![],
            xml_files: vec![],
            vulners: VulnersStatus::NotRun,
            database: None,
        };
        let streamed = builder.finish(&scan, provenance.clone()).into_report();
        let whole = Report::build(&scan, provenance, None).unwrap();
        assert_eq!(streamed, whole);
        assert!(whole
            .services
            .iter()
            .any(|g| matches!(&g.lookup, Lookup::NotChecked(r) if r.contains("did not include the vulners script"))));
    }
}
