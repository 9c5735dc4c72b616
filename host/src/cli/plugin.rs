//! `brulee plugin new`: scaffold a plugin that builds and passes its own test.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

use super::{exit, UsageError};

/// Make a new plugin.
#[derive(Debug, Args)]
pub struct PluginArgs {
    #[command(subcommand)]
    command: PluginCommand,
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Scaffold a plugin in ./NAME (a Rust crate built for wasm32-wasip2, or a Lua script),
    /// with a test and a manifest that runs it.
    New {
        #[arg(long, value_enum)]
        lang: Lang,
        #[arg(long, value_enum, default_value = "filter")]
        kind: Kind,
        /// The plugin's name: letters, digits and '-'.
        name: String,
        /// Folder to create it in [default: ./NAME].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Lang {
    Rust,
    Lua,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Filter,
    Enricher,
}

pub fn run(args: PluginArgs) -> anyhow::Result<u8> {
    let PluginCommand::New {
        lang,
        kind,
        name,
        dir,
    } = args.command;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(
            UsageError(format!("plugin name {name:?}: use letters, digits and '-'")).into(),
        );
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
    if dir.exists() {
        return Err(UsageError(format!("{} already exists", dir.display())).into());
    }
    let files = match lang {
        Lang::Lua => lua_files(&name, kind),
        Lang::Rust => rust_files(&name, kind),
    };
    for (path, text) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    eprintln!("next: see {}", dir.join("README.md").display());
    Ok(exit::OK)
}

fn manifest(name: &str, kind: Kind, code: &str) -> String {
    let table = match kind {
        Kind::Filter => "filter",
        Kind::Enricher => "enrich",
    };
    format!(
        "# Run it: brulee report SCAN.xml --manifest manifest.toml\n\
         [[{table}]]\nname = \"{name}\"\n{code}\nconfig = {{ min_cvss = 4.0 }}\n"
    )
}

fn lua_files(name: &str, kind: Kind) -> Vec<(PathBuf, String)> {
    let script = match kind {
        Kind::Filter => {
            "-- Keep or drop each finding: return true, or false and the reason.\n\
            function filter(f)\n\
            \x20 local min = brulee.config.min_cvss or 4.0\n\
            \x20 if f.cvss ~= nil and f.cvss < min then\n\
            \x20   return false, string.format(\"CVSS %.1f is below %.1f\", f.cvss, min)\n\
            \x20 end\n\
            \x20 return true\n\
            end\n"
        }
        Kind::Enricher => {
            "-- Add fields to each finding; new keys land under enrichment.<step>.\n\
            function enrich(f)\n\
            \x20 local min = brulee.config.min_cvss or 4.0\n\
            \x20 f.worth_a_look = f.cvss ~= nil and f.cvss >= min\n\
            \x20 return f\n\
            end\n"
        }
    };
    let readme = format!(
        "# {name}\n\nA brulee Lua {kind:?} plugin. Check and run it:\n\n```sh\n\
         brulee manifest check manifest.toml\n\
         brulee report SCAN.xml --manifest manifest.toml\n```\n\nSee docs/PLUGINS.md.\n"
    );
    vec![
        (PathBuf::from(format!("{name}.lua")), script.to_string()),
        (
            PathBuf::from("manifest.toml"),
            manifest(name, kind, &format!("lua = \"{name}.lua\"")),
        ),
        (PathBuf::from("README.md"), readme),
    ]
}

fn rust_files(name: &str, kind: Kind) -> Vec<(PathBuf, String)> {
    let crate_name = name.replace('-', "_");
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    let sdk = sdk.canonicalize().unwrap_or(sdk);
    let (feature, body) = match kind {
        Kind::Filter => (
            "filter",
            "use brulee_sdk::{Filter, Finding, Verdict};\n\n\
             #[derive(serde::Deserialize)]\nstruct Config {\n    min_cvss: f64,\n}\n\n\
             /// The decision, apart from the ABI so that `cargo test` checks it natively.\n\
             fn decide(cvss: Option<f64>, min: f64) -> Verdict {\n\
             \x20   match cvss {\n\
             \x20       Some(score) if score < min => Verdict::Drop(format!(\"CVSS {score} is below {min}\")),\n\
             \x20       _ => Verdict::Keep,\n    }\n}\n\n\
             struct Plugin;\n\n\
             impl Filter for Plugin {\n\
             \x20   fn filter(finding: Finding) -> Result<Verdict, String> {\n\
             \x20       let config: Config = brulee_sdk::config()?;\n\
             \x20       Ok(decide(finding.cvss, config.min_cvss))\n    }\n}\n\n\
             brulee_sdk::export!(Plugin as filter);\n\n\
             #[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn drops_below_the_threshold() {\n\
             \x20       assert!(matches!(decide(Some(3.1), 4.0), Verdict::Drop(_)));\n\
             \x20       assert!(matches!(decide(Some(9.8), 4.0), Verdict::Keep));\n\
             \x20       assert!(matches!(decide(None, 4.0), Verdict::Keep));\n    }\n}\n",
        ),
        Kind::Enricher => (
            "enricher",
            "use brulee_sdk::{Enricher, Fields, Finding};\n\n\
             #[derive(serde::Deserialize)]\nstruct Config {\n    min_cvss: f64,\n}\n\n\
             fn worth_a_look(cvss: Option<f64>, min: f64) -> bool {\n    cvss.is_some_and(|s| s >= min)\n}\n\n\
             struct Plugin;\n\n\
             impl Enricher for Plugin {\n\
             \x20   fn enrich(finding: Finding) -> Result<Fields, String> {\n\
             \x20       let config: Config = brulee_sdk::config()?;\n\
             \x20       let mut fields = Fields::new();\n\
             \x20       fields.insert(\"worth_a_look\".into(), worth_a_look(finding.cvss, config.min_cvss).into());\n\
             \x20       Ok(fields)\n    }\n}\n\n\
             brulee_sdk::export!(Plugin as enricher);\n\n\
             #[cfg(test)]\nmod tests {\n    #[test]\n    fn flags_scores_at_or_above_the_threshold() {\n\
             \x20       assert!(super::worth_a_look(Some(7.5), 4.0));\n        assert!(!super::worth_a_look(None, 4.0));\n    }\n}\n",
        ),
    };
    let cargo = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         # A workspace of its own, wherever it is created.\n[workspace]\n\n\
         [lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n\n\
         [dependencies]\n\
         brulee-sdk = {{ path = \"{}\", features = [\"{feature}\"] }}\n\
         serde = {{ version = \"1\", features = [\"derive\"] }}\n\n\
         [profile.release]\nopt-level = \"s\"\nstrip = true\n",
        sdk.display()
    );
    let readme = format!(
        "# {name}\n\nA brulee WASM {kind:?} plugin.\n\n```sh\n\
         cargo test                                           # its own test, natively\n\
         rustup target add wasm32-wasip2\n\
         cargo build --release --target wasm32-wasip2        # target/wasm32-wasip2/release/{crate_name}.wasm\n\
         brulee manifest check manifest.toml\n\
         brulee report SCAN.xml --manifest manifest.toml\n```\n\nSee docs/PLUGINS.md.\n"
    );
    vec![
        (PathBuf::from("Cargo.toml"), cargo),
        (PathBuf::from("src/lib.rs"), body.to_string()),
        (
            PathBuf::from("manifest.toml"),
            manifest(
                name,
                kind,
                &format!("wasm = \"target/wasm32-wasip2/release/{crate_name}.wasm\""),
            ),
        ),
        (PathBuf::from("README.md"), readme),
    ]
}
