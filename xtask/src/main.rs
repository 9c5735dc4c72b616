//! brulee's automation, in Rust rather than shell (the `cargo xtask` pattern): one place,
//! type-checked, and the same on a developer's machine and in CI.

mod fixtures;
mod plugins;
mod setup;

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
    /// Set up for tests, build the plugins, then run the whole workspace's tests (nextest
    /// when installed).
    Test,
    /// Build every plugin crate (plugins/, fixtures/plugins/) for wasm32-wasip2 into
    /// target/wasm.
    Plugins,
    /// Record real nmap XML into fixtures/nmap/ from services started on loopback and in
    /// network namespaces made for the purpose (needs root).
    Fixtures,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Task::Setup { test } => setup::setup(test),
        Task::Run { args } => run_brulee(args),
        Task::Test => test(),
        Task::Plugins => plugins::build(),
        Task::Fixtures => fixtures::record(),
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_owned()
}

/// The cargo that started us, so the toolchain stays the same.
fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(project_root());
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
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"));
    let brulee = target.join("release").join("brulee");
    // exec: brulee's exit code and signals (Ctrl-C) pass through untouched.
    let error = Command::new(&brulee).args(args).exec();
    Err(error).with_context(|| format!("cannot run {}", brulee.display()))
}

fn test() -> Result<()> {
    setup::setup(true)?;
    // The plugin tests load the WASM builds.
    plugins::build()?;
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
    if status.success() {
        println!("xtask test: every test passed ({runner})");
        Ok(())
    } else {
        println!("xtask test: FAILED ({runner}: {status})");
        std::process::exit(status.code().unwrap_or(1));
    }
}
