//! After filters: make the report's summary and service groups agree with the findings that
//! are left. A vulnerability stays on a service while some finding at one of its endpoints
//! still has it.

use crate::findings::{Lookup, Severity};
use crate::report::Report;

pub fn refresh_after_filters(report: &mut Report) {
    if report.suppressed.is_empty() {
        return;
    }
    let left = |address: &str, port: u16, protocol: &str, id: &str| {
        report.findings.iter().any(|f| {
            f.address == address && f.port == port && f.protocol == protocol && f.cve == id
        })
    };
    let mut groups = std::mem::take(&mut report.services);
    for group in &mut groups {
        let endpoints = group.endpoints.clone();
        group.vulnerabilities.retain(|v| {
            endpoints
                .iter()
                .any(|e| left(&e.address, e.port, &e.protocol, &v.id))
        });
        group.max_severity = group.vulnerabilities.first().map(|v| v.severity);
        group.max_cvss = group
            .vulnerabilities
            .iter()
            .filter_map(|v| v.cvss)
            .reduce(f64::max);
        if group.lookup == Lookup::Vulnerable && group.vulnerabilities.is_empty() {
            // Every vulnerability was suppressed, each with its reason in `suppressed`.
            group.lookup = Lookup::NoneKnown;
        }
    }
    // Vulnerable services first, as Report::build orders them; the sort is stable.
    groups.sort_by_key(|g| g.lookup != Lookup::Vulnerable);
    report.services = groups;

    let s = &mut report.summary;
    let findings = &report.findings;
    s.findings = findings.len();
    let mut ids: Vec<&str> = findings.iter().map(|f| f.cve.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    s.vulnerabilities = ids.len();
    for severity in Severity::ALL {
        s.by_severity.insert(
            severity.as_str().to_string(),
            findings
                .iter()
                .filter(|f| f.vulnerability.severity == severity)
                .count(),
        );
    }
    s.exploitable_findings = findings.iter().filter(|f| f.vulnerability.exploit).count();
    s.vulnerable_services = report
        .services
        .iter()
        .filter(|g| g.lookup == Lookup::Vulnerable)
        .count();
}
