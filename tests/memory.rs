//! The memory estimate (`dl::train::memory`) against the peak resident
//! memory the kernel measured for the same run: within 20% for a CNN, an MLP
//! and an LSTM, each on its real data.

use std::process::{Command, Stdio};

/// The estimate `dl train --json` announces and the run's peak resident
/// set in bytes (`wait4`'s `ru_maxrss`, for this child alone).
#[cfg(target_os = "linux")]
#[allow(clippy::zombie_processes)] // waited for with `wait4`, for its usage
fn estimate_and_peak(program: &str) -> (u64, u64) {
    let child = Command::new(env!("CARGO_BIN_EXE_dl"))
        .args([
            "train",
            program,
            "--epochs",
            "1",
            "--threads",
            "1",
            "--json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dl runs");
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.expect("piped");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut text).expect("the events");
    let mut status = 0;
    // SAFETY: `usage` is written by the call; `pid` is our own child, not
    // yet waited for (the `Child` was consumed without waiting).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{program}: {text}"
    );
    let start: serde_json::Value =
        serde_json::from_str(text.lines().next().expect("an event")).expect("a JSON event");
    assert_eq!(start["event"], "start", "{text}");
    let estimate = start["memory_estimate"].as_u64().expect("an estimate");
    (estimate, usage.ru_maxrss as u64 * 1024)
}

#[cfg(target_os = "linux")]
fn within_a_fifth(program: &str) {
    let (estimate, peak) = estimate_and_peak(program);
    let ratio = estimate as f64 / peak as f64;
    println!("{program}: estimate {estimate} B, peak {peak} B, ratio {ratio:.3}");
    assert!(
        (0.8..=1.2).contains(&ratio),
        "{program}: estimate {estimate} B against a peak of {peak} B ({ratio:.3})"
    );
}

/// LeNet-5 on the 70,000 MNIST digits: the data dominate.
#[cfg(target_os = "linux")]
#[test]
fn a_cnn_on_mnist() {
    within_a_fifth("examples/lenet5_mnist.dl");
}

/// A small MLP on the 1,797 digits: the program itself dominates.
#[cfg(target_os = "linux")]
#[test]
fn an_mlp_on_the_digits() {
    within_a_fifth("examples/mlp_digits.dl");
}

/// A character LSTM: its evaluation chunks, with the gates and states kept
/// at every step, dominate.
#[cfg(target_os = "linux")]
#[test]
fn an_lstm_on_text() {
    within_a_fifth("examples/char_lstm.dl");
}
