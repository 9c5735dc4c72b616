//! Progress of a running scan, on stderr.
//!
//! nmap's `--stats-every` puts `<taskprogress>` elements into the XML stream; they come
//! sparsely and per phase, so hosts completed are counted as well. On a terminal this is a
//! live bar; otherwise (CI logs, pipes) plain lines, at most one per few seconds.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::xml::TaskProgress;

pub struct ScanProgress {
    bar: Option<ProgressBar>,
    plain: bool,
    state: Mutex<State>,
}

struct State {
    hosts_done: usize,
    groups_total: usize,
    groups_done: usize,
    task: Option<TaskProgress>,
    last_line: Option<Instant>,
    started: Instant,
}

/// Plain lines come no more often than this.
const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

impl ScanProgress {
    /// `quiet` shows nothing at all.
    pub fn new(quiet: bool) -> ScanProgress {
        let terminal = std::io::stderr().is_terminal();
        let bar = (!quiet && terminal).then(|| {
            let bar = ProgressBar::new(100);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos:>3}% {msg}",
                )
                .expect("the template is valid")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        ScanProgress {
            bar,
            plain: !quiet && !terminal,
            state: Mutex::new(State {
                hosts_done: 0,
                groups_total: 0,
                groups_done: 0,
                task: None,
                last_line: None,
                started: Instant::now(),
            }),
        }
    }

    /// A run of nmap begins.
    pub fn start_run(&self, label: &str) {
        self.line(&format!("starting nmap: {label}"));
    }

    pub fn task(&self, progress: TaskProgress) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let changed = state.task.as_ref().map(|t| &t.task) != Some(&progress.task);
        state.task = Some(progress);
        self.show(&mut state, changed);
    }

    pub fn host_done(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.hosts_done += 1;
        self.show(&mut state, false);
    }

    /// The scan runs as `total` nmap processes (host groups).
    pub fn set_groups(&self, total: usize) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .groups_total = total;
    }

    pub fn group_done(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.groups_done += 1;
        self.show(&mut state, true);
    }

    /// A one-off message (not throttled). Messages carry text from outside (nmap's stderr,
    /// HTTP errors), so control characters are shown as codes, never obeyed by the terminal.
    pub fn line(&self, message: &str) {
        let message = brulee_reports::escape::terminal(message);
        match &self.bar {
            Some(bar) => bar.println(message),
            None if self.plain => eprintln!("brulee: {message}"),
            None => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn show(&self, state: &mut State, force: bool) {
        let groups = if state.groups_total > 1 {
            let eta = eta(
                state.started.elapsed(),
                state.groups_done,
                state.groups_total,
            )
            .map(|left| format!(" (about {} left)", human(left)))
            .unwrap_or_default();
            format!(
                "groups {}/{}{eta} · ",
                state.groups_done, state.groups_total
            )
        } else {
            String::new()
        };
        let message = groups
            + &match &state.task {
                Some(t) => format!(
                    "{} · {}{}",
                    t.task,
                    hosts_done(state.hosts_done),
                    t.remaining
                        .map(|r| format!(" · ~{r}s left in this phase"))
                        .unwrap_or_default()
                ),
                None => hosts_done(state.hosts_done),
            };
        // With several nmap processes, one phase's percentage says little: count groups.
        let percent = if state.groups_total > 1 {
            (state.groups_done * 100 / state.groups_total) as f32
        } else {
            state.task.as_ref().map(|t| t.percent).unwrap_or(0.0)
        };
        if let Some(bar) = &self.bar {
            bar.set_position(percent as u64);
            bar.set_message(message);
        } else if self.plain {
            let due = state
                .last_line
                .is_none_or(|at| at.elapsed() >= PLAIN_INTERVAL);
            if force || due {
                let percent = match (&state.task, state.groups_total > 1) {
                    (Some(_), _) | (None, true) => format!("{percent:.0}% "),
                    (None, false) => String::new(),
                };
                eprintln!("brulee: {percent}{message}");
                state.last_line = Some(Instant::now());
            }
        }
    }
}

fn hosts_done(n: usize) -> String {
    match n {
        1 => "1 host done".into(),
        n => format!("{n} hosts done"),
    }
}

/// Time left if the groups still to come take as long as those done took on average. Groups
/// run concurrently, so the average already counts the parallelism.
fn eta(elapsed: Duration, done: usize, total: usize) -> Option<Duration> {
    if done == 0 || done >= total {
        return None;
    }
    Some(elapsed.mul_f64((total - done) as f64 / done as f64))
}

/// "42s", "3m 05s", "2h 10m".
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_extrapolates_from_the_groups_done() {
        let minute = Duration::from_secs(60);
        assert_eq!(eta(minute, 0, 4), None, "nothing to extrapolate from yet");
        assert_eq!(eta(minute, 1, 4), Some(3 * minute));
        assert_eq!(eta(minute, 3, 4), Some(minute / 3));
        assert_eq!(eta(minute, 4, 4), None, "finished");
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human(Duration::from_secs(42)), "42s");
        assert_eq!(human(Duration::from_secs(185)), "3m 05s");
        assert_eq!(human(Duration::from_secs(7800)), "2h 10m");
    }
}
