//! brulee's automation, in Rust rather than shell (the `cargo xtask` pattern): one place,
//! type-checked, and the same on a developer's machine and in CI.

mod bench;
mod container;
mod deny;
mod fixtures;
mod fuzz;
mod k8s;
mod plugins;
mod setup;
mod storage_aws;
mod storage_gcp_azure;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "brulee's build, test and fixture automation"
)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what running brulee needs (nmap), with apt, unless already present.
    Setup {
        /// Also install the daemons the tests run: openssh-server, vsftpd, nginx-light, redis-server.
        #[arg(long)]
        test: bool,
    },
    /// Set up, build brulee in release mode and run it: `cargo xtask run -- scan 127.0.0.1`.
    Run {
        /// Arguments for brulee.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Set up for tests, build the plugins, run the whole workspace's tests (nextest when
    /// installed), a smoke run of the benchmarks, validate the Kubernetes manifests, check
    /// dependency licences (cargo deny), run each fuzz target for 30 s, and build
    /// and run the container image (when CI=true, or BRULEE_CONTAINER_TEST=1;
    /// BRULEE_CONTAINER_TEST=0 skips it).
    Test,
    /// Build the container image with buildah and run it with podman: as a non-root user with
    /// only NET_RAW, it scans an nginx started on loopback (needs root).
    Container,
    /// Render deploy/kubernetes with Kustomize and validate it with kubernetes-validate --strict
    /// for the oldest and newest supported Kubernetes.
    K8s,
    /// Build every plugin crate (plugins/, fixtures/plugins/) for wasm32-wasip2 into
    /// target/wasm.
    Plugins {
        /// Instead, build the first-party plugins and copy them, WASM and Lua, into DIR as
        /// brulee looks them up (point BRULEE_PLUGIN_DIR at it; the container image does).
        #[arg(long, value_name = "DIR")]
        install: Option<PathBuf>,
    },
    /// Record real nmap XML into fixtures/nmap/ from services started on loopback and in
    /// network namespaces made for the purpose (needs root).
    Fixtures,
    /// Check every dependency's licence and the crates deny.toml bans, with cargo-deny
    /// (installed into target/tools; advisories need a database that cannot be fetched here).
    Deny,
    /// Build the libFuzzer targets in fuzz/ (installs cargo-fuzz into target/tools) and run
    /// each, or only TARGET, for --time seconds; a crash fails it and says how to replay it.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        time: u64,
        /// One of: nmap_xml, cpe, version, manifest, nvd_feed (default: all).
        target: Option<String>,
    },
    /// Measure brulee against its baselines (see docs/PERFORMANCE.md): release builds, one
    /// table per benchmark, results in target/bench/*.json.
    Bench {
        /// Also the 100k-host report path (several minutes more).
        #[arg(long)]
        full: bool,
        /// A tiny run of each benchmark with the test build's binaries, to check that they
        /// still work (`cargo xtask test` runs it).
        #[arg(long)]
        smoke: bool,
        /// Run only these benchmarks (comma-separated).
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<bench::Benchmark>,
        /// Rewrite fixtures/bench/vulners-tables.tsv from the NVD data in ../shared/data.
        #[arg(long)]
        refresh_tables: bool,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Task::Setup { test } => setup::setup(test),
        Task::Run { args } => run_brulee(args),
        Task::Test => test(),
        Task::Plugins { install: None } => plugins::build(),
        Task::Plugins { install: Some(dir) } => plugins::install(&dir),
        Task::Fixtures => fixtures::record(),
        Task::Bench {
            full,
            smoke,
            only,
            refresh_tables,
        } => bench::bench(bench::Options {
            full,
            smoke,
            only,
            refresh_tables,
        }),
        Task::Fuzz { time, target } => fuzz::fuzz(time, target.as_deref()),
        Task::Deny => deny::check(),
        Task::Container => container::test(),
        Task::K8s => k8s::validate(),
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_owned()
}

/// Where cargo puts what it builds.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"))
}

/// The cargo that started us, so the toolchain stays the same.
///
/// Without the variables `cargo run` set for xtask itself: build scripts that track one of
/// them (ring tracks CARGO_PKG_NAME) would otherwise rebuild, with everything above them, each
/// time cargo is run from here rather than from a shell.
fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(project_root());
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || matches!(
                name.as_ref(),
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
            )
        {
            command.env_remove(name.as_ref());
        }
    }
    command
}

/// Runs a command, echoing it first so a log shows what happened, and fails on a non-zero exit.
fn run(command: &mut Command) -> Result<()> {
    let status = status(command)?;
    if !status.success() {
        bail!("`{}` failed: {status}", display(command));
    }
    Ok(())
}

fn status(command: &mut Command) -> Result<ExitStatus> {
    eprintln!("$ {}", display(command));
    command
        .status()
        .with_context(|| format!("cannot run `{}`", display(command)))
}

fn display(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|arg| {
            let arg = arg.to_string_lossy();
            if arg.is_empty() || arg.contains([' ', ';', '\'', '"']) {
                format!("'{arg}'")
            } else {
                arg.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_brulee(args: Vec<OsString>) -> Result<()> {
    use std::os::unix::process::CommandExt;

    setup::setup(false)?;
    plugins::build()?;
    run(cargo().args(["build", "--release", "-p", "brulee"]))?;
    let brulee = target_dir().join("release").join("brulee");
    // exec: brulee's exit code and signals (Ctrl-C) pass through untouched.
    let error = Command::new(&brulee).args(args).exec();
    Err(error).with_context(|| format!("cannot run {}", brulee.display()))
}

fn test() -> Result<()> {
    // A mistyped setting fails now, not after the tests.
    let container = container_test_wanted()?;
    setup::setup(true)?;
    // The plugin tests load the WASM builds.
    plugins::build()?;
    // Before the workspace's tests, so that the fuzz build (1.6 GB) is gone (in CI) before
    // their build takes the disk.
    let fuzz_smoke = fuzz::smoke(ci());
    let nextest = cargo()
        .args(["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let (runner, status) = if nextest {
        (
            "cargo nextest",
            status(cargo().args(["nextest", "run", "--workspace", "--no-fail-fast"]))?,
        )
    } else {
        (
            "cargo test",
            status(cargo().args(["test", "--workspace", "--no-fail-fast"]))?,
        )
    };
    // Every step runs even after a failure, so one run shows everything that is broken.
    let mut failed = Vec::new();
    if !status.success() {
        failed.push(format!("{runner}: {status}"));
    }
    if let Err(e) = plugins::test_libraries() {
        eprintln!("xtask test: plugin libraries FAILED: {e:#}");
        failed.push("plugin libraries".to_string());
    }
    // The benchmarks keep compiling and working: a tiny run of each, on the test build.
    if let Err(e) = bench::bench(bench::Options {
        full: false,
        smoke: true,
        only: Vec::new(),
        refresh_tables: false,
    }) {
        eprintln!("xtask test: bench smoke FAILED: {e:#}");
        failed.push("bench smoke".to_string());
    }
    if let Err(e) = k8s::validate() {
        eprintln!("xtask test: k8s FAILED: {e:#}");
        failed.push("k8s".to_string());
    }
    if let Err(e) = deny::check() {
        eprintln!("xtask test: cargo deny FAILED: {e:#}");
        failed.push("deny".to_string());
    }
    if let Err(e) = fuzz_smoke {
        eprintln!("xtask test: fuzz smoke FAILED: {e:#}");
        failed.push("fuzz".to_string());
    }
    if container {
        if let Err(e) = container::test() {
            eprintln!("xtask test: container FAILED: {e:#}");
            failed.push("container".to_string());
        }
    } else {
        eprintln!(
            "xtask test: container image test skipped (runs when CI=true or \
             BRULEE_CONTAINER_TEST=1; or run `cargo xtask container`)"
        );
    }
    if failed.is_empty() {
        let container = if container {
            "container"
        } else {
            "container skipped"
        };
        println!(
            "xtask test: every test passed ({runner}, bench smoke, k8s, deny, fuzz smoke, {container})"
        );
        Ok(())
    } else {
        println!("xtask test: FAILED ({})", failed.join("; "));
        std::process::exit(status.code().filter(|&c| c != 0).unwrap_or(1));
    }
}

/// The container test takes a minute or more and needs root, so a developer's quick run
/// skips it; CI always runs it.
fn container_test_wanted() -> Result<bool> {
    wanted_from(std::env::var("BRULEE_CONTAINER_TEST").ok().as_deref(), ci())
}

/// Running in CI (`.ci/run` sets CI=true).
fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn wanted_from(setting: Option<&str>, ci: bool) -> Result<bool> {
    match setting {
        None | Some("") => Ok(ci),
        Some("1") => Ok(true),
        Some("0") => Ok(false),
        Some(other) => bail!("BRULEE_CONTAINER_TEST={other:?}: use 1 (run) or 0 (skip)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_test_runs_in_ci_unless_told_otherwise() {
        assert!(!wanted_from(None, false).unwrap());
        assert!(wanted_from(None, true).unwrap());
        assert!(wanted_from(Some("1"), false).unwrap());
        assert!(!wanted_from(Some("0"), true).unwrap());
        assert!(wanted_from(Some("yes"), true).is_err());
    }
}
