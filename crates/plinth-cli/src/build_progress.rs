//! Draws build steps for `plinth build` and the release commands alike: a spinner per running
//! step on a TTY (cleared when the step ends, so it leaves no ghost line and times only its
//! step), plain `[platform] #N …` lines otherwise.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use plinth_executor::{BuildReporter, CacheStatus, StepReport};
use plinth_oci::Platform;

use crate::printer::{Printer, Verbosity};

/// A build reporter for `plinth build` and the release commands.
pub struct BuildProgress {
    printer: Printer,
    explain: bool,
    bars: Option<MultiProgress>,
    spinners: Mutex<BTreeMap<String, ProgressBar>>,
}

impl BuildProgress {
    /// Spinners when the printer allows bars; `explain` prints why each step hit or missed.
    pub fn new(printer: Printer, explain: bool) -> Self {
        let bars = printer
            .progress_bars()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self {
            printer,
            explain,
            bars,
            spinners: Mutex::new(BTreeMap::new()),
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
}

impl BuildReporter for BuildProgress {
    fn on_step_start(&self, platform: &Platform, index: usize, description: &str) {
        let Some(bars) = &self.bars else { return };
        let Ok(mut spinners) = self.spinners.lock() else {
            return;
        };
        // One spinner per running step: its timer is the step's, and it is gone once the step is.
        let bar = bars.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{prefix}] {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(platform.to_string());
        bar.set_message(format!("#{} {description}", index + 1));
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Some(previous) = spinners.insert(platform.to_string(), bar) {
            previous.finish_and_clear();
        }
    }

    fn on_step_output(&self, platform: &Platform, index: usize, line: &str) {
        // Step output is noise when all goes well (a failure carries its tail); -v shows it live.
        if self.printer.verbosity() == Verbosity::Verbose {
            self.line(format!("[{platform}] #{} | {line}", index + 1));
        }
    }

    fn on_step_done(&self, platform: &Platform, report: &StepReport) {
        if let Ok(mut spinners) = self.spinners.lock()
            && let Some(spinner) = spinners.remove(&platform.to_string())
        {
            spinner.finish_and_clear();
        }
        let status = match report.status {
            CacheStatus::Hit => "CACHED".to_owned(),
            CacheStatus::Miss => format!("DONE {:.1}s", report.duration.as_secs_f64()),
        };
        self.line(format!(
            "[{platform}] #{} {} {status}",
            report.index + 1,
            report.description
        ));
        if self.explain {
            self.line(format!("[{platform}]    {}", report.explanation));
        }
    }
}

impl Drop for BuildProgress {
    fn drop(&mut self) {
        if let Ok(spinners) = self.spinners.lock() {
            for spinner in spinners.values() {
                spinner.finish_and_clear();
            }
        }
    }
}
