//! `--pdf`: compiling the LaTeX report with the machine's TeX engine.
//!
//! TeX runs in a temporary folder (its .aux, .log and .out files stay out of the report
//! folder), never waits for input (`-interaction=nonstopmode -halt-on-error`, stdin closed),
//! never runs shell commands, reads and writes nothing outside its folder and the TeX tree
//! (`openin_any=p`, `openout_any=p`), and is killed with everything it started when it runs
//! past a deadline.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::render::write_atomically;

/// Long enough for a report of tens of thousands of findings (one of 10,000 takes well under a
/// minute), short enough that a TeX run caught in a loop does not hold a scan's end forever.
pub const TIMEOUT: Duration = Duration::from_secs(600);

/// What to install when no TeX engine is found (Debian and Ubuntu package names).
pub const INSTALL_HINT: &str =
    "apt-get install texlive-latex-recommended texlive-fonts-recommended latexmk";

/// A TeX engine found on PATH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// latexmk runs pdflatex as many times as the document needs.
    Latexmk(PathBuf),
    /// pdflatex alone: run twice, enough for this report's tables and links.
    Pdflatex(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error(
        "cannot make the PDF: no TeX engine (latexmk or pdflatex) on PATH. Install one \
         (Debian/Ubuntu: `{INSTALL_HINT}`), then run this again, or run `latexmk -pdf {}` \
         yourself: the LaTeX report is written",
        tex.display()
    )]
    NoEngine { tex: PathBuf },
    #[error("cannot run {program}: {err}")]
    Spawn {
        program: String,
        err: std::io::Error,
    },
    #[error("{program} could not compile {}: {summary} (the whole log: {})", tex.display(), log.display())]
    Failed {
        program: String,
        tex: PathBuf,
        summary: String,
        log: PathBuf,
    },
    #[error("{program} was still compiling {} after {} s, so it was stopped", tex.display(), timeout.as_secs())]
    Timeout {
        program: String,
        tex: PathBuf,
        timeout: Duration,
    },
    #[error("making the PDF of {}: {err}", path.display())]
    Io { path: PathBuf, err: std::io::Error },
}

/// latexmk if it is on PATH, else pdflatex, else none.
pub fn find_engine() -> Option<Engine> {
    find_on_path("latexmk")
        .map(Engine::Latexmk)
        .or_else(|| find_on_path("pdflatex").map(Engine::Pdflatex))
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Compile `tex` into a PDF of the same name beside it, with the engine on PATH.
pub fn compile(tex: &Path) -> Result<PathBuf, PdfError> {
    let engine = find_engine().ok_or_else(|| PdfError::NoEngine {
        tex: tex.to_owned(),
    })?;
    compile_with(&engine, tex, TIMEOUT)
}

/// Compile `tex` with `engine`, giving up after `timeout`; on failure TeX's log is kept beside
/// the .tex.
pub fn compile_with(engine: &Engine, tex: &Path, timeout: Duration) -> Result<PathBuf, PdfError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |err| PdfError::Io { path, err }
    };
    let work = tempfile::Builder::new()
        .prefix("brulee-pdf-")
        .tempdir()
        .map_err(io(&std::env::temp_dir()))?;
    let file_name = tex.file_name().unwrap_or("report.tex".as_ref());
    std::fs::copy(tex, work.path().join(file_name)).map_err(io(tex))?;
    let stem = Path::new(file_name).with_extension("");

    let runs: Vec<(String, Command)> = match engine {
        Engine::Latexmk(program) => {
            let mut command = tex_command(program);
            command.args(["-pdf", "-norc", "-no-shell-escape"]);
            vec![(display(program), command)]
        }
        Engine::Pdflatex(program) => (0..2)
            .map(|_| (display(program), tex_command(program)))
            .collect(),
    };
    let deadline = Instant::now() + timeout;
    for (program, mut command) in runs {
        command
            .args([
                "-interaction=nonstopmode",
                "-halt-on-error",
                "-file-line-error",
            ])
            .arg(file_name)
            .current_dir(work.path());
        if matches!(engine, Engine::Pdflatex(_)) {
            command.arg("-no-shell-escape");
        }
        let output_path = work.path().join("engine-output.txt");
        let output = File::create(&output_path).map_err(io(&output_path))?;
        let output_err = output.try_clone().map_err(io(&output_path))?;
        command.stdout(output).stderr(output_err);
        let status = run_until(&mut command, deadline).map_err(|err| match err {
            RunError::Spawn(err) => PdfError::Spawn {
                program: program.clone(),
                err,
            },
            RunError::Timeout => PdfError::Timeout {
                program: program.clone(),
                tex: tex.to_owned(),
                timeout,
            },
        })?;
        if !status.success() {
            let log_name = stem.with_extension("log");
            let tex_log = work.path().join(&log_name);
            let (log_text, log_source) = match std::fs::read_to_string(&tex_log) {
                Ok(text) => (text, tex_log),
                Err(_) => (
                    std::fs::read_to_string(&output_path).unwrap_or_default(),
                    output_path,
                ),
            };
            let kept = tex.with_extension("log");
            std::fs::copy(&log_source, &kept).map_err(io(&kept))?;
            return Err(PdfError::Failed {
                program,
                tex: tex.to_owned(),
                summary: first_error(&log_text).unwrap_or_else(|| format!("exited with {status}")),
                log: kept,
            });
        }
    }
    let built = work.path().join(stem.with_extension("pdf"));
    let pdf = tex.with_extension("pdf");
    let bytes = std::fs::read(&built).map_err(io(&built))?;
    write_atomically(&pdf, &bytes).map_err(io(&pdf))?;
    Ok(pdf)
}

fn tex_command(program: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .stdin(Stdio::null())
        // kpathsea reads these as texmf.cnf settings: no \write18, no reading or writing files
        // outside the working folder and the TeX tree (a banner cannot \input /etc/passwd).
        .env("shell_escape", "f")
        .env("openin_any", "p")
        .env("openout_any", "p")
        // latexmk starts pdflatex: a group of their own lets a timeout stop both.
        .process_group(0);
    command
}

enum RunError {
    Spawn(std::io::Error),
    Timeout,
}

/// Run `command` until it exits or `deadline` passes; then kill its process group.
fn run_until(
    command: &mut Command,
    deadline: Instant,
) -> Result<std::process::ExitStatus, RunError> {
    let mut child = command.spawn().map_err(RunError::Spawn)?;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(25)),
            _ => {
                // The group's id is the child's pid (process_group(0)).
                if let Ok(pid) = i32::try_from(child.id()) {
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                }
                let _ = child.kill();
                let _ = child.wait();
                return Err(RunError::Timeout);
            }
        }
    }
}

/// The first error TeX reports: `./report.tex:12: Undefined control sequence.` (with
/// `-file-line-error`), or a line starting with `!`.
fn first_error(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().collect();
    let at = lines.iter().position(|l| {
        l.starts_with('!')
            || l.split(':')
                .nth(1)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                && l.starts_with("./")
    })?;
    let mut message = lines[at].trim_start_matches("./").to_string();
    // TeX wraps at 79 columns and shows the offending input on the next line.
    if let Some(next) = lines.get(at + 1).filter(|l| !l.trim().is_empty()) {
        message.push(' ');
        message.push_str(next.trim());
    }
    Some(message)
}

fn display(program: &Path) -> String {
    program.file_name().map_or_else(
        || program.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = "\\documentclass{article}\\begin{document}Hello, PDF.\\end{document}\n";

    fn engines() -> Vec<Engine> {
        let all: Vec<Engine> = [
            find_on_path("latexmk").map(Engine::Latexmk),
            find_on_path("pdflatex").map(Engine::Pdflatex),
        ]
        .into_iter()
        .flatten()
        .collect();
        assert_eq!(
            all.len(),
            2,
            "latexmk and pdflatex: run `cargo xtask setup --test`"
        );
        all
    }

    #[test]
    fn both_engines_make_a_pdf_beside_the_tex_and_nothing_else() {
        for engine in engines() {
            let dir = tempfile::tempdir().unwrap();
            let tex = dir.path().join("report.tex");
            std::fs::write(&tex, HELLO).unwrap();
            let pdf = compile_with(&engine, &tex, Duration::from_secs(60)).unwrap();
            assert_eq!(pdf, dir.path().join("report.pdf"));
            assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"));
            let mut names: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            assert_eq!(names, ["report.pdf", "report.tex"], "{engine:?}");
        }
    }

    #[test]
    fn a_tex_error_names_the_line_and_keeps_the_log() {
        for engine in engines() {
            let dir = tempfile::tempdir().unwrap();
            let tex = dir.path().join("report.tex");
            std::fs::write(
                &tex,
                "\\documentclass{article}\n\\begin{document}\n\\nosuchcommand\n\\end{document}\n",
            )
            .unwrap();
            let err = compile_with(&engine, &tex, Duration::from_secs(60)).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains("report.tex:3: Undefined control sequence"),
                "{message}"
            );
            assert!(dir.path().join("report.log").is_file());
            assert!(!dir.path().join("report.pdf").exists());
        }
    }

    #[test]
    fn a_tex_run_that_loops_is_stopped_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let tex = dir.path().join("report.tex");
        // An endless loop that never asks for input: only the deadline ends it.
        std::fs::write(
            &tex,
            "\\documentclass{article}\\begin{document}\\def\\x{\\x}\\x\\end{document}\n",
        )
        .unwrap();
        for engine in engines() {
            let started = Instant::now();
            let err = compile_with(&engine, &tex, Duration::from_secs(2)).unwrap_err();
            assert!(matches!(err, PdfError::Timeout { .. }), "{err}");
            assert!(started.elapsed() < Duration::from_secs(10));
        }
    }

    #[test]
    fn tex_cannot_read_files_outside_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let tex = dir.path().join("report.tex");
        std::fs::write(
            &tex,
            "\\documentclass{article}\\begin{document}\\input{/etc/hostname}\\end{document}\n",
        )
        .unwrap();
        let engine = engines().remove(1);
        assert!(compile_with(&engine, &tex, Duration::from_secs(60)).is_err());
    }
}
