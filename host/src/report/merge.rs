//! Combining reports: shard results into one report, equal in content to the report of one
//! run over the same hosts.

use super::{GroupSet, Report, SCHEMA_VERSION};
use crate::findings::VulnersStatus;

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge")]
    Empty,
    #[error("{source_name}: report schema {found} cannot be merged by this brulee (it reads {SCHEMA_VERSION})")]
    Schema { source_name: String, found: String },
}

impl Report {
    /// Merge reports (each named for errors). Scan metadata is combined (earliest start, latest
    /// end, every command, file and warning); hosts, services, findings and suppressed
    /// findings are united and put in canonical order.
    pub fn merge(reports: Vec<(String, Report)>) -> Result<Report, MergeError> {
        let major = |v: &str| v.split('.').next().unwrap_or_default().to_string();
        let mut merged: Option<Report> = None;
        let mut groups = GroupSet::default();
        for (source_name, report) in reports {
            if major(&report.schema_version) != major(SCHEMA_VERSION) {
                return Err(MergeError::Schema {
                    source_name,
                    found: report.schema_version,
                });
            }
            let Some(into) = merged.as_mut() else {
                let mut first = report;
                for group in std::mem::take(&mut first.services) {
                    groups.add(group);
                }
                merged = Some(first);
                continue;
            };
            let scan = report.scan;
            into.scan.started = min_opt(into.scan.started.take(), scan.started);
            into.scan.finished = match (into.scan.finished.take(), scan.finished) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None, // a shard that did not finish leaves the whole unfinished
            };
            into.scan.duration_seconds = None;
            into.scan.nmap_version = into.scan.nmap_version.take().or(scan.nmap_version);
            into.scan.nmap_commands.extend(scan.nmap_commands);
            into.scan.targets.extend(scan.targets);
            into.scan.xml_files.extend(scan.xml_files);
            if into.scan.vulners != scan.vulners && scan.vulners == VulnersStatus::Used {
                into.scan.vulners_note = scan.vulners_note;
                into.scan.vulners = scan.vulners;
            }
            for source in scan.vuln_sources {
                if !into.scan.vuln_sources.contains(&source) {
                    into.scan.vuln_sources.push(source);
                }
            }
            into.scan.database = into.scan.database.take().or(scan.database);
            into.scan.complete &= scan.complete;
            into.scan.warnings.extend(scan.warnings);
            for group in report.services {
                groups.add(group);
            }
            into.findings.extend(report.findings);
            into.suppressed.extend(report.suppressed);
            into.hosts.extend(report.hosts);
        }
        let mut merged = merged.ok_or(MergeError::Empty)?;
        merged.services = groups.into_groups();
        merged.scan.vuln_sources.sort();
        let time = |t: &Option<String>| t.as_deref().and_then(|t| humantime::parse_rfc3339(t).ok());
        merged.scan.duration_seconds =
            match (time(&merged.scan.started), time(&merged.scan.finished)) {
                (Some(s), Some(f)) => f.duration_since(s).ok().map(|d| d.as_secs() as i64),
                _ => None,
            };
        merged.finish();
        Ok(merged)
    }
}

fn min_opt(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
