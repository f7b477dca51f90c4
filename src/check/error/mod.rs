//! Every diagnostic the checker emits, as data: the checker decides *what* is
//! wrong and builds a [`CheckError`]; its one rendering, `Diagnostic::from`,
//! says how, with the codes and the prose. The variants are rendered one file
//! per stage whose mistakes they word, each file's part of the `match` below.

mod arguments;
mod data;
mod names;
mod shapes;
mod statements;
mod train;

pub use shapes::Residual;
pub use train::TrainProblem;

pub use crate::nn::error::{invalid_value, reshape_count};

use crate::diagnostic::Diagnostic;
use crate::ir::shape::Shape;
use crate::nn::{ArgKind, Value};
use crate::span::Span;
use crate::syntax::ast::Ident;

/// A problem the checker found: the facts (names, shapes, spans, the
/// candidates for a suggestion); the prose is written by `Diagnostic::from`.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckError {
    // ----- names and calls (`names.rs`) ------------------------------------
    /// E0103: two items with one name.
    DuplicateItem {
        /// The second definition's name.
        name: Ident,
        /// Where the first one is.
        first: Span,
    },
    /// E0104: a model using itself.
    RecursiveModel {
        /// The use of the model inside itself.
        callee: Ident,
        /// The chain of uses, from the model back to itself.
        chain: Vec<String>,
        /// Where the model is defined.
        definition: Span,
    },
    /// E0101: a name that is bound nowhere.
    UnknownName {
        /// The name.
        name: String,
        /// Where it is used.
        span: Span,
        /// The names in scope, for a suggestion.
        candidates: Vec<String>,
    },
    /// E0102: unknown layer, function, model or cell.
    UnknownLayer {
        /// The name called.
        callee: Ident,
        /// The names that can be called, for a suggestion.
        candidates: Vec<String>,
    },
    /// E0308: a capitalised name in a shape that nothing binds.
    UnboundDimension {
        /// The dimension variable.
        name: String,
        /// Where it is used.
        span: Span,
    },
    /// E0107: a layer used where a value is expected.
    LayerAsValue {
        /// The layer.
        name: String,
        /// Where it is used.
        span: Span,
    },
    /// E0108: a layer called with an explicit input in an expression.
    LayerNeedsPipe {
        /// The layer.
        name: String,
        /// The call.
        span: Span,
    },
    /// E0110: `layer(args)(x)`, the result of a call called again.
    CalledResult {
        /// The first call.
        call: Span,
        /// The arguments applied to its result.
        args: Span,
    },
    /// E0109: something after `->` that is not a layer.
    NotALayer {
        /// The stage.
        span: Span,
        /// The value's name, if the stage is a name.
        name: Option<String>,
    },

    // ----- arguments (`arguments.rs`) --------------------------------------
    /// E0203: too many positional arguments.
    TooManyArguments {
        /// The layer, function, model or cell called.
        callee: Ident,
        /// How many positional arguments it takes.
        max: usize,
        /// The first argument too many.
        span: Span,
        /// The signature, as written in the docs.
        signature: String,
    },
    /// E0201: a keyword the signature does not have.
    UnknownKeyword {
        /// The callee.
        callee: Ident,
        /// The keyword given.
        keyword: Ident,
        /// The valid keywords.
        names: Vec<String>,
        /// The signature.
        signature: String,
    },
    /// E0205: the same argument given twice.
    DuplicateArgument {
        /// The callee.
        callee: Ident,
        /// The keyword given again.
        keyword: Ident,
        /// Where it is first given.
        first: Span,
    },
    /// E0202: a required argument left out.
    MissingArgument {
        /// The callee.
        callee: Ident,
        /// The parameter.
        param: String,
        /// The signature.
        signature: String,
    },
    /// E0204: an argument of the wrong type.
    WrongArgumentType {
        /// The callee.
        callee: Ident,
        /// The parameter.
        param: String,
        /// The type it takes.
        kind: ArgKind,
        /// The value given.
        value: Value,
        /// Where it is given.
        span: Span,
        /// The signature.
        signature: String,
    },
    /// E0204: an option default or value of the wrong type.
    OptionType {
        /// The option.
        name: Ident,
        /// Its declared type.
        kind: ArgKind,
        /// The value given.
        value: Value,
        /// Where it is given.
        span: Span,
    },
    /// E0408: a model trained directly whose option has no default.
    TrainNeedsOption {
        /// The model.
        model: Ident,
        /// The option without a default.
        option: Ident,
        /// The `train` naming the model.
        site: Span,
    },

    // ----- statements and constants (`statements.rs`) ----------------------
    /// E0610: a model that unrolls to too many operations.
    ModelTooLarge {
        /// The limit.
        max: usize,
        /// Where it is exceeded.
        span: Span,
    },
    /// E0601: a statement after `return`.
    AfterReturn {
        /// The statement.
        span: Span,
    },
    /// E0602: `next` of a name that is not a state (or outside a cell).
    NextNotState {
        /// The name after `next`.
        name: Ident,
        /// The cell's states.
        states: Vec<String>,
        /// Whether the `next` is in a cell.
        in_cell: bool,
    },
    /// E0310: `next S = v` where `v` has the wrong shape.
    NextShape {
        /// The state.
        name: Ident,
        /// The shape of `v`.
        found: Shape,
        /// The state's declared shape.
        expected: Shape,
        /// Where `v` is.
        value: Span,
        /// Where the state is declared.
        declared: Span,
    },
    /// E0311: a state that no `next` updates.
    StateNeverUpdated {
        /// The state.
        name: Ident,
        /// The cell's body.
        body: Span,
    },
    /// E0603: a non-tensor where a tensor is needed.
    ExpectedTensor {
        /// The value found.
        value: Value,
        /// Where.
        span: Span,
    },
    /// E0604: `repeat` with a count that is not an integer.
    RepeatCount {
        /// The count found.
        value: Value,
        /// Where.
        span: Span,
    },
    /// E0605: an operand of the wrong kind.
    BadOperand {
        /// The operator, as written.
        op: String,
        /// The operand.
        value: Value,
        /// Where.
        span: Span,
    },
    /// E0606: division by zero in a constant expression.
    DivisionByZero {
        /// The divisor.
        span: Span,
    },
    /// E0607: division of a symbolic integer.
    SymbolicDivision {
        /// The division.
        span: Span,
    },
    /// E0608: a shape entry that is not an integer expression.
    DimensionSyntax {
        /// The entry.
        span: Span,
    },
    /// E0611: a shape entry that evaluates to zero or less.
    DimensionBelowOne {
        /// The entry as written.
        text: String,
        /// Its value.
        value: i64,
        /// Where.
        span: Span,
    },
    /// E0608: a shape entry naming a non-integer.
    DimensionNotInt {
        /// The value named.
        value: Value,
        /// Where.
        span: Span,
    },
    /// E0609: `normal`/`uniform` without their two numbers.
    InitNeedsArgs {
        /// `normal` or `uniform`.
        name: String,
        /// Where.
        span: Span,
    },
    /// E0609: an unknown initialiser.
    UnknownInit {
        /// The name given (empty if it is not a name).
        name: String,
        /// Where.
        span: Span,
        /// The initialisers.
        names: Vec<String>,
    },

    // ----- shapes (`shapes.rs`) --------------------------------------------
    /// E0301: elementwise operands that do not broadcast.
    BroadcastMismatch {
        /// The operator.
        op: String,
        /// The left operand's shape.
        a: Shape,
        /// Where the left operand is.
        a_span: Span,
        /// The right operand's shape.
        b: Shape,
        /// Where the right operand is.
        b_span: Span,
        /// The whole expression.
        span: Span,
        /// Set when one operand is computed from the other (a residual
        /// connection whose branch changed the shortcut's shape).
        residual: Option<Box<Residual>>,
    },
    /// E0302: `@` with inner dimensions that differ.
    MatmulMismatch {
        /// The left operand's shape.
        a: Shape,
        /// Where the left operand is.
        a_span: Span,
        /// The right operand's shape.
        b: Shape,
        /// Where the right operand is.
        b_span: Span,
        /// The whole expression.
        span: Span,
    },
    /// E0309: a model used on an input of the wrong shape.
    InputMismatch {
        /// The model or cell.
        model: Ident,
        /// Its declared input, as written (without the batch).
        expected: String,
        /// The input it got.
        actual: Shape,
        /// Whether it is a cell.
        is_cell: bool,
        /// The use.
        use_span: Span,
        /// The input.
        input_span: Span,
        /// Where the input is declared.
        declared: Span,
    },
    /// E0309: a cell applied to something that is not a sequence.
    CellNeedsSequence {
        /// The input.
        shape: Shape,
        /// Where.
        span: Span,
    },

    // ----- items and data (`data.rs`) --------------------------------------
    /// E0103: an item named like a built-in.
    ShadowsBuiltin {
        /// The built-in's name.
        builtin: String,
        /// Where the item is named.
        span: Span,
    },
    /// E0501: an unknown data source or transform.
    UnknownDataStage {
        /// The name called.
        name: String,
        /// Where.
        span: Span,
        /// Whether a source was expected (else a transform).
        source: bool,
        /// The sources or the transforms.
        candidates: Vec<String>,
    },
    /// E0502: data that starts with a transform.
    StartsWithTransform {
        /// The transform.
        name: String,
        /// Where.
        span: Span,
    },
    /// E0502: a second source after `|`.
    SecondSource {
        /// The source.
        name: String,
        /// Where.
        span: Span,
    },
    /// E0503: split fractions adding up to more than 1.
    SplitOverOne {
        /// The sum of the fractions.
        total: f64,
        /// The `split`.
        span: Span,
    },
    /// E0503: a `test` or `train` part split off `mnist`.
    MnistHasTest {
        /// The `split`.
        span: Span,
    },
    /// E0504: `csv` without exactly one of `label` or `target`.
    CsvColumn {
        /// The `csv` call.
        span: Span,
    },
    /// E0504: `classes` given for a regression target.
    ClassesWithoutLabel {
        /// Where `classes` is given.
        span: Span,
    },
}

impl From<CheckError> for Diagnostic {
    fn from(error: CheckError) -> Self {
        use CheckError::*;
        match error {
            DuplicateItem { .. }
            | RecursiveModel { .. }
            | UnknownName { .. }
            | UnknownLayer { .. }
            | UnboundDimension { .. }
            | LayerAsValue { .. }
            | LayerNeedsPipe { .. }
            | CalledResult { .. }
            | NotALayer { .. } => names::render(error),
            TooManyArguments { .. }
            | UnknownKeyword { .. }
            | DuplicateArgument { .. }
            | MissingArgument { .. }
            | WrongArgumentType { .. }
            | OptionType { .. }
            | TrainNeedsOption { .. } => arguments::render(error),
            ModelTooLarge { .. }
            | AfterReturn { .. }
            | NextNotState { .. }
            | NextShape { .. }
            | StateNeverUpdated { .. }
            | ExpectedTensor { .. }
            | RepeatCount { .. }
            | BadOperand { .. }
            | DivisionByZero { .. }
            | SymbolicDivision { .. }
            | DimensionSyntax { .. }
            | DimensionBelowOne { .. }
            | DimensionNotInt { .. }
            | InitNeedsArgs { .. }
            | UnknownInit { .. } => statements::render(error),
            BroadcastMismatch { .. }
            | MatmulMismatch { .. }
            | InputMismatch { .. }
            | CellNeedsSequence { .. } => shapes::render(error),
            ShadowsBuiltin { .. }
            | UnknownDataStage { .. }
            | StartsWithTransform { .. }
            | SecondSource { .. }
            | SplitOverOne { .. }
            | MnistHasTest { .. }
            | CsvColumn { .. }
            | ClassesWithoutLabel { .. } => data::render(error),
        }
    }
}

/// The closest candidate to `name`, if one is close enough to be a typo.
pub fn suggest<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let limit = (name.len() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name && !c.is_empty())
        .map(|c| (strsim::osa_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

fn with_suggestion(diagnostic: Diagnostic, name: &str, candidates: &[String]) -> Diagnostic {
    match suggest(name, candidates.iter().map(String::as_str)) {
        Some(best) => diagnostic.with_help(format!("did you mean `{best}`?")),
        None => diagnostic,
    }
}
