//! Shared by the end-to-end tests: run the real `brulee` binary and read what it wrote.

#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn brulee() -> Command {
    brulee_under(&[])
}

/// `brulee` run by another program, e.g. `["unshare", "--mount", "sh", "-c", "…"]`: the
/// wrapper comes first, then brulee's path; add brulee's arguments as usual.
pub fn brulee_under(wrapper: &[&str]) -> Command {
    let program = env!("CARGO_BIN_EXE_brulee");
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut cmd = Command::new(first);
            cmd.args(rest).arg(program);
            cmd
        }
        None => Command::new(program),
    };
    // Tests must not depend on whether vulners.com answers from this machine: point the
    // pre-scan check at a loopback port nothing listens on, so it is always "unreachable".
    cmd.env(
        "BRULEE_VULNERS_URL",
        format!("http://127.0.0.1:{}/", closed_port()),
    );
    cmd
}

/// Run and capture; print everything on failure so a red test explains itself.
pub fn run(cmd: &mut Command) -> Output {
    let output = cmd.output().expect("brulee runs");
    eprintln!(
        "--- {:?} exited {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
        cmd,
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Fails the test unless the first-party WASM plugin `name` is built (`cargo xtask plugins`).
pub fn require_plugin(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm/wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask plugins` first",
        path.display()
    );
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/nmap")
        .join(name)
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Check a report against docs/report.schema.json.
pub fn assert_schema_valid(report: &serde_json::Value) {
    let schema =
        read_json(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.schema.json"));
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match the schema:\n{}",
        errors.join("\n")
    );
}

/// A loopback port with nothing listening on it.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Fail with instructions when the machine lacks nmap or the test daemons.
pub fn require_tools() {
    let missing = testkit::missing_tools();
    assert!(
        missing.is_empty(),
        "missing {missing:?}: run `cargo xtask setup --test` first"
    );
}

/// A CVE database in `dir` imported from the NVD records in fixtures/nvd.
pub fn fixture_db(dir: &Path) -> PathBuf {
    let db = dir.join("cve.sqlite");
    let out = run(brulee()
        .args(["db", "import", "--db"])
        .arg(&db)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/nvd")));
    assert_eq!(out.status.code(), Some(0));
    db
}

/// nmap XML of one nginx on 127.0.0.4:80, in the given version.
pub fn nginx_scan(dir: &Path, version: &str) -> PathBuf {
    let xml = format!(
        r#"<nmaprun scanner="nmap" args="nmap -sV" version="7.93" start="1700000000"><host><status state="up"/><address addr="127.0.0.4" addrtype="ipv4"/><ports><port protocol="tcp" portid="80"><state state="open"/><service name="http" product="nginx" version="{version}"><cpe>cpe:/a:igor_sysoev:nginx:{version}</cpe></service></port></ports></host><runstats><finished time="1700000010"/></runstats></nmaprun>"#
    );
    let path = dir.join(format!("nginx-{version}.xml"));
    std::fs::write(&path, xml).unwrap();
    path
}
