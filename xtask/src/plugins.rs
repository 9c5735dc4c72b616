//! `cargo xtask plugins`: build every plugin crate for wasm32-wasip2.
//!
//! Plugins are not members of brulee's workspace (they target WASM, not the host). Two
//! workspaces hold them: `plugins/` (first-party) and `fixtures/plugins/` (test plugins,
//! hostile ones among them). Each crate is built on its own because each enables the SDK
//! feature of its kind, and features would unify across a workspace-wide build. All share
//! one target folder, `target/wasm`, where brulee finds the first-party ones.

use std::path::Path;

use anyhow::{bail, Context, Result};

pub const TARGET: &str = "wasm32-wasip2";

/// The workspaces of plugin crates, relative to the project root.
const WORKSPACES: &[&str] = &["plugins", "fixtures/plugins"];

pub fn build() -> Result<()> {
    crate::setup::wasm_target()?;
    let root = crate::project_root();
    let target_dir = root.join("target").join("wasm");
    for workspace in WORKSPACES {
        for name in members(&root.join(workspace))? {
            crate::run(
                crate::cargo()
                    .current_dir(root.join(workspace))
                    .args(["build", "--release", "--target", TARGET, "-p", &name])
                    .arg("--target-dir")
                    .arg(&target_dir),
            )?;
        }
    }
    eprintln!(
        "plugins: built into {}",
        target_dir.join(TARGET).join("release").display()
    );
    Ok(())
}

/// Package names of the crates in a plugin workspace (folders with a Cargo.toml).
fn members(workspace: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in
        std::fs::read_dir(workspace).with_context(|| format!("listing {}", workspace.display()))?
    {
        let manifest = entry?.path().join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest)?;
        let Some(name) = text.lines().find_map(|l| {
            l.strip_prefix("name = \"")
                .and_then(|r| r.strip_suffix('"'))
        }) else {
            bail!("{}: no package name", manifest.display());
        };
        names.push(name.to_string());
    }
    names.sort();
    Ok(names)
}
