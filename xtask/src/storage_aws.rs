//! The real AWS-speaking servers and clients the s3 sink and aws-ec2 source tests run
//! (host/tests/sink_s3.rs, through testkit::storage), installed under `target/tools`:
//!
//! - `s3s-fs`, an S3 server over a folder that verifies SigV4 (a wrong secret gets a 403
//!   SignatureDoesNotMatch), from crates.io. 0.14.1 because 0.17 needs a newer rustc than
//!   brulee's minimum (shared/notes/storage-servers.md).
//! - a virtualenv `venv-aws` with the AWS CLI (reads objects back as users do) and moto's
//!   server (EC2 DescribeInstances for the aws-ec2 source), from PyPI, pinned.
//!
//! Both are skipped when already there, so a second `cargo xtask setup --test` is instant.

use std::path::PathBuf;

use anyhow::Result;

pub const S3S_FS: &str = "s3s-fs@0.14.1";
pub const AWS_REQUIREMENTS: &[&str] = &["awscli==1.46.3", "moto[server]==5.2.5"];

/// `target/tools`: testkit looks for the tools here.
pub fn tools_dir() -> PathBuf {
    crate::target_dir().join("tools")
}

pub fn setup() -> Result<()> {
    crate::setup::cargo_tool(S3S_FS, "s3s-fs", &["--features", "binary"])?;
    crate::k8s::pinned_venv(tools_dir().join("venv-aws"), AWS_REQUIREMENTS)?;
    Ok(())
}
