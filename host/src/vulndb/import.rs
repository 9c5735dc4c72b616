//! `brulee db import`: NVD and KEV files into the store, one transaction per file.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::nvd::{self, Entry, FeedError, FeedKind};
use super::store::{Store, StoreError, Upsert};

/// What importing one file did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportStats {
    pub inserted: u64,
    pub replaced: u64,
    /// Records older than what the database holds.
    pub kept: u64,
    pub removed: u64,
    pub kev: u64,
    /// Records that could not be read, with the first few reasons.
    pub skipped: u64,
    pub skip_reasons: Vec<String>,
}

impl ImportStats {
    pub fn records(&self) -> u64 {
        self.inserted + self.replaced + self.kept + self.removed + self.kev
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {}: {err}", path.display())]
    Open { path: PathBuf, err: io::Error },
    #[error("{}: {err} (nothing from this file was imported)", path.display())]
    Feed { path: PathBuf, err: FeedError },
    #[error("{}: could not decompress or read it: {err} (nothing from this file was imported)", path.display())]
    Read { path: PathBuf, err: io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Import one file (`.json` or `.json.gz`, NVD 2.0, NVD 1.1 or KEV). `progress` is told how
/// many compressed bytes have been read so far.
pub fn import_file(
    store: &mut Store,
    path: &Path,
    mut progress: impl FnMut(u64),
) -> Result<(FeedKind, ImportStats), ImportError> {
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
    // gzip by content, not by name: mirrors rename files.
    let gzipped = counted
        .fill_buf()
        .map(|b| b.starts_with(&[0x1f, 0x8b]))
        .unwrap_or(false);
    let input: Box<dyn Read + '_> = if gzipped {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::bufread::MultiGzDecoder::new(counted),
        ))
    } else {
        Box::new(counted)
    };
    let source = path.display().to_string();
    store.transaction(|writer| {
        let mut stats = ImportStats::default();
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
        let kind = match outcome {
            Ok(Ok(kind)) => kind,
            Ok(Err(sql)) => {
                return Err(ImportError::Store(StoreError::Sqlite {
                    path: PathBuf::from(&source),
                    err: sql,
                }))
            }
            // A gzip or I/O failure surfaces through serde_json as an io error.
            Err(FeedError::Json(err)) if err.is_io() => {
                return Err(ImportError::Read {
                    path: path.to_path_buf(),
                    err: err.into(),
                })
            }
            Err(err) => {
                return Err(ImportError::Feed {
                    path: path.to_path_buf(),
                    err,
                })
            }
        };
        writer
            .record_import(&source, kind.name(), stats.records(), stats.skipped)
            .map_err(|err| StoreError::Sqlite {
                path: PathBuf::from(&source),
                err,
            })?;
        Ok((kind, stats))
    })
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
        assert_eq!(kind, FeedKind::Kev);
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
        assert_eq!(kind, FeedKind::Nvd11);
        assert!(stats.inserted > 1000, "{stats:?}");
    }
}
