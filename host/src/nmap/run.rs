//! Starting nmap and streaming its XML.
//!
//! nmap writes XML to a pipe. Every byte read from the pipe goes to the raw XML file *before*
//! the parser sees it, so whatever happens later — a parse error, a crash, a full disk for the
//! report — the raw scan is already on disk.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use tokio::io::AsyncReadExt as _;
use tokio::process::Command;

use super::progress::ScanProgress;
use super::xml::{self, ParseEvent, XmlError};
use crate::model::ScanRun;

#[derive(Debug, thiserror::Error)]
pub enum NmapError {
    #[error(
        "nmap is not installed (looked for {program:?} on PATH).\n\
         Install it: `sudo apt-get install nmap` (Debian, Ubuntu), `sudo dnf install nmap` (Fedora),\n\
         `brew install nmap` (macOS) — or run `cargo xtask setup` in brulee's source tree.\n\
         If nmap lives elsewhere, point BRULEE_NMAP at it."
    )]
    NotInstalled { program: String },
    #[error("could not start nmap ({program}): {err}")]
    Spawn { program: String, err: io::Error },
    #[error("nmap failed ({status}) and produced no results. nmap said:\n{stderr}")]
    Failed { status: String, stderr: String },
    #[error("could not write the raw nmap XML to {}: {err}", path.display())]
    RawXml { path: PathBuf, err: io::Error },
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("reading nmap's output failed: {0}")]
    Io(#[from] io::Error),
    #[error("nmap did not finish within {}", humantime::format_duration(*after))]
    TimedOut { after: std::time::Duration },
}

impl NmapError {
    /// Worth a second try: the run itself failed, not the set-up.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            NmapError::Failed { .. } | NmapError::TimedOut { .. } | NmapError::Io(_)
        )
    }
}

/// The nmap program to run: `BRULEE_NMAP`, else `nmap` on PATH.
pub fn locate_nmap() -> Result<PathBuf, NmapError> {
    let program = std::env::var_os("BRULEE_NMAP").unwrap_or_else(|| "nmap".into());
    let program = PathBuf::from(program);
    if program.components().count() > 1 {
        return if program.is_file() {
            Ok(program)
        } else {
            Err(NmapError::NotInstalled {
                program: program.display().to_string(),
            })
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(&program))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| NmapError::NotInstalled {
            program: program.display().to_string(),
        })
}

/// Run nmap with `args` (which must include `-oX -`), saving its XML to `raw_xml` while it is
/// parsed. Hosts nmap completed are kept even when it fails part-way.
pub async fn run_nmap(
    nmap: &Path,
    args: &[String],
    raw_xml: &Path,
    progress: &Arc<ScanProgress>,
    mut cancel: tokio::sync::watch::Receiver<bool>,
) -> Result<ScanRun, NmapError> {
    let raw_file = File::create(raw_xml).map_err(|err| NmapError::RawXml {
        path: raw_xml.to_path_buf(),
        err,
    })?;
    let mut child = Command::new(nmap)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| match err.kind() {
            io::ErrorKind::NotFound => NmapError::NotInstalled {
                program: nmap.display().to_string(),
            },
            _ => NmapError::Spawn {
                program: nmap.display().to_string(),
                err,
            },
        })?;

    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    // The parser is synchronous (quick-xml over a BufRead), so it reads the pipe on a blocking
    // thread while this task collects stderr and waits for the process.
    let stdout = File::from(stdout.into_owned_fd()?);
    let source_name = raw_xml.display().to_string();
    let raw_path = raw_xml.to_path_buf();
    let parser_progress = Arc::clone(progress);
    let parser = tokio::task::spawn_blocking(move || {
        let tee = Tee {
            input: stdout,
            copy: raw_file,
            copy_path: raw_path,
            copy_error: None,
        };
        let mut reader = BufReader::with_capacity(64 * 1024, tee);
        let result = xml::read_scan(&mut reader, &source_name, |event| match event {
            ParseEvent::Progress(p) => parser_progress.task(p),
            ParseEvent::HostDone(_) => parser_progress.host_done(),
        });
        // Drain what follows the document so nmap never blocks on a full pipe.
        let _ = io::copy(&mut reader, &mut io::sink());
        (result, reader.into_inner().copy_error)
    });
    let stderr_reader = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let finished = tokio::select! {
        status = child.wait() => Some(status),
        // Interrupted (Ctrl-C). The borrow wait_for returns is dropped inside this block, so
        // it is not held across the await below.
        _ = async { let _ = cancel.wait_for(|stop| *stop).await; } => None,
    };
    let status = match finished {
        Some(status) => status,
        None => {
            // Stop nmap; what it completed is still parsed and kept.
            if let Some(pid) = child.id() {
                // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            }
            child.wait().await
        }
    };
    let stderr_text = stderr_reader.await.unwrap_or_default();
    let parse = (
        parser.await.expect("the XML parser does not panic"),
        status,
        stderr_text,
    );
    let ((result, copy_error), status, stderr_text) = parse;
    if let Some((path, err)) = copy_error {
        return Err(NmapError::RawXml { path, err });
    }
    let status = status?;
    let stderr_text = stderr_text.trim().to_string();

    let mut run = match result {
        Ok(run) => run,
        Err(XmlError::Empty { .. }) if !status.success() => {
            return Err(NmapError::Failed {
                status: status.to_string(),
                stderr: stderr_text,
            })
        }
        Err(err) => return Err(err.into()),
    };
    // nmap reports targets it could not resolve on stderr and carries on; a report must say so.
    for line in stderr_text
        .lines()
        .filter(|l| l.starts_with("Failed to resolve") || l.starts_with("WARNING"))
    {
        run.warnings.push(format!("nmap: {line}"));
    }
    if !status.success() {
        if run.hosts.is_empty() {
            return Err(NmapError::Failed {
                status: status.to_string(),
                stderr: stderr_text,
            });
        }
        run.complete = false;
        run.warnings.push(format!(
            "nmap exited with {status}; the results are partial. nmap said: {stderr_text}"
        ));
    }
    Ok(run)
}

/// Copies every byte it reads to a file first. A failed copy is remembered and reported
/// after the run: the scan itself goes on, but the user must know the raw XML is incomplete.
struct Tee {
    input: File,
    copy: File,
    copy_path: PathBuf,
    copy_error: Option<(PathBuf, io::Error)>,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        if self.copy_error.is_none() {
            if let Err(err) = self.copy.write_all(&buf[..n]) {
                self.copy_error = Some((self.copy_path.clone(), err));
            }
        }
        Ok(n)
    }
}
