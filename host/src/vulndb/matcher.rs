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

/// A criterion parsed once, with everything a look-up would otherwise recompute for each
/// service: look-ups walk every criterion of the CVEs that may apply, so they must not
/// allocate, and what every step reads is kept small (the rest is boxed in [`Range`]).
struct Criterion {
    part: char,
    vulnerable: bool,
    /// `vendor:product` under its canonical name (the alias table's first).
    product: ProductId,
    version: Versions,
    /// A version without p-level and an open update name a whole OpenBSD release.
    names_releases: bool,
    /// The update is a value: its bounds never carry a p-level.
    level_free: bool,
    /// A bound was given that reads as no version ("unknown", 400 runs): the criterion can
    /// say nothing about any version, and must not be read as having no bound at all.
    unreadable_bound: bool,
    /// Its bounds and the rule's text, read when the product is the service's.
    range: Box<Range>,
}

/// Which versions a criterion names.
enum Versions {
    /// One version (with its update, e.g. OpenSSH's `9.3` + `p1`); `None` if unreadable.
    One(Option<VersionId>),
    /// None at all (NA): a product without versions.
    Na,
    /// Any version between the bounds.
    Any,
}

struct Range {
    start: Option<Bound>,
    end: Option<Bound>,
    text: String,
}

/// One end of a version range.
struct Bound {
    version: Version,
    inclusive: bool,
    /// The bound has an OpenSSH p-level ("7.2p2").
    has_level: bool,
}

/// A version the scan saw, with its OpenSSH release ("9.2p1" → "9.2"), and their keys,
/// worked out once.
struct Seen {
    version: Version,
    release: Option<Version>,
    key: String,
    release_key: Option<String>,
    id: VersionId,
    release_id: Option<VersionId>,
}

impl Seen {
    fn new(version: Version, numbers: &mut Numbers) -> Seen {
        let release = version.without_patch_level();
        let key = version.key();
        let release_key = release.as_ref().map(Version::key);
        Seen {
            id: numbers.of(key.as_str().into()),
            release_id: release_key.as_deref().map(|k| numbers.of(k.into())),
            key,
            release_key,
            release,
            version,
        }
    }
}

/// A CPE the scan saw on the host, for confirming a configuration's platform.
struct ContextCpe {
    part: char,
    product: ProductId,
    version: Option<Seen>,
}

/// A canonical `vendor:product`, numbered: criteria compare products by number.
type ProductId = u32;

/// A version's key ([`Version::key`]), numbered: criteria compare exact versions by number.
type VersionId = u32;

/// The numbers a matcher has given names (products, version keys): look-ups compare many
/// criteria, and comparing numbers is what keeps them fast.
#[derive(Default)]
struct Numbers(HashMap<String, u32>);

impl Numbers {
    fn of(&mut self, name: std::borrow::Cow<'_, str>) -> u32 {
        if let Some(&id) = self.0.get(name.as_ref()) {
            return id;
        }
        let id = self.0.len() as u32;
        self.0.insert(name.into_owned(), id);
        id
    }

    fn product(&mut self, aliases: &Aliases, vendor: &str, product: &str) -> ProductId {
        self.of(aliases.canonical(vendor, product))
    }
}

/// A node's criteria, grouped by product: of a product the scan did not see on the host, a
/// whole group is one unknown, however many versions it lists (old records list hundreds of
/// versions of each distribution a CVE was fixed in), so a look-up skips it in one step.
struct CompiledNode {
    operator: Operator,
    negate: bool,
    groups: Vec<Group>,
}

/// The criteria of one product in a node, in the record's order.
struct Group {
    part: char,
    product: ProductId,
    criteria: Vec<Criterion>,
}

impl CompiledNode {
    fn new(operator: Operator, negate: bool, criteria: Vec<Criterion>) -> CompiledNode {
        let mut groups: Vec<Group> = Vec::new();
        for c in criteria {
            match groups
                .iter_mut()
                .find(|g| g.part == c.part && g.product == c.product)
            {
                Some(group) => group.criteria.push(c),
                None => groups.push(Group {
                    part: c.part,
                    product: c.product,
                    criteria: vec![c],
                }),
            }
        }
        CompiledNode {
            operator,
            negate,
            groups,
        }
    }
}

struct CompiledConfig {
    operator: Operator,
    negate: bool,
    nodes: Vec<CompiledNode>,
}

struct CompiledCve {
    record: Rc<CveRecord>,
    configs: Vec<CompiledConfig>,
    /// Its KEV entry, read from the store the first time it matches.
    kev: std::cell::OnceCell<Option<KevEntry>>,
}

/// A CVE of the database as a look-up has it: compiled, or known to be absent.
type Loaded = Option<Rc<CompiledCve>>;

/// Which versions of its product a vulnerable criterion can match: the index a look-up
/// starts from (`versions` of the database's `cve_product`), so that it reads and evaluates
/// only the CVEs that can apply. A CVE is reported only when a vulnerable criterion of the
/// service's own product fits its version; old NVD records list every affected version one by
/// one (a MySQL CVE names hundreds), so most of a product's CVEs are never read.
#[derive(Debug, PartialEq, Eq)]
pub enum Reach {
    /// Exactly this version ([`Version::key`]), or the OpenBSD release of a portable p-level.
    Version(String),
    /// A range: the keys of its bounds, when it has them. Whether a bound is inclusive, and
    /// OpenSSH's p-levels, are left to the evaluation: the index only narrows.
    Range {
        from: Option<String>,
        to: Option<String>,
    },
    /// No version at all (NA, or a version or bound that does not read as one).
    Nothing,
}

impl Reach {
    pub fn of(m: &CpeMatch, cpe: &CpeName) -> Reach {
        match &cpe.version {
            CpeValue::Value(_) => {
                exact_version(cpe).map_or(Reach::Nothing, |v| Reach::Version(v.key()))
            }
            CpeValue::Na => Reach::Nothing,
            CpeValue::Any => {
                let bound = |incl: &Option<String>, excl: &Option<String>| {
                    incl.as_ref()
                        .or(excl.as_ref())
                        .map(|t| Version::parse(t).map(|v| v.key()))
                };
                match (
                    bound(&m.start_incl, &m.start_excl),
                    bound(&m.end_incl, &m.end_excl),
                ) {
                    (Some(None), _) | (_, Some(None)) => Reach::Nothing,
                    (from, to) => Reach::Range {
                        from: from.flatten(),
                        to: to.flatten(),
                    },
                }
            }
        }
    }

    /// How the database's `versions` column writes it: the key, `*` for any version, or
    /// `~FROM~TO` (either may be empty); `None` for nothing. Keys hold no `~` or spaces.
    pub fn token(&self) -> Option<String> {
        match self {
            Reach::Version(key) => Some(key.clone()),
            Reach::Range {
                from: None,
                to: None,
            } => Some("*".into()),
            Reach::Range { from, to } => Some(format!(
                "~{}~{}",
                from.as_deref().unwrap_or_default(),
                to.as_deref().unwrap_or_default()
            )),
            Reach::Nothing => None,
        }
    }
}

/// A criterion's own version, with its update (OpenSSH's `9.3` + `p1`).
fn exact_version(cpe: &CpeName) -> Option<Version> {
    match (&cpe.version, &cpe.update) {
        (CpeValue::Value(v), CpeValue::Value(u)) => Version::parse(&format!("{v}{u}")),
        (CpeValue::Value(v), _) => Version::parse(v),
        _ => None,
    }
}

/// One product's CVEs as the database's index lists them (all its names' rows).
struct ProductIndex {
    ids: Vec<String>,
    /// The CVEs of `ids` as look-ups have compiled them (filled as they need them).
    loaded: std::cell::RefCell<Vec<Option<Loaded>>>,
    /// CVEs by a version one of their vulnerable criteria of the product names exactly.
    by_version: HashMap<String, Vec<u32>>,
    /// CVEs with a vulnerable criterion of the product over a range, with its bounds as
    /// places in `bounds`: a look-up places its version there once (two binary searches) and
    /// then tests every range with two integer comparisons, not four version comparisons.
    ranged: Vec<(u32, Option<u32>, Option<u32>)>,
    /// Every bound of the ranges, sorted, each once.
    bounds: Vec<Version>,
}

impl ProductIndex {
    fn new(rows: Vec<(String, String)>) -> ProductIndex {
        let mut ids = Vec::with_capacity(rows.len());
        let mut by_version: HashMap<String, Vec<u32>> = HashMap::new();
        let mut ranges: Vec<(u32, Option<Version>, Option<Version>)> = Vec::new();
        // A CVE naming two names of the product has a row under each.
        let mut known: HashMap<String, u32> = HashMap::new();
        for (id, versions) in rows {
            let i = *known.entry(id.clone()).or_insert_with(|| {
                ids.push(id);
                ids.len() as u32 - 1
            });
            for token in versions.split_whitespace() {
                if token == "*" {
                    ranges.push((i, None, None));
                } else if let Some((from, to)) =
                    token.strip_prefix('~').and_then(|t| t.split_once('~'))
                {
                    // A bound the index cannot read is left open: the index may only narrow.
                    ranges.push((i, Version::from_key(from), Version::from_key(to)));
                } else {
                    by_version.entry(token.to_string()).or_default().push(i);
                }
            }
        }
        let mut bounds: Vec<Version> = ranges
            .iter()
            .flat_map(|(_, from, to)| [from, to])
            .flatten()
            .cloned()
            .collect();
        bounds.sort_unstable();
        bounds.dedup();
        let place = |bound: Option<Version>| {
            bound.map(|b| bounds.binary_search(&b).unwrap_or_else(|i| i) as u32)
        };
        let ranged = ranges
            .into_iter()
            .map(|(i, from, to)| (i, place(from), place(to)))
            .collect();
        ProductIndex {
            loaded: std::cell::RefCell::new(vec![None; ids.len()]),
            ids,
            by_version,
            ranged,
            bounds,
        }
    }

    /// The CVEs that may apply to `seen`, in the index's order, each once: those naming its
    /// version or its OpenBSD release, and those with a range that may hold it.
    fn candidates(&self, seen: &Seen) -> Vec<u32> {
        let named = |key: Option<&String>| {
            key.and_then(|k| self.by_version.get(k))
                .map_or(&[][..], Vec::as_slice)
        };
        // The evaluation compares a bound with the version or with its release (p-levels),
        // which is never above the version: a range can hold one of them only if it starts
        // at or below the version and ends at or above the lower of the two.
        let low = seen.release.as_ref().unwrap_or(&seen.version);
        let (at_or_below, below_low) = (
            self.bounds.partition_point(|b| *b <= seen.version) as u32,
            self.bounds.partition_point(|b| b < low) as u32,
        );
        let in_range = |(_, from, to): &&(u32, Option<u32>, Option<u32>)| {
            from.is_none_or(|f| f < at_or_below) && to.is_none_or(|t| t >= below_low)
        };
        let mut found: Vec<u32> = named(Some(&seen.key))
            .iter()
            .chain(named(seen.release_key.as_ref()))
            .copied()
            .chain(self.ranged.iter().filter(in_range).map(|(i, _, _)| *i))
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// Looks services up in the store, caching for the whole scan each product's index, the CVEs
/// it has compiled and the KEV entries it has read.
pub struct Matcher<'a> {
    store: &'a Store,
    aliases: Aliases,
    products: Numbers,
    versions: Numbers,
    indexes: HashMap<ProductId, Rc<ProductIndex>>,
    cves: HashMap<String, Loaded>,
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
            products: Numbers::default(),
            versions: Numbers::default(),
            indexes: HashMap::new(),
            cves: HashMap::new(),
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
                product: self.products.product(&self.aliases, &c.vendor, &c.product),
                version: c
                    .version
                    .as_value()
                    .and_then(Version::parse)
                    .map(|v| Seen::new(v, &mut self.versions)),
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
            let seen = Seen::new(version, &mut self.versions);
            let product = self
                .products
                .product(&self.aliases, &target.vendor, &target.product);
            // One product's CVEs are distinct: only a second target can repeat a CVE.
            let first_target = !versioned;
            versioned = true;
            let index = self.index(target, product)?;
            for i in index.candidates(&seen) {
                let slot = index.loaded.borrow()[i as usize].clone();
                let loaded = match slot {
                    Some(loaded) => loaded,
                    None => {
                        let loaded = self.cve(&index.ids[i as usize])?;
                        index.loaded.borrow_mut()[i as usize] = Some(loaded.clone());
                        loaded
                    }
                };
                let Some(cve) = loaded else {
                    continue;
                };
                let Some((confidence, rule)) =
                    evaluate(&cve, target.part, product, &seen, &context)
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
                        kev: match cve.kev.get() {
                            Some(kev) => kev.clone(),
                            None => {
                                let kev = self.store.kev(&cve.record.id)?;
                                cve.kev.get_or_init(|| kev).clone()
                            }
                        },
                    }),
                }
            }
        }
        if !versioned {
            return Ok(Verdict::VersionUnknown {
                product: unversioned.unwrap_or_default(),
            });
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

    /// The index of the target's product, under all its names.
    fn index(
        &mut self,
        target: &CpeName,
        product: ProductId,
    ) -> Result<Rc<ProductIndex>, StoreError> {
        if let Some(hit) = self.indexes.get(&product) {
            return Ok(Rc::clone(hit));
        }
        let mut rows = Vec::new();
        for (vendor, name) in self.aliases.names(&target.vendor, &target.product) {
            rows.extend(self.store.product_cves(&vendor, &name)?);
        }
        let index = Rc::new(ProductIndex::new(rows));
        self.indexes.insert(product, Rc::clone(&index));
        Ok(index)
    }

    /// One CVE, compiled the first time a look-up needs it.
    fn cve(&mut self, id: &str) -> Result<Loaded, StoreError> {
        if let Some(hit) = self.cves.get(id) {
            return Ok(hit.clone());
        }
        let loaded = self.store.record(id)?.map(|record| {
            let mut numbers = (&mut self.products, &mut self.versions);
            Rc::new(compile(record, &self.aliases, &mut numbers))
        });
        self.cves.insert(id.to_string(), loaded.clone());
        Ok(loaded)
    }
}

/// The product and version numbers a compilation gives out.
type Numbering<'a> = (&'a mut Numbers, &'a mut Numbers);

fn compile(record: CveRecord, aliases: &Aliases, numbers: &mut Numbering) -> CompiledCve {
    let configs = record
        .configurations
        .iter()
        .map(|c: &Configuration| CompiledConfig {
            operator: c.operator,
            negate: c.negate,
            nodes: c
                .nodes
                .iter()
                .map(|n: &Node| {
                    let criteria = n
                        .matches
                        .iter()
                        .filter_map(|m| compile_criterion(m, aliases, numbers))
                        .collect();
                    CompiledNode::new(n.operator, n.negate, criteria)
                })
                .collect(),
        })
        .collect();
    CompiledCve {
        record: Rc::new(record),
        configs,
        kev: std::cell::OnceCell::new(),
    }
}

fn compile_criterion(
    m: &CpeMatch,
    aliases: &Aliases,
    (products, versions): &mut Numbering,
) -> Option<Criterion> {
    let cpe = CpeName::parse(&m.criteria).ok()?;
    let version = match &cpe.version {
        CpeValue::Value(_) => {
            Versions::One(exact_version(&cpe).map(|v| versions.of(v.key().into())))
        }
        CpeValue::Na => Versions::Na,
        CpeValue::Any => Versions::Any,
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
        part: cpe.part,
        vulnerable: m.vulnerable,
        product: products.product(aliases, &cpe.vendor, &cpe.product),
        names_releases: matches!(cpe.update, CpeValue::Any)
            && cpe.version.as_value().is_some_and(|v| !v.contains('p')),
        level_free: matches!(cpe.update, CpeValue::Value(_)),
        version,
        unreadable_bound,
        range: Box::new(Range { start, end, text }),
    })
}

/// How a version the scan saw fits a criterion of the same product: true with the kind of
/// match, or false.
fn version_fits(c: &Criterion, seen: &Seen) -> Option<Confidence> {
    if c.unreadable_bound {
        return None;
    }
    match c.version {
        Versions::One(exact) => {
            let exact = exact?;
            if exact == seen.id {
                return Some(Confidence::Exact);
            }
            // OpenSSH portable "9.2p1" is OpenBSD's "9.2" release: a criterion that leaves the
            // update open (ANY) names both; one that says NA ("9.8:-") means no p-level at all.
            if c.names_releases && seen.release_id == Some(exact) {
                return Some(Confidence::Exact);
            }
            None
        }
        // NA: the product has no version (CPE name matching: disjoint from any version).
        Versions::Na => None,
        Versions::Any => {
            // A bound without a p-level names a whole release, portable p-levels included
            // ("through 7.7" covers 7.7p1); NVD also writes "* update p2, up to 7.2".
            let side = |bound: &Bound| match &seen.release {
                Some(release) if c.level_free || !bound.has_level => release,
                _ => &seen.version,
            };
            let above = c.range.start.as_ref().is_none_or(|b| {
                if b.inclusive {
                    *side(b) >= b.version
                } else {
                    *side(b) > b.version
                }
            });
            let below = c.range.end.as_ref().is_none_or(|b| {
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
    product: ProductId,
    seen: &Seen,
    context: &[ContextCpe],
) -> Option<(Confidence, String)> {
    // The best finding so far: its confidence, the rule that fired, and whether the
    // platform stayed unconfirmed. An exact match confirmed is the best there is.
    let mut best: Option<(Confidence, &str, bool)> = None;
    for config in &cve.configs {
        // The criterion of the target that fired, if any: the CVE must be *about* this
        // service, not merely mention a product the host also runs.
        let mut hit: Option<(Confidence, &str)> = None;
        let mut nodes = Gathered::default();
        let exact =
            |hit: Option<(Confidence, &str)>| hit.is_some_and(|(h, _)| h == Confidence::Exact);
        for node in &config.nodes {
            let mut values = Gathered::default();
            'groups: for group in &node.groups {
                let target = group.part == part && group.product == product;
                let other = match target {
                    true => None,
                    false => match context
                        .iter()
                        .find(|o| o.part == group.part && o.product == group.product)
                    {
                        Some(other) => Some(other),
                        // A product the scan did not see: unknown, whatever its versions.
                        None => {
                            values.add(Tri::Unknown);
                            continue;
                        }
                    },
                };
                for c in &group.criteria {
                    let value = match other {
                        None => match version_fits(c, seen) {
                            Some(conf) => {
                                if c.vulnerable && hit.is_none_or(|(h, _)| conf < h) {
                                    hit = Some((conf, &c.range.text));
                                }
                                Tri::True
                            }
                            None => Tri::False,
                        },
                        Some(other) => match &other.version {
                            Some(v) if version_fits(c, v).is_some() => Tri::True,
                            Some(_) => Tri::False,
                            None => Tri::Unknown,
                        },
                    };
                    values.add(value);
                    // An OR is true once one of its values is, and no later criterion can
                    // give a better hit than an exact one: old records list hundreds of
                    // versions.
                    if value == Tri::True && node.operator == Operator::Or && exact(hit) {
                        break 'groups;
                    }
                }
            }
            let value = values.combine(node.operator);
            let value = if node.negate { value.not() } else { value };
            nodes.add(value);
            if value == Tri::True && config.operator == Operator::Or && !config.negate && exact(hit)
            {
                break;
            }
        }
        let Some((confidence, rule)) = hit else {
            continue;
        };
        let value = nodes.combine(config.operator);
        let value = if config.negate { value.not() } else { value };
        let found = match value {
            Tri::True => (confidence, rule, false),
            Tri::Unknown => (Confidence::PlatformUnconfirmed, rule, true),
            Tri::False => continue,
        };
        if best.is_none_or(|(b, _, _)| found.0 < b) {
            best = Some(found);
        }
        if found == (Confidence::Exact, rule, false) {
            break;
        }
    }
    best.map(|(confidence, rule, unconfirmed)| match unconfirmed {
        false => (confidence, rule.to_string()),
        true => (
            confidence,
            format!("{rule}, on a platform the scan could not confirm"),
        ),
    })
}

#[cfg(test)]
mod tests;
