//! The commands of the `dl` binary; this is the only code that prints.

pub mod bench;
pub mod sample;
pub mod train;

use dl::check::LoadedShape;
use dl::diagnostic::{Diagnostic, Severity, render};
use dl::source::ReadError;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;

/// How a command failed, as an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 1: the program (or its data) has errors.
    Program,
    /// 2: bad usage or an unreadable file.
    Usage,
}

/// A `.dl` file being worked on.
pub struct Session {
    /// Its path as given.
    pub file: PathBuf,
    /// Its text.
    pub source: String,
}

impl Session {
    /// Reads `file`. A file that is not UTF-8 is reported like a program
    /// with errors.
    pub fn open(file: PathBuf) -> Result<Session, Exit> {
        match dl::source::read(&file) {
            Ok(source) => Ok(Session { file, source }),
            Err(ReadError::NotUtf8 { text, diagnostic }) => {
                Session { file, source: text }.report(&[*diagnostic]);
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
        eprintln!(
            "error: there is no run {k}; {} has {} `train` block(s)",
            self.file.display(),
            program.trains.len()
        );
        Err(if program.trains.is_empty() {
            Exit::Program
        } else {
            Exit::Usage
        })
    }

    /// Prints diagnostics to stderr, coloured on a terminal.
    pub fn report(&self, diagnostics: &[Diagnostic]) {
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

    /// Checks the program; on errors, reports them and fails.
    pub fn check(&self) -> Result<dl::ir::Program, Exit> {
        self.check_with(&HashMap::new())
    }

    /// Checks the program with the shapes of data sets that have been read.
    pub fn check_with(
        &self,
        loaded: &HashMap<String, LoadedShape>,
    ) -> Result<dl::ir::Program, Exit> {
        let (program, diagnostics) = dl::check_file_with_data(&self.source, loaded);
        let errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
        // Warnings were shown by the first check already.
        if errors || loaded.is_empty() {
            self.report(&diagnostics);
        }
        match program {
            Some(program) if !errors => Ok(program),
            _ => Err(Exit::Program),
        }
    }
}
