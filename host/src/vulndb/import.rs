//! `brulee db import`: data files into the store, one transaction per file, the format
//! recognised by content (mirrors rename files): NVD feeds, the KEV catalog, FIRST's EPSS
//! CSV, Debian changelogs, the Debian security tracker (its full JSON or vuln-list records)
//! and OSV records, each gzipped or not.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::distro::{self, DistroDocument};
use super::epss;
use super::nvd::{self, Entry, FeedError, FeedKind};
use super::store::{Store, StoreError, Upsert, Writer};

/// What importing one file did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportStats {
    pub inserted: u64,
    pub replaced: u64,
    /// Records older than what the database holds.
    pub kept: u64,
    pub removed: u64,
    pub kev: u64,
    pub epss: u64,
    /// Distribution advisory statements stored.
    pub advisories: u64,
    /// Records that could not be read, with the first few reasons.
    pub skipped: u64,
    pub skip_reasons: Vec<String>,
}

impl ImportStats {
    pub fn records(&self) -> u64 {
        self.inserted
            + self.replaced
            + self.kept
            + self.removed
            + self.kev
            + self.epss
            + self.advisories
    }
}

/// Which kind of data a file held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    Nvd(FeedKind),
    Epss,
    DebianChangelog,
    /// One record of the Debian security tracker as aquasecurity's vuln-list keeps it.
    TrackerRecord,
    /// The tracker's full JSON.
    TrackerJson,
    Osv,
}

impl DataKind {
    pub fn name(self) -> &'static str {
        match self {
            DataKind::Nvd(kind) => kind.name(),
            DataKind::Epss => "FIRST EPSS",
            DataKind::DebianChangelog => "Debian changelog",
            DataKind::TrackerRecord => "Debian security tracker record",
            DataKind::TrackerJson => "Debian security tracker JSON",
            DataKind::Osv => "OSV",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {}: {err}", path.display())]
    Open { path: PathBuf, err: io::Error },
    #[error("{}: {err} (nothing from this file was imported)", path.display())]
    Feed { path: PathBuf, err: FeedError },
    #[error("{}: {kind}: {err} (nothing from this file was imported)", path.display(), kind = kind.name())]
    Data {
        path: PathBuf,
        kind: DataKind,
        err: String,
    },
    #[error("{}: not a data file brulee knows (NVD or KEV JSON, EPSS CSV, Debian changelog, Debian security tracker JSON, OSV JSON), gzipped or not; it starts with {start:?}", path.display())]
    Unknown { path: PathBuf, start: String },
    #[error("{}: could not decompress or read it: {err} (nothing from this file was imported)", path.display())]
    Read { path: PathBuf, err: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The top-level keys that open an NVD feed, an NVD API page or the KEV catalog.
const NVD_KEYS: &[&str] = &[
    "format",
    "version",
    "resultsPerPage",
    "startIndex",
    "totalResults",
    "timestamp",
    "vulnerabilities",
    "CVE_data_type",
    "CVE_data_format",
    "CVE_data_version",
    "CVE_data_numberOfCVEs",
    "CVE_data_timestamp",
    "CVE_Items",
    "title",
    "catalogVersion",
    "dateReleased",
    "count",
];

/// The files of `path` brulee may import: the file itself, or every data-looking file under
/// a folder (recursively, sorted, hidden files and notes such as README or .tsv left out).
pub fn data_files(path: &Path) -> io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_lowercase();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                dirs.push(path);
            } else if [".json", ".json.gz", ".csv", ".csv.gz", ".gz", ".zip"]
                .iter()
                .any(|ext| name.ends_with(ext))
                || name.starts_with("changelog")
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Import one file. `progress` is told how many (compressed) bytes have been read so far.
pub fn import_file(
    store: &mut Store,
    path: &Path,
    mut progress: impl FnMut(u64),
) -> Result<(DataKind, ImportStats), ImportError> {
    let file = File::open(path).map_err(|err| ImportError::Open {
        path: path.to_path_buf(),
        err,
    })?;
    let mut counted = BufReader::with_capacity(
        256 * 1024,
        Counting {
            inner: file,
            read: 0,
            report: &mut progress,
        },
    );
    // gzip and zip by content, not by name: mirrors rename files.
    let magic = counted.fill_buf().map(|b| b.to_vec()).unwrap_or_default();
    if magic.starts_with(b"PK\x03\x04") {
        return import_zip(store, path);
    }
    let gzipped = magic.starts_with(&[0x1f, 0x8b]);
    let mut input: Box<dyn Read + '_> = if gzipped {
        Box::new(flate2::bufread::MultiGzDecoder::new(counted))
    } else {
        Box::new(counted)
    };
    let read_error = |err: io::Error| ImportError::Read {
        path: path.to_path_buf(),
        err,
    };
    // The format by content: the first bytes, and for JSON the first key.
    let mut start = Vec::with_capacity(4096);
    (&mut input)
        .take(4096)
        .read_to_end(&mut start)
        .map_err(read_error)?;
    let owned = String::from_utf8_lossy(&start).into_owned();
    let text = owned.trim_start_matches('\u{feff}');
    let kind = if epss::looks_like_epss(text.as_bytes()) {
        DataKind::Epss
    } else if distro::looks_like_changelog(text.as_bytes()) {
        DataKind::DebianChangelog
    } else if let Some(key) = first_json_key(text) {
        if NVD_KEYS.contains(&key.as_str()) {
            DataKind::Nvd(FeedKind::Nvd20)
        } else if distro::is_vuln_list_key(&key) {
            DataKind::TrackerRecord
        } else if distro::is_osv_key(&key) {
            DataKind::Osv
        } else {
            DataKind::TrackerJson
        }
    } else {
        return Err(ImportError::Unknown {
            path: path.to_path_buf(),
            start: text.chars().take(40).collect(),
        });
    };
    let input = BufReader::with_capacity(256 * 1024, io::Cursor::new(start).chain(input));
    let source = path.display().to_string();
    let data_error = |kind: DataKind, err: String| ImportError::Data {
        path: path.to_path_buf(),
        kind,
        err,
    };
    let sql_error = sql_error(path);
    store.transaction(|writer| {
        let mut stats = ImportStats::default();
        let kind = match kind {
            DataKind::Nvd(_) => DataKind::Nvd(import_feed(writer, input, path, &mut stats)?),
            DataKind::Epss => {
                let outcome = epss::read_epss(input, |line| match line {
                    epss::EpssLine::Header(header) => writer.replace_epss(header),
                    epss::EpssLine::Score(score) => {
                        stats.epss += 1;
                        writer.insert_epss(&score)
                    }
                });
                match outcome {
                    Ok(Ok(_)) => {}
                    Ok(Err(sql)) => return Err(sql_error(sql)),
                    Err(epss::EpssError::Io(err)) => return Err(read_error(err)),
                    Err(err) => return Err(data_error(kind, err.to_string())),
                }
                kind
            }
            DataKind::DebianChangelog => {
                let changelog = distro::read_changelog(input).map_err(|e| match e {
                    distro::DistroError::Io(err) => read_error(err),
                    other => data_error(kind, other.to_string()),
                })?;
                store_document(writer, &changelog.into_document(), &mut stats)
                    .map_err(sql_error)?;
                kind
            }
            DataKind::TrackerRecord | DataKind::Osv => {
                let mut json = Vec::new();
                // Single records are small; a 64 MiB one is not a record.
                input
                    .take(64 << 20)
                    .read_to_end(&mut json)
                    .map_err(read_error)?;
                let document = match kind {
                    DataKind::TrackerRecord => distro::read_vuln_list(&json),
                    _ => distro::read_osv(&json),
                }
                .map_err(|e| data_error(kind, e.to_string()))?;
                store_document(writer, &document, &mut stats).map_err(sql_error)?;
                kind
            }
            DataKind::TrackerJson => {
                writer
                    .clear_distro_document(distro::TRACKER_JSON_KEY)
                    .map_err(sql_error)?;
                let outcome = distro::read_tracker_json(input, |rows| {
                    for row in &rows {
                        writer.insert_distro_fix(distro::TRACKER_JSON_KEY, row)?;
                    }
                    stats.advisories += rows.len() as u64;
                    Ok(())
                });
                match outcome {
                    Ok(Ok(())) => {}
                    Ok(Err(sql)) => return Err(sql_error(sql)),
                    Err(distro::DistroError::Json(err)) if err.is_io() => {
                        return Err(read_error(err.into()))
                    }
                    Err(err) => {
                        return Err(ImportError::Unknown {
                            path: path.to_path_buf(),
                            start: format!(
                                "{} (read as the Debian security tracker's JSON: {err})",
                                text.chars().take(40).collect::<String>()
                            ),
                        })
                    }
                }
                kind
            }
        };
        writer
            .record_import(&source, kind.name(), stats.records(), stats.skipped)
            .map_err(sql_error)?;
        Ok((kind, stats))
    })
}

/// A zip of advisory records (OSV.dev's per-ecosystem export, `Ubuntu/all.zip`): every JSON
/// entry is a document, all in one transaction. An entry that is not a record brulee reads is
/// skipped and counted, as a bad record of an NVD feed is.
fn import_zip(store: &mut Store, path: &Path) -> Result<(DataKind, ImportStats), ImportError> {
    let bad_zip = |err: zip::result::ZipError| ImportError::Data {
        path: path.to_path_buf(),
        kind: DataKind::Osv,
        err: format!("cannot read the zip archive: {err}"),
    };
    let file = File::open(path).map_err(|err| ImportError::Open {
        path: path.to_path_buf(),
        err,
    })?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(bad_zip)?;
    let source = path.display().to_string();
    let sql_error = sql_error(path);
    store.transaction(|writer| {
        let mut stats = ImportStats::default();
        let mut kind = DataKind::Osv;
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index).map_err(bad_zip)?;
            let name = entry.name().to_string();
            if !entry.is_file() || !name.to_lowercase().ends_with(".json") {
                continue;
            }
            let mut json = Vec::new();
            (&mut entry)
                .take(64 << 20)
                .read_to_end(&mut json)
                .map_err(|err| ImportError::Read {
                    path: path.to_path_buf(),
                    err,
                })?;
            let start = String::from_utf8_lossy(&json[..json.len().min(4096)]).into_owned();
            let document = match first_json_key(&start) {
                Some(key) if distro::is_osv_key(&key) => distro::read_osv(&json),
                Some(key) if distro::is_vuln_list_key(&key) => {
                    kind = DataKind::TrackerRecord;
                    distro::read_vuln_list(&json)
                }
                _ => Err(distro::DistroError::Format(
                    "not an OSV or tracker record".into(),
                )),
            };
            match document {
                Ok(document) => store_document(writer, &document, &mut stats).map_err(sql_error)?,
                Err(err) => {
                    stats.skipped += 1;
                    if stats.skip_reasons.len() < 5 {
                        stats.skip_reasons.push(format!("{name}: {err}"));
                    }
                }
            }
        }
        writer
            .record_import(&source, kind.name(), stats.records(), stats.skipped)
            .map_err(sql_error)?;
        Ok((kind, stats))
    })
}

/// A database write that failed while importing `path`.
fn sql_error(path: &Path) -> impl Fn(rusqlite::Error) -> ImportError + Copy + '_ {
    move |err| {
        ImportError::Store(StoreError::Sqlite {
            path: path.to_path_buf(),
            err,
        })
    }
}

/// One document's statements replace what it said before.
fn store_document(
    writer: &mut Writer<'_>,
    document: &DistroDocument,
    stats: &mut ImportStats,
) -> rusqlite::Result<()> {
    writer.clear_distro_document(&document.key)?;
    for row in &document.rows {
        writer.insert_distro_fix(&document.key, row)?;
    }
    stats.advisories += document.rows.len() as u64;
    Ok(())
}

/// NVD feeds and the KEV catalog, record by record.
fn import_feed(
    writer: &mut Writer<'_>,
    input: impl Read,
    path: &Path,
    stats: &mut ImportStats,
) -> Result<FeedKind, ImportError> {
    let mut kev_cleared = false;
    let outcome = nvd::read_feed(input, |entry| -> Result<(), rusqlite::Error> {
        match entry {
            Entry::Cve(record) => match writer.upsert_cve(&record)? {
                Upsert::Inserted => stats.inserted += 1,
                Upsert::Replaced => stats.replaced += 1,
                Upsert::Kept => stats.kept += 1,
                Upsert::Removed => stats.removed += 1,
            },
            Entry::Kev(kev) => {
                if !kev_cleared {
                    writer.clear_kev()?;
                    kev_cleared = true;
                }
                writer.upsert_kev(&kev)?;
                stats.kev += 1;
            }
            Entry::Skipped(why) => {
                stats.skipped += 1;
                if stats.skip_reasons.len() < 5 {
                    stats.skip_reasons.push(why);
                }
            }
        }
        Ok(())
    });
    match outcome {
        Ok(Ok(kind)) => Ok(kind),
        Ok(Err(sql)) => Err(ImportError::Store(StoreError::Sqlite {
            path: path.to_path_buf(),
            err: sql,
        })),
        // A gzip or I/O failure surfaces through serde_json as an io error.
        Err(FeedError::Json(err)) if err.is_io() => Err(ImportError::Read {
            path: path.to_path_buf(),
            err: err.into(),
        }),
        Err(err) => Err(ImportError::Feed {
            path: path.to_path_buf(),
            err,
        }),
    }
}

/// The first key of a JSON object, if `text` starts with one.
fn first_json_key(text: &str) -> Option<String> {
    let rest = text.trim_start().strip_prefix('{')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let mut key = String::new();
    let mut chars = rest.chars();
    loop {
        match chars.next()? {
            '"' => return Some(key),
            '\\' => key.push(chars.next()?),
            c => key.push(c),
        }
    }
}

/// Counts bytes read, for progress over the compressed file size.
struct Counting<'a, R, F: FnMut(u64)> {
    inner: R,
    read: u64,
    report: &'a mut F,
}

impl<R: Read, F: FnMut(u64)> Read for Counting<'_, R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        (self.report)(self.read);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/nvd")
            .join(name)
    }

    fn cve_json(id: &str, modified: &str, status: &str, version: &str) -> String {
        format!(
            r#"{{"cve":{{"id":"{id}","lastModified":"{modified}","vulnStatus":"{status}","descriptions":[{{"lang":"en","value":"d {modified}"}}],
            "configurations":[{{"nodes":[{{"operator":"OR","cpeMatch":[{{"vulnerable":true,"criteria":"cpe:2.3:a:acme:widget:{version}:*:*:*:*:*:*:*"}}]}}]}}]}}}}"#
        )
    }

    fn feed(dir: &Path, name: &str, records: &[String]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!(
                r#"{{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{}]}}"#,
                records.join(",")
            ),
        )
        .unwrap();
        path
    }

    #[test]
    fn reimport_is_idempotent_newer_wins_and_rejected_go() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let (_, first) = import_file(&mut store, &fixture("nvd2_openssh.json.gz"), |_| {}).unwrap();
        assert_eq!(first.inserted, 96);
        let (_, again) = import_file(&mut store, &fixture("nvd2_openssh.json.gz"), |_| {}).unwrap();
        assert_eq!((again.inserted, again.replaced), (0, 96));
        assert_eq!(store.status().unwrap().cves, 96);

        let new = feed(
            dir.path(),
            "new.json",
            &[cve_json(
                "CVE-2099-1",
                "2025-01-02T00:00:00",
                "Analyzed",
                "2.0",
            )],
        );
        let old = feed(
            dir.path(),
            "old.json",
            &[cve_json(
                "CVE-2099-1",
                "2024-01-01T00:00:00",
                "Analyzed",
                "1.0",
            )],
        );
        import_file(&mut store, &new, |_| {}).unwrap();
        let (_, stats) = import_file(&mut store, &old, |_| {}).unwrap();
        assert_eq!(
            stats.kept, 1,
            "an older record must not replace a newer one"
        );
        let widget = store.records_for_product("acme", "widget").unwrap();
        assert_eq!(
            widget[0].description.as_deref(),
            Some("d 2025-01-02T00:00:00")
        );

        let rejected = feed(
            dir.path(),
            "rej.json",
            &[cve_json(
                "CVE-2099-1",
                "2025-02-01T00:00:00",
                "Rejected",
                "2.0",
            )],
        );
        let (_, stats) = import_file(&mut store, &rejected, |_| {}).unwrap();
        assert_eq!(stats.removed, 1);
        assert!(store
            .records_for_product("acme", "widget")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_broken_file_imports_nothing_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        // Truncated after one good record: the good record must not land either.
        let good = cve_json("CVE-2099-2", "2025-01-01T00:00:00", "Analyzed", "1.0");
        let path = dir.path().join("cut.json");
        std::fs::write(
            &path,
            format!(
                r#"{{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{good},{{"cve":{{"id":"#
            ),
        )
        .unwrap();
        let err = import_file(&mut store, &path, |_| {}).unwrap_err();
        assert!(
            err.to_string()
                .contains("nothing from this file was imported"),
            "{err}"
        );
        assert_eq!(store.status().unwrap().cves, 0);

        // Corrupt gzip: the magic bytes, then garbage.
        let path = dir.path().join("bad.json.gz");
        std::fs::write(&path, [0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap();
        let err = import_file(&mut store, &path, |_| {}).unwrap_err();
        assert!(
            matches!(err, ImportError::Read { .. } | ImportError::Feed { .. }),
            "{err}"
        );

        // A record of the wrong shape is skipped and counted, the rest imported.
        let path = feed(
            dir.path(),
            "mixed.json",
            &[good.clone(), r#"{"cve":{"id":42}}"#.into()],
        );
        let (_, stats) = import_file(&mut store, &path, |_| {}).unwrap();
        assert_eq!((stats.inserted, stats.skipped), (1, 1));
    }

    #[test]
    fn imports_the_kev_catalog_and_nvd_1_1_feeds() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
        let (kind, stats) = import_file(
            &mut store,
            &shared.join("kev/known_exploited_vulnerabilities.json"),
            |_| {},
        )
        .unwrap();
        assert_eq!(kind, DataKind::Nvd(FeedKind::Kev));
        assert_eq!(stats.kev, 1404);
        let kev = store.kev("CVE-2024-6387").unwrap();
        assert!(kev.is_none() || kev.unwrap().due_date.is_some());
        assert!(
            store.kev("CVE-2021-44228").unwrap().is_some(),
            "Log4Shell is in the catalog"
        );

        let (kind, stats) = import_file(
            &mut store,
            &shared.join("nvd-1.1/nvdcve-1.1-2003.json.gz"),
            |_| {},
        )
        .unwrap();
        assert_eq!(kind, DataKind::Nvd(FeedKind::Nvd11));
        assert!(stats.inserted > 1000, "{stats:?}");
    }

    fn shared(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data")
            .join(path)
    }

    #[test]
    fn imports_the_real_epss_file_and_replaces_the_set() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let started = std::time::Instant::now();
        let path = shared("epss/epss_scores-2026-01-30.csv.gz");
        let (kind, stats) = import_file(&mut store, &path, |_| {}).unwrap();
        eprintln!(
            "EPSS import of {} rows: {:.2} s",
            stats.epss,
            started.elapsed().as_secs_f64()
        );
        assert_eq!((kind, stats.epss), (DataKind::Epss, 313_089));
        let score = store.epss("CVE-2023-38408").unwrap().unwrap();
        assert_eq!((score.score, score.percentile), (0.67312, Some(0.98518)));
        let status = store.status().unwrap();
        assert_eq!(status.epss_scores, 313_089);
        assert_eq!(status.epss_date.as_deref(), Some("2026-01-30T12:55:00Z"));
        assert_eq!(status.epss_model.as_deref(), Some("v2025.03.14"));

        // A smaller file replaces the whole set; a broken one changes nothing.
        let small = dir.path().join("renamed.txt");
        std::fs::write(
            &small,
            "#model_version:v2025.03.14,score_date:2026-02-01T00:00:00Z\ncve,epss,percentile\nCVE-2023-38408,0.5,0.9\n",
        )
        .unwrap();
        import_file(&mut store, &small, |_| {}).unwrap();
        assert_eq!(store.status().unwrap().epss_scores, 1);
        assert!(store.epss("CVE-2022-0543").unwrap().is_none());
        let broken = dir.path().join("broken.csv");
        std::fs::write(
            &broken,
            "cve,epss,percentile\nCVE-2023-1,0.1,0.2\nCVE-2023-2,lots,0.2\n",
        )
        .unwrap();
        let err = import_file(&mut store, &broken, |_| {}).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        assert_eq!(store.status().unwrap().epss_scores, 1);
        assert_eq!(
            store.epss_header().unwrap().date.as_deref(),
            Some("2026-02-01T00:00:00Z")
        );
    }

    #[test]
    fn imports_the_distro_folder_and_answers_by_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let files = data_files(&shared("distro")).unwrap();
        // 12 changelogs, 6 tracker records, 3 OSV records; the .tsv notes are left out.
        assert_eq!(files.len(), 21, "{files:?}");
        let started = std::time::Instant::now();
        let mut kinds = std::collections::BTreeMap::new();
        for file in &files {
            let (kind, _) = import_file(&mut store, file, |_| {}).unwrap();
            *kinds.entry(kind.name()).or_insert(0) += 1;
        }
        eprintln!(
            "distro folder import ({} files): {:.2} s",
            files.len(),
            started.elapsed().as_secs_f64()
        );
        assert_eq!(
            kinds.into_iter().collect::<Vec<_>>(),
            [
                ("Debian changelog", 12),
                ("Debian security tracker record", 6),
                ("OSV", 3)
            ]
        );
        let ask = |distro: &str, release: &str, package: &str, cve: &str| {
            distro::answer(&store, distro, release, package, cve).unwrap()
        };
        let regresshion = ask("debian", "bookworm", "openssh", "CVE-2024-6387").unwrap();
        assert_eq!(
            (
                regresshion.status,
                regresshion.fixed_version.as_deref(),
                regresshion.source.as_str()
            ),
            (
                distro::FixStatus::Fixed,
                Some("1:9.2p1-2+deb12u3"),
                "DSA-5724-1"
            )
        );
        // The older vuln-list copy (no-dsa) replaced the later one (fixed), but the changelog
        // names the fix: a fix wins.
        let agent = ask("debian", "bookworm", "openssh", "CVE-2023-38408").unwrap();
        assert_eq!(agent.fixed_version.as_deref(), Some("1:9.2p1-2+deb12u1"));
        assert_eq!(agent.sources, ["changelog", "security tracker"]);
        let opie = ask("debian", "12", "openssh", "CVE-2007-2768").unwrap();
        assert_eq!(
            (opie.status, opie.inherited_from.as_deref()),
            (distro::FixStatus::Open, Some("sid"))
        );
        let jammy = ask("ubuntu", "22.04", "openssh", "CVE-2024-6387").unwrap();
        assert_eq!(jammy.fixed_version.as_deref(), Some("1:8.9p1-3ubuntu0.10"));
        assert!(ask("debian", "bookworm", "openssh", "CVE-1999-0001").is_none());
        // Importing the folder again changes nothing.
        let before = store.status().unwrap().distro_fixes;
        for file in &files {
            import_file(&mut store, file, |_| {}).unwrap();
        }
        assert_eq!(store.status().unwrap().distro_fixes, before);
        let releases = store.status().unwrap().distro_releases;
        for release in [
            "debian/bookworm",
            "debian/sid",
            "ubuntu/jammy",
            "ubuntu/xenial",
        ] {
            assert!(releases.iter().any(|r| r == release), "{releases:?}");
        }
    }

    #[test]
    fn an_unknown_file_says_what_brulee_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "hello").unwrap();
        let err = import_file(&mut store, &path, |_| {}).unwrap_err();
        assert!(matches!(err, ImportError::Unknown { .. }), "{err}");
        assert!(err.to_string().contains("EPSS CSV"), "{err}");
        let path = dir.path().join("other.json");
        std::fs::write(&path, r#"{"hello": 1}"#).unwrap();
        let err = import_file(&mut store, &path, |_| {}).unwrap_err();
        assert!(
            err.to_string().contains("not a data file brulee knows"),
            "{err}"
        );
    }

    #[test]
    fn imports_a_zip_of_osv_records() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("all.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for name in [
            "2024/UBUNTU-CVE-2024-6387.json",
            "2024/UBUNTU-CVE-2024-7347.json",
            "2022/UBUNTU-CVE-2022-0543.json",
        ] {
            zip.start_file(name, options).unwrap();
            zip.write_all(
                &std::fs::read(shared(&format!("distro/ubuntu-osv-sample/osv/cve/{name}")))
                    .unwrap(),
            )
            .unwrap();
        }
        zip.start_file("notes.json", options).unwrap();
        zip.write_all(b"[1, 2]").unwrap();
        zip.finish().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let (kind, stats) = import_file(&mut store, &path, |_| {}).unwrap();
        assert_eq!(kind, DataKind::Osv);
        assert_eq!(
            (stats.skipped, stats.skip_reasons.len()),
            (1, 1),
            "{stats:?}"
        );
        assert!(stats.advisories >= 9, "{stats:?}");
        let nginx = distro::answer(&store, "ubuntu", "noble", "nginx", "CVE-2024-7347")
            .unwrap()
            .unwrap();
        assert_eq!(nginx.fixed_version.as_deref(), Some("1.24.0-2ubuntu7.1"));
    }
}
