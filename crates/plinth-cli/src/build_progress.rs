//! Draws build steps for `plinth build` and the release commands alike (`--progress`).
//!
//! - Plain (BuildKit's `--progress=plain`): every step gets a number when it starts,
//!   `#N [k/n] STEP` (`#N [linux/arm64 k/n] STEP` when several platforms build), each line the
//!   step prints is streamed as `#N 0.123 LINE` (seconds since the step started), and the step
//!   ends with `#N DONE 0.4s` or `#N CACHED`.
//! - Bars (a terminal): one spinner per running step, timing that step alone, cleared when the
//!   step ends so it leaves no ghost line; finished steps are printed above the spinners, and
//!   every spinner is gone before the command prints its result.
//! - Quiet: nothing.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use plinth_executor::{BuildReporter, CacheStatus, StepReport};
use plinth_oci::Platform;

use crate::printer::{Printer, Verbosity};

/// A build reporter for `plinth build` and the release commands.
pub struct BuildProgress {
    printer: Printer,
    explain: bool,
    bars: Option<MultiProgress>,
    state: Mutex<State>,
}

/// What the renderer remembers between events.
#[derive(Default)]
struct State {
    /// The steps of each platform; the platform is named in step lines when there are several.
    steps: usize,
    several_platforms: bool,
    /// Each started step's number (`#N`) and start time, by platform and step index.
    started: BTreeMap<(String, usize), (usize, Instant)>,
    next_number: usize,
    spinners: BTreeMap<(String, usize), ProgressBar>,
}

impl BuildProgress {
    /// Spinners when the printer draws bars; `explain` prints why each step hit or missed.
    pub fn new(printer: Printer, explain: bool) -> Self {
        let bars = printer
            .progress_bars()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self {
            printer,
            explain,
            bars,
            state: Mutex::new(State::default()),
        }
    }

    fn line(&self, text: String) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(text);
            }
            None => self.printer.status(text),
        }
    }

    /// `[k/n]`, or `[platform k/n]` when several platforms build (BuildKit's vertex names).
    fn position(state: &State, platform: &Platform, index: usize) -> String {
        let total = if state.steps > 0 {
            format!("/{}", state.steps)
        } else {
            String::new()
        };
        if state.several_platforms {
            format!("[{platform} {}{total}]", index + 1)
        } else {
            format!("[{}{total}]", index + 1)
        }
    }
}

impl BuildReporter for BuildProgress {
    fn on_build_start(&self, platforms: &[Platform], steps: usize) {
        if let Ok(mut state) = self.state.lock() {
            state.steps = steps;
            state.several_platforms = platforms.len() > 1;
        }
    }

    fn on_step_start(&self, platform: &Platform, index: usize, description: &str) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.next_number += 1;
        let number = state.next_number;
        let key = (platform.to_string(), index);
        state.started.insert(key.clone(), (number, Instant::now()));
        let position = Self::position(&state, platform, index);
        match &self.bars {
            None => self
                .printer
                .status(format!("#{number} {position} {description}")),
            Some(bars) => {
                // A spinner per running step: its timer is the step's, and it is gone once the
                // step is.
                let bar = bars.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} #{prefix} {msg} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(number.to_string());
                bar.set_message(format!("{position} {description}"));
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Some(previous) = state.spinners.insert(key, bar) {
                    previous.finish_and_clear();
                }
            }
        }
    }

    fn on_step_output(&self, platform: &Platform, index: usize, line: &str) {
        // Bars keep step output out of the way (a failure carries its tail); plain lines and
        // `-v` stream it, as BuildKit's plain progress does.
        if self.bars.is_some() && self.printer.verbosity() != Verbosity::Verbose {
            return;
        }
        let Some((number, started)) = self
            .state
            .lock()
            .ok()
            .and_then(|state| state.started.get(&(platform.to_string(), index)).copied())
        else {
            return;
        };
        self.line(format!(
            "#{number} {:.3} {line}",
            started.elapsed().as_secs_f64()
        ));
    }

    fn on_step_done(&self, platform: &Platform, report: &StepReport) {
        let key = (platform.to_string(), report.index);
        let (number, position, unannounced) = {
            let Ok(mut state) = self.state.lock() else {
                return;
            };
            if let Some(spinner) = state.spinners.remove(&key) {
                spinner.finish_and_clear();
            }
            let position = Self::position(&state, platform, report.index);
            let (number, unannounced) = match state.started.get(&key) {
                Some((number, _)) => (*number, false),
                // An executor may report a step it never started.
                None => {
                    state.next_number += 1;
                    (state.next_number, true)
                }
            };
            (number, position, unannounced)
        };
        if unannounced && self.bars.is_none() {
            self.line(format!("#{number} {position} {}", report.description));
        }
        let status = match report.status {
            CacheStatus::Hit => "CACHED".to_owned(),
            CacheStatus::Miss => format!("DONE {:.1}s", report.duration.as_secs_f64()),
        };
        match &self.bars {
            // On a terminal a finished step is one line: what it was and how it ended.
            Some(_) => self.line(format!(
                "#{number} {position} {} {status}",
                report.description
            )),
            None => self.line(format!("#{number} {status}")),
        }
        if self.explain {
            self.line(format!("#{number} {}", report.explanation));
        }
    }
}

impl Drop for BuildProgress {
    fn drop(&mut self) {
        if let Ok(state) = self.state.lock() {
            for spinner in state.spinners.values() {
                spinner.finish_and_clear();
            }
        }
        if let Some(bars) = &self.bars {
            let _ = bars.clear();
        }
    }
}
