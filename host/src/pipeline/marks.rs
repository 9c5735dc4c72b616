//! What steps say for the reader, lifted out of `enrichment` into the vulnerability itself:
//! `priority` (the highest number 0–100 any step gave: the report reads highest first) and
//! `notes` ("step: note", from an enricher's `note` field or a filter that kept a finding
//! with a note). Service groups get the same, combined over their endpoints.

use std::collections::HashMap;

use serde_json::Value;

use crate::findings::{Finding, Vulnerability};
use crate::plugin::{Fields, PluginError};
use crate::report::Report;

/// An enricher's fields, checked where their meaning is the host's: `priority` must be a
/// number from 0 to 100, `note` a string.
pub fn check_fields(fields: Fields) -> Result<Fields, PluginError> {
    if let Some(priority) = fields.get("priority") {
        match priority.as_f64() {
            Some(p) if (0.0..=100.0).contains(&p) => {}
            _ => {
                return Err(PluginError::BadOutput(format!(
                    "priority must be a number from 0 to 100, not {priority}"
                )))
            }
        }
    }
    if let Some(note) = fields.get("note") {
        if !note.is_string() {
            return Err(PluginError::BadOutput(format!(
                "note must be a string, not {note}"
            )));
        }
    }
    Ok(fields)
}

/// A filter kept `finding` with `note`: recorded as the step's enrichment.
pub fn add_note(finding: &mut Finding, step: &str, note: String) {
    let entry = finding
        .enrichment
        .entry(step.to_string())
        .or_insert_with(|| Value::Object(Default::default()));
    if let Value::Object(fields) = entry {
        fields.insert("note".into(), Value::String(note));
    }
}

/// Set every finding's (and suppressed finding's) priority and notes from its enrichment, and
/// every service group's vulnerabilities' from the findings at its endpoints.
pub fn apply(report: &mut Report) {
    for finding in &mut report.findings {
        mark(finding);
    }
    for suppressed in &mut report.suppressed {
        mark(&mut suppressed.finding);
    }
    type Key<'a> = (&'a str, u16, &'a str, &'a str);
    let by_endpoint: HashMap<Key<'_>, &Vulnerability> = report
        .findings
        .iter()
        .map(|f| {
            (
                (
                    f.address.as_str(),
                    f.port,
                    f.protocol.as_str(),
                    f.cve.as_str(),
                ),
                &f.vulnerability,
            )
        })
        .collect();
    let mut updates = Vec::new();
    for (g, group) in report.services.iter().enumerate() {
        for (i, vuln) in group.vulnerabilities.iter().enumerate() {
            let mut priority: Option<f64> = None;
            let mut notes: Vec<String> = Vec::new();
            for e in &group.endpoints {
                let key = (
                    e.address.as_str(),
                    e.port,
                    e.protocol.as_str(),
                    vuln.id.as_str(),
                );
                if let Some(found) = by_endpoint.get(&key) {
                    priority = max(priority, found.priority);
                    for note in &found.notes {
                        if !notes.contains(note) {
                            notes.push(note.clone());
                        }
                    }
                }
            }
            updates.push((g, i, priority, notes));
        }
    }
    for (g, i, priority, notes) in updates {
        let vuln = &mut report.services[g].vulnerabilities[i];
        vuln.priority = priority;
        vuln.notes = notes;
    }
}

fn mark(finding: &mut Finding) {
    let mut priority = None;
    let mut notes = Vec::new();
    for (step, fields) in &finding.enrichment {
        priority = max(priority, fields.get("priority").and_then(Value::as_f64));
        if let Some(note) = fields.get("note").and_then(Value::as_str) {
            notes.push(format!("{step}: {note}"));
        }
    }
    finding.vulnerability.priority = priority;
    finding.vulnerability.notes = notes;
}

fn max(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn priority_and_notes_are_checked() {
        let fields = |v: Value| v.as_object().unwrap().clone();
        assert!(check_fields(fields(json!({"priority": 90, "note": "x"}))).is_ok());
        for bad in [
            json!({"priority": 101}),
            json!({"priority": "high"}),
            json!({"priority": -1}),
            json!({"note": 3}),
        ] {
            let err = check_fields(fields(bad.clone())).unwrap_err();
            assert!(matches!(err, PluginError::BadOutput(_)), "{bad}: {err}");
        }
    }
}
