//! `brulee db update`: fetch NVD's CVE JSON 2.0 feeds, CISA's KEV catalog, FIRST's EPSS scores
//! and the Debian security tracker's JSON over HTTPS.
//!
//! The first run fetches every yearly feed; later runs fetch only what changed, judged by each
//! feed's `.meta` file (its SHA-256), and rely on NVD's `modified` feed (the last eight days of
//! changes) between full passes. KEV, EPSS and the tracker are fetched whole each time (each
//! replaces its previous set). Every URL is an option, so a mirror works.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use clap::Args;
use sha2::{Digest, Sha256};

use super::db::{import_files, DbPath};
use super::exit;
use crate::vulndb::Store;

/// NVD's feed folder; every file is named nvdcve-2.0-{YEAR|modified}.json.gz (+ .meta).
const NVD_FEEDS: &str = "https://nvd.nist.gov/feeds/json/cve/2.0/";
const KEV_CATALOG: &str =
    "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json";
/// FIRST's daily scores of every CVE.
const EPSS_SCORES: &str = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz";
/// The Debian security tracker's state of every CVE in every package and release.
const DEBIAN_TRACKER: &str = "https://security-tracker.debian.org/tracker/data/json";
/// NVD's modified feed covers eight days: a full pass at least this often misses nothing.
const FULL_PASS_EVERY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Fetch the NVD feeds (only what changed since the last update), the KEV catalog, FIRST's
/// EPSS scores and the Debian security tracker (and Ubuntu's OSV records when given a URL).
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Base URL of the NVD 2.0 feed files (a mirror, or a local server).
    #[arg(long, value_name = "URL", default_value = NVD_FEEDS)]
    source: String,
    /// URL of CISA's KEV catalog (JSON); "none" skips it.
    #[arg(long, value_name = "URL", default_value = KEV_CATALOG)]
    kev_source: String,
    /// URL of FIRST's EPSS scores (the daily CSV, gzipped or not); "none" skips them.
    #[arg(long, value_name = "URL", default_value = EPSS_SCORES)]
    epss_source: String,
    /// URL of the Debian security tracker's JSON (Debian's fixed versions, for the
    /// distro-backports plugin); "none" skips it.
    #[arg(long, value_name = "URL", default_value = DEBIAN_TRACKER)]
    debian_tracker_source: String,
    /// URL of Ubuntu's OSV records as a zip, e.g. OSV.dev's export
    /// https://osv-vulnerabilities.storage.googleapis.com/Ubuntu/all.zip (large); none by
    /// default.
    #[arg(long, value_name = "URL", default_value = "none")]
    ubuntu_osv_source: String,
    /// The first year of yearly feeds to fetch.
    #[arg(long, value_name = "YEAR", default_value_t = 2002)]
    first_year: u16,
    /// Fetch every yearly feed, even if fetched less than a week ago.
    #[arg(long)]
    full: bool,
    #[command(flatten)]
    db: DbPath,
}

pub async fn run(args: UpdateArgs) -> anyhow::Result<u8> {
    tokio::task::spawn_blocking(move || update(args)).await?
}

fn update(args: UpdateArgs) -> anyhow::Result<u8> {
    let db_path = args.db.resolve();
    let mut store = Store::open(&db_path)?;
    let base = if args.source.ends_with('/') {
        args.source.clone()
    } else {
        format!("{}/", args.source)
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_recv_body(Some(Duration::from_secs(600)))
        .build()
        .into();
    let download_dir = tempfile::Builder::new()
        .prefix(".brulee-update-")
        .tempdir_in(db_path.parent().unwrap_or(Path::new(".")))
        .context("cannot make a download folder beside the database")?;

    let full_key = format!("update:{base}:last_full");
    let now = SystemTime::now();
    let last_full = store
        .meta(&full_key)?
        .and_then(|t| humantime::parse_rfc3339(&t).ok());
    let full = args.full
        || last_full.is_none_or(|t| now.duration_since(t).unwrap_or_default() > FULL_PASS_EVERY);

    let mut feeds: Vec<String> = Vec::new();
    if full {
        let this_year: u16 = humantime::format_rfc3339(now).to_string()[..4]
            .parse()
            .unwrap_or(2026);
        feeds.extend((args.first_year..=this_year).map(|y| y.to_string()));
    }
    feeds.push("modified".into());

    let mut to_import: Vec<(PathBuf, String, String)> = Vec::new();
    for feed in &feeds {
        let name = format!("nvdcve-2.0-{feed}.json.gz");
        let meta_url = format!("{base}nvdcve-2.0-{feed}.meta");
        let meta = get_text(&agent, &meta_url).with_context(|| format!("fetching {meta_url}"))?;
        let sha = meta
            .lines()
            .find_map(|l| l.strip_prefix("sha256:"))
            .map(|s| s.trim().to_ascii_lowercase())
            .with_context(|| format!("{meta_url} has no sha256 line"))?;
        let sha_key = format!("update:{base}{name}:sha256");
        if store.meta(&sha_key)?.as_deref() == Some(sha.as_str()) {
            eprintln!("{name}: unchanged");
            continue;
        }
        let path = download_dir.path().join(&name);
        let url = format!("{base}{name}");
        download(&agent, &url, &path).with_context(|| format!("fetching {url}"))?;
        // NVD's sha256 is of the uncompressed JSON.
        let actual = sha256_of_gunzipped(&path)?;
        if actual != sha {
            bail!("{url}: its SHA-256 ({actual}) is not the one its .meta file gives ({sha}); try again later");
        }
        to_import.push((path, sha_key, sha));
    }
    let files: Vec<PathBuf> = to_import.iter().map(|(p, _, _)| p.clone()).collect();
    let mut code = import_files(&mut store, &files)?;
    if code == exit::OK {
        for (_, key, sha) in &to_import {
            store.set_meta(key, sha)?;
        }
        if full {
            store.set_meta(
                &full_key,
                &humantime::format_rfc3339_seconds(now).to_string(),
            )?;
        }
    }

    // Whole data sets, each replacing its previous copy on import.
    for (url, name) in [
        (&args.kev_source, "known_exploited_vulnerabilities.json"),
        (&args.epss_source, "epss_scores-current.csv.gz"),
        (&args.debian_tracker_source, "debian-security-tracker.json"),
        (&args.ubuntu_osv_source, "ubuntu-osv.zip"),
    ] {
        if url == "none" {
            continue;
        }
        let path = download_dir.path().join(name);
        download(&agent, url, &path).with_context(|| format!("fetching {url}"))?;
        code = code.max(import_files(&mut store, &[path])?);
    }
    let status = store.status()?;
    eprintln!(
        "database {}: {} CVEs, {} KEV entries, {} EPSS scores{}, {} distro advisory statements, newest record modified {}",
        status.path,
        status.cves,
        status.kev_entries,
        status.epss_scores,
        status
            .epss_date
            .as_deref()
            .map(|d| format!(" (scored {d})"))
            .unwrap_or_default(),
        status.distro_fixes,
        status.newest_modified.as_deref().unwrap_or("-")
    );
    Ok(code)
}

fn get_text(agent: &ureq::Agent, url: &str) -> anyhow::Result<String> {
    let mut response = agent.get(url).header("User-Agent", "brulee").call()?;
    Ok(response
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()?)
}

fn download(agent: &ureq::Agent, url: &str, path: &Path) -> anyhow::Result<()> {
    let mut response = agent.get(url).header("User-Agent", "brulee").call()?;
    let mut body = response.body_mut().with_config().limit(4 << 30).reader();
    let mut file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = body.read(&mut buf)?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])?;
    }
    file.sync_all()?;
    Ok(())
}

fn sha256_of_gunzipped(path: &Path) -> anyhow::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = gz
            .read(&mut buf)
            .with_context(|| format!("{} is not valid gzip", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
