//! Helpers shared by the integration tests (each test file is its own crate
//! and includes this module with `mod common;`).

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the `dl` binary with `args` from the repository's root.
#[allow(dead_code)] // tests/repl.rs drives dl through its standard input instead
pub fn dl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dl"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("dl runs")
}

/// A fresh folder under the system's temporary folder, unique to this test
/// process and `name`.
#[allow(dead_code)] // not every test file writes files
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dl-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    dir
}

/// A program whose data file does not exist: its `train` block cannot start.
#[allow(dead_code)] // used by the tests of data that cannot be read
pub const MISSING_DATA_PROGRAM: &str = "data d = csv(\"nowhere.csv\", label = \"label\")\n\
     model M(x: [4]) { dense(3) softmax }\n\
     train M on d { loss = cross_entropy  optimizer = sgd(lr = 0.1) }\n";
