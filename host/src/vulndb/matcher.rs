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
}

/// A criterion parsed once, with its version bounds and everything a look-up would otherwise
/// recompute for each service: look-ups compare every criterion of a product, so they must
/// not allocate.
struct Criterion {
    vulnerable: bool,
    cpe: CpeName,
    /// `vendor:product` under its canonical name (the alias table's first).
    product: String,
    /// The criterion's own version (with its update, e.g. OpenSSH's `9.3` + `p1`).
    exact: Option<Version>,
    /// A version without p-level and an open update name a whole OpenBSD release.
    names_releases: bool,
    /// The update is a value: its bounds never carry a p-level.
    level_free: bool,
    start: Option<Bound>,
    end: Option<Bound>,
    /// A bound was given that reads as no version ("unknown", 400 runs): the criterion can
    /// say nothing about any version, and must not be read as having no bound at all.
    unreadable_bound: bool,
    text: String,
}

/// One end of a version range.
struct Bound {
    version: Version,
    inclusive: bool,
    /// The bound has an OpenSSH p-level ("7.2p2").
    has_level: bool,
}

/// A version the scan saw, with its OpenSSH release ("9.2p1" → "9.2"), worked out once.
struct Seen {
    version: Version,
    release: Option<Version>,
}

impl Seen {
    fn new(version: Version) -> Seen {
        Seen {
            release: version.without_patch_level(),
            version,
        }
    }
}

/// A CPE the scan saw on the host, for confirming a configuration's platform.
struct ContextCpe {
    part: char,
    product: String,
    version: Option<Seen>,
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

/// Looks services up in the store, caching each product's compiled CVEs and the KEV entries
/// it has read for the whole scan.
pub struct Matcher<'a> {
    store: &'a Store,
    aliases: Aliases,
    cache: HashMap<String, Rc<Vec<CompiledCve>>>,
    kev: HashMap<String, Option<KevEntry>>,
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
}

/// The values an AND or OR node combines, gathered one by one (no list to allocate).
#[derive(Default)]
struct Gathered {
    any_true: bool,
    any_false: bool,
    any_unknown: bool,
    any: bool,
}

impl Gathered {
    fn add(&mut self, value: Tri) {
        self.any = true;
        match value {
            Tri::True => self.any_true = true,
            Tri::False => self.any_false = true,
            Tri::Unknown => self.any_unknown = true,
        }
    }

    fn combine(&self, operator: Operator) -> Tri {
        match operator {
            _ if !self.any => Tri::False,
            Operator::Or if self.any_true => Tri::True,
            Operator::Or if self.any_unknown => Tri::Unknown,
            Operator::Or => Tri::False,
            Operator::And if self.any_false => Tri::False,
            Operator::And if self.any_unknown => Tri::Unknown,
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
            kev: HashMap::new(),
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
        let context: Vec<ContextCpe> = parsed(host_cpes)
            .into_iter()
            .map(|c| ContextCpe {
                part: c.part,
                product: self.aliases.canonical(&c.vendor, &c.product).into_owned(),
                version: c.version.as_value().and_then(Version::parse).map(Seen::new),
            })
            .collect();
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
            let seen = Seen::new(version);
            let product = self
                .aliases
                .canonical(&target.vendor, &target.product)
                .into_owned();
            // One product's CVEs are distinct: only a second target can repeat a CVE.
            let first_target = !versioned;
            versioned = true;
            for cve in self.compiled(target)?.iter() {
                let Some((confidence, rule)) =
                    evaluate(cve, target.part, &product, &seen, &context)
                else {
                    continue;
                };
                let known = if first_target {
                    None
                } else {
                    matches.iter_mut().find(|m| m.record.id == cve.record.id)
                };
                match known {
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
        if !versioned {
            return Ok(Verdict::VersionUnknown {
                product: unversioned.unwrap_or_default(),
            });
        }
        for m in &mut matches {
            m.kev = match self.kev.get(&m.record.id) {
                Some(known) => known.clone(),
                None => {
                    let entry = self.store.kev(&m.record.id)?;
                    self.kev.insert(m.record.id.clone(), entry.clone());
                    entry
                }
            };
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
                    compiled.push(compile(record, &self.aliases));
                }
            }
        }
        let compiled = Rc::new(compiled);
        self.cache.insert(key, Rc::clone(&compiled));
        Ok(compiled)
    }
}

fn compile(record: CveRecord, aliases: &Aliases) -> CompiledCve {
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
                    criteria: n
                        .matches
                        .iter()
                        .filter_map(|m| compile_criterion(m, aliases))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    CompiledCve {
        record: Rc::new(record),
        configs,
    }
}

fn compile_criterion(m: &CpeMatch, aliases: &Aliases) -> Option<Criterion> {
    let cpe = CpeName::parse(&m.criteria).ok()?;
    let exact = match (&cpe.version, &cpe.update) {
        (CpeValue::Value(v), CpeValue::Value(u)) => Version::parse(&format!("{v}{u}")),
        (CpeValue::Value(v), _) => Version::parse(v),
        _ => None,
    };
    let bound = |incl: &Option<String>, excl: &Option<String>| {
        let (text, inclusive) = match (incl, excl) {
            (Some(v), _) => (v, true),
            (None, Some(v)) => (v, false),
            (None, None) => return None,
        };
        let version = Version::parse(text)?;
        Some(Bound {
            has_level: version.without_patch_level().is_some(),
            version,
            inclusive,
        })
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
        product: aliases.canonical(&cpe.vendor, &cpe.product).into_owned(),
        names_releases: matches!(cpe.update, CpeValue::Any)
            && cpe.version.as_value().is_some_and(|v| !v.contains('p')),
        level_free: matches!(cpe.update, CpeValue::Value(_)),
        exact,
        start,
        end,
        unreadable_bound,
        cpe,
        text,
    })
}

/// How a version the scan saw fits a criterion of the same product: true with the kind of
/// match, or false.
fn version_fits(c: &Criterion, seen: &Seen) -> Option<Confidence> {
    if c.unreadable_bound {
        return None;
    }
    match &c.cpe.version {
        CpeValue::Value(_) => {
            let exact = c.exact.as_ref()?;
            if *exact == seen.version {
                return Some(Confidence::Exact);
            }
            // OpenSSH portable "9.2p1" is OpenBSD's "9.2" release: a criterion that leaves the
            // update open (ANY) names both; one that says NA ("9.8:-") means no p-level at all.
            if c.names_releases && seen.release.as_ref() == Some(exact) {
                return Some(Confidence::Exact);
            }
            None
        }
        // NA: the product has no version (CPE name matching: disjoint from any version).
        CpeValue::Na => None,
        CpeValue::Any => {
            // A bound without a p-level names a whole release, portable p-levels included
            // ("through 7.7" covers 7.7p1); NVD also writes "* update p2, up to 7.2".
            let side = |bound: &Bound| match &seen.release {
                Some(release) if c.level_free || !bound.has_level => release,
                _ => &seen.version,
            };
            let above = c.start.as_ref().is_none_or(|b| {
                if b.inclusive {
                    *side(b) >= b.version
                } else {
                    *side(b) > b.version
                }
            });
            let below = c.end.as_ref().is_none_or(|b| {
                if b.inclusive {
                    *side(b) <= b.version
                } else {
                    *side(b) < b.version
                }
            });
            (above && below).then_some(Confidence::Range)
        }
    }
}

/// Evaluate a CVE's configurations for the target (its CPE part, canonical product and
/// version); Some((confidence, rule)) when it applies.
fn evaluate(
    cve: &CompiledCve,
    part: char,
    product: &str,
    seen: &Seen,
    context: &[ContextCpe],
) -> Option<(Confidence, String)> {
    let mut best: Option<(Confidence, String)> = None;
    for config in &cve.configs {
        // The criterion of the target that fired, if any: the CVE must be *about* this
        // service, not merely mention a product the host also runs.
        let mut hit: Option<(Confidence, &str)> = None;
        let mut nodes = Gathered::default();
        for node in &config.nodes {
            let mut values = Gathered::default();
            for c in &node.criteria {
                let value = if c.cpe.part == part && c.product == product {
                    match version_fits(c, seen) {
                        Some(conf) => {
                            if c.vulnerable && hit.is_none_or(|(h, _)| conf < h) {
                                hit = Some((conf, &c.text));
                            }
                            Tri::True
                        }
                        None => Tri::False,
                    }
                } else if let Some(other) = context
                    .iter()
                    .find(|o| o.part == c.cpe.part && o.product == c.product)
                {
                    match &other.version {
                        Some(v) if version_fits(c, v).is_some() => Tri::True,
                        Some(_) => Tri::False,
                        None => Tri::Unknown,
                    }
                } else {
                    Tri::Unknown
                };
                values.add(value);
            }
            let value = values.combine(node.operator);
            nodes.add(if node.negate { value.not() } else { value });
        }
        let Some((confidence, rule)) = hit else {
            continue;
        };
        let value = nodes.combine(config.operator);
        let value = if config.negate { value.not() } else { value };
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
