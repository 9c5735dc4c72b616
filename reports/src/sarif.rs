//! `sarif`: the findings as a SARIF 2.1.0 log, for tools that ingest static-analysis results
//! (code-scanning dashboards, DefectDojo, …).
//!
//! A vulnerability is a rule (its id, severity, link); a finding is a result of that rule at a
//! logical location, `address:port/protocol`. Findings a filter dropped are results with a
//! suppression. Services that could not be checked are tool notifications, not results, so that
//! "nothing found" and "could not look" stay apart here too.

use serde_json::{json, Map, Value};

use crate::RenderError;

const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub(crate) fn render(report: &Value) -> Result<String, RenderError> {
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_ids: Vec<String> = Vec::new();
    let mut results = Vec::new();
    let findings = report["findings"].as_array().into_iter().flatten();
    let suppressed = report["suppressed"].as_array().into_iter().flatten();
    for (finding, suppression) in findings
        .map(|f| (f, None))
        .chain(suppressed.map(|f| (f, Some(f))))
    {
        let id = text(&finding["id"]);
        let index = match rule_ids.iter().position(|r| *r == id) {
            Some(i) => i,
            None => {
                rules.push(rule(finding));
                rule_ids.push(id.clone());
                rules.len() - 1
            }
        };
        let mut result = result(finding, &id, index);
        if let Some(s) = suppression {
            result["suppressions"] = json!([{
                "kind": "external",
                "justification": text(&s["reason"]),
                "properties": { "step": s["step"] },
            }]);
        }
        results.push(result);
    }

    let scan = &report["scan"];
    let mut notifications: Vec<Value> = scan["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| json!({ "level": "warning", "message": { "text": text(w) } }))
        .collect();
    for service in report["services"].as_array().into_iter().flatten() {
        if service["status"] != "not_checked" {
            continue;
        }
        let endpoints: Vec<String> = service["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .map(endpoint)
            .collect();
        notifications.push(json!({
            "level": "warning",
            "descriptor": { "id": "not-checked" },
            "message": { "text": format!(
                "{} on {} was not checked for vulnerabilities: {}",
                text(&service["title"]),
                endpoints.join(", "),
                text(&service["reason"]),
            )},
        }));
    }

    let mut invocation = Map::new();
    invocation.insert(
        "executionSuccessful".into(),
        json!(scan["complete"] == true),
    );
    if let Some(cmd) = scan["nmap_commands"].as_array().and_then(|c| c.first()) {
        invocation.insert("commandLine".into(), cmd.clone());
    }
    for (key, field) in [("startTimeUtc", "started"), ("endTimeUtc", "finished")] {
        if scan[field].is_string() {
            invocation.insert(key.into(), scan[field].clone());
        }
    }
    invocation.insert("toolExecutionNotifications".into(), json!(notifications));

    let log = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": text(&report["generator"]["name"]),
                "version": report["generator"]["version"],
                "rules": rules,
            }},
            "invocations": [invocation],
            "results": results,
            "properties": {
                "schema_version": report["schema_version"],
                "summary": report["summary"],
                "targets": scan["targets"],
                "nmap_version": scan["nmap_version"],
                "vulners": scan["vulners"],
            },
        }],
    });
    let mut out = serde_json::to_string_pretty(&log).map_err(|err| RenderError::Code {
        format: "sarif",
        message: err.to_string(),
    })?;
    out.push('\n');
    Ok(out)
}

/// The rule of one vulnerability, from the first finding of it.
fn rule(v: &Value) -> Value {
    let id = text(&v["id"]);
    let description = v["description"].as_str().filter(|d| !d.is_empty());
    let mut rule = json!({
        "id": id,
        "shortDescription": { "text": match description {
            Some(d) => short(d),
            None => format!("{id} ({} severity)", text(&v["severity"])),
        }},
        "defaultConfiguration": { "level": level(&v["severity"]) },
        "properties": {
            "tags": ["security", "vulnerability", text(&v["kind"])],
            "severity": v["severity"],
        },
    });
    if let Some(d) = description {
        rule["fullDescription"] = json!({ "text": d });
    }
    // GitHub and others read this property to rank results: the CVSS score as a string.
    if let Some(cvss) = v["cvss"].as_f64() {
        rule["properties"]["security-severity"] = json!(format!("{cvss:.1}"));
    }
    if crate::cve_id(&id) {
        rule["helpUri"] = json!(format!("https://nvd.nist.gov/vuln/detail/{id}"));
    } else if let Some(url) = v["url"].as_str() {
        rule["helpUri"] = json!(url);
    }
    rule
}

fn result(f: &Value, id: &str, rule_index: usize) -> Value {
    let place = endpoint(f);
    let software = [&f["product"], &f["version"]]
        .iter()
        .filter_map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let software = if software.is_empty() {
        text(&f["service"])
    } else {
        software
    };
    let cvss = f["cvss"]
        .as_f64()
        .map(|c| format!(", CVSS {c:.1}"))
        .unwrap_or_default();
    // Every field of the finding, including ones added after this code was written.
    let properties: Map<String, Value> = f
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "reason" | "step"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "ruleId": id,
        "ruleIndex": rule_index,
        "level": level(&f["severity"]),
        "message": { "text": format!(
            "{software} on {place} is affected by {id} ({} severity{cvss})",
            text(&f["severity"]),
        )},
        "locations": [{ "logicalLocations": [{
            "name": place,
            "fullyQualifiedName": format!("{place}/{software}"),
            "kind": "resource",
        }]}],
        "partialFingerprints": { "brulee/finding/v1": format!("{place}/{id}") },
        "properties": properties,
    })
}

/// SARIF's levels: what must be fixed (error), what should (warning), the rest (note).
fn level(severity: &Value) -> &'static str {
    match severity.as_str() {
        Some("critical" | "high") => "error",
        Some("medium") => "warning",
        _ => "note",
    }
}

fn endpoint(e: &Value) -> String {
    let address = text(&e["address"]);
    // IPv6 addresses are bracketed so that the port stays readable.
    let address = if address.contains(':') {
        format!("[{address}]")
    } else {
        address
    };
    format!("{address}:{}/{}", e["port"], text(&e["protocol"]))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The first sentence, or the first 120 characters, of a description.
fn short(description: &str) -> String {
    let sentence = description
        .split_once(". ")
        .map_or(description, |(first, _)| first);
    if sentence.chars().count() <= 120 {
        sentence.trim_end_matches('.').to_string()
    } else {
        sentence.chars().take(119).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_become_results_of_rules_and_unchecked_services_notifications() {
        let finding = json!({"address": "::1", "port": 22, "protocol": "tcp", "service": "ssh",
            "product": "OpenSSH", "version": "9.2", "id": "CVE-2023-38408", "cve": "CVE-2023-38408",
            "kind": "cve", "cvss": 9.8, "severity": "critical", "description": "Bad. Very bad."});
        let mut suppressed = finding.clone();
        suppressed["reason"] = json!("accepted risk");
        suppressed["step"] = json!("allowlist");
        let report = json!({
            "generator": {"name": "brulee", "version": "0.1.0"},
            "scan": {"complete": false, "warnings": ["host timed out"], "nmap_commands": ["nmap -sV"]},
            "findings": [finding],
            "suppressed": [suppressed],
            "services": [{"title": "vsftpd 3.0.3", "status": "not_checked", "reason": "no CPE",
                "endpoints": [{"address": "127.0.0.1", "port": 21, "protocol": "tcp"}]}],
        });
        let log: Value = serde_json::from_str(&render(&report).unwrap()).unwrap();
        let run = &log["runs"][0];
        assert_eq!(log["version"], "2.1.0");
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 1);
        let rule = &run["tool"]["driver"]["rules"][0];
        assert_eq!(rule["shortDescription"]["text"], "Bad");
        assert_eq!(
            rule["helpUri"],
            "https://nvd.nist.gov/vuln/detail/CVE-2023-38408"
        );
        assert_eq!(rule["properties"]["security-severity"], "9.8");
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0]["level"], "error");
        assert_eq!(
            results[0]["locations"][0]["logicalLocations"][0]["name"],
            "[::1]:22/tcp"
        );
        assert!(results[0].get("suppressions").is_none());
        assert_eq!(
            results[1]["suppressions"][0]["justification"],
            "accepted risk"
        );
        let invocation = &run["invocations"][0];
        assert_eq!(invocation["executionSuccessful"], false);
        let notes: Vec<&str> = invocation["toolExecutionNotifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["message"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            notes,
            [
                "host timed out",
                "vsftpd 3.0.3 on 127.0.0.1:21/tcp was not checked for vulnerabilities: no CPE"
            ]
        );
    }
}
