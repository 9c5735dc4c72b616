//! Distribution advisories: what Debian and Ubuntu say about a CVE in one of their source
//! packages in one release — fixed (from which package version), open, or not affected.
//!
//! Four formats are read, all into [`DistroFix`] rows:
//! - a Debian package changelog (`changelog.Debian.gz`): the CVE ids each upload names; the
//!   fixed version of a CVE is the oldest entry naming it. A CVE a changelog does not name is
//!   unknown, never "vulnerable" (Debian's regreSSHion fix names no CVE);
//! - the Debian security tracker's records as aquasecurity's vuln-list keeps them (one JSON
//!   file per CVE, DSA or DLA, each annotation the verbatim tracker line);
//! - the tracker's own full JSON (`security-tracker.debian.org/tracker/data/json`:
//!   `{package: {CVE: {releases: {codename: {status, fixed_version, …}}}}}`), streamed;
//! - OSV records (Canonical's Ubuntu CVE records and USNs, Debian's OSV), ecosystems
//!   `Ubuntu:22.04:LTS`, `Ubuntu:Pro:18.04:LTS`, `Debian:12`.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, Read};

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// What a distribution says about one CVE in one source package of one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistroFix {
    /// "debian" or "ubuntu".
    pub distro: String,
    /// The release's codename: "bookworm", "sid" (Debian's unstable), "jammy", …
    pub release: String,
    /// The source package.
    pub package: String,
    pub cve_id: String,
    pub status: FixStatus,
    /// The first package version with the fix, when `status` is fixed.
    pub fixed_version: Option<String>,
    /// The data's own words: "no-dsa: Minor issue", "urgency low", "Ubuntu Pro", …
    pub detail: Option<String>,
    /// Where it was read, for people: "changelog", "security tracker", "DSA-5724-1", "Ubuntu OSV".
    pub source: String,
}

/// The states the data distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FixStatus {
    /// Fixed from `fixed_version` on.
    Fixed,
    /// Never vulnerable in this release.
    NotAffected,
    /// Vulnerable, no fix (yet): unfixed, no-dsa, ignored, postponed.
    Open,
    /// Not yet looked at.
    Undetermined,
    /// The release or package is no longer supported.
    EndOfLife,
    /// The package is no longer in the release.
    Removed,
}

impl FixStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FixStatus::Fixed => "fixed",
            FixStatus::NotAffected => "not-affected",
            FixStatus::Open => "open",
            FixStatus::Undetermined => "undetermined",
            FixStatus::EndOfLife => "end-of-life",
            FixStatus::Removed => "removed",
        }
    }

    pub fn parse(text: &str) -> Option<FixStatus> {
        Some(match text {
            "fixed" => FixStatus::Fixed,
            "not-affected" => FixStatus::NotAffected,
            "open" => FixStatus::Open,
            "undetermined" => FixStatus::Undetermined,
            "end-of-life" => FixStatus::EndOfLife,
            "removed" => FixStatus::Removed,
            _ => return None,
        })
    }
}

impl fmt::Display for FixStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One document's rows. Importing a document again replaces what it said before, so the key
/// names the document, not the file it came in: "changelog debian/bookworm/openssh",
/// "tracker CVE-2024-6387", "osv UBUNTU-CVE-2024-6387".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistroDocument {
    pub key: String,
    pub rows: Vec<DistroFix>,
}

#[derive(Debug, thiserror::Error)]
pub enum DistroError {
    #[error("{0}")]
    Format(String),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Debian releases by version number (Debian's OSV ecosystems are `Debian:12`).
const DEBIAN_RELEASES: &[(&str, &str)] = &[
    ("9", "stretch"),
    ("10", "buster"),
    ("11", "bullseye"),
    ("12", "bookworm"),
    ("13", "trixie"),
    ("14", "forky"),
];

/// Ubuntu releases by version number (OSV ecosystems name the number; purls and people the
/// codename).
const UBUNTU_RELEASES: &[(&str, &str)] = &[
    ("14.04", "trusty"),
    ("16.04", "xenial"),
    ("18.04", "bionic"),
    ("20.04", "focal"),
    ("22.04", "jammy"),
    ("23.10", "mantic"),
    ("24.04", "noble"),
    ("24.10", "oracular"),
    ("25.04", "plucky"),
    ("25.10", "questing"),
    ("26.04", "resolute"),
];

/// A release as stored: a codename, lower case. Version numbers ("12", "22.04") become the
/// codename; "unstable" is "sid"; suites ("bookworm-security") are their release.
pub fn normalise_release(distro: &str, release: &str) -> String {
    let release = release.trim().to_ascii_lowercase();
    let release = ["-security", "-updates", "-proposed-updates", "-proposed"]
        .iter()
        .find_map(|suffix| release.strip_suffix(suffix))
        .unwrap_or(&release)
        .to_string();
    let table = if distro == "ubuntu" {
        UBUNTU_RELEASES
    } else {
        DEBIAN_RELEASES
    };
    if let Some((_, codename)) = table.iter().find(|(number, _)| *number == release) {
        return codename.to_string();
    }
    match release.as_str() {
        "unstable" => "sid".into(),
        _ => release,
    }
}

/// Every well-formed CVE id in `text`, in order of appearance.
fn cve_ids(text: &str) -> impl Iterator<Item = String> + '_ {
    text.match_indices("CVE-").filter_map(|(at, _)| {
        let rest = &text.as_bytes()[at + 4..];
        let year = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if year != 4 || rest.get(4) != Some(&b'-') {
            return None;
        }
        let number = rest[5..].iter().take_while(|c| c.is_ascii_digit()).count();
        (number >= 4).then(|| text[at..at + 9 + number].to_string())
    })
}

// ---- Debian changelogs -----------------------------------------------------------------------

/// Whether `start` (the first bytes of a decompressed file) is a Debian changelog: its first
/// line is `source (version) distribution; urgency=…`.
pub fn looks_like_changelog(start: &[u8]) -> bool {
    let line = start.split(|&b| b == b'\n').next().unwrap_or_default();
    let Ok(line) = std::str::from_utf8(line) else {
        return false;
    };
    changelog_header(line).is_some()
}

/// `openssh (1:9.2p1-2+deb12u10) bookworm; urgency=medium` → (source, version, distribution).
fn changelog_header(line: &str) -> Option<(&str, &str, &str)> {
    if line.starts_with(char::is_whitespace) {
        return None;
    }
    let (source, rest) = line.split_once(" (")?;
    let (version, rest) = rest.split_once(')')?;
    let (dists, keywords) = rest.split_once(';')?;
    let valid_source = !source.is_empty()
        && source
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    if !valid_source || !keywords.contains("urgency=") {
        return None;
    }
    let dist = dists.split_whitespace().next()?;
    Some((source, version.trim(), dist))
}

/// What a changelog says: its package, the version it describes, and the fixed version of
/// every CVE it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changelog {
    pub distro: String,
    pub release: String,
    pub package: String,
    pub version: String,
    /// (CVE id, oldest version whose entry names it), sorted by id.
    pub fixes: Vec<(String, String)>,
    pub entries: usize,
}

/// Read a changelog. The release is the top entry's (`bookworm-security` → bookworm); a
/// version with "ubuntu" in it makes it Ubuntu's.
pub fn read_changelog(input: impl BufRead) -> Result<Changelog, DistroError> {
    let mut top: Option<(String, String, String)> = None;
    let mut current_version = String::new();
    let mut entries = 0;
    // Entries run newest first: the last version seen naming a CVE is the oldest.
    let mut oldest: BTreeMap<String, String> = BTreeMap::new();
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        if let Some((source, version, dist)) = changelog_header(&line) {
            entries += 1;
            current_version = version.to_string();
            if top.is_none() {
                top = Some((source.to_string(), version.to_string(), dist.to_string()));
            }
            continue;
        }
        if top.is_none() {
            if line.trim().is_empty() {
                continue;
            }
            return Err(DistroError::Format(format!(
                "line {}: a Debian changelog starts with \"package (version) distribution; urgency=…\"",
                index + 1
            )));
        }
        for id in cve_ids(&line) {
            oldest.insert(id, current_version.clone());
        }
    }
    let (package, version, dist) =
        top.ok_or_else(|| DistroError::Format("an empty changelog".into()))?;
    let distro = if version.contains("ubuntu") {
        "ubuntu"
    } else {
        "debian"
    };
    Ok(Changelog {
        release: normalise_release(distro, &dist),
        distro: distro.into(),
        package,
        version,
        fixes: oldest.into_iter().collect(),
        entries,
    })
}

impl Changelog {
    pub fn into_document(self) -> DistroDocument {
        let key = format!(
            "changelog {}/{}/{}",
            self.distro, self.release, self.package
        );
        let detail = format!("changelog of {} {}", self.package, self.version);
        let rows = self
            .fixes
            .into_iter()
            .map(|(cve_id, fixed)| DistroFix {
                distro: self.distro.clone(),
                release: self.release.clone(),
                package: self.package.clone(),
                cve_id,
                status: FixStatus::Fixed,
                fixed_version: Some(fixed),
                detail: Some(detail.clone()),
                source: "changelog".into(),
            })
            .collect();
        DistroDocument { key, rows }
    }
}

// ---- vuln-list records of the Debian security tracker --------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VulnListRecord {
    header: VulnListHeader,
    #[serde(default)]
    annotations: Vec<VulnListAnnotation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VulnListHeader {
    #[serde(rename = "ID")]
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VulnListAnnotation {
    #[serde(rename = "Type", default)]
    kind: String,
    #[serde(default)]
    release: Option<String>,
    #[serde(default)]
    package: Option<String>,
    #[serde(rename = "Kind", default)]
    state: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    bugs: Vec<String>,
}

/// Whether a JSON document whose first key is `key` is a vuln-list tracker record.
pub fn is_vuln_list_key(key: &str) -> bool {
    matches!(key, "Header" | "Annotations")
}

/// A tracker record (CVE, DSA or DLA) as vuln-list keeps it. A package line without a release
/// is unstable's (`sid`); a DSA's or DLA's lines apply to every CVE it lists.
pub fn read_vuln_list(json: &[u8]) -> Result<DistroDocument, DistroError> {
    let record: VulnListRecord = serde_json::from_slice(json)?;
    let id = record.header.id;
    let (cves, source) = if id.starts_with("CVE-") {
        (vec![id.clone()], "security tracker".to_string())
    } else if id.starts_with("DSA-") || id.starts_with("DLA-") {
        let cves: Vec<String> = record
            .annotations
            .iter()
            .filter(|a| a.kind == "xref")
            .flat_map(|a| a.bugs.iter())
            .filter(|b| b.starts_with("CVE-"))
            .cloned()
            .collect();
        (cves, id.clone())
    } else {
        return Err(DistroError::Format(format!(
            "tracker record {id:?} is neither a CVE nor a DSA/DLA"
        )));
    };
    let mut rows = Vec::new();
    for a in record.annotations.iter().filter(|a| a.kind == "package") {
        let (Some(package), Some(state)) = (&a.package, &a.state) else {
            continue;
        };
        let release = a.release.as_deref().unwrap_or("sid");
        let reason = a.description.as_deref().filter(|d| !d.is_empty());
        let (status, fixed_version, detail) = match state.as_str() {
            "fixed" => match a.version.as_deref() {
                // "- pkg 0" is how the tracker's list spells "never vulnerable".
                Some("0") => (FixStatus::NotAffected, None, None),
                Some(v) => (FixStatus::Fixed, Some(v.to_string()), None),
                None => continue,
            },
            "not-affected" => (FixStatus::NotAffected, None, reason.map(str::to_string)),
            "unfixed" => (
                FixStatus::Open,
                None,
                a.severity.as_ref().map(|s| format!("urgency {s}")),
            ),
            marker @ ("no-dsa" | "ignored" | "postponed") => (
                FixStatus::Open,
                None,
                Some(match reason {
                    Some(r) => format!("{marker}: {r}"),
                    None => marker.to_string(),
                }),
            ),
            "end-of-life" => (FixStatus::EndOfLife, None, reason.map(str::to_string)),
            "removed" => (FixStatus::Removed, None, None),
            "undetermined" => (FixStatus::Undetermined, None, None),
            _ => continue,
        };
        for cve in &cves {
            rows.push(DistroFix {
                distro: "debian".into(),
                release: normalise_release("debian", release),
                package: package.clone(),
                cve_id: cve.clone(),
                status,
                fixed_version: fixed_version.clone(),
                detail: detail.clone(),
                source: source.clone(),
            });
        }
    }
    Ok(DistroDocument {
        key: format!("tracker {id}"),
        rows,
    })
}

// ---- The tracker's full JSON ---------------------------------------------------------------

#[derive(Deserialize)]
struct TrackerCve {
    #[serde(default)]
    releases: BTreeMap<String, TrackerRelease>,
}

#[derive(Deserialize)]
struct TrackerRelease {
    #[serde(default)]
    status: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    urgency: Option<String>,
    #[serde(default)]
    nodsa: Option<String>,
    #[serde(default)]
    nodsa_reason: Option<String>,
}

/// The document key of the tracker's full JSON: one document, replaced whole.
pub const TRACKER_JSON_KEY: &str = "tracker-json";

/// Stream the tracker's full JSON, package by package, calling `each` with every package's
/// rows (TEMP- ids, which are not CVEs yet, are skipped).
pub fn read_tracker_json<R: Read, E>(
    input: R,
    each: impl FnMut(Vec<DistroFix>) -> Result<(), E>,
) -> Result<Result<(), E>, DistroError> {
    let mut de = serde_json::Deserializer::from_reader(input);
    let mut failure = None;
    let mut each = each;
    de.deserialize_map(Packages {
        each: &mut each,
        failure: &mut failure,
    })?;
    de.end()?;
    Ok(match failure {
        Some(e) => Err(e),
        None => Ok(()),
    })
}

struct Packages<'a, F, E> {
    each: &'a mut F,
    failure: &'a mut Option<E>,
}

impl<'de, F, E> Visitor<'de> for Packages<'_, F, E>
where
    F: FnMut(Vec<DistroFix>) -> Result<(), E>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the Debian security tracker's JSON: {package: {CVE: {releases: …}}}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(package) = map.next_key::<String>()? {
            if self.failure.is_some() {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let cves: BTreeMap<String, TrackerCve> = map.next_value()?;
            let mut rows = Vec::new();
            for (cve_id, record) in cves.into_iter().filter(|(id, _)| id.starts_with("CVE-")) {
                for (release, state) in record.releases {
                    let (status, fixed_version) = match (state.status.as_str(), state.fixed_version)
                    {
                        ("resolved", Some(v)) if v == "0" => (FixStatus::NotAffected, None),
                        ("resolved", Some(v)) => (FixStatus::Fixed, Some(v)),
                        ("resolved", None) => (FixStatus::NotAffected, None),
                        ("open", _) => (FixStatus::Open, None),
                        ("undetermined", _) => (FixStatus::Undetermined, None),
                        _ => continue,
                    };
                    let detail = match (&state.nodsa, &state.nodsa_reason) {
                        (Some(why), Some(kind)) if !kind.is_empty() => {
                            Some(format!("{kind}: {why}"))
                        }
                        (Some(why), _) => Some(format!("no-dsa: {why}")),
                        _ => state
                            .urgency
                            .filter(|u| !u.is_empty() && u != "not yet assigned")
                            .map(|u| format!("urgency {u}")),
                    };
                    rows.push(DistroFix {
                        distro: "debian".into(),
                        release: normalise_release("debian", &release),
                        package: package.clone(),
                        cve_id: cve_id.clone(),
                        status,
                        fixed_version,
                        detail,
                        source: "security tracker".into(),
                    });
                }
            }
            if let Err(e) = (self.each)(rows) {
                *self.failure = Some(e);
            }
        }
        Ok(())
    }
}

impl<'de, F, E> DeserializeSeed<'de> for Packages<'_, F, E>
where
    F: FnMut(Vec<DistroFix>) -> Result<(), E>,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

// ---- OSV -------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct OsvRecord {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    upstream: Vec<String>,
    #[serde(default)]
    related: Vec<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    affected: Vec<OsvAffected>,
}

#[derive(Deserialize)]
struct OsvAffected {
    package: OsvPackage,
    #[serde(default)]
    ranges: Vec<OsvRange>,
}

#[derive(Deserialize)]
struct OsvPackage {
    ecosystem: String,
    name: String,
    #[serde(default)]
    purl: Option<String>,
}

#[derive(Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<BTreeMap<String, String>>,
}

/// Whether a JSON document whose first key is `key` is an OSV record.
pub fn is_osv_key(key: &str) -> bool {
    matches!(key, "schema_version" | "id" | "modified")
}

/// An OSV record's rows for the Debian and Ubuntu packages it names (other ecosystems are
/// not distributions: ignored). A package with a `fixed` event is fixed from there; one
/// without, affected from `introduced` on with no fix, is open.
pub fn read_osv(json: &[u8]) -> Result<DistroDocument, DistroError> {
    let record: OsvRecord = serde_json::from_slice(json)?;
    let key = format!("osv {}", record.id);
    let cves: Vec<String> = match record
        .id
        .strip_prefix("UBUNTU-")
        .or_else(|| record.id.strip_prefix("DEBIAN-"))
    {
        Some(id) if id.starts_with("CVE-") => vec![id.to_string()],
        _ => {
            let mut ids: Vec<String> = if record.id.starts_with("CVE-") {
                vec![record.id.clone()]
            } else {
                Vec::new()
            };
            ids.extend(
                record
                    .upstream
                    .iter()
                    .chain(&record.aliases)
                    .chain(&record.related)
                    .filter(|i| i.starts_with("CVE-"))
                    .cloned(),
            );
            ids.sort();
            ids.dedup();
            ids
        }
    };
    let mut rows = Vec::new();
    if record.withdrawn.is_some() {
        // A withdrawn record says nothing any more; importing it removes what it said.
        return Ok(DistroDocument { key, rows });
    }
    // A notice (USN, DSA, DLA) is its own best name; a CVE record is "the distribution's OSV".
    let notice = ["USN-", "DSA-", "DLA-"]
        .iter()
        .any(|p| record.id.starts_with(p))
        .then(|| record.id.clone());
    for affected in &record.affected {
        let mut parts = affected.package.ecosystem.split(':');
        let (distro, pro) = match parts.next() {
            Some("Ubuntu") => ("ubuntu", false),
            Some("Debian") => ("debian", false),
            _ => continue,
        };
        let mut number = parts.next().unwrap_or_default();
        let pro = pro || number == "Pro";
        if number == "Pro" {
            number = parts.next().unwrap_or_default();
        }
        // The purl names the codename when there is one: pkg:deb/ubuntu/openssh?arch=src?distro=jammy
        let from_purl = affected.package.purl.as_deref().and_then(|p| {
            p.split(['?', '&'])
                .find_map(|kv| kv.strip_prefix("distro="))
        });
        let release = normalise_release(distro, from_purl.unwrap_or(number));
        if release.is_empty() {
            continue;
        }
        let fixed = affected
            .ranges
            .iter()
            .filter(|r| r.kind == "ECOSYSTEM")
            .flat_map(|r| &r.events)
            .find_map(|e| e.get("fixed").cloned());
        let source = notice.clone().unwrap_or_else(|| match distro {
            "ubuntu" => "Ubuntu OSV".to_string(),
            _ => "Debian OSV".to_string(),
        });
        let detail = pro.then(|| "Ubuntu Pro (ESM)".to_string());
        for cve in &cves {
            rows.push(DistroFix {
                distro: distro.into(),
                release: release.clone(),
                package: affected.package.name.clone(),
                cve_id: cve.clone(),
                status: if fixed.is_some() {
                    FixStatus::Fixed
                } else {
                    FixStatus::Open
                },
                fixed_version: fixed.clone(),
                detail: detail.clone(),
                source: source.clone(),
            });
        }
    }
    Ok(DistroDocument { key, rows })
}

// ---- Answering -------------------------------------------------------------------------------

/// What the stored data says about one CVE in one package of one release, every statement
/// combined.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DistroAnswer {
    pub status: FixStatus,
    pub fixed_version: Option<String>,
    pub detail: Option<String>,
    /// The source of the statement chosen: "changelog", "security tracker", "DSA-5724-1", …
    pub source: String,
    /// The release asked about.
    pub release: String,
    /// "sid" when the release has no statement of its own and Debian's unstable one applies
    /// (the tracker's rule: a release without its own line inherits unstable's).
    pub inherited_from: Option<String>,
    /// Every source with a statement, chosen or not.
    pub sources: Vec<String>,
}

impl serde::Serialize for FixStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Look a CVE up. Sources can disagree (an older tracker copy says no-dsa, the changelog names
/// the fix): a fix wins, and of several fixed versions the highest, so a build is never
/// called fixed before every source agrees; then not-affected; then the open states.
pub fn answer(
    store: &super::Store,
    distro: &str,
    release: &str,
    package: &str,
    cve_id: &str,
) -> Result<Option<DistroAnswer>, super::StoreError> {
    let distro = distro.to_ascii_lowercase();
    let release = normalise_release(&distro, release);
    let mut rows = store.distro_fixes(&distro, &release, package, cve_id)?;
    let mut inherited_from = None;
    if rows.is_empty() && distro == "debian" && release != "sid" {
        rows = store.distro_fixes(&distro, "sid", package, cve_id)?;
        inherited_from = (!rows.is_empty()).then(|| "sid".to_string());
    }
    let mut sources: Vec<String> = rows.iter().map(|r| r.source.clone()).collect();
    sources.sort();
    sources.dedup();
    let chosen = rows
        .iter()
        .filter(|r| r.status == FixStatus::Fixed && r.fixed_version.is_some())
        .max_by(|a, b| {
            super::debversion::compare(
                a.fixed_version.as_deref().unwrap_or_default(),
                b.fixed_version.as_deref().unwrap_or_default(),
            )
        })
        .or_else(|| {
            rows.iter()
                .filter(|r| r.status != FixStatus::Fixed)
                .min_by_key(|r| r.status)
        });
    Ok(chosen.map(|r| DistroAnswer {
        status: r.status,
        fixed_version: r.fixed_version.clone(),
        detail: r.detail.clone(),
        source: r.source.clone(),
        release: release.clone(),
        inherited_from,
        sources,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn shared(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/distro")
            .join(path)
    }

    fn changelog(name: &str) -> Changelog {
        let file =
            std::fs::File::open(shared(&format!("debian-bookworm-changelogs/{name}"))).unwrap();
        let gz = flate2::read::MultiGzDecoder::new(file);
        read_changelog(std::io::BufReader::new(gz)).unwrap()
    }

    fn fixed<'a>(c: &'a Changelog, cve: &str) -> Option<&'a str> {
        c.fixes
            .iter()
            .find(|(id, _)| id == cve)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn changelogs_give_the_oldest_entry_naming_each_cve() {
        let ssh = changelog("openssh_9.2p1-2+deb12u10.changelog.Debian.gz");
        assert_eq!(
            (ssh.distro.as_str(), ssh.release.as_str()),
            ("debian", "bookworm")
        );
        assert_eq!(
            (ssh.package.as_str(), ssh.version.as_str()),
            ("openssh", "1:9.2p1-2+deb12u10")
        );
        // The counts of MANIFEST.tsv (entries, distinct CVE ids).
        assert_eq!((ssh.entries, ssh.fixes.len()), (44, 17));
        assert_eq!(fixed(&ssh, "CVE-2023-38408"), Some("1:9.2p1-2+deb12u1"));
        assert_eq!(fixed(&ssh, "CVE-2023-48795"), Some("1:9.2p1-2+deb12u2"));
        assert_eq!(fixed(&ssh, "CVE-2026-35385"), Some("1:9.2p1-2+deb12u10"));
        assert_eq!(fixed(&ssh, "CVE-2021-41617"), Some("1:8.7p1-1"));
        // The regreSSHion upload names no CVE: unknown, not listed.
        assert_eq!(fixed(&ssh, "CVE-2024-6387"), None);

        let redis = changelog("redis_7.0.15-1~deb12u10.changelog.Debian.gz");
        assert_eq!(
            (redis.release.as_str(), redis.version.as_str()),
            ("bookworm", "5:7.0.15-1~deb12u10")
        );
        assert_eq!((redis.entries, redis.fixes.len()), (66, 46));
        let vsftpd = changelog("vsftpd_3.0.3-13.changelog.Debian.gz");
        assert_eq!((vsftpd.entries, vsftpd.fixes.len()), (1, 0));
        // Every file of the folder: the counts MANIFEST.tsv gives.
        let manifest =
            std::fs::read_to_string(shared("debian-bookworm-changelogs/MANIFEST.tsv")).unwrap();
        for line in manifest.lines().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            let c = changelog(cols[10]);
            assert_eq!(c.version, cols[1], "{}", cols[10]);
            assert_eq!(
                (c.entries.to_string(), c.fixes.len().to_string()),
                (cols[12].to_string(), cols[13].to_string()),
                "{}",
                cols[10]
            );
        }
        assert!(!looks_like_changelog(b"{\"format\":1}"));
        assert!(looks_like_changelog(
            b"openssh (1:9.2p1-2) unstable; urgency=medium\n"
        ));
    }

    #[test]
    fn vuln_list_records_give_release_lines_markers_and_dsa_fixes() {
        let read = |path: &str| {
            read_vuln_list(
                &std::fs::read(shared(&format!("debian-tracker-sample/{path}"))).unwrap(),
            )
            .unwrap()
        };
        let dsa = read("aquasecurity-vuln-list-debian/tracker/DSA/DSA-5724-1.json");
        assert_eq!(dsa.key, "tracker DSA-5724-1");
        assert_eq!(dsa.rows.len(), 1);
        let row = &dsa.rows[0];
        assert_eq!(
            (
                row.release.as_str(),
                row.package.as_str(),
                row.cve_id.as_str()
            ),
            ("bookworm", "openssh", "CVE-2024-6387")
        );
        assert_eq!(
            (
                row.status,
                row.fixed_version.as_deref(),
                row.source.as_str()
            ),
            (FixStatus::Fixed, Some("1:9.2p1-2+deb12u3"), "DSA-5724-1")
        );

        let older = read("aquasecurity-vuln-list-debian/tracker/CVE/2023/CVE-2023-38408.json");
        let bookworm = older.rows.iter().find(|r| r.release == "bookworm").unwrap();
        assert_eq!(bookworm.status, FixStatus::Open);
        assert!(bookworm
            .detail
            .as_deref()
            .unwrap()
            .starts_with("no-dsa: Minor issue"));
        let sid = older.rows.iter().find(|r| r.release == "sid").unwrap();
        assert_eq!(sid.fixed_version.as_deref(), Some("1:9.3p2-1"));
        let later = read("AppThreat-vuln-list/debian/CVE/CVE-2023-38408.json");
        assert_eq!(
            later.key, older.key,
            "two copies of one record replace each other"
        );
        let bookworm = later.rows.iter().find(|r| r.release == "bookworm").unwrap();
        assert_eq!(
            (bookworm.status, bookworm.fixed_version.as_deref()),
            (FixStatus::Fixed, Some("1:9.2p1-2+deb12u1"))
        );

        let regresshion = read("aquasecurity-vuln-list-debian/tracker/CVE/2024/CVE-2024-6387.json");
        let bullseye = regresshion
            .rows
            .iter()
            .find(|r| r.release == "bullseye")
            .unwrap();
        assert_eq!(bullseye.status, FixStatus::NotAffected);
        assert!(
            !regresshion.rows.iter().any(|r| r.release == "bookworm"),
            "no bookworm line in this copy"
        );
        let unfixed = read("aquasecurity-vuln-list-debian/tracker/CVE/2007/CVE-2007-2768.json");
        let sid = unfixed.rows.iter().find(|r| r.release == "sid").unwrap();
        assert_eq!(
            (sid.status, sid.detail.as_deref()),
            (FixStatus::Open, Some("urgency unimportant"))
        );
        assert!(read_vuln_list(br#"{"Header":{"ID":"TEMP-1"}}"#).is_err());
    }

    #[test]
    fn ubuntu_osv_records_give_fixed_and_open_releases() {
        let read = |name: &str| {
            read_osv(&std::fs::read(shared(&format!("ubuntu-osv-sample/osv/cve/{name}"))).unwrap())
                .unwrap()
        };
        let ssh = read("2024/UBUNTU-CVE-2024-6387.json");
        assert_eq!(ssh.key, "osv UBUNTU-CVE-2024-6387");
        let jammy = ssh.rows.iter().find(|r| r.release == "jammy").unwrap();
        assert_eq!(
            (
                jammy.distro.as_str(),
                jammy.package.as_str(),
                jammy.cve_id.as_str()
            ),
            ("ubuntu", "openssh", "CVE-2024-6387")
        );
        assert_eq!(
            (jammy.status, jammy.fixed_version.as_deref()),
            (FixStatus::Fixed, Some("1:8.9p1-3ubuntu0.10"))
        );
        assert!(ssh
            .rows
            .iter()
            .any(|r| r.release == "noble"
                && r.fixed_version.as_deref() == Some("1:9.6p1-3ubuntu13.3")));
        let nginx = read("2024/UBUNTU-CVE-2024-7347.json");
        let xenial = nginx.rows.iter().find(|r| r.release == "xenial").unwrap();
        assert_eq!(
            (xenial.status, xenial.detail.as_deref()),
            (FixStatus::Open, Some("Ubuntu Pro (ESM)"))
        );
        assert!(nginx
            .rows
            .iter()
            .any(|r| r.release == "jammy"
                && r.fixed_version.as_deref() == Some("1.18.0-6ubuntu14.5")));
        let redis = read("2022/UBUNTU-CVE-2022-0543.json");
        assert_eq!(
            redis.rows.len(),
            1,
            "jammy and noble are absent: not affected, not listed"
        );
        assert_eq!(redis.rows[0].release, "focal");
    }

    #[test]
    fn the_tracker_json_is_read_package_by_package() {
        let json = r#"{"openssh": {"CVE-2024-6387": {"description": "x", "scope": "remote", "releases": {
              "bookworm": {"status": "resolved", "repositories": {"bookworm": "1:9.2p1-2+deb12u7"}, "fixed_version": "1:9.2p1-2+deb12u3", "urgency": "not yet assigned"},
              "bullseye": {"status": "resolved", "repositories": {}, "fixed_version": "0", "urgency": "not yet assigned"}}},
            "TEMP-0000000-1": {"releases": {"sid": {"status": "open"}}}},
          "redis": {"CVE-2023-1": {"releases": {"bookworm": {"status": "open", "nodsa": "Minor issue", "nodsa_reason": "postponed", "urgency": "low"}}}}}"#;
        let mut all = Vec::new();
        read_tracker_json(json.as_bytes(), |rows| {
            all.extend(rows);
            Ok::<(), ()>(())
        })
        .unwrap()
        .unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(
            (all[0].status, all[0].fixed_version.as_deref()),
            (FixStatus::Fixed, Some("1:9.2p1-2+deb12u3"))
        );
        assert_eq!(
            (all[1].release.as_str(), all[1].status),
            ("bullseye", FixStatus::NotAffected)
        );
        assert_eq!(all[2].detail.as_deref(), Some("postponed: Minor issue"));
        assert!(read_tracker_json(&b"[1]"[..], |_| Ok::<(), ()>(())).is_err());
    }

    #[test]
    fn releases_are_codenames() {
        assert_eq!(normalise_release("debian", "bookworm-security"), "bookworm");
        assert_eq!(normalise_release("debian", "unstable"), "sid");
        assert_eq!(normalise_release("debian", "12"), "bookworm");
        assert_eq!(normalise_release("ubuntu", "22.04"), "jammy");
        assert_eq!(normalise_release("ubuntu", "Noble"), "noble");
        assert_eq!(
            cve_ids("[CVE-2023-28531] and CVE-2021-41617, not CVE-20-1").collect::<Vec<_>>(),
            ["CVE-2023-28531", "CVE-2021-41617"]
        );
    }
}
