//! Errors raised while reading data files and applying transforms.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What went wrong, for callers and tests that need to tell errors apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A file or folder does not exist.
    MissingFile,
    /// Any other failure to read a file (permissions, invalid UTF-8, ...).
    Io,
    /// A file has no header or no data rows.
    Empty,
    /// A CSV row has a different number of fields than the header.
    RaggedRow,
    /// A cell that should hold a number does not.
    NotNumeric,
    /// A class label is negative, not an integer or out of range.
    BadLabel,
    /// A column named in the program is not in the file.
    UnknownColumn,
    /// An IDX file does not start with the expected magic number, or its
    /// header describes something else than expected.
    BadIdx,
    /// A file (or its gzip stream) ends before the data its header announces.
    Truncated,
    /// Two files that must agree (images and labels) have different lengths.
    CountMismatch,
    /// A source or transform argument the data cannot satisfy, such as a
    /// reshape with the wrong element count.
    BadArgument,
    /// New samples do not have the shape the model takes.
    WrongShape,
}

/// A CSV column: its 1-based position and its header name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// 1-based position in the row.
    pub index: usize,
    /// The header's name for it.
    pub name: String,
}

/// An error from [`load`](super::load), with the file, line and column it
/// concerns where those are known.
///
/// `Display` renders it as one line, e.g.
/// ``data/iris.csv, line 4, column 2 (`sepal_width_cm`): cannot read `abc` as a number``.
#[derive(Clone, Debug)]
pub struct DataError(Box<Info>);

#[derive(Clone, Debug)]
struct Info {
    kind: ErrorKind,
    path: Option<PathBuf>,
    line: Option<u64>,
    column: Option<Column>,
    message: String,
    help: Option<String>,
}

impl DataError {
    /// An error of `kind` with `message` and nothing else attached.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        DataError(Box::new(Info {
            kind,
            path: None,
            line: None,
            column: None,
            message: message.into(),
            help: None,
        }))
    }

    /// Attaches the file the error concerns.
    pub fn at(mut self, path: &Path) -> Self {
        self.0.path = Some(path.to_path_buf());
        self
    }

    /// Attaches a 1-based line number.
    pub fn with_line(mut self, line: u64) -> Self {
        self.0.line = Some(line);
        self
    }

    /// Attaches a CSV column (1-based `index`).
    pub fn with_column(mut self, index: usize, name: &str) -> Self {
        self.0.column = Some(Column {
            index,
            name: name.to_string(),
        });
        self
    }

    /// Attaches a hint on how to fix the problem.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.0.help = Some(help.into());
        self
    }

    /// The category of the failure.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The file concerned (already resolved against the program's folder).
    pub fn path(&self) -> Option<&Path> {
        self.0.path.as_deref()
    }

    /// The 1-based line number in a text file.
    pub fn line(&self) -> Option<u64> {
        self.0.line
    }

    /// The CSV column concerned.
    pub fn column(&self) -> Option<&Column> {
        self.0.column.as_ref()
    }

    /// What is wrong, without the location.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// How to fix it, when there is something useful to say.
    pub fn help(&self) -> Option<&str> {
        self.0.help.as_deref()
    }

    /// The error for a file that cannot be opened: [`ErrorKind::MissingFile`]
    /// when it does not exist, [`ErrorKind::Io`] otherwise.
    pub(crate) fn open(path: &Path, err: &io::Error) -> Self {
        if err.kind() == io::ErrorKind::NotFound {
            DataError::missing(path, "file not found")
        } else {
            DataError::new(ErrorKind::Io, format!("cannot read the file: {err}")).at(path)
        }
    }

    /// A [`ErrorKind::MissingFile`] error reminding where paths start from.
    pub(crate) fn missing(path: &Path, message: impl Into<String>) -> Self {
        DataError::new(ErrorKind::MissingFile, message)
            .at(path)
            .with_help("paths are relative to the .dl file's folder")
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.0;
        let mut located = false;
        if let Some(path) = &e.path {
            write!(f, "{}", path.display())?;
            located = true;
        }
        if let Some(line) = e.line {
            write!(f, "{}line {line}", if located { ", " } else { "" })?;
            located = true;
        }
        if let Some(column) = &e.column {
            write!(
                f,
                "{}column {} (`{}`)",
                if located { ", " } else { "" },
                column.index,
                column.name
            )?;
            located = true;
        }
        if located {
            write!(f, ": ")?;
        }
        write!(f, "{}", e.message)?;
        if let Some(help) = &e.help {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

impl std::error::Error for DataError {}
