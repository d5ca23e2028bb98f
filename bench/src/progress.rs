//! A progress bar for runs longer than a moment, drawn on stderr only
//! when it is a terminal, so JSON on stdout and logs stay clean.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over a run of known length; its message says how far the work got.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for `what` that fills over `length` (hidden when `enabled` is
    /// false or stderr is not a terminal).
    pub fn new(what: &str, length: Duration, enabled: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(length.as_millis() as u64),
            if enabled {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {elapsed}/{duration} {msg}")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar.set_prefix(what.to_string());
        Progress { bar }
    }

    /// A bar counting `total` steps (connections, ...).
    pub fn counting(what: &str, total: u64, enabled: bool) -> Self {
        let progress = Progress::new(what, Duration::ZERO, enabled);
        progress.bar.set_length(total);
        progress.bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        progress
    }

    /// Time into the run, and a word on the work done.
    pub fn at(&self, elapsed: Duration, message: String) {
        self.bar.set_position(elapsed.as_millis() as u64);
        self.bar.set_message(message);
    }

    /// Steps done so far.
    pub fn set(&self, done: u64) {
        self.bar.set_position(done);
    }

    /// One more step done.
    pub fn step(&self) {
        self.bar.inc(1);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
