//! The embedded CVE database: one SQLite file a user can open with `sqlite3`.
//!
//! Tables: `cve` (one row per CVE, its configurations as compact JSON), `cve_product` (which
//! CVEs name a vendor:product in a vulnerable criterion, and which versions of it: the index
//! matching starts from, so that a look-up reads and compiles only the CVEs that can apply),
//! `kev` (CISA's catalog), `epss` (FIRST's scores; their date and model in `meta`),
//! `distro_fix` (what Debian and Ubuntu say about a CVE in a package of a release, one row per
//! document that said it), `import` (what was imported when) and `meta`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::cpe::CpeName;
use super::distro::{DistroFix, FixStatus};
use super::epss::{EpssHeader, EpssScore};
use super::matcher::Reach;
use super::nvd::{CveRecord, KevEntry};

/// Bumped when the tables change; an older file is migrated where that is possible, refused
/// with a hint to re-import where not.
const SCHEMA_VERSION: i64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("CVE database {}: {err}", path.display())]
    Sqlite { path: PathBuf, err: rusqlite::Error },
    #[error("CVE database {}: made by another brulee (schema {found}, this one reads {SCHEMA_VERSION}); delete it and import again", path.display())]
    Schema { path: PathBuf, found: i64 },
    #[error("cannot create the folder for the CVE database {}: {err}", path.display())]
    Folder { path: PathBuf, err: std::io::Error },
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// What `brulee db status` shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Status {
    pub path: String,
    pub cves: u64,
    pub kev_entries: u64,
    pub epss_scores: u64,
    /// FIRST's score date and model of the imported EPSS file.
    pub epss_date: Option<String>,
    pub epss_model: Option<String>,
    /// Rows of distribution advisories, and the (distro, release) pairs they cover.
    pub distro_fixes: u64,
    pub distro_releases: Vec<String>,
    pub products: u64,
    pub newest_modified: Option<String>,
    pub last_import: Option<String>,
    pub sources: Vec<String>,
    pub size_bytes: u64,
}

/// The few figures a report gives of its database.
#[derive(Debug, Clone)]
pub struct Summary {
    pub path: String,
    pub cves: u64,
    pub kev_entries: u64,
    pub newest_modified: Option<String>,
    pub last_import: Option<String>,
    pub epss_date: Option<String>,
}

/// What one upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Inserted,
    Replaced,
    /// The stored record is newer: kept.
    Kept,
    Removed,
}

impl Store {
    /// Open (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|err| StoreError::Folder {
                path: dir.to_path_buf(),
                err,
            })?;
        }
        let sqlite = |err| StoreError::Sqlite {
            path: path.to_path_buf(),
            err,
        };
        let conn = Connection::open(path).map_err(sqlite)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = OFF;
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS cve (
                 id TEXT PRIMARY KEY,
                 published TEXT,
                 last_modified TEXT,
                 description TEXT,
                 cvss_version TEXT,
                 cvss_score REAL,
                 cvss_vector TEXT,
                 refs TEXT NOT NULL,
                 configurations TEXT NOT NULL);
             -- How fresh the data is, read by every report: without it that is a walk over
             -- the whole table (hundreds of MB), and the largest cost of a small report.
             CREATE INDEX IF NOT EXISTS cve_by_modified ON cve (last_modified);
             CREATE TABLE IF NOT EXISTS cve_product (
                 vendor TEXT NOT NULL,
                 product TEXT NOT NULL,
                 cve_id TEXT NOT NULL,
                 -- The versions its vulnerable criteria of the product can match, space-
                 -- separated: a version, '~FROM~TO' for a range, '*' for any (matcher::Reach).
                 versions TEXT NOT NULL DEFAULT '*',
                 PRIMARY KEY (vendor, product, cve_id)) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS cve_product_by_cve ON cve_product (cve_id);
             CREATE TABLE IF NOT EXISTS kev (
                 cve_id TEXT PRIMARY KEY,
                 name TEXT,
                 date_added TEXT,
                 due_date TEXT,
                 required_action TEXT,
                 ransomware TEXT);
             CREATE TABLE IF NOT EXISTS epss (
                 cve_id TEXT PRIMARY KEY,
                 score REAL NOT NULL,
                 percentile REAL) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS distro_fix (
                 distro TEXT NOT NULL,
                 release TEXT NOT NULL,
                 package TEXT NOT NULL,
                 cve_id TEXT NOT NULL,
                 document TEXT NOT NULL,
                 status TEXT NOT NULL,
                 fixed_version TEXT,
                 detail TEXT,
                 source TEXT NOT NULL,
                 PRIMARY KEY (distro, release, package, cve_id, document)) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS distro_fix_by_document ON distro_fix (document);
             CREATE TABLE IF NOT EXISTS import (
                 source TEXT NOT NULL,
                 kind TEXT NOT NULL,
                 imported_at TEXT NOT NULL,
                 records INTEGER NOT NULL,
                 skipped INTEGER NOT NULL);",
        )
        .map_err(sqlite)?;
        let found = schema_version(&conn).map_err(sqlite)?;
        match found {
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION.to_string()],
                )
                .map_err(sqlite)?;
            }
            Some(v) if v == SCHEMA_VERSION => {}
            // Schema 1 had no versions per product row: '*' (a range) makes every such CVE a
            // candidate, as before, until a re-import fills them in.
            Some(1) => conn
                .execute_batch(
                    "ALTER TABLE cve_product ADD COLUMN versions TEXT NOT NULL DEFAULT '*';
                     UPDATE meta SET value = '2' WHERE key = 'schema_version';",
                )
                .map_err(sqlite)?,
            Some(v) => {
                return Err(StoreError::Schema {
                    path: path.to_path_buf(),
                    found: v,
                })
            }
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Open an existing database for reading only (plugins' advisory look-ups): nothing is
    /// created, and a write would fail.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let sqlite = |err| StoreError::Sqlite {
            path: path.to_path_buf(),
            err,
        };
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite)?;
        let found = schema_version(&conn).map_err(sqlite)?;
        if found != Some(SCHEMA_VERSION) {
            return Err(StoreError::Schema {
                path: path.to_path_buf(),
                found: found.unwrap_or(0),
            });
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn error(&self, err: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            err,
        }
    }

    /// Run `work` in one transaction: all of it lands, or none.
    pub fn transaction<T, E: From<StoreError>>(
        &mut self,
        work: impl FnOnce(&mut Writer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let path = self.path.clone();
        let sqlite = |err| StoreError::Sqlite {
            path: path.clone(),
            err,
        };
        let tx = self.conn.transaction().map_err(sqlite)?;
        let mut writer = Writer { tx };
        let value = work(&mut writer)?;
        writer.tx.commit().map_err(sqlite)?;
        Ok(value)
    }

    fn count(&self, sql: &str) -> Result<u64, StoreError> {
        self.conn
            .query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.error(e))
    }

    fn newest(&self, sql: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(sql, [], |r| r.get::<_, Option<String>>(0))
            .map_err(|e| self.error(e))
    }

    /// What a report says of the database: answered from indexes, in a few milliseconds
    /// even for a whole NVD ([`Store::status`] also walks the product table).
    pub fn summary(&self) -> Result<Summary, StoreError> {
        Ok(Summary {
            path: self.path.display().to_string(),
            cves: self.count("SELECT count(*) FROM cve")?,
            kev_entries: self.count("SELECT count(*) FROM kev")?,
            newest_modified: self.newest("SELECT max(last_modified) FROM cve")?,
            last_import: self.newest("SELECT max(imported_at) FROM import")?,
            epss_date: self.meta("epss_date")?,
        })
    }

    pub fn status(&self) -> Result<Status, StoreError> {
        let count = |sql: &str| self.count(sql);
        let newest_modified = self.newest("SELECT max(last_modified) FROM cve")?;
        let last_import = self.newest("SELECT max(imported_at) FROM import")?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source, kind, max(imported_at) FROM import GROUP BY source ORDER BY 3 DESC",
            )
            .map_err(|e| self.error(e))?;
        let sources = stmt
            .query_map([], |r| {
                Ok(format!(
                    "{} ({}, {})",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.error(e))?;
        let size_bytes = ["", "-wal"]
            .iter()
            .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", self.path.display())).ok())
            .map(|m| m.len())
            .sum();
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT distro || '/' || release FROM distro_fix ORDER BY 1")
            .map_err(|e| self.error(e))?;
        let distro_releases = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.error(e))?;
        Ok(Status {
            path: self.path.display().to_string(),
            cves: count("SELECT count(*) FROM cve")?,
            kev_entries: count("SELECT count(*) FROM kev")?,
            epss_scores: count("SELECT count(*) FROM epss")?,
            epss_date: self.meta("epss_date")?,
            epss_model: self.meta("epss_model")?,
            distro_fixes: count("SELECT count(*) FROM distro_fix")?,
            distro_releases,
            products: count(
                "SELECT count(*) FROM (SELECT DISTINCT vendor, product FROM cve_product)",
            )?,
            newest_modified,
            last_import,
            sources,
            size_bytes,
        })
    }

    /// The CVEs naming `vendor:product` in a vulnerable criterion, each with the versions
    /// those criteria name (`versions` of `cve_product`).
    pub fn product_cves(
        &self,
        vendor: &str,
        product: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT cve_id, versions FROM cve_product WHERE vendor = ?1 AND product = ?2",
            )
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(params![vendor, product], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.error(e))?;
        Ok(rows)
    }

    /// The stored record of one CVE.
    pub fn record(&self, id: &str) -> Result<Option<CveRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, published, last_modified, description, cvss_version, cvss_score,
                        cvss_vector, refs, configurations
                 FROM cve WHERE id = ?1",
            )
            .map_err(|e| self.error(e))?;
        stmt.query_row([id], |r| {
            let cvss_version: Option<String> = r.get(4)?;
            let refs: String = r.get(7)?;
            let configurations: String = r.get(8)?;
            Ok(CveRecord {
                id: r.get(0)?,
                published: r.get(1)?,
                last_modified: r.get(2)?,
                description: r.get(3)?,
                cvss: match (cvss_version, r.get::<_, Option<f64>>(5)?) {
                    (Some(version), Some(score)) => Some(super::nvd::Cvss {
                        version,
                        score,
                        vector: r.get(6)?,
                    }),
                    _ => None,
                },
                references: serde_json::from_str(&refs).unwrap_or_default(),
                configurations: serde_json::from_str(&configurations).unwrap_or_default(),
                rejected: false,
            })
        })
        .optional()
        .map_err(|e| self.error(e))
    }

    /// The stored records of every CVE naming `vendor:product` in a vulnerable criterion.
    pub fn records_for_product(
        &self,
        vendor: &str,
        product: &str,
    ) -> Result<Vec<CveRecord>, StoreError> {
        let mut records = Vec::new();
        for (id, _) in self.product_cves(vendor, product)? {
            records.extend(self.record(&id)?);
        }
        Ok(records)
    }

    /// Fold the write-ahead log back into the database file, so that after a large import
    /// the file a user sees is the whole database and the log does not linger at its peak size.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| self.error(e))
    }

    /// A value of the `meta` table (update bookkeeping).
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.error(e))
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                [key, value],
            )
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// KEV entry of a CVE, if listed.
    pub fn kev(&self, cve_id: &str) -> Result<Option<KevEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, date_added, due_date, required_action, ransomware FROM kev WHERE cve_id = ?1")
            .map_err(|e| self.error(e))?;
        stmt.query_row([cve_id], |r| {
            Ok(KevEntry {
                cve_id: cve_id.to_string(),
                name: r.get(0)?,
                date_added: r.get(1)?,
                due_date: r.get(2)?,
                required_action: r.get(3)?,
                ransomware: r.get(4)?,
            })
        })
        .optional()
        .map_err(|e| self.error(e))
    }

    /// EPSS score of a CVE, if scored.
    pub fn epss(&self, cve_id: &str) -> Result<Option<EpssScore>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT score, percentile FROM epss WHERE cve_id = ?1")
            .map_err(|e| self.error(e))?;
        stmt.query_row([cve_id], |r| {
            Ok(EpssScore {
                cve_id: cve_id.to_string(),
                score: r.get(0)?,
                percentile: r.get(1)?,
            })
        })
        .optional()
        .map_err(|e| self.error(e))
    }

    /// The date and model of the stored EPSS scores.
    pub fn epss_header(&self) -> Result<EpssHeader, StoreError> {
        Ok(EpssHeader {
            model: self.meta("epss_model")?,
            date: self.meta("epss_date")?,
        })
    }

    /// Every stored statement about `cve_id` in `package` of `distro`'s `release`.
    pub fn distro_fixes(
        &self,
        distro: &str,
        release: &str,
        package: &str,
        cve_id: &str,
    ) -> Result<Vec<DistroFix>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT status, fixed_version, detail, source FROM distro_fix
                 WHERE distro = ?1 AND release = ?2 AND package = ?3 AND cve_id = ?4
                 ORDER BY document",
            )
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(params![distro, release, package, cve_id], |r| {
                let status: String = r.get(0)?;
                Ok(DistroFix {
                    distro: distro.to_string(),
                    release: release.to_string(),
                    package: package.to_string(),
                    cve_id: cve_id.to_string(),
                    status: FixStatus::parse(&status).unwrap_or(FixStatus::Undetermined),
                    fixed_version: r.get(1)?,
                    detail: r.get(2)?,
                    source: r.get(3)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.error(e))?;
        Ok(rows)
    }

    /// Whether a table has any row (a plugin says once that a data set is missing).
    pub fn has_rows(&self, table: AdvisoryTable) -> Result<bool, StoreError> {
        let sql = match table {
            AdvisoryTable::Kev => "SELECT EXISTS (SELECT 1 FROM kev)",
            AdvisoryTable::Epss => "SELECT EXISTS (SELECT 1 FROM epss)",
            AdvisoryTable::DistroFix => "SELECT EXISTS (SELECT 1 FROM distro_fix)",
        };
        self.conn
            .query_row(sql, [], |r| r.get(0))
            .map_err(|e| self.error(e))
    }
}

/// The advisory data sets a database may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdvisoryTable {
    Kev,
    Epss,
    DistroFix,
}

/// The schema version a database file says it has (None for a new file).
fn schema_version(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .and_then(|v| v.parse().ok()))
}

/// Writes inside one transaction.
pub struct Writer<'a> {
    tx: Transaction<'a>,
}

impl Writer<'_> {
    /// Store a record unless a newer version of it is stored; remove it if it was rejected.
    pub fn upsert_cve(&mut self, record: &CveRecord) -> rusqlite::Result<Upsert> {
        if record.rejected {
            let removed = self
                .tx
                .prepare_cached("DELETE FROM cve WHERE id = ?1")?
                .execute([&record.id])?;
            self.tx
                .prepare_cached("DELETE FROM cve_product WHERE cve_id = ?1")?
                .execute([&record.id])?;
            return Ok(if removed > 0 {
                Upsert::Removed
            } else {
                Upsert::Kept
            });
        }
        let existing: Option<Option<String>> = self
            .tx
            .prepare_cached("SELECT last_modified FROM cve WHERE id = ?1")?
            .query_row([&record.id], |r| r.get(0))
            .optional()?;
        if let Some(stored) = &existing {
            // ISO 8601 timestamps of one source compare as strings. An equal date replaces,
            // so re-importing the same file is idempotent.
            if stored.as_deref() > record.last_modified.as_deref() {
                return Ok(Upsert::Kept);
            }
        }
        let configurations =
            serde_json::to_string(&record.configurations).expect("configurations serialise");
        let refs = serde_json::to_string(&record.references).expect("references serialise");
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO cve (id, published, last_modified, description, cvss_version, cvss_score,
                                             cvss_vector, refs, configurations)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                record.id,
                record.published,
                record.last_modified,
                record.description,
                record.cvss.as_ref().map(|c| &c.version),
                record.cvss.as_ref().map(|c| c.score),
                record.cvss.as_ref().and_then(|c| c.vector.as_ref()),
                refs,
                configurations,
            ])?;
        if existing.is_some() {
            self.tx
                .prepare_cached("DELETE FROM cve_product WHERE cve_id = ?1")?
                .execute([&record.id])?;
        }
        // Per vendor:product, what versions its vulnerable criteria can match.
        let mut products: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for m in record
            .configurations
            .iter()
            .flat_map(|c| &c.nodes)
            .flat_map(|n| &n.matches)
            .filter(|m| m.vulnerable)
        {
            let Ok(cpe) = CpeName::parse(&m.criteria) else {
                continue;
            };
            let token = Reach::of(m, &cpe).token();
            let versions = products.entry((cpe.vendor, cpe.product)).or_default();
            versions.extend(token);
        }
        let mut insert = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO cve_product (vendor, product, cve_id, versions) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for ((vendor, product), versions) in products {
            let versions = versions.into_iter().collect::<Vec<_>>().join(" ");
            insert.execute(params![vendor, product, record.id, versions])?;
        }
        Ok(if existing.is_some() {
            Upsert::Replaced
        } else {
            Upsert::Inserted
        })
    }

    pub fn upsert_kev(&mut self, kev: &KevEntry) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO kev (cve_id, name, date_added, due_date, required_action, ransomware)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![kev.cve_id, kev.name, kev.date_added, kev.due_date, kev.required_action, kev.ransomware])?;
        Ok(())
    }

    /// A catalog import replaces the whole catalog: entries CISA removed must go too.
    pub fn clear_kev(&mut self) -> rusqlite::Result<()> {
        self.tx.execute("DELETE FROM kev", []).map(|_| ())
    }

    /// An EPSS import replaces the whole set: a CVE FIRST no longer scores must not keep an
    /// old score.
    pub fn replace_epss(&mut self, header: &EpssHeader) -> rusqlite::Result<()> {
        self.tx.execute("DELETE FROM epss", [])?;
        for (key, value) in [("epss_date", &header.date), ("epss_model", &header.model)] {
            match value {
                Some(v) => self.tx.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                    [key, v],
                )?,
                None => self.tx.execute("DELETE FROM meta WHERE key = ?1", [key])?,
            };
        }
        Ok(())
    }

    pub fn insert_epss(&mut self, score: &EpssScore) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO epss (cve_id, score, percentile) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![score.cve_id, score.score, score.percentile])?;
        Ok(())
    }

    /// Forget what a document said (before storing what it says now).
    pub fn clear_distro_document(&mut self, document: &str) -> rusqlite::Result<u64> {
        self.tx
            .prepare_cached("DELETE FROM distro_fix WHERE document = ?1")?
            .execute([document])
            .map(|n| n as u64)
    }

    pub fn insert_distro_fix(&mut self, document: &str, fix: &DistroFix) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO distro_fix
                   (distro, release, package, cve_id, document, status, fixed_version, detail, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                fix.distro,
                fix.release,
                fix.package,
                fix.cve_id,
                document,
                fix.status.as_str(),
                fix.fixed_version,
                fix.detail,
                fix.source
            ])?;
        Ok(())
    }

    pub fn record_import(
        &mut self,
        source: &str,
        kind: &str,
        records: u64,
        skipped: u64,
    ) -> rusqlite::Result<()> {
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        self.tx
            .prepare_cached("INSERT INTO import (source, kind, imported_at, records, skipped) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![source, kind, now, records as i64, skipped as i64])?;
        Ok(())
    }
}
