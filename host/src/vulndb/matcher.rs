//! Which CVEs of the database apply to a service nmap detected.
//!
//! NVD describes where a CVE applies as *configurations*: nodes of CPE criteria (with version
//! ranges) combined by AND/OR, optionally negated, where some criteria are vulnerable software
//! and others only the platform it must run on. Most tools flatten that into "any vulnerable
//! criterion matches", and then claim CVEs that need a platform the host does not have (an AND
//! with ognl matched plain Struts in go-cve-dictionary #113). brulee evaluates each
//! configuration as a boolean expression in three-valued logic over what the scan saw: a
//! criterion is true or false when the scan saw that product, unknown when it did not. A CVE
//! whose configuration is true is reported; one that is unknown only because of a platform nmap
//! cannot confirm is reported with lower confidence, never silently claimed or dropped.

use std::collections::HashMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::cpe::{CpeName, CpeValue};
use super::nvd::{Configuration, CpeMatch, CveRecord, KevEntry, Node, Operator};
use super::store::{Store, StoreError};
use super::version::Version;

/// How sure a match is, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// The criterion names exactly the detected version.
    Exact,
    /// The detected version lies inside the criterion's version range.
    Range,
    /// The software matches, but the configuration also needs a platform (another product or
    /// an OS) that the scan could not confirm.
    PlatformUnconfirmed,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Exact => "exact",
            Confidence::Range => "range",
            Confidence::PlatformUnconfirmed => "platform-unconfirmed",
        }
    }
}

/// One CVE that applies to a service.
#[derive(Debug, Clone)]
pub struct DbMatch {
    pub record: Rc<CveRecord>,
    pub confidence: Confidence,
    /// The criterion that fired, for people: "cpe:2.3:a:openbsd:openssh:* from 8.6 to before 9.8".
    pub rule: String,
    pub kev: Option<KevEntry>,
}

/// What the database says about one service.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// The CVEs that apply (possibly none).
    Matches(Vec<DbMatch>),
    /// nmap named the product but not its version: listing every CVE the product ever had
    /// would be noise, so nothing is claimed.
    VersionUnknown { product: String },
    /// nmap gave no application CPE: nothing to look up.
    NotIdentified,
}

/// Product aliases: names under which NVD and nmap know the same product.
pub struct Aliases {
    groups: Vec<Vec<String>>,
}

impl Aliases {
    /// The table shipped with brulee (`aliases.txt`, kept as data).
    pub fn builtin() -> Aliases {
        Aliases::parse(include_str!("aliases.txt"))
    }

    pub fn parse(text: &str) -> Aliases {
        let groups = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or_default())
            .map(|l| {
                l.split_whitespace()
                    .map(str::to_lowercase)
                    .collect::<Vec<_>>()
            })
            .filter(|g| g.len() > 1)
            .collect();
        Aliases { groups }
    }

    /// Every name of `vendor:product`, itself first.
    pub fn names(&self, vendor: &str, product: &str) -> Vec<(String, String)> {
        let key = format!("{vendor}:{product}");
        let mut names = vec![(vendor.to_string(), product.to_string())];
        if let Some(group) = self.groups.iter().find(|g| g.contains(&key)) {
            for name in group.iter().filter(|n| **n != key) {
                if let Some((v, p)) = name.split_once(':') {
                    names.push((v.to_string(), p.to_string()));
                }
            }
        }
        names
    }

    fn canonical<'a>(&'a self, vendor: &str, product: &str) -> std::borrow::Cow<'a, str> {
        let key = format!("{vendor}:{product}");
        match self.groups.iter().find(|g| g.contains(&key)) {
            Some(group) => std::borrow::Cow::Borrowed(group[0].as_str()),
            None => std::borrow::Cow::Owned(key),
        }
    }

    fn same_product(&self, a: &CpeName, b: &CpeName) -> bool {
        a.part == b.part
            && ((a.vendor == b.vendor && a.product == b.product)
                || self.canonical(&a.vendor, &a.product) == self.canonical(&b.vendor, &b.product))
    }
}

/// A criterion parsed once, with its version bounds.
struct Criterion {
    vulnerable: bool,
    cpe: CpeName,
    /// The criterion's own version (with its update, e.g. OpenSSH's `9.3` + `p1`).
    exact: Option<Version>,
    start: Option<(Version, bool)>,
    end: Option<(Version, bool)>,
    /// A bound was given that reads as no version ("unknown", 400 runs): the criterion can
    /// say nothing about any version, and must not be read as having no bound at all.
    unreadable_bound: bool,
    text: String,
}

struct CompiledNode {
    operator: Operator,
    negate: bool,
    criteria: Vec<Criterion>,
}

struct CompiledConfig {
    operator: Operator,
    negate: bool,
    nodes: Vec<CompiledNode>,
}

struct CompiledCve {
    record: Rc<CveRecord>,
    configs: Vec<CompiledConfig>,
}

/// Looks services up in the store, caching each product's compiled CVEs for the whole scan.
pub struct Matcher<'a> {
    store: &'a Store,
    aliases: Aliases,
    cache: HashMap<String, Rc<Vec<CompiledCve>>>,
}

/// Three-valued truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    True,
    False,
    Unknown,
}

impl Tri {
    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }

    fn combine(operator: Operator, values: impl Iterator<Item = Tri>) -> Tri {
        let (mut any_true, mut any_false, mut any_unknown, mut n) = (false, false, false, 0);
        for v in values {
            n += 1;
            match v {
                Tri::True => any_true = true,
                Tri::False => any_false = true,
                Tri::Unknown => any_unknown = true,
            }
        }
        match operator {
            _ if n == 0 => Tri::False,
            Operator::Or if any_true => Tri::True,
            Operator::Or if any_unknown => Tri::Unknown,
            Operator::Or => Tri::False,
            Operator::And if any_false => Tri::False,
            Operator::And if any_unknown => Tri::Unknown,
            Operator::And => Tri::True,
        }
    }
}

impl<'a> Matcher<'a> {
    pub fn new(store: &'a Store) -> Matcher<'a> {
        Matcher {
            store,
            aliases: Aliases::builtin(),
            cache: HashMap::new(),
        }
    }

    /// Which CVEs apply to the service with these CPEs, on a host where nmap also saw
    /// `host_cpes` (other services, the OS): those can confirm a configuration's platform.
    pub fn match_service(
        &mut self,
        service_cpes: &[String],
        host_cpes: &[String],
    ) -> Result<Verdict, StoreError> {
        let parsed = |list: &[String]| {
            list.iter()
                .filter_map(|c| CpeName::parse(c).ok())
                .collect::<Vec<_>>()
        };
        let targets: Vec<CpeName> = parsed(service_cpes)
            .into_iter()
            .filter(|c| c.part == 'a')
            .collect();
        let context = parsed(host_cpes);
        if targets.is_empty() {
            return Ok(Verdict::NotIdentified);
        }
        let mut matches: Vec<DbMatch> = Vec::new();
        let mut unversioned = None;
        let mut versioned = false;
        for target in &targets {
            let Some(version) = target.version.as_value().and_then(Version::parse) else {
                unversioned.get_or_insert_with(|| format!("{}:{}", target.vendor, target.product));
                continue;
            };
            versioned = true;
            for cve in self.compiled(target)?.iter() {
                if let Some((confidence, rule)) =
                    evaluate(cve, target, &version, &context, &self.aliases)
                {
                    match matches.iter_mut().find(|m| m.record.id == cve.record.id) {
                        Some(known) if confidence < known.confidence => {
                            known.confidence = confidence;
                            known.rule = rule;
                        }
                        Some(_) => {}
                        None => matches.push(DbMatch {
                            record: Rc::clone(&cve.record),
                            confidence,
                            rule,
                            kev: None,
                        }),
                    }
                }
            }
        }
        if !versioned {
            return Ok(Verdict::VersionUnknown {
                product: unversioned.unwrap_or_default(),
            });
        }
        for m in &mut matches {
            m.kev = self.store.kev(&m.record.id)?;
        }
        Ok(Verdict::Matches(matches))
    }

    /// KEV entry of any CVE (also for CVEs another source found).
    pub fn kev(&self, cve_id: &str) -> Result<Option<KevEntry>, StoreError> {
        self.store.kev(cve_id)
    }

    /// EPSS score of any CVE.
    pub fn epss(&self, cve_id: &str) -> Result<Option<super::epss::EpssScore>, StoreError> {
        self.store.epss(cve_id)
    }

    fn compiled(&mut self, target: &CpeName) -> Result<Rc<Vec<CompiledCve>>, StoreError> {
        let key = self
            .aliases
            .canonical(&target.vendor, &target.product)
            .into_owned();
        if let Some(hit) = self.cache.get(&key) {
            return Ok(Rc::clone(hit));
        }
        let mut seen = std::collections::HashSet::new();
        let mut compiled = Vec::new();
        for (vendor, product) in self.aliases.names(&target.vendor, &target.product) {
            for record in self.store.records_for_product(&vendor, &product)? {
                if seen.insert(record.id.clone()) {
                    compiled.push(compile(record));
                }
            }
        }
        let compiled = Rc::new(compiled);
        self.cache.insert(key, Rc::clone(&compiled));
        Ok(compiled)
    }
}

fn compile(record: CveRecord) -> CompiledCve {
    let configs = record
        .configurations
        .iter()
        .map(|c: &Configuration| CompiledConfig {
            operator: c.operator,
            negate: c.negate,
            nodes: c
                .nodes
                .iter()
                .map(|n: &Node| CompiledNode {
                    operator: n.operator,
                    negate: n.negate,
                    criteria: n.matches.iter().filter_map(compile_criterion).collect(),
                })
                .collect(),
        })
        .collect();
    CompiledCve {
        record: Rc::new(record),
        configs,
    }
}

fn compile_criterion(m: &CpeMatch) -> Option<Criterion> {
    let cpe = CpeName::parse(&m.criteria).ok()?;
    let exact = match (&cpe.version, &cpe.update) {
        (CpeValue::Value(v), CpeValue::Value(u)) => Version::parse(&format!("{v}{u}")),
        (CpeValue::Value(v), _) => Version::parse(v),
        _ => None,
    };
    let bound = |incl: &Option<String>, excl: &Option<String>| match (incl, excl) {
        (Some(v), _) => Version::parse(v).map(|v| (v, true)),
        (None, Some(v)) => Version::parse(v).map(|v| (v, false)),
        (None, None) => None,
    };
    let (start, end) = (
        bound(&m.start_incl, &m.start_excl),
        bound(&m.end_incl, &m.end_excl),
    );
    let given = |incl: &Option<String>, excl: &Option<String>| incl.is_some() || excl.is_some();
    let unreadable_bound = (start.is_none() && given(&m.start_incl, &m.start_excl))
        || (end.is_none() && given(&m.end_incl, &m.end_excl));
    let mut text = m.criteria.clone();
    if let Some(v) = m.start_incl.as_ref().or(m.start_excl.as_ref()) {
        text.push_str(&format!(
            " from {v}{}",
            if m.start_incl.is_some() {
                ""
            } else {
                " (excluded)"
            }
        ));
    }
    if let Some(v) = &m.end_incl {
        text.push_str(&format!(" up to {v}"));
    } else if let Some(v) = &m.end_excl {
        text.push_str(&format!(" before {v}"));
    }
    Some(Criterion {
        vulnerable: m.vulnerable,
        exact,
        start,
        end,
        unreadable_bound,
        cpe,
        text,
    })
}

/// How `version` fits a criterion of the same product: true with the kind of match, or false.
fn version_fits(c: &Criterion, version: &Version) -> Option<Confidence> {
    if c.unreadable_bound {
        return None;
    }
    match &c.cpe.version {
        CpeValue::Value(v) => {
            let exact = c.exact.as_ref()?;
            if exact == version {
                return Some(Confidence::Exact);
            }
            // OpenSSH portable "9.2p1" is OpenBSD's "9.2" release: a criterion that leaves the
            // update open (ANY) names both; one that says NA ("9.8:-") means no p-level at all.
            let names_releases = matches!(c.cpe.update, CpeValue::Any) && !v.contains('p');
            if names_releases && strip_patch_level(version).as_ref() == Some(exact) {
                return Some(Confidence::Exact);
            }
            None
        }
        // NA: the product has no version (CPE name matching: disjoint from any version).
        CpeValue::Na => None,
        CpeValue::Any => {
            // A bound without a p-level names a whole release, portable p-levels included
            // ("through 7.7" covers 7.7p1); NVD also writes "* update p2, up to 7.2".
            let base = version.without_patch_level();
            let level_free = matches!(c.cpe.update, CpeValue::Value(_));
            let side = |bound: &Version| match &base {
                Some(base) if level_free || bound.without_patch_level().is_none() => base.clone(),
                _ => version.clone(),
            };
            let above = match &c.start {
                Some((v, true)) => side(v) >= *v,
                Some((v, false)) => side(v) > *v,
                None => true,
            };
            let below = match &c.end {
                Some((v, true)) => side(v) <= *v,
                Some((v, false)) => side(v) < *v,
                None => true,
            };
            (above && below).then_some(Confidence::Range)
        }
    }
}

/// "9.2p1" → "9.2"; None when there is no p-level.
fn strip_patch_level(version: &Version) -> Option<Version> {
    version.without_patch_level()
}

/// Evaluate a CVE's configurations for `target`; Some((confidence, rule)) when it applies.
fn evaluate(
    cve: &CompiledCve,
    target: &CpeName,
    version: &Version,
    context: &[CpeName],
    aliases: &Aliases,
) -> Option<(Confidence, String)> {
    let mut best: Option<(Confidence, String)> = None;
    for config in &cve.configs {
        // The criterion of the target that fired, if any: the CVE must be *about* this
        // service, not merely mention a product the host also runs.
        let mut hit: Option<(Confidence, &str)> = None;
        let node_values = config.nodes.iter().map(|node| {
            let values = node.criteria.iter().map(|c| {
                if aliases.same_product(&c.cpe, target) {
                    match version_fits(c, version) {
                        Some(conf) => {
                            if c.vulnerable && hit.is_none_or(|(h, _)| conf < h) {
                                hit = Some((conf, &c.text));
                            }
                            Tri::True
                        }
                        None => Tri::False,
                    }
                } else if let Some(other) = context.iter().find(|o| aliases.same_product(&c.cpe, o))
                {
                    match other.version.as_value().and_then(Version::parse) {
                        Some(v) => {
                            if version_fits(c, &v).is_some() {
                                Tri::True
                            } else {
                                Tri::False
                            }
                        }
                        None => Tri::Unknown,
                    }
                } else {
                    Tri::Unknown
                }
            });
            let value = Tri::combine(node.operator, values.collect::<Vec<_>>().into_iter());
            if node.negate {
                value.not()
            } else {
                value
            }
        });
        let value = Tri::combine(config.operator, node_values.collect::<Vec<_>>().into_iter());
        let value = if config.negate { value.not() } else { value };
        let Some((confidence, rule)) = hit else {
            continue;
        };
        let found = match value {
            Tri::True => (confidence, rule.to_string()),
            Tri::Unknown => (
                Confidence::PlatformUnconfirmed,
                format!("{rule}, on a platform the scan could not confirm"),
            ),
            Tri::False => continue,
        };
        if best.as_ref().is_none_or(|(b, _)| found.0 < *b) {
            best = Some(found);
        }
    }
    best
}

#[cfg(test)]
mod tests;
