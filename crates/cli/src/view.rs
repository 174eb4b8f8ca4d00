//! What a person sees while a run runs: a live view on a terminal, plain lines otherwise, and the
//! summary at the end.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use co_backend::Stream;
use co_engine::{RunStatus, StepStatus};
use co_runner::{Observer, StepView};
use co_spec::Plan;
use co_store::RunDetail;
use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// An [`Observer`] the CLI can close (finish its drawing) before printing the summary.
pub trait CliObserver: Observer {
    fn close(&self);
}

/// Live view on a terminal, plain lines otherwise. With `json`, everything goes to stderr.
pub fn observer(json: bool, plan: Arc<Plan>) -> Arc<dyn CliObserver> {
    observer_of(json, plan.nodes.iter().map(|n| n.key.as_str()))
}

/// The same for a run known by its step keys (a run on a server, followed by `runs start
/// --wait`).
pub fn observer_of<'a>(json: bool, keys: impl Iterator<Item = &'a str>) -> Arc<dyn CliObserver> {
    let terminal = if json {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    if terminal {
        let width = keys.map(|k| k.chars().count()).max().unwrap_or(8).min(40);
        Arc::new(Live::new(json, width))
    } else {
        let out: Box<dyn Write + Send> = if json {
            Box::new(std::io::stderr())
        } else {
            Box::new(crate::out::Stdout)
        };
        Arc::new(Plain {
            out: Mutex::new(out),
        })
    }
}

fn symbol(status: StepStatus) -> console::StyledObject<&'static str> {
    match status {
        StepStatus::Pending => style("○").dim(),
        StepStatus::Waiting => style("↻").yellow(),
        StepStatus::Running => style("▶").cyan(),
        StepStatus::Succeeded => style("✔").green(),
        StepStatus::Failed => style("✘").red(),
        StepStatus::Skipped => style("⊘").dim(),
        StepStatus::Cancelled => style("■").yellow(),
        StepStatus::Reused => style("↺").green(),
    }
}

/// `1.2s`, `2m03s`.
pub fn human(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

fn duration_of(step: &StepView) -> Option<String> {
    Some(human(step.finished_at? - step.started_at?))
}

/// `attempt 2 of 3` (`attempt 2` when the most is unknown).
fn attempt_words(attempt: u32, max_attempts: u32) -> String {
    if max_attempts >= attempt {
        format!("attempt {attempt} of {max_attempts}")
    } else {
        format!("attempt {attempt}")
    }
}

/// What a step waiting for a retry is about to do: `retrying in 2.0s (attempt 2 of 3)`.
fn retrying_words(step: &StepView) -> String {
    let next = attempt_words(step.attempt + 1, step.max_attempts);
    match step.retry_in {
        Some(ms) if ms > 0 => format!("retrying in {} ({next})", human(ms)),
        Some(_) => format!("retrying now ({next})"),
        // A run on a server: its step events do not say when.
        None => format!("retrying ({next})"),
    }
}

fn status_line(step: &StepView) -> String {
    if step.status == StepStatus::Waiting {
        // `build failed (attempt 1 of 3): exit code 1; retrying in 2.0s (attempt 2 of 3)`
        let reason = step
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return format!(
            "{} failed ({}){reason}; {}",
            step.action,
            attempt_words(step.attempt, step.max_attempts),
            retrying_words(step)
        );
    }
    let mut line = format!("{} {}", step.action, step.status);
    if step.attempt > 1 {
        line.push_str(&format!(
            " ({})",
            attempt_words(step.attempt, step.max_attempts)
        ));
    }
    if let Some(d) = duration_of(step) {
        line.push_str(&format!(" in {d}"));
    }
    if let Some(error) = &step.error {
        if step.status != StepStatus::Succeeded {
            line.push_str(&format!(": {error}"));
        }
    }
    line
}

/// `build timed out after 2s: stopping it`.
fn timed_out_line(step: &StepView, limit: Duration) -> String {
    format!(
        "{} timed out after {}: stopping it",
        step.action,
        co_engine::format_duration(limit)
    )
}

/// Plain lines: one per state change, one per log line (`action | text`).
struct Plain {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Plain {
    fn write(&self, line: &str) {
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{line}");
        }
    }
}

impl Observer for Plain {
    fn run_started(&self, run_id: &str, steps: &[StepView]) {
        self.write(&format!("run {run_id} started ({} steps)", steps.len()));
    }

    fn step_changed(&self, step: &StepView) {
        if step.status != StepStatus::Pending {
            self.write(&format!("==> {}", status_line(step)));
        }
    }

    fn log_line(&self, _step: &str, action: &str, _attempt: u32, _stream: Stream, text: &str) {
        self.write(&format!("{action} | {text}"));
    }

    fn step_timed_out(&self, step: &StepView, limit: Duration) {
        self.write(&format!("==> {}", timed_out_line(step, limit)));
    }

    fn run_finished(&self, run_id: &str, status: RunStatus) {
        self.write(&format!("run {run_id} {status}"));
    }
}

impl CliObserver for Plain {
    fn close(&self) {
        if let Ok(mut out) = self.out.lock() {
            let _ = out.flush();
        }
    }
}

/// A live view: one line per step with its state and elapsed time; logs scroll above it.
struct Live {
    multi: MultiProgress,
    bars: Mutex<HashMap<usize, ProgressBar>>,
    width: usize,
}

const MAX_LIVE_LINES: usize = 40;

impl Live {
    fn new(json: bool, width: usize) -> Live {
        let target = if json {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::stdout()
        };
        Live {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(HashMap::new()),
            width,
        }
    }

    fn bar_for(&self, step: &StepView) -> Option<ProgressBar> {
        let mut bars = self.bars.lock().ok()?;
        if let Some(bar) = bars.get(&step.node) {
            return Some(bar.clone());
        }
        if bars.len() >= MAX_LIVE_LINES && step.status == StepStatus::Pending {
            return None;
        }
        let bar = self.multi.add(ProgressBar::new_spinner());
        bars.insert(step.node, bar.clone());
        Some(bar)
    }

    fn draw(&self, step: &StepView) {
        let Some(bar) = self.bar_for(step) else {
            return;
        };
        let name = format!("{:width$}", step.action, width = self.width);
        let stage = style(format!("{}/", step.stage)).dim();
        match step.status {
            StepStatus::Running | StepStatus::Waiting => {
                let template = format!(
                    "  {{spinner:.cyan}} {stage}{name}  {}{{elapsed:.dim}}",
                    if step.status == StepStatus::Waiting {
                        format!("{} ", retrying_words(step))
                    } else if step.attempt > 1 {
                        format!(
                            "running ({}) ",
                            attempt_words(step.attempt, step.max_attempts)
                        )
                    } else {
                        "running ".to_string()
                    }
                );
                if let Ok(style) = ProgressStyle::with_template(&template) {
                    bar.set_style(style.tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ "));
                }
                if step.attempt <= 1 && step.status == StepStatus::Running {
                    bar.reset_elapsed();
                }
                bar.enable_steady_tick(Duration::from_millis(100));
            }
            _ => {
                let mut tail = step.status.to_string();
                if let Some(d) = duration_of(step) {
                    tail.push_str(&format!(" {}", style(d).dim()));
                }
                if let (Some(error), false) = (&step.error, step.status == StepStatus::Succeeded) {
                    tail.push_str(&format!("  {}", style(error).red()));
                }
                let line = format!("  {} {stage}{name}  {tail}", symbol(step.status));
                if let Ok(style) = ProgressStyle::with_template("{msg}") {
                    bar.set_style(style);
                }
                if step.status.is_finished() {
                    bar.finish_with_message(line);
                } else {
                    bar.set_message(line);
                }
            }
        }
    }
}

impl Observer for Live {
    fn run_started(&self, run_id: &str, steps: &[StepView]) {
        let _ = self
            .multi
            .println(format!("{} {run_id}", style("run").bold()));
        for step in steps {
            self.draw(step);
        }
    }

    fn step_changed(&self, step: &StepView) {
        self.draw(step);
    }

    fn log_line(&self, _step: &str, action: &str, _attempt: u32, stream: Stream, text: &str) {
        let prefix = match stream {
            Stream::Stdout => style(format!("{action} |")).cyan(),
            Stream::Stderr => style(format!("{action} |")).magenta(),
        };
        let _ = self.multi.println(format!("{prefix} {text}"));
    }

    fn step_timed_out(&self, step: &StepView, limit: Duration) {
        let line = timed_out_line(step, limit);
        let _ = self
            .multi
            .println(format!("{} {}", style("⏱").yellow(), line));
    }
}

impl CliObserver for Live {
    fn close(&self) {
        if let Ok(bars) = self.bars.lock() {
            for bar in bars.values() {
                if !bar.is_finished() {
                    bar.finish();
                }
            }
        }
    }
}

/// Milliseconds from one stored timestamp to another.
pub fn millis_between(from: &str, to: &str) -> Option<i64> {
    Some(millis_of(to)? - millis_of(from)?)
}

/// A stored (RFC 3339) timestamp as milliseconds since the Unix epoch.
pub fn millis_of(timestamp: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(timestamp, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The summary after a run: status, duration, each step, and the outputs.
pub fn print_summary(detail: &RunDetail) {
    let run = &detail.run;
    let shout = run.status.as_str().to_uppercase();
    let status = match run.status {
        RunStatus::Succeeded => style(shout).green().bold(),
        RunStatus::Cancelled | RunStatus::Queued | RunStatus::Running => {
            style(shout).yellow().bold()
        }
        RunStatus::Failed => style(shout).red().bold(),
    };
    let took = match (&run.started_at, &run.finished_at) {
        (Some(a), Some(b)) => millis_between(a, b).map(human),
        _ => None,
    };
    println!();
    println!(
        "{} {} {}{}",
        style("workflow").dim(),
        run.workflow,
        status,
        took.map(|t| format!(" in {t}")).unwrap_or_default()
    );
    println!("{} {}", style("run").dim(), run.id);
    for step in &detail.steps {
        let took = match (&step.started_at, &step.finished_at) {
            (Some(a), Some(b)) => millis_between(a, b).map(human),
            _ => None,
        };
        let mut line = format!(
            "  {} {}/{} {}",
            symbol(step.status),
            step.stage,
            step.action,
            step.status
        );
        if let Some(from) = &step.reused_from {
            line.push_str(&format!(" from run {from}"));
        } else if step.attempts > 1 {
            line.push_str(&format!(" after {} attempts", step.attempts));
        }
        if let Some(t) = took {
            line.push_str(&format!(" {}", style(t).dim()));
        }
        if let (Some(error), false) = (&step.error, step.status == StepStatus::Succeeded) {
            line.push_str(&format!("  {}", style(error).red()));
        }
        println!("{line}");
        if let Some(outputs) = step.outputs.as_object() {
            for (key, value) in outputs {
                let text = co_protocol::value_text(value);
                let shown = if text.chars().count() > 200 {
                    format!("{}…", text.chars().take(200).collect::<String>())
                } else {
                    text
                };
                println!(
                    "      {} = {}",
                    style(key).dim(),
                    shown.replace('\n', "\\n")
                );
            }
        }
    }
    if let Some(error) = &run.error {
        println!("  {}", style(error).red());
    }
}
