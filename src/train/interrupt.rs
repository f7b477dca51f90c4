//! A request to stop training (Ctrl-C, SIGTERM): the command line sets it
//! from its signal handler, the training loop reads it after each step and
//! stops there, so that the weights of the last whole step can be saved.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks the running training loop to stop after its current step.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
