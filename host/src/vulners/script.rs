//! Reading the `vulners` script's structured output.
//!
//! Two shapes exist in the wild and both are read by key, never by position (the 1.x script
//! builds rows from Lua tables, so element order changes between runs):
//! - 1.x (what Debian's nmap ships): one `<table key="CPE">` per CPE, holding one unkeyed
//!   `<table>` per bulletin with elements `id`, `type`, `cvss`, `is_exploit` and, in newer 1.x,
//!   `cvss_type`;
//! - 2.0 (published upstream): `<elem key="schema">2.0</elem>` first, then the same groups (a
//!   group may be keyed by a software label instead of a CPE), with `severity`, `kev`, `epss`,
//!   `href` and `source_href` per bulletin as well.

use crate::findings::{Severity, Vulnerability};
use crate::model::{Script, ScriptNode};

/// What one port's `vulners` script said.
#[derive(Debug, Clone, PartialEq)]
pub enum VulnersReading {
    /// The script ran and listed these bulletins (each with the CPE it was found for).
    Found(Vec<(String, Vulnerability)>),
    /// The script ran and listed nothing.
    Nothing,
    /// The script failed; its text output says why.
    Failed(String),
}

/// Read the bulletins of one `vulners` script element.
pub fn read_vulners_script(script: &Script) -> VulnersReading {
    let mut found = Vec::new();
    for group in &script.content {
        let ScriptNode::Table { key, children } = group else {
            continue; // "schema", "mode" and other scan-wide elements
        };
        let cpe = key.clone().unwrap_or_default();
        for bulletin in children {
            if let ScriptNode::Table { .. } = bulletin {
                if let Some(vuln) = read_bulletin(bulletin) {
                    found.push((cpe.clone(), vuln));
                }
            }
        }
    }
    if !found.is_empty() {
        return VulnersReading::Found(found);
    }
    // nmap writes "ERROR: Script execution failed (use -d to debug)" when a script throws.
    let output = script.output.trim();
    if output.contains("ERROR") || output.contains("failed") {
        VulnersReading::Failed(output.to_string())
    } else {
        VulnersReading::Nothing
    }
}

fn read_bulletin(table: &ScriptNode) -> Option<Vulnerability> {
    let id = table.elem("id")?.trim().to_string();
    if id.is_empty() {
        return None;
    }
    let kind = table
        .elem("type")
        .unwrap_or("unknown")
        .trim()
        .to_lowercase();
    let cvss = table
        .elem("cvss")
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|score| (0.0..=10.0).contains(score))
        // vulners gives exploit bulletins a score of 0 meaning "not scored", not "harmless".
        .filter(|score| *score > 0.0 || kind == "cve");
    let flag = |key: &str| {
        table
            .elem(key)
            .map(|v| v.trim().eq_ignore_ascii_case("true"))
    };
    Some(Vulnerability {
        kind,
        cvss,
        cvss_version: table.elem("cvss_type").map(|s| s.trim().to_string()),
        severity: Severity::from_cvss(cvss),
        exploit: flag("is_exploit").unwrap_or(false),
        kev: flag("kev"),
        epss: table.elem("epss").and_then(|s| s.trim().parse().ok()),
        epss_percentile: None,
        url: table
            .elem("href")
            .map(|s| s.trim().to_string())
            .or_else(|| {
                Some(format!(
                    "https://vulners.com/{}/{}",
                    table.elem("type")?.trim(),
                    id
                ))
            }),
        source: "vulners".to_string(),
        sources: vec!["vulners".to_string()],
        description: None,
        published: None,
        modified: None,
        cvss_vector: None,
        confidence: None,
        rule: None,
        kev_due_date: None,
        references: Vec::new(),
        priority: None,
        notes: Vec::new(),
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elem(key: &str, value: &str) -> ScriptNode {
        ScriptNode::Elem {
            key: Some(key.into()),
            value: value.into(),
        }
    }

    fn bulletin(elems: Vec<ScriptNode>) -> ScriptNode {
        ScriptNode::Table {
            key: None,
            children: elems,
        }
    }

    #[test]
    fn reads_elements_by_key_in_any_order() {
        let script = Script {
            id: "vulners".into(),
            output: String::new(),
            content: vec![ScriptNode::Table {
                key: Some("cpe:/a:openbsd:openssh:8.2p1".into()),
                children: vec![
                    bulletin(vec![
                        elem("is_exploit", "true"),
                        elem("cvss", "9.8"),
                        elem("id", "CVE-2023-38408"),
                        elem("type", "cve"),
                    ]),
                    bulletin(vec![
                        elem("type", "cve"),
                        elem("id", "CVE-2020-15778"),
                        elem("cvss", "7.8"),
                    ]),
                ],
            }],
        };
        let VulnersReading::Found(found) = read_vulners_script(&script) else {
            panic!("expected bulletins");
        };
        assert_eq!(found.len(), 2);
        let (cpe, first) = &found[0];
        assert_eq!(cpe, "cpe:/a:openbsd:openssh:8.2p1");
        assert_eq!(first.id, "CVE-2023-38408");
        assert_eq!(first.cvss, Some(9.8));
        assert_eq!(first.severity, Severity::Critical);
        assert!(first.exploit);
        assert_eq!(
            first.url.as_deref(),
            Some("https://vulners.com/cve/CVE-2023-38408")
        );
        assert!(!found[1].1.exploit);
        assert_eq!(found[1].1.severity, Severity::High);
    }

    #[test]
    fn reads_the_2_0_schema() {
        let script = Script {
            id: "vulners".into(),
            output: String::new(),
            content: vec![
                elem("schema", "2.0"),
                elem("mode", "keyed"),
                ScriptNode::Table {
                    key: Some("cpe:/a:f5:nginx:1.13.4".into()),
                    children: vec![bulletin(vec![
                        elem("id", "CVE-2021-41773"),
                        elem("type", "cve"),
                        elem("severity", "CRITICAL"),
                        elem("cvss", "9.8"),
                        elem("cvss_type", "cvss3.1"),
                        elem("is_exploit", "false"),
                        elem("kev", "true"),
                        elem("epss", "0.94"),
                        elem("href", "https://vulners.com/cve/CVE-2021-41773"),
                    ])],
                },
            ],
        };
        let VulnersReading::Found(found) = read_vulners_script(&script) else {
            panic!("expected bulletins");
        };
        let v = &found[0].1;
        assert_eq!(v.kev, Some(true));
        assert_eq!(v.epss, Some(0.94));
        assert_eq!(v.cvss_version.as_deref(), Some("cvss3.1"));
    }

    #[test]
    fn an_errored_script_is_a_failure_not_an_absence() {
        let script = Script {
            id: "vulners".into(),
            output: "ERROR: Script execution failed (use -d to debug)".into(),
            content: vec![],
        };
        assert!(matches!(
            read_vulners_script(&script),
            VulnersReading::Failed(_)
        ));
        // A table without bulletins (Flan Scan crashed on this with KeyError) reads as nothing.
        let script = Script {
            id: "vulners".into(),
            output: "\n  cpe:/a:x:y:1: \n".into(),
            content: vec![ScriptNode::Table {
                key: Some("cpe:/a:x:y:1".into()),
                children: vec![],
            }],
        };
        assert_eq!(read_vulners_script(&script), VulnersReading::Nothing);
    }
}
