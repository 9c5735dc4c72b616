//! What changed between two reports: new, fixed and unchanged vulnerabilities, per endpoint.
//!
//! Compared by (address, port, protocol, vulnerability id): a service upgraded in place keeps
//! its endpoint, so its fixed CVEs show up as fixed there.

use serde::{Deserialize, Serialize};

use super::Report;
use crate::findings::Finding;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Diff {
    /// When the baseline scan started.
    pub baseline_started: Option<String>,
    pub new: usize,
    pub fixed: usize,
    pub unchanged: usize,
    /// Per endpoint that changed, most new first.
    pub endpoints: Vec<EndpointDiff>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EndpointDiff {
    pub address: String,
    pub port: u16,
    pub protocol: String,
    /// What ran there in the baseline and now ("nginx 1.20.0" → "nginx 1.22.1").
    pub before: Option<String>,
    pub after: Option<String>,
    pub new: Vec<String>,
    pub fixed: Vec<String>,
    pub unchanged: usize,
}

fn key(f: &Finding) -> (String, u16, String) {
    (f.address.clone(), f.port, f.protocol.clone())
}

fn software(f: &Finding) -> String {
    match (&f.product, &f.version) {
        (Some(p), Some(v)) => format!("{p} {v}"),
        (Some(p), None) => p.clone(),
        _ => f.service.clone(),
    }
}

impl Diff {
    pub fn between(old: &Report, new: &Report) -> Diff {
        let mut endpoints: Vec<EndpointDiff> = Vec::new();
        fn entry(endpoints: &mut Vec<EndpointDiff>, f: &Finding) -> usize {
            let (address, port, protocol) = key(f);
            match endpoints
                .iter()
                .position(|e| e.address == address && e.port == port && e.protocol == protocol)
            {
                Some(i) => i,
                None => {
                    endpoints.push(EndpointDiff {
                        address,
                        port,
                        protocol,
                        before: None,
                        after: None,
                        new: vec![],
                        fixed: vec![],
                        unchanged: 0,
                    });
                    endpoints.len() - 1
                }
            }
        }
        let same = |a: &Finding, b: &Finding| key(a) == key(b) && a.cve == b.cve;
        let (mut n_new, mut n_fixed, mut n_unchanged) = (0, 0, 0);
        for f in &new.findings {
            let i = entry(&mut endpoints, f);
            endpoints[i].after = Some(software(f));
            if old.findings.iter().any(|o| same(o, f)) {
                endpoints[i].unchanged += 1;
                n_unchanged += 1;
            } else {
                endpoints[i].new.push(f.cve.clone());
                n_new += 1;
            }
        }
        for f in &old.findings {
            let i = entry(&mut endpoints, f);
            endpoints[i].before = Some(software(f));
            if !new.findings.iter().any(|n| same(n, f)) {
                endpoints[i].fixed.push(f.cve.clone());
                n_fixed += 1;
            }
        }
        // What runs there now, also where nothing is vulnerable any more.
        for e in &mut endpoints {
            if e.after.is_none() {
                e.after = new.services.iter().find_map(|s| {
                    s.endpoints
                        .iter()
                        .any(|p| {
                            p.address == e.address && p.port == e.port && p.protocol == e.protocol
                        })
                        .then(|| s.title.clone())
                });
            }
        }
        endpoints.retain(|e| !e.new.is_empty() || !e.fixed.is_empty());
        endpoints.sort_by(|a, b| {
            b.new
                .len()
                .cmp(&a.new.len())
                .then_with(|| b.fixed.len().cmp(&a.fixed.len()))
        });
        Diff {
            baseline_started: old.scan.started.clone(),
            new: n_new,
            fixed: n_fixed,
            unchanged: n_unchanged,
            endpoints,
        }
    }

    /// The plain-text form `brulee diff` prints.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{} new, {} fixed, {} unchanged\n",
            self.new, self.fixed, self.unchanged
        );
        for e in &self.endpoints {
            let what = match (&e.before, &e.after) {
                (Some(b), Some(a)) if a != b => format!("{b} → {a}"),
                (Some(b), None) => format!("{b} → gone"),
                (b, a) => a.clone().or(b.clone()).unwrap_or_default(),
            };
            out.push_str(&format!(
                "\n  {}:{}/{}  {what}\n",
                e.address, e.port, e.protocol
            ));
            if !e.new.is_empty() {
                out.push_str(&format!("    new:   {}\n", e.new.join(", ")));
            }
            if !e.fixed.is_empty() {
                out.push_str(&format!("    fixed: {}\n", e.fixed.join(", ")));
            }
        }
        brulee_reports::escape::terminal(&out)
    }
}
