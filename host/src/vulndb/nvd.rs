//! Reading NVD data: CVE JSON 2.0 (feeds and API pages), the legacy 1.1 feeds, and CISA's KEV
//! catalog, as a stream of records.
//!
//! A feed is one JSON object holding one huge array. serde visits the array element by element
//! (a `DeserializeSeed` per element), so a 300 MB feed never sits in memory: each record is
//! handed to the caller and dropped. Both NVD shapes are normalised into [`CveRecord`].

use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// One CVE as brulee stores it, whatever format it came in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CveRecord {
    pub id: String,
    pub published: Option<String>,
    pub last_modified: Option<String>,
    pub description: Option<String>,
    pub cvss: Option<Cvss>,
    pub references: Vec<String>,
    pub configurations: Vec<Configuration>,
    /// Rejected or withdrawn: remove it from the database.
    pub rejected: bool,
}

/// The newest CVSS version a record has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    /// "4.0", "3.1", "3.0" or "2.0".
    pub version: String,
    pub score: f64,
    pub vector: Option<String>,
}

/// One configuration: nodes combined by `operator`, optionally negated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Configuration {
    pub operator: Operator,
    #[serde(default, skip_serializing_if = "is_false")]
    pub negate: bool,
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub operator: Operator,
    #[serde(default, skip_serializing_if = "is_false")]
    pub negate: bool,
    pub matches: Vec<CpeMatch>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operator {
    #[serde(rename = "AND", alias = "and")]
    And,
    #[serde(rename = "OR", alias = "or")]
    Or,
}

/// A CPE match criterion with its optional version range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpeMatch {
    pub vulnerable: bool,
    pub criteria: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_incl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_excl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_incl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_excl: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// One entry of CISA's Known Exploited Vulnerabilities catalog.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct KevEntry {
    #[serde(rename = "cveID")]
    pub cve_id: String,
    #[serde(rename = "vulnerabilityName", default)]
    pub name: Option<String>,
    #[serde(rename = "dateAdded", default)]
    pub date_added: Option<String>,
    #[serde(rename = "dueDate", default)]
    pub due_date: Option<String>,
    #[serde(rename = "requiredAction", default)]
    pub required_action: Option<String>,
    #[serde(rename = "knownRansomwareCampaignUse", default)]
    pub ransomware: Option<String>,
}

/// What a data file yields, record by record.
#[derive(Debug)]
pub enum Entry {
    Cve(Box<CveRecord>),
    Kev(KevEntry),
    /// A record that could not be read (missing id, wrong types): counted, not fatal.
    Skipped(String),
}

/// Which kind of file it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    Nvd20,
    Nvd11,
    Kev,
}

impl FeedKind {
    pub fn name(self) -> &'static str {
        match self {
            FeedKind::Nvd20 => "NVD CVE JSON 2.0",
            FeedKind::Nvd11 => "NVD JSON 1.1",
            FeedKind::Kev => "CISA KEV",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("not an NVD or KEV file: {0}")]
    Unknown(String),
}

/// Read a whole data file from `input`, calling `each` for every record.
///
/// `each` may fail (a database write); the error stops the read and comes back as the result.
pub fn read_feed<R: Read, E>(
    input: R,
    mut each: impl FnMut(Entry) -> Result<(), E>,
) -> Result<Result<FeedKind, E>, FeedError> {
    let mut de = serde_json::Deserializer::from_reader(input);
    let mut failure = None;
    let kind = de.deserialize_map(FeedVisitor {
        each: &mut each,
        failure: &mut failure,
    })?;
    de.end()?;
    Ok(match failure {
        Some(err) => Err(err),
        None => Ok(kind),
    })
}

struct FeedVisitor<'a, F, E> {
    each: &'a mut F,
    failure: &'a mut Option<E>,
}

impl<'de, F, E> Visitor<'de> for FeedVisitor<'_, F, E>
where
    F: FnMut(Entry) -> Result<(), E>,
{
    type Value = FeedKind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an NVD CVE feed (JSON 2.0 or 1.1) or the CISA KEV catalog")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FeedKind, A::Error> {
        let mut kind = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => {
                    let format: String = map.next_value()?;
                    if format != "NVD_CVE" {
                        return Err(de::Error::custom(format!(
                            "unknown format {format:?}, expected NVD_CVE"
                        )));
                    }
                    kind = Some(FeedKind::Nvd20);
                }
                "version" if kind == Some(FeedKind::Nvd20) || kind.is_none() => {
                    let version: String = map.next_value()?;
                    if !version.starts_with("2.") {
                        return Err(de::Error::custom(format!(
                            "NVD CVE JSON version {version:?} is not supported (brulee reads 2.x and the 1.1 feeds)"
                        )));
                    }
                    kind = Some(FeedKind::Nvd20);
                }
                "CVE_data_version" => {
                    let version: String = map.next_value()?;
                    if version != "4.0" {
                        return Err(de::Error::custom(format!(
                            "NVD 1.1 feed with CVE_data_version {version:?}; expected 4.0"
                        )));
                    }
                    kind = Some(FeedKind::Nvd11);
                }
                "catalogVersion" => {
                    map.next_value::<IgnoredAny>()?;
                    kind = Some(FeedKind::Kev);
                }
                "CVE_Items" => {
                    kind = Some(FeedKind::Nvd11);
                    map.next_value_seed(Records {
                        kind: FeedKind::Nvd11,
                        each: &mut *self.each,
                        failure: &mut *self.failure,
                    })?;
                }
                "vulnerabilities" => {
                    // NVD 2.0 and KEV both call their array "vulnerabilities"; their headers
                    // (format/version, catalogVersion) come first in every file we know.
                    let k = kind.ok_or_else(|| {
                        de::Error::custom(
                            "a \"vulnerabilities\" array before any format or catalogVersion field",
                        )
                    })?;
                    map.next_value_seed(Records {
                        kind: k,
                        each: &mut *self.each,
                        failure: &mut *self.failure,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            if self.failure.is_some() {
                // The caller's sink failed: stop reading, skipping the rest cheaply.
                while map.next_key::<IgnoredAny>()?.is_some() {
                    map.next_value::<IgnoredAny>()?;
                }
                break;
            }
        }
        kind.ok_or_else(|| de::Error::custom("no format, CVE_data_version or catalogVersion field"))
    }
}

struct Records<'a, F, E> {
    kind: FeedKind,
    each: &'a mut F,
    failure: &'a mut Option<E>,
}

impl<'de, F, E> DeserializeSeed<'de> for Records<'_, F, E>
where
    F: FnMut(Entry) -> Result<(), E>,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F, E> Visitor<'de> for Records<'_, F, E>
where
    F: FnMut(Entry) -> Result<(), E>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            // A record that does not fit our types is skipped and counted, not fatal: the
            // JSON around it is still well-formed, so the read goes on.
            let entry = match self.kind {
                FeedKind::Nvd20 => match seq.next_element::<Lenient<Item20>>()? {
                    None => break,
                    Some(Lenient(Ok(item))) => item.cve.into_record(),
                    Some(Lenient(Err(why))) => Entry::Skipped(why),
                },
                FeedKind::Nvd11 => match seq.next_element::<Lenient<Item11>>()? {
                    None => break,
                    Some(Lenient(Ok(item))) => item.into_record(),
                    Some(Lenient(Err(why))) => Entry::Skipped(why),
                },
                FeedKind::Kev => match seq.next_element::<Lenient<KevEntry>>()? {
                    None => break,
                    Some(Lenient(Ok(kev))) => Entry::Kev(kev),
                    Some(Lenient(Err(why))) => Entry::Skipped(why),
                },
            };
            if self.failure.is_none() {
                if let Err(err) = (self.each)(entry) {
                    *self.failure = Some(err);
                }
            }
        }
        Ok(())
    }
}

/// Deserialises `T` from a JSON value, keeping the error instead of failing the whole array.
struct Lenient<T>(Result<T, String>);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(Lenient(
            serde_json::from_value(value).map_err(|e| e.to_string()),
        ))
    }
}

// ---- NVD CVE JSON 2.0 ----------------------------------------------------------------------

#[derive(Deserialize)]
struct Item20 {
    cve: Cve20,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cve20 {
    id: String,
    published: Option<String>,
    last_modified: Option<String>,
    vuln_status: Option<String>,
    #[serde(default)]
    descriptions: Vec<LangString>,
    #[serde(default)]
    metrics: Metrics20,
    #[serde(default)]
    references: Vec<Reference20>,
    #[serde(default)]
    configurations: Vec<Config20>,
}

#[derive(Deserialize)]
struct LangString {
    lang: String,
    value: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Metrics20 {
    #[serde(default)]
    cvss_metric_v40: Vec<Metric20>,
    #[serde(default)]
    cvss_metric_v31: Vec<Metric20>,
    #[serde(default)]
    cvss_metric_v30: Vec<Metric20>,
    #[serde(default)]
    cvss_metric_v2: Vec<Metric20>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metric20 {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    cvss_data: CvssData,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CvssData {
    version: String,
    vector_string: Option<String>,
    base_score: f64,
}

#[derive(Deserialize)]
struct Reference20 {
    url: String,
}

#[derive(Deserialize)]
struct Config20 {
    operator: Option<Operator>,
    #[serde(default)]
    negate: bool,
    #[serde(default)]
    nodes: Vec<Node20>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node20 {
    operator: Option<Operator>,
    #[serde(default)]
    negate: bool,
    #[serde(default)]
    cpe_match: Vec<Match20>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Match20 {
    vulnerable: bool,
    criteria: String,
    version_start_including: Option<String>,
    version_start_excluding: Option<String>,
    version_end_including: Option<String>,
    version_end_excluding: Option<String>,
}

impl Cve20 {
    fn into_record(self) -> Entry {
        if !self.id.starts_with("CVE-") {
            return Entry::Skipped(format!("{:?} is not a CVE id", self.id));
        }
        // The newest CVSS version wins; within one, NVD's own ("Primary") score first.
        let m = self.metrics;
        let cvss = [
            m.cvss_metric_v40,
            m.cvss_metric_v31,
            m.cvss_metric_v30,
            m.cvss_metric_v2,
        ]
        .into_iter()
        .find_map(|metrics| {
            let primary = metrics
                .iter()
                .position(|x| x.kind.as_deref() == Some("Primary"))
                .unwrap_or(0);
            metrics.into_iter().nth(primary)
        })
        .map(|x| Cvss {
            version: x.cvss_data.version,
            score: x.cvss_data.base_score,
            vector: x.cvss_data.vector_string,
        });
        let rejected = matches!(self.vuln_status.as_deref(), Some("Rejected"));
        Entry::Cve(Box::new(CveRecord {
            description: english(self.descriptions.into_iter()),
            id: self.id,
            published: self.published,
            last_modified: self.last_modified,
            cvss,
            references: self.references.into_iter().map(|r| r.url).collect(),
            configurations: self
                .configurations
                .into_iter()
                .map(|c| Configuration {
                    operator: c.operator.unwrap_or(Operator::Or),
                    negate: c.negate,
                    nodes: c
                        .nodes
                        .into_iter()
                        .map(|n| Node {
                            operator: n.operator.unwrap_or(Operator::Or),
                            negate: n.negate,
                            matches: n.cpe_match.into_iter().map(Match20::into_match).collect(),
                        })
                        .collect(),
                })
                .collect(),
            rejected,
        }))
    }
}

impl Match20 {
    fn into_match(self) -> CpeMatch {
        CpeMatch {
            vulnerable: self.vulnerable,
            criteria: self.criteria,
            start_incl: self.version_start_including,
            start_excl: self.version_start_excluding,
            end_incl: self.version_end_including,
            end_excl: self.version_end_excluding,
        }
    }
}

fn english(texts: impl Iterator<Item = LangString>) -> Option<String> {
    let mut first = None;
    for t in texts {
        if t.lang == "en" {
            return Some(t.value);
        }
        first.get_or_insert(t.value);
    }
    first
}

// ---- NVD JSON 1.1 --------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item11 {
    cve: Cve11,
    #[serde(default)]
    configurations: Option<Configurations11>,
    #[serde(default)]
    impact: Impact11,
    published_date: Option<String>,
    last_modified_date: Option<String>,
}

#[derive(Deserialize)]
struct Cve11 {
    #[serde(rename = "CVE_data_meta")]
    meta: Meta11,
    #[serde(default)]
    references: Option<References11>,
    #[serde(default)]
    description: Option<Description11>,
}

#[derive(Deserialize)]
struct Meta11 {
    #[serde(rename = "ID")]
    id: String,
}

#[derive(Deserialize)]
struct References11 {
    #[serde(default)]
    reference_data: Vec<Reference20>,
}

#[derive(Deserialize)]
struct Description11 {
    #[serde(default)]
    description_data: Vec<LangString>,
}

#[derive(Deserialize)]
struct Configurations11 {
    #[serde(default)]
    nodes: Vec<Node11>,
}

#[derive(Deserialize)]
struct Node11 {
    operator: Option<Operator>,
    #[serde(default)]
    negate: bool,
    #[serde(default)]
    children: Vec<Node11>,
    #[serde(default)]
    cpe_match: Vec<Match11>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Match11 {
    vulnerable: bool,
    #[serde(rename = "cpe23Uri")]
    criteria: String,
    version_start_including: Option<String>,
    version_start_excluding: Option<String>,
    version_end_including: Option<String>,
    version_end_excluding: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Impact11 {
    base_metric_v3: Option<BaseMetric11>,
    base_metric_v2: Option<BaseMetric11>,
}

#[derive(Deserialize)]
struct BaseMetric11 {
    #[serde(rename = "cvssV3", alias = "cvssV2")]
    cvss: CvssData,
}

impl Item11 {
    fn into_record(self) -> Entry {
        let id = self.cve.meta.id;
        if !id.starts_with("CVE-") {
            return Entry::Skipped(format!("{id:?} is not a CVE id"));
        }
        let description = english(
            self.cve
                .description
                .map(|d| d.description_data)
                .unwrap_or_default()
                .into_iter(),
        );
        // 1.1 feeds mark withdrawn CVEs only in their description.
        let rejected = description
            .as_deref()
            .is_some_and(|d| d.starts_with("** REJECT **"));
        let cvss = self
            .impact
            .base_metric_v3
            .or(self.impact.base_metric_v2)
            .map(|m| Cvss {
                version: m.cvss.version,
                score: m.cvss.base_score,
                vector: m.cvss.vector_string,
            });
        // 1.1 puts each configuration at the top level: a node with children is an AND (or
        // OR) of those children; a node without is a configuration of one node.
        let configurations = self
            .configurations
            .map(|c| c.nodes)
            .unwrap_or_default()
            .into_iter()
            .map(|top| {
                if top.children.is_empty() {
                    Configuration {
                        operator: Operator::Or,
                        negate: false,
                        nodes: vec![top.into_node()],
                    }
                } else {
                    Configuration {
                        operator: top.operator.unwrap_or(Operator::And),
                        negate: top.negate,
                        nodes: top.children.into_iter().map(Node11::into_node).collect(),
                    }
                }
            })
            .collect();
        Entry::Cve(Box::new(CveRecord {
            id,
            published: self.published_date,
            last_modified: self.last_modified_date,
            description,
            cvss,
            references: self
                .cve
                .references
                .map(|r| r.reference_data.into_iter().map(|r| r.url).collect())
                .unwrap_or_default(),
            configurations,
            rejected,
        }))
    }
}

impl Node11 {
    /// Deeper nesting than two levels does not occur in the feeds; its matches are kept in one
    /// node rather than lost.
    fn into_node(self) -> Node {
        let mut matches: Vec<CpeMatch> = self
            .cpe_match
            .into_iter()
            .map(|m| CpeMatch {
                vulnerable: m.vulnerable,
                criteria: m.criteria,
                start_incl: m.version_start_including,
                start_excl: m.version_start_excluding,
                end_incl: m.version_end_including,
                end_excl: m.version_end_excluding,
            })
            .collect();
        for child in self.children {
            matches.extend(child.into_node().matches);
        }
        Node {
            operator: self.operator.unwrap_or(Operator::Or),
            negate: self.negate,
            matches,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(json: &str) -> Result<(FeedKind, Vec<Entry>), FeedError> {
        let mut entries = Vec::new();
        let kind = read_feed(json.as_bytes(), |e| {
            entries.push(e);
            Ok::<(), ()>(())
        })?
        .unwrap();
        Ok((kind, entries))
    }

    #[test]
    fn reads_nvd_2_0_records() {
        let json = r#"{"resultsPerPage":1,"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":{
            "id":"CVE-2024-6387","published":"2024-07-01T13:15:06.467","lastModified":"2024-07-09T06:15:03.513",
            "vulnStatus":"Modified","descriptions":[{"lang":"es","value":"x"},{"lang":"en","value":"regreSSHion"}],
            "metrics":{"cvssMetricV31":[{"source":"other","type":"Secondary","cvssData":{"version":"3.1","vectorString":"V2","baseScore":7.0}},
                                         {"source":"nvd@nist.gov","type":"Primary","cvssData":{"version":"3.1","vectorString":"V1","baseScore":8.1}}],
                       "cvssMetricV2":[{"type":"Primary","cvssData":{"version":"2.0","baseScore":5.0}}]},
            "references":[{"url":"https://example.org/a"}],
            "configurations":[{"nodes":[{"operator":"OR","negate":false,"cpeMatch":[
                {"vulnerable":true,"criteria":"cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*","versionStartIncluding":"8.6","versionEndExcluding":"9.8","matchCriteriaId":"X"}]}]}]}},
            {"cve":{"id":"CVE-2099-0001","vulnStatus":"Rejected"}},
            {"cve":{"noid":true}}]}"#;
        let (kind, entries) = read_all(json).unwrap();
        assert_eq!(kind, FeedKind::Nvd20);
        let Entry::Cve(r) = &entries[0] else {
            panic!("{entries:?}")
        };
        assert_eq!(r.id, "CVE-2024-6387");
        assert_eq!(r.description.as_deref(), Some("regreSSHion"));
        assert_eq!(
            r.cvss,
            Some(Cvss {
                version: "3.1".into(),
                score: 8.1,
                vector: Some("V1".into())
            })
        );
        let m = &r.configurations[0].nodes[0].matches[0];
        assert_eq!(
            (m.start_incl.as_deref(), m.end_excl.as_deref()),
            (Some("8.6"), Some("9.8"))
        );
        assert!(matches!(&entries[1], Entry::Cve(r) if r.rejected));
        assert!(matches!(&entries[2], Entry::Skipped(_)));
    }

    #[test]
    fn reads_nvd_1_1_and_turns_nested_nodes_into_configurations() {
        let json = r#"{"CVE_data_type":"CVE","CVE_data_version":"4.0","CVE_Items":[{
            "cve":{"CVE_data_meta":{"ID":"CVE-2017-5638"},"references":{"reference_data":[{"url":"u"}]},
                   "description":{"description_data":[{"lang":"en","value":"Struts"}]}},
            "configurations":{"CVE_data_version":"4.0","nodes":[
                {"operator":"AND","children":[
                    {"operator":"OR","cpe_match":[{"vulnerable":true,"cpe23Uri":"cpe:2.3:a:apache:struts:2.3.5:*:*:*:*:*:*:*"}]},
                    {"operator":"OR","cpe_match":[{"vulnerable":false,"cpe23Uri":"cpe:2.3:a:ognl_project:ognl:*:*:*:*:*:*:*:*"}]}]},
                {"operator":"OR","cpe_match":[{"vulnerable":true,"cpe23Uri":"cpe:2.3:a:apache:struts:2.5:*:*:*:*:*:*:*"}]}]},
            "impact":{"baseMetricV3":{"cvssV3":{"version":"3.0","vectorString":"CVSS:3.0/X","baseScore":10.0}},
                      "baseMetricV2":{"cvssV2":{"version":"2.0","baseScore":10.0}}},
            "publishedDate":"2017-03-11T02:59Z","lastModifiedDate":"2021-02-24T12:15Z"},
            {"cve":{"CVE_data_meta":{"ID":"CVE-2017-0002"},"description":{"description_data":[{"lang":"en","value":"** REJECT ** dup"}]}}}]}"#;
        let (kind, entries) = read_all(json).unwrap();
        assert_eq!(kind, FeedKind::Nvd11);
        let Entry::Cve(r) = &entries[0] else { panic!() };
        assert_eq!(r.configurations.len(), 2);
        assert_eq!(r.configurations[0].operator, Operator::And);
        assert_eq!(r.configurations[0].nodes.len(), 2);
        assert!(!r.configurations[0].nodes[1].matches[0].vulnerable);
        assert_eq!(r.cvss.as_ref().unwrap().version, "3.0");
        assert!(matches!(&entries[1], Entry::Cve(r) if r.rejected));
    }

    #[test]
    fn reads_kev_and_refuses_unknown_files() {
        let (kind, entries) = read_all(r#"{"title":"KEV","catalogVersion":"2025.08.25","count":1,"vulnerabilities":[{"cveID":"CVE-2021-44228","dueDate":"2021-12-24","vulnerabilityName":"Log4Shell"}]}"#).unwrap();
        assert_eq!(kind, FeedKind::Kev);
        assert!(
            matches!(&entries[0], Entry::Kev(k) if k.cve_id == "CVE-2021-44228" && k.due_date.as_deref() == Some("2021-12-24"))
        );
        assert!(read_all(r#"{"format":"OTHER","vulnerabilities":[]}"#).is_err());
        assert!(read_all(r#"{"format":"NVD_CVE","version":"3.0","vulnerabilities":[]}"#).is_err());
        assert!(read_all(r#"{"hello":1}"#).is_err());
        assert!(read_all(r#"[1,2]"#).is_err());
        assert!(
            read_all(r#"{"format":"NVD_CVE","vulnerabilities":[{"cve":{"id":"CVE-1"}"#).is_err(),
            "truncated"
        );
    }
}
