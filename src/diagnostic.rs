//! Diagnostics as data, and their rendering.
//!
//! Every stage reports problems as [`Diagnostic`] values; [`render`] is the only
//! place that knows about codespan-reporting.

use crate::span::Span;
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;
use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The program is accepted, but probably not what was meant.
    Warning,
    /// The program is rejected.
    Error,
}

/// A labelled span inside a diagnostic.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What to say there (may be empty).
    pub message: String,
    /// The primary label marks the mistake itself; secondary labels give context.
    pub primary: bool,
}

/// Every diagnostic code, each listed in `docs/errors.md` with its meaning
/// (a test holds the two together, and requires a case in `tests/errors/`
/// for every code the checker reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// syntax error: the parser expected something else here (names the tokens it expected)
    E0001,
    /// a string is never closed before the end of its line
    E0002,
    /// the file is not valid UTF-8 (names the byte, its offset in the file and its line; says so when the file is UTF-16); tested through the binary in `tests/cli.rs`, since the corpus files are text
    E0003,
    /// the program is empty: the file holds nothing, or only comments (a program declares `data`, `model`, `cell` or `train` items); `dl repl` starts from an empty program and does not report it
    E0004,
    /// the program nests too deeply: more than 256 brackets open at once, or a run of more than 256 unary signs; the first one past the limit is located
    E0005,
    /// unknown name (with "did you mean" when one is close)
    E0101,
    /// unknown layer, function, model or cell
    E0102,
    /// a name defined twice, or a model/cell named like a built-in
    E0103,
    /// a model uses itself, directly or through others (the chain is shown)
    E0104,
    /// a `train` block names an unknown data set
    E0105,
    /// a `train` block names an unknown model, or a cell
    E0106,
    /// a layer used as a value
    E0107,
    /// a layer called inside an expression instead of piped
    E0108,
    /// something that is not a layer after `->`
    E0109,
    /// `layer(args)(x)`: a layer's result called like a function
    E0110,
    /// unknown keyword argument (lists the valid ones)
    E0201,
    /// missing required argument
    E0202,
    /// too many positional arguments
    E0203,
    /// argument or option of the wrong type
    E0204,
    /// the same argument given twice
    E0205,
    /// argument out of range (e.g. `dropout(2)`, pool padding over half the kernel, `"same"` with stride 2)
    E0206,
    /// a size that must be a known number depends on an option without a value
    E0207,
    /// `+ - * /` operands whose shapes do not broadcast
    E0301,
    /// `@` operands whose inner dimensions differ
    E0302,
    /// `concat` inputs that differ off the concatenation axis
    E0303,
    /// a layer given an input of the wrong rank (e.g. `conv2d` on a flat vector)
    E0304,
    /// conv/pool output size not a whole number under `round = "exact"`
    E0305,
    /// conv/pool output size below 1
    E0306,
    /// `reshape` changes the number of elements, or infers two sizes
    E0307,
    /// a dimension variable nothing binds
    E0308,
    /// a model or cell used on an input its declared shape does not accept
    E0309,
    /// a cell's `next` value has a different shape from its state
    E0310,
    /// a cell state that no `next` updates
    E0311,
    /// an axis out of range
    E0312,
    /// unknown `train` setting
    E0401,
    /// a `train` setting given twice, or `loss`/`optimizer` missing
    E0402,
    /// unknown loss, optimizer or metric
    E0403,
    /// a loss or metric that does not fit the data (classification vs regression)
    E0405,
    /// the model's output does not fit the loss (e.g. `[N, 5]` for 10 classes)
    E0406,
    /// an optimizer that cannot fit the model: `least_squares` on a model not linear in its parameters (the offending operation is pointed at), with a loss other than `mse`/`half_mse`, or over 1,000 parameters; an `exhaustive` grid over 10^8 points
    E0407,
    /// a model trained directly has an option without a default
    E0408,
    /// unknown data source or transform
    E0501,
    /// a data declaration not starting with a source, or with two sources
    E0502,
    /// `split` fractions over 1, or a test part split off `mnist`
    E0503,
    /// `csv` without exactly one of `label`/`target`, or `classes` on a target
    E0504,
    /// a statement after `return`
    E0601,
    /// `next` outside a cell, or of a name that is not a state
    E0602,
    /// a number or string where a tensor is needed
    E0603,
    /// `repeat` with a count that is not an integer
    E0604,
    /// an operator applied to an operand of the wrong kind
    E0605,
    /// division by zero in a constant
    E0606,
    /// division of a dimension variable
    E0607,
    /// a shape entry that is not an integer expression
    E0608,
    /// unknown or incomplete initialiser
    E0609,
    /// a model unrolling to more than 100,000 operations (nested `repeat`s multiply)
    E0610,
    /// a shape entry that evaluates to 0 or less (e.g. an option `H = 0` used in `[I + H, H]`, or an input `x: [0, 3]`)
    E0611,
    /// a data set could not be read (missing file, ragged row, non-numeric cell, label out of range, bad IDX file; file, line and column are named)
    E0701,
    /// training diverged: the first layer whose output or gradient became NaN or infinite, with the epoch and step
    E0801,
    /// `least_squares` has no unique solution: the design has lower rank than the number of parameters; the (nearly) dependent columns are named; `l2 = λ` (ridge) fixes it
    E0803,
    /// the run needs more memory than the machine has available: the estimate (the program, the data, parameters, gradients, optimizer state, one step and one evaluation chunk) with each part's bytes, from `dl check` and before `dl train` allocates anything; fewer units or a smaller batch fix it
    E0804,
    /// an allocation failed although the estimate fitted (the system gave the process less memory than it has available, e.g. under `ulimit -v`): the bytes asked for, and exit code 1 instead of an abort
    E0805,
    /// `save =` names a file that cannot be written (a folder that cannot be written, a file where a folder should be, a folder at the path), found before the first step and located at the setting
    E0806,
    /// `dl export`: a part of the model that the target format cannot hold (a cell state that starts random, a cell over a sequence of unknown length in ONNX, a name that is not a Python name), located at its use
    E0901,
    /// conv/pool output size rounded down (rows or columns dropped); silence it with `round = "floor"`
    W0301,
    /// `dense` on a value with 3 or more axes after the batch: it acts on the last axis only (said once per path through the model)
    W0302,
    /// `bce` on a model that does not end in `sigmoid`
    W0401,
    /// `dl check`: a data file or folder that does not exist (yet), so `dl train` could not read it now
    W0701,
    /// `dl check`: a `save =` path that cannot be written now (`dl train` stops with E0806 before the first step)
    W0801,
}

impl Code {
    /// Every code, in order.
    pub const ALL: [Code; 68] = [
        Code::E0001,
        Code::E0002,
        Code::E0003,
        Code::E0004,
        Code::E0005,
        Code::E0101,
        Code::E0102,
        Code::E0103,
        Code::E0104,
        Code::E0105,
        Code::E0106,
        Code::E0107,
        Code::E0108,
        Code::E0109,
        Code::E0110,
        Code::E0201,
        Code::E0202,
        Code::E0203,
        Code::E0204,
        Code::E0205,
        Code::E0206,
        Code::E0207,
        Code::E0301,
        Code::E0302,
        Code::E0303,
        Code::E0304,
        Code::E0305,
        Code::E0306,
        Code::E0307,
        Code::E0308,
        Code::E0309,
        Code::E0310,
        Code::E0311,
        Code::E0312,
        Code::E0401,
        Code::E0402,
        Code::E0403,
        Code::E0405,
        Code::E0406,
        Code::E0407,
        Code::E0408,
        Code::E0501,
        Code::E0502,
        Code::E0503,
        Code::E0504,
        Code::E0601,
        Code::E0602,
        Code::E0603,
        Code::E0604,
        Code::E0605,
        Code::E0606,
        Code::E0607,
        Code::E0608,
        Code::E0609,
        Code::E0610,
        Code::E0611,
        Code::E0701,
        Code::E0801,
        Code::E0803,
        Code::E0804,
        Code::E0805,
        Code::E0806,
        Code::E0901,
        Code::W0301,
        Code::W0302,
        Code::W0401,
        Code::W0701,
        Code::W0801,
    ];

    /// The code as printed, e.g. `E0201`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::E0001 => "E0001",
            Code::E0002 => "E0002",
            Code::E0003 => "E0003",
            Code::E0004 => "E0004",
            Code::E0005 => "E0005",
            Code::E0101 => "E0101",
            Code::E0102 => "E0102",
            Code::E0103 => "E0103",
            Code::E0104 => "E0104",
            Code::E0105 => "E0105",
            Code::E0106 => "E0106",
            Code::E0107 => "E0107",
            Code::E0108 => "E0108",
            Code::E0109 => "E0109",
            Code::E0110 => "E0110",
            Code::E0201 => "E0201",
            Code::E0202 => "E0202",
            Code::E0203 => "E0203",
            Code::E0204 => "E0204",
            Code::E0205 => "E0205",
            Code::E0206 => "E0206",
            Code::E0207 => "E0207",
            Code::E0301 => "E0301",
            Code::E0302 => "E0302",
            Code::E0303 => "E0303",
            Code::E0304 => "E0304",
            Code::E0305 => "E0305",
            Code::E0306 => "E0306",
            Code::E0307 => "E0307",
            Code::E0308 => "E0308",
            Code::E0309 => "E0309",
            Code::E0310 => "E0310",
            Code::E0311 => "E0311",
            Code::E0312 => "E0312",
            Code::E0401 => "E0401",
            Code::E0402 => "E0402",
            Code::E0403 => "E0403",
            Code::E0405 => "E0405",
            Code::E0406 => "E0406",
            Code::E0407 => "E0407",
            Code::E0408 => "E0408",
            Code::E0501 => "E0501",
            Code::E0502 => "E0502",
            Code::E0503 => "E0503",
            Code::E0504 => "E0504",
            Code::E0601 => "E0601",
            Code::E0602 => "E0602",
            Code::E0603 => "E0603",
            Code::E0604 => "E0604",
            Code::E0605 => "E0605",
            Code::E0606 => "E0606",
            Code::E0607 => "E0607",
            Code::E0608 => "E0608",
            Code::E0609 => "E0609",
            Code::E0610 => "E0610",
            Code::E0611 => "E0611",
            Code::E0701 => "E0701",
            Code::E0801 => "E0801",
            Code::E0803 => "E0803",
            Code::E0804 => "E0804",
            Code::E0805 => "E0805",
            Code::E0806 => "E0806",
            Code::E0901 => "E0901",
            Code::W0301 => "W0301",
            Code::W0302 => "W0302",
            Code::W0401 => "W0401",
            Code::W0701 => "W0701",
            Code::W0801 => "W0801",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One problem found in a program, with everything needed to explain it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable code such as `E0201`, listed in docs/errors.md.
    pub code: Code,
    /// One line saying what is wrong.
    pub message: String,
    /// Spans in the source, the first primary.
    pub labels: Vec<Label>,
    /// Notes with the numbers filled in.
    pub notes: Vec<String>,
    /// A likely fix, if there is one.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with a primary label.
    pub fn error(
        code: Code,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            labels: vec![Label {
                span,
                message: label.into(),
                primary: true,
            }],
            notes: Vec::new(),
            help: None,
        }
    }

    /// A warning with a primary label.
    pub fn warning(
        code: Code,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message, span, label)
        }
    }

    /// Adds a secondary label.
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Sets the help line when `condition` holds.
    pub fn with_help_if(self, condition: bool, help: impl Into<String>) -> Diagnostic {
        if condition {
            self.with_help(help)
        } else {
            self
        }
    }

    /// Whether this diagnostic rejects the program.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The primary span.
    pub fn span(&self) -> Span {
        self.labels.first().map(|l| l.span).unwrap_or_default()
    }
}

/// Renders diagnostics for `source` (named `file_name`) as a terminal would show
/// them, with ANSI colours when `color` is set.
pub fn render(file_name: &str, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let file = SimpleFile::new(file_name, source);
    let config = term::Config::default();
    let mut buffer = if color {
        term::termcolor::Buffer::ansi()
    } else {
        term::termcolor::Buffer::no_color()
    };
    for diagnostic in diagnostics {
        let converted = to_codespan(diagnostic, source.len());
        // NOTE: writing into an in-memory buffer cannot fail, and every span is
        // clamped to the source, so codespan's file lookups cannot fail either.
        term::emit_to_write_style(&mut buffer, &config, &file, &converted)
            .expect("rendering into memory");
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

fn to_codespan(diagnostic: &Diagnostic, source_len: usize) -> cs::Diagnostic<()> {
    let severity = match diagnostic.severity {
        Severity::Warning => cs::Severity::Warning,
        Severity::Error => cs::Severity::Error,
    };
    let clamp = |span: Span| {
        let start = (span.start as usize).min(source_len);
        let end = (span.end as usize).clamp(start, source_len);
        start..end
    };
    let labels = diagnostic
        .labels
        .iter()
        .map(|label| {
            let style = if label.primary {
                cs::LabelStyle::Primary
            } else {
                cs::LabelStyle::Secondary
            };
            cs::Label::new(style, (), clamp(label.span)).with_message(label.message.clone())
        })
        .collect();
    let mut notes = diagnostic.notes.clone();
    if let Some(help) = &diagnostic.help {
        notes.push(format!("help: {help}"));
    }
    cs::Diagnostic::new(severity)
        .with_code(diagnostic.code.as_str())
        .with_message(diagnostic.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}
