//! After filters: make the report's summary and service groups agree with the findings that
//! are left. A vulnerability stays on a service while some finding at one of its endpoints
//! still has it.

use std::collections::HashSet;

use crate::findings::Lookup;
use crate::report::Report;

pub fn refresh_after_filters(report: &mut Report) {
    if !report.suppressed.is_empty() {
        drop_suppressed_from_groups(report);
    }
    // Severities, order and summary: recomputed the one way every report gets them.
    report.finish();
}

fn drop_suppressed_from_groups(report: &mut Report) {
    // One set of what is left: a large scan costs one pass, not one per vulnerability.
    let left: HashSet<(String, u16, String, String)> = report
        .findings
        .iter()
        .map(|f| (f.address.clone(), f.port, f.protocol.clone(), f.cve.clone()))
        .collect();
    for group in &mut report.services {
        let endpoints = group.endpoints.clone();
        group.vulnerabilities.retain(|v| {
            endpoints.iter().any(|e| {
                left.contains(&(e.address.clone(), e.port, e.protocol.clone(), v.id.clone()))
            })
        });
        if group.lookup == Lookup::Vulnerable && group.vulnerabilities.is_empty() {
            // Every vulnerability was suppressed, each with its reason in `suppressed`.
            group.lookup = Lookup::NoneKnown;
        }
    }
}
