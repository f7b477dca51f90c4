//! The commands of the `dl` binary; this is the only code that prints.

pub mod allocator;
pub mod bench;
pub mod export;
pub mod model;
pub mod predict;
pub mod sample;
pub mod train;

use dl::check::Checked;
use dl::diagnostic::{Diagnostic, Severity, render};
use dl::run::Prepared;
use dl::source::ReadError;
use std::cell::Cell;
use std::io::IsTerminal;
use std::path::PathBuf;

/// How a command failed, as an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 1: the program (or its data) has errors.
    Program,
    /// 2: bad usage or an unreadable file.
    Usage,
    /// 130: stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
    Interrupted,
}

/// A `.dl` file being worked on.
pub struct Session {
    /// Its path as given.
    pub file: PathBuf,
    /// Its text.
    pub source: String,
    /// Whether errors are also JSON events on stdout (`--json`), for a
    /// program reading the event stream.
    pub json_errors: Cell<bool>,
}

impl Session {
    /// Reads `file`. A file that is not UTF-8 is reported like a program
    /// with errors.
    pub fn open(file: PathBuf) -> Result<Session, Exit> {
        match dl::source::read(&file) {
            Ok(source) => Ok(Session {
                file,
                source,
                json_errors: Cell::new(false),
            }),
            Err(ReadError::NotUtf8 { text, diagnostic }) => {
                Session {
                    file,
                    source: text,
                    json_errors: Cell::new(false),
                }
                .report(&[*diagnostic]);
                Err(Exit::Program)
            }
            Err(ReadError::Io(e)) => {
                eprintln!("error: cannot read {}: {e}", file.display());
                Err(Exit::Usage)
            }
        }
    }

    /// The folder paths in the program are relative to.
    pub fn base_dir(&self) -> PathBuf {
        self.file
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default()
    }

    /// The index of run `k` (counting from 1, as `--run K` does) of
    /// `program`, or a usage error naming how many runs there are.
    pub fn run_index(&self, program: &dl::ir::Program, k: usize) -> Result<usize, Exit> {
        if (1..=program.trains.len()).contains(&k) {
            return Ok(k - 1);
        }
        self.fail(&format!(
            "there is no run {k}; {} has {} `train` block(s)",
            self.file.display(),
            program.trains.len()
        ));
        Err(if program.trains.is_empty() {
            Exit::Program
        } else {
            Exit::Usage
        })
    }

    /// Prints an error that has no place in the source to stderr, and with
    /// `--json` also as an event on stdout: `{"event": "error", "code":
    /// null, "message": ...}`.
    pub fn fail(&self, message: &str) {
        eprintln!("error: {message}");
        if self.json_errors.get() {
            println!(
                "{}",
                serde_json::json!({"event": "error", "code": null, "message": message})
            );
        }
    }

    /// Prints diagnostics to stderr, coloured on a terminal; with `--json`,
    /// each is also an event on stdout (`{"event": "error", "code":
    /// "E0801", ...}`, or `"warning"`), with its line and column.
    pub fn report(&self, diagnostics: &[Diagnostic]) {
        if self.json_errors.get() {
            for d in diagnostics {
                let mut event = dl::report::diagnostic_json(d, &self.source);
                event["event"] = serde_json::json!(match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                });
                println!("{event}");
            }
        }
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        eprint!(
            "{}",
            render(
                &self.file.display().to_string(),
                &self.source,
                diagnostics,
                color
            )
        );
    }

    /// Checks the program; reports what it finds, and fails on errors.
    pub fn check(&self) -> Result<Checked, Exit> {
        let (checked, diagnostics) = dl::checked_file(&self.source);
        self.report(&diagnostics);
        match checked {
            Some(checked) if !diagnostics.iter().any(|d| d.severity == Severity::Error) => {
                Ok(checked)
            }
            _ => Err(Exit::Program),
        }
    }

    /// Reads the data of run `index` (0-based), binds the run to its shapes
    /// and initialises its parameters; reports the errors on the way.
    pub fn prepare(&self, checked: &Checked, index: usize) -> Result<Prepared, Exit> {
        dl::run::prepare(checked, index, &self.base_dir()).map_err(|errors| {
            self.report(&errors);
            Exit::Program
        })
    }
}
