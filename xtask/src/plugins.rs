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

/// The one target folder of every plugin build, native (library tests) or WASM. In the
/// source tree whatever CARGO_TARGET_DIR says: brulee looks for first-party plugins there.
fn target_dir() -> std::path::PathBuf {
    crate::project_root().join("target").join("wasm")
}

pub fn build() -> Result<()> {
    for workspace in WORKSPACES {
        build_workspace(workspace)?;
    }
    eprintln!("plugins: built into {}", wasm_dir().display());
    Ok(())
}

/// Where the components land.
fn wasm_dir() -> std::path::PathBuf {
    target_dir().join(TARGET).join("release")
}

/// Builds one workspace's plugin crates; their package names.
fn build_workspace(workspace: &str) -> Result<Vec<String>> {
    crate::setup::wasm_target()?;
    let root = crate::project_root();
    let names = members(&root.join(workspace), Kind::Plugin)?;
    for name in &names {
        crate::run(
            crate::cargo()
                .current_dir(root.join(workspace))
                .args(["build", "--release", "--target", TARGET, "-p", name])
                .arg("--target-dir")
                .arg(target_dir()),
        )?;
    }
    Ok(names)
}

/// Builds the first-party plugins and copies them into `dest` as brulee looks them up
/// (`BRULEE_PLUGIN_DIR`): `NAME.wasm` for each component and `NAME/NAME.lua` for each Lua
/// plugin. The container image ships this folder; test plugins are left out.
pub fn install(dest: &Path) -> Result<()> {
    let root = crate::project_root();
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    let copy = |from: &Path, to: &Path| {
        std::fs::copy(from, to)
            .map(|_| ())
            .with_context(|| format!("copying {} to {}", from.display(), to.display()))
    };
    let mut installed = Vec::new();
    for name in build_workspace("plugins")? {
        let file = format!("{}.wasm", name.replace('-', "_"));
        copy(&wasm_dir().join(&file), &dest.join(&file))?;
        installed.push(name);
    }
    for entry in std::fs::read_dir(root.join("plugins"))? {
        let dir = entry?.path();
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let script = dir.join(format!("{name}.lua"));
        if script.is_file() {
            std::fs::create_dir_all(dest.join(&name))?;
            copy(&script, &dest.join(&name).join(format!("{name}.lua")))?;
            installed.push(name);
        }
    }
    installed.sort();
    eprintln!(
        "plugins: installed {} into {}",
        installed.join(", "),
        dest.display()
    );
    Ok(())
}

/// The unit tests of the library crates plugins share (plugins/aws-sigv4), run natively: they
/// are plain Rust, and the WASM plugins' behaviour is tested end to end by host/tests.
pub fn test_libraries() -> Result<()> {
    let root = crate::project_root();
    for workspace in WORKSPACES {
        for name in members(&root.join(workspace), Kind::Library)? {
            crate::run(
                crate::cargo()
                    .current_dir(root.join(workspace))
                    .args(["test", "-p", &name])
                    .arg("--target-dir")
                    .arg(target_dir()),
            )?;
        }
    }
    Ok(())
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    /// Builds a `cdylib`: a WASM component brulee loads.
    Plugin,
    /// A library the plugins share; built as their dependency, alone it yields no component.
    Library,
}

/// Package names of the crates of one kind in a plugin workspace (folders with a Cargo.toml).
fn members(workspace: &Path, kind: Kind) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in
        std::fs::read_dir(workspace).with_context(|| format!("listing {}", workspace.display()))?
    {
        let manifest = entry?.path().join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest)?;
        let is_plugin = text.contains("\"cdylib\"");
        if is_plugin != (kind == Kind::Plugin) {
            continue;
        }
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
