//! `cargo xtask deny`: checks the licences of every dependency and the crates `deny.toml`
//! bans, with cargo-deny (installed into `target/tools`). Advisories are left out: their
//! database (RustSec, on GitHub) cannot be downloaded where brulee is built.

use anyhow::Result;

pub const CARGO_DENY: &str = "cargo-deny@0.20.2";

pub fn check() -> Result<()> {
    let cargo_deny = crate::setup::cargo_tool(CARGO_DENY, "cargo-deny", &[])?;
    let root = crate::project_root();
    crate::run(
        std::process::Command::new(cargo_deny)
            .current_dir(&root)
            // cargo-deny runs `cargo metadata`: with the cargo that runs us.
            .env(
                "CARGO",
                std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
            )
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            // The policy is deny.toml beside that Cargo.toml.
            .args(["check", "licenses", "bans"]),
    )
}
