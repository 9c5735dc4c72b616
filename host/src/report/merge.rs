//! Combining reports: shard results into one report, equal in content to the report of one
//! run over the same hosts.

use std::collections::BTreeMap;

use super::{GroupSet, Report, Shard, SCHEMA_VERSION};
use crate::findings::VulnersStatus;

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge")]
    Empty,
    #[error("{source_name}: report schema {found} cannot be merged by this brulee (it reads {SCHEMA_VERSION})")]
    Schema { source_name: String, found: String },
    #[error("shard {}/{} is given twice, {first} and {second}: its hosts would be counted twice; merge one of them", .shard.index, .shard.count)]
    ShardTwice {
        shard: Shard,
        first: String,
        second: String,
    },
}

/// The shard reports [`latest_shard_set`] picked, and what it left out and why.
#[derive(Debug, Default)]
pub struct ShardSet {
    /// In shard order.
    pub chosen: Vec<(String, Report)>,
    /// (name, why)
    pub left_out: Vec<(String, String)>,
}

/// Out of every report stored for one date (by the storage sinks), the shards of the newest
/// sharded run: the shards of one run have the same targets and shard count; of a shard
/// stored more than once (a pod that ran again, a second run the same day) the newest is
/// taken. Whole runs and earlier merges are left out: merged with the shards they would count
/// hosts twice.
pub fn latest_shard_set(reports: Vec<(String, Report)>) -> ShardSet {
    let mut set = ShardSet::default();
    let mut shards = Vec::new();
    for (name, report) in reports {
        match report.scan.shard {
            Some(shard) => shards.push((name, report, shard)),
            None => set.left_out.push((
                name,
                "not a shard (a whole run, or a merged report)".to_string(),
            )),
        }
    }
    let run = |r: &Report, s: &Shard| (r.scan.targets.clone(), s.count);
    let Some(newest) = shards
        .iter()
        .max_by(|a, b| a.1.scan.started.cmp(&b.1.scan.started))
        .map(|(_, r, s)| run(r, s))
    else {
        return set;
    };
    let mut by_index: BTreeMap<usize, (String, Report)> = BTreeMap::new();
    for (name, report, shard) in shards {
        if run(&report, &shard) != newest {
            set.left_out.push((
                name,
                format!(
                    "a shard of another run ({} shards of {})",
                    shard.count,
                    report.scan.targets.join(" ")
                ),
            ));
            continue;
        }
        let (name, report) = match by_index.remove(&shard.index) {
            Some((kept_name, kept)) if kept.scan.started >= report.scan.started => {
                set.left_out.push((name, older(shard, &kept_name)));
                (kept_name, kept)
            }
            Some((old_name, _)) => {
                set.left_out.push((old_name, older(shard, &name)));
                (name, report)
            }
            None => (name, report),
        };
        by_index.insert(shard.index, (name, report));
    }
    set.chosen = by_index.into_values().collect();
    set
}

fn older(shard: Shard, newer: &str) -> String {
    format!(
        "shard {}/{} again, older than {newer}",
        shard.index, shard.count
    )
}

/// One report to merge, read only when its turn comes: a merge of many shards holds the
/// combined report and one shard at a time, never every shard at once.
pub struct MergeInput<'a, E> {
    /// The report's name in errors and warnings (its file or URL).
    pub name: String,
    /// The report's `scan.shard`, read ahead (shards are merged in shard order).
    pub shard: Option<Shard>,
    pub load: Box<dyn FnOnce() -> Result<Report, E> + 'a>,
}

impl<E> MergeInput<'_, E> {
    /// A report already in memory (fetched from a bucket, or built by a test).
    pub fn loaded(name: String, report: Report) -> Self {
        MergeInput {
            name,
            shard: report.scan.shard,
            load: Box::new(move || Ok(report)),
        }
    }
}

impl Report {
    /// Merge reports (each named for errors). Scan metadata is combined (earliest start, latest
    /// end, every command, file and warning); hosts, services, findings and suppressed
    /// findings are united and put in canonical order.
    ///
    /// When every report is a shard of one run (`--shard I/N`), they are merged in shard order,
    /// a shard given twice is refused, and missing shards make the result partial, with a
    /// warning naming them.
    pub fn merge(reports: Vec<(String, Report)>) -> Result<Report, MergeError> {
        let inputs = reports
            .into_iter()
            .map(|(name, report)| MergeInput::loaded(name, report))
            .collect();
        Report::merge_streamed(inputs)
    }

    /// [`Report::merge`] of reports loaded one by one, each dropped once merged.
    pub fn merge_streamed<E: From<MergeError>>(
        mut inputs: Vec<MergeInput<'_, E>>,
    ) -> Result<Report, E> {
        let missing = check_shards(&mut inputs)?;
        let mut merger = Merger::default();
        for input in inputs {
            let report = (input.load)()?;
            merger.add(input.name, report)?;
        }
        Ok(merger.finish(missing)?)
    }
}

/// The report merged so far, and its service groups (indexed, so that adding a report costs
/// what the report holds, not what was merged before it).
#[derive(Default)]
struct Merger {
    merged: Option<Report>,
    groups: GroupSet,
}

impl Merger {
    fn add(&mut self, source_name: String, report: Report) -> Result<(), MergeError> {
        let major = |v: &str| v.split('.').next().unwrap_or_default().to_string();
        if major(&report.schema_version) != major(SCHEMA_VERSION) {
            return Err(MergeError::Schema {
                source_name,
                found: report.schema_version,
            });
        }
        let Some(into) = self.merged.as_mut() else {
            let mut first = report;
            for group in std::mem::take(&mut first.services) {
                self.groups.add(group);
            }
            self.merged = Some(first);
            return Ok(());
        };
        let scan = report.scan;
        into.scan.started = min_opt(into.scan.started.take(), scan.started);
        into.scan.finished = match (into.scan.finished.take(), scan.finished) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None, // a shard that did not finish leaves the whole unfinished
        };
        into.scan.duration_seconds = None;
        into.scan.nmap_version = into.scan.nmap_version.take().or(scan.nmap_version);
        into.scan.nmap_commands.extend(scan.nmap_commands);
        into.scan.targets.extend(scan.targets);
        into.scan.xml_files.extend(scan.xml_files);
        if into.scan.vulners != scan.vulners && scan.vulners == VulnersStatus::Used {
            into.scan.vulners_note = scan.vulners_note;
            into.scan.vulners = scan.vulners;
        }
        for source in scan.vuln_sources {
            if !into.scan.vuln_sources.contains(&source) {
                into.scan.vuln_sources.push(source);
            }
        }
        into.scan.database = into.scan.database.take().or(scan.database);
        into.scan.complete &= scan.complete;
        into.scan.warnings.extend(scan.warnings);
        for group in report.services {
            self.groups.add(group);
        }
        into.findings.extend(report.findings);
        into.suppressed.extend(report.suppressed);
        into.hosts.extend(report.hosts);
        Ok(())
    }

    fn finish(self, missing: Option<(Vec<usize>, usize)>) -> Result<Report, MergeError> {
        let mut merged = self.merged.ok_or(MergeError::Empty)?;
        // The merge is not a shard: a later merge from a bucket must not take it for one.
        merged.scan.shard = None;
        if let Some((missing, count)) = missing {
            merged.scan.complete = false;
            let names: Vec<String> = missing.iter().map(|i| format!("{i}/{count}")).collect();
            merged.scan.warnings.push(if names.len() == 1 {
                format!(
                    "shard {} is missing: its hosts are not in this report",
                    names[0]
                )
            } else {
                format!(
                    "shards {} are missing: their hosts are not in this report",
                    names.join(", ")
                )
            });
        }
        merged.services = self.groups.into_groups();
        merged.scan.vuln_sources.sort();
        let time = |t: &Option<String>| t.as_deref().and_then(|t| humantime::parse_rfc3339(t).ok());
        merged.scan.duration_seconds =
            match (time(&merged.scan.started), time(&merged.scan.finished)) {
                (Some(s), Some(f)) => f.duration_since(s).ok().map(|d| d.as_secs() as i64),
                _ => None,
            };
        merged.finish();
        Ok(merged)
    }
}

/// When all reports are shards of one count N: sort them by index, refuse an index given
/// twice, and return the missing indexes (with N) if any.
fn check_shards<E>(
    inputs: &mut [MergeInput<'_, E>],
) -> Result<Option<(Vec<usize>, usize)>, MergeError> {
    let shards: Option<Vec<Shard>> = inputs.iter().map(|i| i.shard).collect();
    let Some(shards) = shards else {
        return Ok(None);
    };
    let Some(count) = shards.first().map(|s| s.count) else {
        return Ok(None);
    };
    if shards.iter().any(|s| s.count != count) {
        return Ok(None);
    }
    inputs.sort_by_key(|i| i.shard.map(|s| s.index));
    for pair in inputs.windows(2) {
        if pair[0].shard == pair[1].shard {
            return Err(MergeError::ShardTwice {
                shard: pair[0].shard.expect("all are shards"),
                first: pair[0].name.clone(),
                second: pair[1].name.clone(),
            });
        }
    }
    let missing: Vec<usize> = (0..count)
        .filter(|i| !shards.iter().any(|s| s.index == *i))
        .collect();
    Ok((!missing.is_empty()).then_some((missing, count)))
}

fn min_opt(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
