//! `builtin = "accepted-risk"` filter: drops the findings a team has accepted, each acceptance
//! with a reason and an expiry date, kept in a file of its own so that it can be reviewed like
//! code. An expired acceptance no longer drops anything: the findings come back, with a warning.
//!
//! ```toml
//! # scan.toml
//! [[filter]]
//! builtin = "accepted-risk"
//! config = { path = "accepted-risk.toml" }   # relative to the manifest
//!
//! # accepted-risk.toml
//! [[accept]]
//! ids = ["CVE-2023-38408"]          # these vulnerabilities (all of them when left out)…
//! hosts = ["127.0.0.2", "127.0.1.0/24"]   # …on these hosts (every host when left out)
//! until = "2027-03-31"              # last day the acceptance holds (UTC)
//! reason = "agent forwarding is disabled on these hosts (SEC-1234)"
//! ```

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use ipnet::IpNet;
use serde_spanned::Spanned;

use super::Builtin;
use crate::findings::Finding;
use crate::manifest::{location, StepConfig};
use crate::plugin::{PluginError, Stage, StepCode, Verdict};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    path: PathBuf,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptanceFile {
    #[serde(default)]
    accept: Vec<Spanned<Entry>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    hosts: Vec<Spanned<String>>,
    until: Spanned<String>,
    reason: String,
}

/// One checked acceptance.
#[derive(Debug)]
struct Acceptance {
    /// Upper-case ids; empty means every vulnerability.
    ids: Vec<String>,
    /// Empty means every host.
    hosts: Vec<IpNet>,
    /// `YYYY-MM-DD`, which compares as text.
    until: String,
    reason: String,
    /// `file:line:col` of the entry, for messages.
    location: String,
}

impl Acceptance {
    fn covers(&self, finding: &Finding) -> bool {
        let id_matches = self.ids.is_empty()
            || self
                .ids
                .iter()
                .any(|id| id.eq_ignore_ascii_case(&finding.cve));
        let host_matches = self.hosts.is_empty()
            || finding
                .address
                .parse::<IpAddr>()
                .is_ok_and(|a| self.hosts.iter().any(|net| net.contains(&a)));
        id_matches && host_matches
    }
}

/// Read and check an acceptance file; every problem is reported with its place.
fn parse(file: &str, text: &str) -> Result<Vec<Acceptance>, String> {
    let parsed: AcceptanceFile =
        toml::from_str(text).map_err(|e| format!("{file}: {}", e.to_string().trim_end()))?;
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for entry in parsed.accept {
        let at = location(file, text, entry.span().start);
        let entry = entry.into_inner();
        if entry.ids.is_empty() && entry.hosts.is_empty() {
            errors.push(format!(
                "{at}: [[accept]] names neither ids nor hosts, so it would drop every finding \
                 (list the vulnerability ids, the hosts, or both)"
            ));
        }
        if entry.reason.trim().is_empty() {
            errors.push(format!(
                "{at}: [[accept]] has an empty reason: say why the risk is accepted"
            ));
        }
        let until = entry.until.get_ref();
        if !is_date(until) {
            errors.push(format!(
                "{}: until = {until:?} is not a date: write YYYY-MM-DD",
                location(file, text, entry.until.span().start)
            ));
        }
        let mut hosts = Vec::new();
        for host in &entry.hosts {
            match parse_net(host.get_ref()) {
                Some(net) => hosts.push(net),
                None => errors.push(format!(
                    "{}: {:?} is not an IP address or CIDR block (such as 127.0.0.2 or 127.0.1.0/24)",
                    location(file, text, host.span().start),
                    host.get_ref()
                )),
            }
        }
        out.push(Acceptance {
            ids: entry
                .ids
                .iter()
                .map(|i| i.trim().to_ascii_uppercase())
                .collect(),
            hosts,
            until: until.clone(),
            reason: entry.reason.trim().to_string(),
            location: at,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("\n"))
    }
}

fn is_date(text: &str) -> bool {
    text.len() == 10 && humantime::parse_rfc3339(&format!("{text}T00:00:00Z")).is_ok()
}

fn parse_net(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// Today in UTC, `YYYY-MM-DD`.
fn today() -> String {
    humantime::format_rfc3339(SystemTime::now()).to_string()[..10].to_string()
}

struct AcceptedRisk {
    acceptances: Vec<Acceptance>,
    today: String,
    /// Expired acceptances already warned about (one warning each, not one per finding).
    warned: Vec<bool>,
}

impl StepCode for AcceptedRisk {
    fn filter(&mut self, finding: &Finding) -> Result<Verdict, PluginError> {
        for (i, a) in self.acceptances.iter().enumerate() {
            if !a.covers(finding) {
                continue;
            }
            if a.until >= self.today {
                return Ok(Verdict::Drop(format!(
                    "accepted risk until {}: {} ({})",
                    a.until, a.reason, a.location
                )));
            }
            if !self.warned[i] {
                self.warned[i] = true;
                eprintln!(
                    "warning: accepted-risk: the acceptance at {} expired on {}: its findings \
                     are reported again (renew or remove it)",
                    a.location, a.until
                );
            }
        }
        Ok(Verdict::Keep)
    }
}

fn build(step: &StepConfig) -> Result<Box<dyn StepCode>, PluginError> {
    let config: Config = super::config(step)?;
    let path = step.dir.join(&config.path);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| PluginError::Load(format!("cannot read {}: {e}", path.display())))?;
    let acceptances = parse(&path.display().to_string(), &text).map_err(PluginError::Load)?;
    Ok(Box::new(AcceptedRisk {
        warned: vec![false; acceptances.len()],
        acceptances,
        today: today(),
    }))
}

inventory::submit! {
    Builtin {
        name: "accepted-risk",
        stage: Stage::Filter,
        description: "drops findings accepted in a file (ids, hosts, until, reason); expired acceptances come back; config: path",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(address: &str, cve: &str) -> Finding {
        serde_json::from_value(serde_json::json!({
            "address": address, "hostnames": [], "port": 22, "protocol": "tcp",
            "service": "ssh", "product": null, "version": null, "cpe": null, "cve": cve,
            "id": cve, "kind": "cve", "severity": "high", "exploit": false, "source": "nvd",
        }))
        .unwrap()
    }

    fn step(text: &str, today: &str) -> AcceptedRisk {
        let acceptances = parse("risk.toml", text).unwrap();
        AcceptedRisk {
            warned: vec![false; acceptances.len()],
            acceptances,
            today: today.into(),
        }
    }

    const FILE: &str = r#"
[[accept]]
ids = ["cve-2023-38408"]
hosts = ["127.0.0.2", "127.0.1.0/24"]
until = "2027-03-31"
reason = "agent forwarding is off"

[[accept]]
hosts = ["::1"]
until = "2026-01-01"
reason = "lab host"
"#;

    #[test]
    fn an_acceptance_drops_its_ids_on_its_hosts_until_its_last_day() {
        let mut s = step(FILE, "2027-03-31");
        assert_eq!(
            s.filter(&finding("127.0.1.9", "CVE-2023-38408")).unwrap(),
            Verdict::Drop(
                "accepted risk until 2027-03-31: agent forwarding is off (risk.toml:2:1)".into()
            )
        );
        assert_eq!(
            s.filter(&finding("127.0.0.3", "CVE-2023-38408")).unwrap(),
            Verdict::Keep
        );
        assert_eq!(
            s.filter(&finding("127.0.0.2", "CVE-2024-6387")).unwrap(),
            Verdict::Keep
        );
        let mut later = step(FILE, "2027-04-01");
        assert_eq!(
            later
                .filter(&finding("127.0.0.2", "CVE-2023-38408"))
                .unwrap(),
            Verdict::Keep
        );
    }

    #[test]
    fn a_host_acceptance_covers_every_vulnerability_and_expires() {
        let mut s = step(FILE, "2025-12-31");
        assert!(matches!(
            s.filter(&finding("::1", "CVE-2024-6387")).unwrap(),
            Verdict::Drop(_)
        ));
        let mut expired = step(FILE, "2026-01-02");
        assert_eq!(
            expired.filter(&finding("::1", "CVE-2024-6387")).unwrap(),
            Verdict::Keep
        );
        assert!(expired.warned[1], "the expiry is warned about");
    }

    #[test]
    fn mistakes_are_reported_with_their_place() {
        let errors = parse(
            "risk.toml",
            "[[accept]]\nuntil = \"31/03/2027\"\nreason = \"\"\nhosts = [\"10.0.0.300\"]\n",
        )
        .unwrap_err();
        assert!(
            errors
                .contains("risk.toml:2:9: until = \"31/03/2027\" is not a date: write YYYY-MM-DD"),
            "{errors}"
        );
        assert!(
            errors.contains("risk.toml:1:1: [[accept]] has an empty reason"),
            "{errors}"
        );
        assert!(
            errors.contains("risk.toml:4:10: \"10.0.0.300\" is not an IP address"),
            "{errors}"
        );
        let unknown = parse("risk.toml", "[[accept]]\nid = \"CVE-1\"\n").unwrap_err();
        assert!(
            unknown.starts_with("risk.toml: TOML parse error at line 2"),
            "{unknown}"
        );
    }
}
