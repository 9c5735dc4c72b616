//! Advisory data for Lua plugins, read-only: `brulee.kev(cve)`, `brulee.epss(cve)` and
//! `brulee.distro_fix{distro=, release=, package=, cve=}`, answered from the run's CVE
//! database (`--db` / `BRULEE_DB`).
//!
//! The database is opened read-only on the first look-up. Without one, or without the data
//! set a function reads, the functions return nil and the step says so once on stderr: a
//! scan without EPSS data is still a scan, but the user should know why no finding has a
//! score. No SQL reaches plugins: each function answers one question.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;

use mlua::{Lua, LuaSerdeExt, Table, Value};

use crate::vulndb::{distro, AdvisoryTable, Store};

/// One step's access to the database.
struct Advisories {
    step: String,
    path: Option<PathBuf>,
    /// Opened on first use; `Err` (said once) when it cannot be.
    store: RefCell<Option<Result<Store, ()>>>,
    /// The data sets already found empty and said so.
    said_empty: Cell<[bool; 3]>,
}

const HOW: &str = "import data with 'brulee db import FILE...' or fetch it with 'brulee db update'";

impl Advisories {
    /// Run `query` on the store, or return None (said once) when there is no store or no
    /// data of `table`.
    fn with_store<T>(
        &self,
        table: AdvisoryTable,
        query: impl FnOnce(&Store) -> Result<Option<T>, crate::vulndb::StoreError>,
    ) -> mlua::Result<Option<T>> {
        let mut slot = self.store.borrow_mut();
        if slot.is_none() {
            *slot = Some(self.open());
        }
        let Some(Ok(store)) = slot.as_ref() else {
            return Ok(None);
        };
        let index = table as usize;
        let mut said = self.said_empty.get();
        if !said[index] {
            let has = store.has_rows(table).map_err(mlua::Error::external)?;
            if !has {
                said[index] = true;
                self.said_empty.set(said);
                let what = match table {
                    AdvisoryTable::Kev => "no KEV catalog: brulee.kev returns nil",
                    AdvisoryTable::Epss => "no EPSS scores: brulee.epss returns nil",
                    AdvisoryTable::DistroFix => {
                        "no Debian or Ubuntu advisories: brulee.distro_fix returns nil"
                    }
                };
                eprintln!(
                    "{} warn: the CVE database {} has {what}; {HOW}",
                    self.step,
                    store.path().display()
                );
                return Ok(None);
            }
            // Found: no need to ask again.
            said[index] = true;
            self.said_empty.set(said);
        }
        query(store).map_err(mlua::Error::external)
    }

    fn open(&self) -> Result<Store, ()> {
        let Some(path) = &self.path else {
            eprintln!(
                "{} warn: this run has no CVE database, so brulee.kev, brulee.epss and brulee.distro_fix return nil; {HOW}",
                self.step
            );
            return Err(());
        };
        Store::open_read_only(path).map_err(|e| {
            eprintln!(
                "{} warn: {e}; brulee.kev, brulee.epss and brulee.distro_fix return nil",
                self.step
            );
        })
    }
}

/// Add the advisory functions to the `brulee` table.
pub fn install(
    lua: &Lua,
    brulee: &Table,
    step_name: &str,
    db: Option<PathBuf>,
) -> mlua::Result<()> {
    let access = Rc::new(Advisories {
        step: step_name.to_string(),
        path: db,
        store: RefCell::new(None),
        said_empty: Cell::new([false; 3]),
    });

    let kev = access.clone();
    brulee.set(
        "kev",
        lua.create_function(move |lua, cve: String| {
            let Some(entry) = kev.with_store(AdvisoryTable::Kev, |s| s.kev(&cve))? else {
                return Ok(Value::Nil);
            };
            let t = lua.create_table()?;
            t.set("name", entry.name)?;
            t.set("date_added", entry.date_added)?;
            t.set("due_date", entry.due_date)?;
            t.set("required_action", entry.required_action)?;
            // CISA writes "Known" or "Unknown".
            t.set(
                "ransomware",
                entry
                    .ransomware
                    .is_some_and(|r| r.eq_ignore_ascii_case("known")),
            )?;
            Ok(Value::Table(t))
        })?,
    )?;

    let epss = access.clone();
    brulee.set(
        "epss",
        lua.create_function(move |lua, cve: String| {
            let found = epss.with_store(AdvisoryTable::Epss, |s| {
                Ok(s.epss(&cve)?.map(|score| (score, s.epss_header())))
            })?;
            let Some((score, header)) = found else {
                return Ok(Value::Nil);
            };
            let header = header.map_err(mlua::Error::external)?;
            let t = lua.create_table()?;
            t.set("score", score.score)?;
            t.set("percentile", score.percentile)?;
            t.set("date", header.date)?;
            t.set("model", header.model)?;
            Ok(Value::Table(t))
        })?,
    )?;

    let fixes = access;
    brulee.set(
        "distro_fix",
        lua.create_function(move |lua, query: Table| {
            let field = |name: &str| -> mlua::Result<String> {
                query.get::<Option<String>>(name)?.ok_or_else(|| {
                    mlua::Error::runtime(format!(
                        "brulee.distro_fix{{distro=, release=, package=, cve=}}: {name} is missing"
                    ))
                })
            };
            let (d, r, p, c) = (
                field("distro")?,
                field("release")?,
                field("package")?,
                field("cve")?,
            );
            match fixes.with_store(AdvisoryTable::DistroFix, |s| {
                distro::answer(s, &d, &r, &p, &c)
            })? {
                Some(answer) => lua.to_value_with(
                    &answer,
                    mlua::serde::SerializeOptions::new().serialize_none_to_null(false),
                ),
                None => Ok(Value::Nil),
            }
        })?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vulndb::import::import_file;
    use std::path::Path;

    fn lua_with(db: Option<PathBuf>) -> Lua {
        let lua = Lua::new();
        let brulee = lua.create_table().unwrap();
        install(&lua, &brulee, "test", db).unwrap();
        lua.globals().set("brulee", brulee).unwrap();
        lua
    }

    #[test]
    fn answers_from_the_database_and_nil_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let mut store = Store::open(&path).unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/advisories");
        for file in [
            "epss_scores-2026-01-30-subset.csv",
            "distro/tracker/DSA-5724-1.json",
        ] {
            import_file(&mut store, &fixtures.join(file), |_| {}).unwrap();
        }
        drop(store);
        let lua = lua_with(Some(path));
        let (score, percentile, model): (f64, f64, String) = lua
            .load("local e = brulee.epss('CVE-2023-38408') return e.score, e.percentile, e.model")
            .eval()
            .unwrap();
        assert_eq!(
            (score, percentile, model.as_str()),
            (0.67312, 0.98518, "v2025.03.14")
        );
        let (status, fixed, source, inherited): (String, String, String, Value) = lua
            .load(
                "local f = brulee.distro_fix{distro='debian', release='12', package='openssh', cve='CVE-2024-6387'}
                 return f.status, f.fixed_version, f.source, f.inherited_from",
            )
            .eval()
            .unwrap();
        assert_eq!(
            (status.as_str(), fixed.as_str(), source.as_str()),
            ("fixed", "1:9.2p1-2+deb12u3", "DSA-5724-1")
        );
        assert!(inherited.is_nil(), "absent fields are nil, not JSON null");
        // No KEV data in this database: nil, not an error.
        assert!(lua
            .load("return brulee.kev('CVE-2021-44228')")
            .eval::<Value>()
            .unwrap()
            .is_nil());
        let err = lua
            .load(
                "return brulee.distro_fix{distro='debian', package='openssh', cve='CVE-2024-6387'}",
            )
            .eval::<Value>()
            .unwrap_err();
        assert!(err.to_string().contains("release is missing"), "{err}");

        let none = lua_with(None);
        assert!(none
            .load("return brulee.epss('CVE-2023-38408')")
            .eval::<Value>()
            .unwrap()
            .is_nil());
    }
}
