use super::*;

struct Catalog;

impl PluginCatalog for Catalog {
    fn find(&self, name: &str) -> Option<PathBuf> {
        (name == "webhook").then(|| PathBuf::from("/plugins/webhook.wasm"))
    }
    fn names(&self) -> Vec<String> {
        vec!["webhook".into()]
    }
}

fn builtins(stage: Stage) -> Vec<&'static str> {
    match stage {
        Stage::Source => vec!["file"],
        Stage::Filter => vec!["min-cvss"],
        _ => vec![],
    }
}

fn parse(text: &str) -> Result<ScanManifest, ManifestErrors> {
    // Relative paths resolve against the folder of this file, which exists.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/manifest/scan.toml");
    ScanManifest::parse(text, &path, &builtins, &Catalog, &["json", "markdown"])
}

fn errors(text: &str) -> String {
    parse(text).expect_err("the manifest is wrong").to_string()
}

#[test]
fn a_full_manifest_is_read_with_defaults() {
    let m = parse(
        r#"
[scan]
ports = "22,80"
no_dns = true

[[sink]]
plugin = "webhook"
allow_hosts = ["127.0.0.1:8080", "example.org"]
env = ["TOKEN"]
config = { url = "http://127.0.0.1:8080/", retries = 3, nested = { on = true } }

[[filter]]
builtin = "min-cvss"
config = { min = 4.0 }

[[filter]]
name = "second"
lua = "mod.rs"
on_error = "fail"

[[report]]
format = "markdown"
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.scan.ports.as_deref(), Some("22,80"));
    assert_eq!(m.scan.no_dns, Some(true));
    assert_eq!(m.formats, ["markdown"]);
    let names: Vec<&str> = m.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["min-cvss", "second", "webhook"], "stage order");
    assert_eq!(m.steps[0].on_error, OnError::Skip);
    assert_eq!(m.steps[1].on_error, OnError::Fail);
    let sink = &m.steps[2];
    assert_eq!(sink.on_error, OnError::Fail);
    assert_eq!(sink.allow_hosts[0].port, Some(8080));
    assert_eq!(sink.config["retries"], 3);
    assert_eq!(sink.config["nested"]["on"], true);
    assert!(
        sink.location.ends_with("scan.toml:6:1"),
        "{}",
        sink.location
    );
}

#[test]
fn mistakes_are_reported_where_they_are_with_hints() {
    let e = errors("[scan]\nprots = \"22\"\n");
    assert!(
        e.contains("scan.toml:2:1: [scan] has unknown key \"prots\" (did you mean \"ports\"?)"),
        "{e}"
    );

    let e = errors("[[filter]]\nbuiltin = \"min-cvs\"\n");
    assert!(
        e.contains(
            "scan.toml:2:11: no built-in filter step \"min-cvs\" (did you mean \"min-cvss\"?)"
        ),
        "{e}"
    );

    let e = errors("[[filter]]\nlua = \"nowhere.lua\"\n");
    assert!(
        e.contains("scan.toml:2:7: lua file") && e.contains("not found"),
        "{e}"
    );

    let e = errors("[[sink]]\nplugin = \"webhook\"\nallow_hosts = \"example.org\"\n");
    assert!(
        e.contains("scan.toml:3:15: allow_hosts must be a list of strings, not string"),
        "{e}"
    );

    let e = errors("[[sink]]\nplugin = \"webhook\"\nenv = [\"A-B\"]\n");
    assert!(e.contains("bad env entry \"A-B\""), "{e}");

    let e = errors("[[filter]]\nbuiltin = \"min-cvss\"\nlua = \"mod.rs\"\n");
    assert!(e.contains("names its code twice"), "{e}");

    let e = errors("[[enrich]]\nconfig = {}\n");
    assert!(e.contains("scan.toml:1:1: [[enrich]] names no code"), "{e}");

    let e = errors("[[filter]]\nbuiltin = \"min-cvss\"\non_error = \"skp\"\n");
    assert!(e.contains("did you mean \"skip\"?"), "{e}");

    let e = errors("[[report]]\nformat = \"jsn\"\n");
    assert!(
        e.contains("unknown report format \"jsn\" (did you mean \"json\"?)"),
        "{e}"
    );

    let e = errors("[scan\n");
    assert!(e.contains("scan.toml:1:"), "{e}");
}

#[test]
fn duplicate_step_names_are_refused() {
    let e = errors("[[filter]]\nlua = \"mod.rs\"\n\n[[filter]]\nlua = \"mod.rs\"\n");
    assert!(
        e.contains("scan.toml:4:1: duplicate step name \"mod\""),
        "{e}"
    );
    assert!(e.contains("give one of them another `name"), "{e}");
}

#[test]
fn several_errors_are_reported_at_once() {
    let e = errors("[scan]\nudp = \"yes\"\n\n[[sink]]\nplugin = \"s3\"\n");
    assert!(e.contains("udp must be true or false"), "{e}");
    assert!(e.contains("no first-party plugin \"s3\""), "{e}");
}

#[test]
fn suggestions_are_near_misses_only() {
    assert_eq!(suggest("lau", &["lua", "wasm"]), Some("lua"));
    assert_eq!(suggest("allow_host", STEP_KEYS), Some("allow_hosts"));
    assert_eq!(suggest("zzzzzz", STEP_KEYS), None);
}
