use super::*;
use crate::vulndb::import::import_file;
use crate::vulndb::nvd::{Configuration, CpeMatch, CveRecord, Node, Operator};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/nvd")
        .join(name)
}

/// A database in a temp folder holding the given fixture feeds.
fn db(feeds: &[&str]) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("cve.sqlite")).unwrap();
    for feed in feeds {
        import_file(&mut store, &fixture(feed), |_| {}).unwrap();
    }
    (dir, store)
}

fn ids(verdict: &Verdict) -> Vec<&str> {
    match verdict {
        Verdict::Matches(m) => m.iter().map(|m| m.record.id.as_str()).collect(),
        other => panic!("expected matches, got {other:?}"),
    }
}

fn confidence(verdict: &Verdict, id: &str) -> Confidence {
    let Verdict::Matches(m) = verdict else {
        panic!()
    };
    m.iter()
        .find(|m| m.record.id == id)
        .unwrap_or_else(|| panic!("{id} missing"))
        .confidence
}

#[test]
fn heartbleed_hits_openssl_1_0_1f_but_not_1_0_1g() {
    let (_dir, store) = db(&["nvd2_openssl.json.gz"]);
    let mut m = Matcher::new(&store);
    let f = m
        .match_service(&["cpe:/a:openssl:openssl:1.0.1f".into()], &[])
        .unwrap();
    assert!(ids(&f).contains(&"CVE-2014-0160"));
    assert_eq!(confidence(&f, "CVE-2014-0160"), Confidence::Range);
    let g = m
        .match_service(&["cpe:/a:openssl:openssl:1.0.1g".into()], &[])
        .unwrap();
    assert!(!ids(&g).contains(&"CVE-2014-0160"));
}

#[test]
fn debians_openssh_gets_what_nvd_says_of_9_2p1() {
    let (_dir, store) = db(&["nvd2_openssh.json.gz", "nvd2_recent_debian12.json.gz"]);
    let mut m = Matcher::new(&store);
    // What nmap reports for Debian 12's sshd ("OpenSSH 9.2p1 Debian 2+deb12u…").
    let v = m
        .match_service(
            &[
                "cpe:/a:openbsd:openssh:9.2p1".into(),
                "cpe:/o:linux:linux_kernel".into(),
            ],
            &[],
        )
        .unwrap();
    let found = ids(&v);
    // regreSSHion: 8.6 <= v < 9.8; the ssh-agent PKCS#11 bug: before 9.3p2.
    assert!(found.contains(&"CVE-2024-6387"), "{found:?}");
    assert!(found.contains(&"CVE-2023-38408"), "{found:?}");
    // Fixed long before 9.2p1 (user enumeration, before 7.3).
    assert!(!found.contains(&"CVE-2016-6210"), "{found:?}");
    // Awaiting analysis: no configurations, so nothing can be claimed.
    assert!(!found.contains(&"CVE-2023-48795"), "{found:?}");
}

#[test]
fn nmaps_nginx_name_finds_nvds_records_through_the_alias_table() {
    // nmap 7.93 says igor_sysoev:nginx; these records say f5:nginx.
    let (_dir, store) = db(&["nvd2_nginx.json.gz", "nvd2_real_recent_samples.json.gz"]);
    let mut m = Matcher::new(&store);
    let nginx = |v: &str| vec![format!("cpe:/a:igor_sysoev:nginx:{v}")];
    // CVE-2021-23017 (resolver off-by-one): 0.6.18 to before 1.20.1.
    assert!(ids(&m.match_service(&nginx("1.20.0"), &[]).unwrap()).contains(&"CVE-2021-23017"));
    assert!(!ids(&m.match_service(&nginx("1.20.1"), &[]).unwrap()).contains(&"CVE-2021-23017"));
    // CVE-2017-7529 (range filter overflow): up to and including 1.12.1.
    assert!(ids(&m.match_service(&nginx("1.12.1"), &[]).unwrap()).contains(&"CVE-2017-7529"));
    assert!(!ids(&m.match_service(&nginx("1.12.2"), &[]).unwrap()).contains(&"CVE-2017-7529"));
}

#[test]
fn a_product_without_a_version_is_not_given_every_cve_it_ever_had() {
    let (_dir, store) = db(&["nvd2_openssh.json.gz"]);
    let mut m = Matcher::new(&store);
    let v = m
        .match_service(&["cpe:/a:openbsd:openssh".into()], &[])
        .unwrap();
    assert!(
        matches!(v, Verdict::VersionUnknown { ref product } if product == "openbsd:openssh"),
        "{v:?}"
    );
    let v = m
        .match_service(&["cpe:/o:linux:linux_kernel".into()], &[])
        .unwrap();
    assert!(matches!(v, Verdict::NotIdentified));
}

/// Store one synthetic record (for logic the real feeds show only rarely).
fn store_with(record: CveRecord) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("cve.sqlite")).unwrap();
    store
        .transaction(|w| {
            w.upsert_cve(&record).map_err(|e| StoreError::Sqlite {
                path: "t".into(),
                err: e,
            })
        })
        .unwrap();
    (dir, store)
}

fn criterion(vulnerable: bool, criteria: &str) -> CpeMatch {
    CpeMatch {
        vulnerable,
        criteria: criteria.into(),
        start_incl: None,
        start_excl: None,
        end_incl: None,
        end_excl: None,
    }
}

#[test]
fn an_and_with_a_platform_the_scan_did_not_see_is_reported_with_lower_confidence() {
    // go-cve-dictionary #113: Struts vulnerable only together with ognl.
    let record = CveRecord {
        id: "CVE-2099-0001".into(),
        published: None,
        last_modified: Some("2020-01-01T00:00:00".into()),
        description: None,
        cvss: None,
        references: vec![],
        configurations: vec![Configuration {
            operator: Operator::And,
            negate: false,
            nodes: vec![
                Node {
                    operator: Operator::Or,
                    negate: false,
                    matches: vec![criterion(
                        true,
                        "cpe:2.3:a:apache:struts:2.3.5:*:*:*:*:*:*:*",
                    )],
                },
                Node {
                    operator: Operator::Or,
                    negate: false,
                    matches: vec![criterion(
                        false,
                        "cpe:2.3:a:ognl_project:ognl:3.0:*:*:*:*:*:*:*",
                    )],
                },
            ],
        }],
        rejected: false,
    };
    let (_dir, store) = store_with(record);
    let mut m = Matcher::new(&store);
    let struts = ["cpe:/a:apache:struts:2.3.5".to_string()];
    let alone = m.match_service(&struts, &[]).unwrap();
    assert_eq!(
        confidence(&alone, "CVE-2099-0001"),
        Confidence::PlatformUnconfirmed
    );
    let with_ognl = m
        .match_service(&struts, &["cpe:/a:ognl_project:ognl:3.0".into()])
        .unwrap();
    assert_eq!(confidence(&with_ognl, "CVE-2099-0001"), Confidence::Exact);
    // The platform seen, but in a version the configuration does not name: not vulnerable.
    let other_ognl = m
        .match_service(&struts, &["cpe:/a:ognl_project:ognl:4.0".into()])
        .unwrap();
    assert!(ids(&other_ognl).is_empty());
    // Another Struts version: not vulnerable whatever the platform.
    let other = m
        .match_service(&["cpe:/a:apache:struts:2.5".into()], &[])
        .unwrap();
    assert!(ids(&other).is_empty());
}

/// CVE-2099-0002, whose one configuration is one criterion.
fn single_criterion_record(criterion: CpeMatch) -> CveRecord {
    CveRecord {
        id: "CVE-2099-0002".into(),
        published: None,
        last_modified: None,
        description: None,
        cvss: None,
        references: vec![],
        configurations: vec![Configuration {
            operator: Operator::Or,
            negate: false,
            nodes: vec![Node {
                operator: Operator::Or,
                negate: false,
                matches: vec![criterion],
            }],
        }],
        rejected: false,
    }
}

#[test]
fn openssh_p_levels_match_in_either_place() {
    let record = |criteria: &str| single_criterion_record(criterion(true, criteria));
    for (criteria, scanned, expected) in [
        (
            "cpe:2.3:a:openbsd:openssh:9.3:p1:*:*:*:*:*:*",
            "9.3p1",
            true,
        ),
        (
            "cpe:2.3:a:openbsd:openssh:5.8p1:*:*:*:*:*:*:*",
            "5.8p1",
            true,
        ),
        (
            "cpe:2.3:a:openbsd:openssh:9.3:p1:*:*:*:*:*:*",
            "9.3p2",
            false,
        ),
        ("cpe:2.3:a:openbsd:openssh:9.3:*:*:*:*:*:*:*", "9.3p2", true),
        ("cpe:2.3:a:openbsd:openssh:-:*:*:*:*:*:*:*", "9.3p2", false),
    ] {
        let (_dir, store) = store_with(record(criteria));
        let mut m = Matcher::new(&store);
        let v = m
            .match_service(&[format!("cpe:/a:openbsd:openssh:{scanned}")], &[])
            .unwrap();
        assert_eq!(!ids(&v).is_empty(), expected, "{criteria} vs {scanned}");
    }
}

#[test]
fn a_bound_that_is_no_version_matches_nothing_instead_of_everything() {
    let any = || criterion(true, "cpe:2.3:a:acme:widget:*:*:*:*:*:*:*:*");
    let huge = format!("1{}", "0".repeat(40));
    for (bound, expected) in [
        (
            CpeMatch {
                end_excl: Some("2.0".into()),
                ..any()
            },
            true,
        ),
        // Beyond u64, still a number: 1.5 is below it.
        (
            CpeMatch {
                end_excl: Some(huge),
                ..any()
            },
            true,
        ),
        (
            CpeMatch {
                end_excl: Some("unknown".into()),
                ..any()
            },
            false,
        ),
        (
            CpeMatch {
                start_incl: Some("1.".repeat(100)),
                ..any()
            },
            false,
        ),
        (
            CpeMatch {
                end_incl: Some(String::new()),
                ..any()
            },
            false,
        ),
    ] {
        let text = format!("{bound:?}");
        let (_dir, store) = store_with(single_criterion_record(bound));
        let mut m = Matcher::new(&store);
        let v = m
            .match_service(&["cpe:/a:acme:widget:1.5".into()], &[])
            .unwrap();
        assert_eq!(!ids(&v).is_empty(), expected, "{text}");
    }
}

/// What a look-up gives, for comparing two ways of getting it.
fn outcome(m: &mut Matcher, cpe: &str) -> Vec<(String, Confidence, String)> {
    match m.match_service(&[cpe.to_string()], &[]).unwrap() {
        Verdict::Matches(found) => found
            .into_iter()
            .map(|f| (f.record.id.clone(), f.confidence, f.rule))
            .collect(),
        other => panic!("{cpe}: expected matches, got {other:?}"),
    }
}

#[test]
fn the_version_index_finds_what_evaluating_every_cve_finds() {
    let (dir, store) = db(&[
        "nvd2_openssl.json.gz",
        "nvd2_openssh.json.gz",
        "nvd2_nginx.json.gz",
        "nvd2_recent_debian12.json.gz",
    ]);
    // A database of schema 1 had no versions per product row; opening it migrates it with
    // every row a range, so that every CVE of the product is evaluated, as before the index.
    let old = dir.path().join("schema1.sqlite");
    store.checkpoint().unwrap();
    std::fs::copy(store.path(), &old).unwrap();
    let conn = rusqlite::Connection::open(&old).unwrap();
    conn.execute_batch(
        "CREATE TABLE p1 (vendor TEXT NOT NULL, product TEXT NOT NULL, cve_id TEXT NOT NULL,
                          PRIMARY KEY (vendor, product, cve_id)) WITHOUT ROWID;
         INSERT INTO p1 SELECT vendor, product, cve_id FROM cve_product;
         DROP TABLE cve_product;
         ALTER TABLE p1 RENAME TO cve_product;
         UPDATE meta SET value = '1' WHERE key = 'schema_version';",
    )
    .unwrap();
    drop(conn);
    let migrated = Store::open(&old).unwrap();
    let walked: Vec<String> = migrated
        .product_cves("openbsd", "openssh")
        .unwrap()
        .into_iter()
        .map(|(_, versions)| versions)
        .collect();
    assert!(!walked.is_empty() && walked.iter().all(|v| v == "*"));

    let (mut indexed, mut every) = (Matcher::new(&store), Matcher::new(&migrated));
    let mut found = 0;
    for cpe in [
        "cpe:/a:openssl:openssl:1.0.1f",
        "cpe:/a:openssl:openssl:1.0.1g",
        "cpe:/a:openssl:openssl:1.0.2k",
        "cpe:/a:openssl:openssl:0.9.8",
        "cpe:/a:openssl:openssl:1.1.1k",
        "cpe:/a:openbsd:openssh:5.3",
        "cpe:/a:openbsd:openssh:7.2p2",
        "cpe:/a:openbsd:openssh:7.4",
        "cpe:/a:openbsd:openssh:9.2p1",
        "cpe:/a:openbsd:openssh:9.8p1",
        "cpe:/a:igor_sysoev:nginx:1.14.0",
        "cpe:/a:igor_sysoev:nginx:0.7.65",
        "cpe:/a:nginx:nginx:1.22.1",
    ] {
        let a = outcome(&mut indexed, cpe);
        assert_eq!(a, outcome(&mut every, cpe), "{cpe}");
        found += a.len();
    }
    assert!(
        found > 100,
        "the comparison must cover real matches, found {found}"
    );
}
