//! The untyped syntax tree. Every node carries the span it was parsed from.

use crate::span::Span;

/// A whole `.dl` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// Top-level items in source order.
    pub items: Vec<Item>,
}

/// A top-level definition.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `data NAME = ...`
    Data(DataDef),
    /// `model NAME(...) { ... }`
    Model(ModelDef),
    /// `cell NAME(...) state (...) { ... }`
    Cell(CellDef),
    /// `train MODEL on DATA { ... }`
    Train(TrainDef),
}

/// A name as written, with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The name (dotted names keep their dots: `synthetic.linear`).
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

/// `data NAME = SOURCE | TRANSFORM | ...`
#[derive(Clone, Debug, PartialEq)]
pub struct DataDef {
    /// The data set's name.
    pub name: Ident,
    /// The source, then the transforms, left to right.
    pub stages: Vec<Call>,
    /// The whole item.
    pub span: Span,
}

/// A name applied to arguments, or a bare name (`args` is `None`).
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// What is called.
    pub callee: Ident,
    /// The arguments, if parentheses were written.
    pub args: Option<Vec<Arg>>,
    /// The whole call.
    pub span: Span,
}

/// One argument of a call.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// The keyword, for `name = value`.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
    /// The whole argument.
    pub span: Span,
}

/// `model NAME(INPUT: SHAPE, OPTIONS...) { BODY }`
#[derive(Clone, Debug, PartialEq)]
pub struct ModelDef {
    /// The model's name.
    pub name: Ident,
    /// The input tensor.
    pub input: InputDecl,
    /// Hyper-parameters.
    pub options: Vec<OptionDecl>,
    /// The body.
    pub body: Block,
    /// The whole item.
    pub span: Span,
}

/// `cell NAME(INPUT: SHAPE, OPTIONS...) state (...) { BODY }`
#[derive(Clone, Debug, PartialEq)]
pub struct CellDef {
    /// The cell's name.
    pub name: Ident,
    /// The per-step input.
    pub input: InputDecl,
    /// Hyper-parameters.
    pub options: Vec<OptionDecl>,
    /// The recurrent state.
    pub state: Vec<StateDecl>,
    /// The step body.
    pub body: Block,
    /// The whole item.
    pub span: Span,
}

/// `x: [C, H, W]`
#[derive(Clone, Debug, PartialEq)]
pub struct InputDecl {
    /// The input's name inside the body.
    pub name: Ident,
    /// Its shape, without the batch dimension.
    pub shape: ShapeExpr,
}

/// `[d1, d2, ...]`
#[derive(Clone, Debug, PartialEq)]
pub struct ShapeExpr {
    /// Each dimension, an integer expression.
    pub dims: Vec<Expr>,
    /// The brackets and all between them.
    pub span: Span,
}

/// The declared type of an option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionType {
    /// `int`
    Int,
    /// `float`
    Float,
}

/// `stride: int = 1`
#[derive(Clone, Debug, PartialEq)]
pub struct OptionDecl {
    /// The option's name.
    pub name: Ident,
    /// `int` or `float`.
    pub ty: OptionType,
    /// The default, if any.
    pub default: Option<Expr>,
    /// The whole declaration.
    pub span: Span,
}

/// `h: [hidden] = zeros`
#[derive(Clone, Debug, PartialEq)]
pub struct StateDecl {
    /// The state's name.
    pub name: Ident,
    /// Its shape per sample.
    pub shape: ShapeExpr,
    /// Its initial value (default `zeros`).
    pub init: Option<Expr>,
    /// The whole declaration.
    pub span: Span,
}

/// `{ statements }`
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The statements in order.
    pub stmts: Vec<Stmt>,
    /// The braces and all between them.
    pub span: Span,
}

/// A statement of a model or cell body.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What kind of statement.
    pub kind: StmtKind,
    /// The whole statement.
    pub span: Span,
}

/// The kinds of statement.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `let NAME = PIPELINE`
    Let {
        /// The bound name.
        name: Ident,
        /// Its value.
        value: Pipeline,
    },
    /// `param NAME: SHAPE = INIT`
    Param {
        /// The parameter's name.
        name: Ident,
        /// Its shape.
        shape: ShapeExpr,
        /// Its initialiser.
        init: Option<Expr>,
    },
    /// `next NAME = PIPELINE`
    Next {
        /// The state being updated.
        name: Ident,
        /// Its next value.
        value: Pipeline,
    },
    /// `repeat K { ... }`
    Repeat {
        /// How many times.
        count: Expr,
        /// What to repeat.
        body: Block,
    },
    /// `return PIPELINE`
    Return(Pipeline),
    /// A pipeline on its own.
    Pipeline(Pipeline),
}

/// `a -> b -> c`
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    /// The stages, at least one.
    pub stages: Vec<Expr>,
    /// The whole pipeline.
    pub span: Span,
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What kind.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `@`
    MatMul,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::MatMul => "@",
        }
    }
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A number; `integer` is true when written without `.` or exponent.
    Number {
        /// Its value.
        value: f64,
        /// Written as an integer.
        integer: bool,
    },
    /// A string literal, escapes resolved.
    Str(String),
    /// A (possibly dotted) name.
    Name(String),
    /// `[a, b, ...]`
    List(Vec<Expr>),
    /// `f(args)`
    Call(Call),
    /// `a OP b`
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `-a`
    Neg(Box<Expr>),
}

/// `train MODEL on DATA { settings }`
#[derive(Clone, Debug, PartialEq)]
pub struct TrainDef {
    /// The model to train.
    pub model: Ident,
    /// The data to train on.
    pub data: Ident,
    /// `name = value` settings.
    pub settings: Vec<Setting>,
    /// The whole item.
    pub span: Span,
}

/// `name = value` in a train block.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// The setting's name.
    pub name: Ident,
    /// Its value.
    pub value: Expr,
    /// The whole setting.
    pub span: Span,
}
