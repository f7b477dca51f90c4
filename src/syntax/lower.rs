//! Lowering of pest pairs into the AST: one `lower_<rule>` function per rule.
//!
//! The grammar guarantees the structure of every pair handed to these
//! functions, so taking a child that the rule always has is an `expect` that
//! names the rule; it cannot fail on any input.

use super::ast::*;
use super::grammar::Rule;
use crate::span::Span;
use pest::iterators::Pair;

type P<'i> = Pair<'i, Rule>;

/// Lowers a `program` pair.
pub fn lower_program(pair: P) -> Program {
    let items = pair
        .into_inner()
        .filter(|p| p.as_rule() != Rule::EOI)
        .map(lower_item)
        .collect();
    Program { items }
}

fn lower_item(pair: P) -> Item {
    match pair.as_rule() {
        Rule::data_item => Item::Data(lower_data_item(pair)),
        Rule::model_item => Item::Model(lower_model_item(pair)),
        Rule::cell_item => Item::Cell(lower_cell_item(pair)),
        Rule::train_item => Item::Train(lower_train_item(pair)),
        rule => unreachable!("item: unexpected rule {rule:?}"),
    }
}

/// Children of a pair, without keyword tokens.
fn children(pair: P) -> impl Iterator<Item = P> {
    pair.into_inner().filter(|p| {
        !matches!(
            p.as_rule(),
            Rule::kw_data
                | Rule::kw_model
                | Rule::kw_cell
                | Rule::kw_state
                | Rule::kw_train
                | Rule::kw_on
                | Rule::kw_let
                | Rule::kw_param
                | Rule::kw_next
                | Rule::kw_repeat
                | Rule::kw_return
        )
    })
}

fn lower_ident(pair: P) -> Ident {
    Ident {
        name: pair.as_str().to_string(),
        span: span_of(&pair),
    }
}

fn lower_data_item(pair: P) -> DataDef {
    let span = span_of(&pair);
    let mut inner = children(pair);
    let name = lower_ident(inner.next().expect("data_item: name"));
    let stages = inner.map(lower_data_stage).collect();
    DataDef { name, stages, span }
}

fn lower_data_stage(pair: P) -> Call {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let callee = lower_ident(inner.next().expect("data_stage: name"));
    let args = inner.next().map(lower_call_args);
    Call { callee, args, span }
}

fn lower_model_item(pair: P) -> ModelDef {
    let span = span_of(&pair);
    let mut inner = children(pair);
    let name = lower_ident(inner.next().expect("model_item: name"));
    let (input, options) = lower_signature(inner.next().expect("model_item: signature"));
    let body = lower_block(inner.next().expect("model_item: block"));
    ModelDef {
        name,
        input,
        options,
        body,
        span,
    }
}

fn lower_cell_item(pair: P) -> CellDef {
    let span = span_of(&pair);
    let mut inner = children(pair);
    let name = lower_ident(inner.next().expect("cell_item: name"));
    let (input, options) = lower_signature(inner.next().expect("cell_item: signature"));
    let mut state = Vec::new();
    let mut body = None;
    for p in inner {
        match p.as_rule() {
            Rule::state_decl => state.push(lower_state_decl(p)),
            Rule::block => body = Some(lower_block(p)),
            rule => unreachable!("cell_item: unexpected rule {rule:?}"),
        }
    }
    CellDef {
        name,
        input,
        options,
        state,
        body: body.expect("cell_item: block"),
        span,
    }
}

fn lower_signature(pair: P) -> (InputDecl, Vec<OptionDecl>) {
    let mut inner = pair.into_inner();
    let input = lower_input_decl(inner.next().expect("signature: input_decl"));
    let options = inner.map(lower_option_decl).collect();
    (input, options)
}

fn lower_input_decl(pair: P) -> InputDecl {
    let mut inner = pair.into_inner();
    let name = lower_ident(inner.next().expect("input_decl: name"));
    let shape = lower_shape(inner.next().expect("input_decl: shape"));
    InputDecl { name, shape }
}

fn lower_option_decl(pair: P) -> OptionDecl {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let name = lower_ident(inner.next().expect("option_decl: name"));
    let ty = match inner.next().expect("option_decl: type").as_str() {
        "int" => OptionType::Int,
        _ => OptionType::Float,
    };
    let default = inner.next().map(lower_expr);
    OptionDecl {
        name,
        ty,
        default,
        span,
    }
}

fn lower_state_decl(pair: P) -> StateDecl {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let name = lower_ident(inner.next().expect("state_decl: name"));
    let shape = lower_shape(inner.next().expect("state_decl: shape"));
    let init = inner.next().map(lower_expr);
    StateDecl {
        name,
        shape,
        init,
        span,
    }
}

fn lower_shape(pair: P) -> ShapeExpr {
    let span = span_of(&pair);
    let dims = pair.into_inner().map(lower_expr).collect();
    ShapeExpr { dims, span }
}

fn lower_train_item(pair: P) -> TrainDef {
    let span = span_of(&pair);
    let mut inner = children(pair);
    let model = lower_ident(inner.next().expect("train_item: model"));
    let data = lower_ident(inner.next().expect("train_item: data"));
    let settings = inner.map(lower_setting).collect();
    TrainDef {
        model,
        data,
        settings,
        span,
    }
}

fn lower_setting(pair: P) -> Setting {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let name = lower_ident(inner.next().expect("setting: name"));
    let value = lower_expr(inner.next().expect("setting: value"));
    Setting { name, value, span }
}

fn lower_block(pair: P) -> Block {
    let span = span_of(&pair);
    let stmts = pair.into_inner().map(lower_statement).collect();
    Block { stmts, span }
}

fn lower_statement(pair: P) -> Stmt {
    let span = span_of(&pair);
    let rule = pair.as_rule();
    let mut inner = children(pair);
    let kind = match rule {
        Rule::let_stmt => StmtKind::Let {
            name: lower_ident(inner.next().expect("let_stmt: name")),
            value: lower_pipeline(inner.next().expect("let_stmt: pipeline")),
        },
        Rule::param_stmt => StmtKind::Param {
            name: lower_ident(inner.next().expect("param_stmt: name")),
            shape: lower_shape(inner.next().expect("param_stmt: shape")),
            init: inner.next().map(lower_expr),
        },
        Rule::next_stmt => StmtKind::Next {
            name: lower_ident(inner.next().expect("next_stmt: name")),
            value: lower_pipeline(inner.next().expect("next_stmt: pipeline")),
        },
        Rule::repeat_stmt => StmtKind::Repeat {
            count: lower_unary(inner.next().expect("repeat_stmt: count")),
            body: lower_block(inner.next().expect("repeat_stmt: block")),
        },
        Rule::return_stmt => {
            StmtKind::Return(lower_pipeline(inner.next().expect("return_stmt: pipeline")))
        }
        Rule::pipeline_stmt => StmtKind::Pipeline(lower_pipeline(
            inner.next().expect("pipeline_stmt: pipeline"),
        )),
        rule => unreachable!("statement: unexpected rule {rule:?}"),
    };
    Stmt { kind, span }
}

fn lower_pipeline(pair: P) -> Pipeline {
    let span = span_of(&pair);
    let stages = pair.into_inner().map(lower_expr).collect();
    Pipeline { stages, span }
}

fn lower_expr(pair: P) -> Expr {
    // expr = product (add_op product)*
    lower_left_assoc(pair, lower_product)
}

fn lower_product(pair: P) -> Expr {
    lower_left_assoc(pair, lower_matprod)
}

fn lower_matprod(pair: P) -> Expr {
    lower_left_assoc(pair, lower_unary)
}

/// Folds `operand (op operand)*` to the left.
fn lower_left_assoc(pair: P, lower_operand: fn(P) -> Expr) -> Expr {
    let mut inner = pair.into_inner();
    let mut lhs = lower_operand(inner.next().expect("binary level: first operand"));
    while let Some(op) = inner.next() {
        let op = match op.as_str() {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            _ => BinOp::MatMul,
        };
        let rhs = lower_operand(inner.next().expect("binary level: operand after operator"));
        let span = lhs.span.merge(rhs.span);
        lhs = Expr {
            kind: ExprKind::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
            span,
        };
    }
    lhs
}

fn lower_unary(pair: P) -> Expr {
    let mut negs = Vec::new();
    let mut operand = None;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::neg => negs.push(span_of(&p)),
            _ => operand = Some(lower_postfix(p)),
        }
    }
    let mut expr = operand.expect("unary: operand");
    for neg in negs.into_iter().rev() {
        let span = neg.merge(expr.span);
        expr = Expr {
            kind: ExprKind::Neg(Box::new(expr)),
            span,
        };
    }
    expr
}

fn lower_postfix(pair: P) -> Expr {
    let inner = pair.into_inner().next().expect("postfix: call or atom");
    match inner.as_rule() {
        Rule::call => {
            let span: Span = span_of(&inner);
            let mut parts = inner.into_inner();
            let callee = lower_ident(parts.next().expect("call: name"));
            let args = Some(lower_call_args(parts.next().expect("call: arguments")));
            Expr {
                kind: ExprKind::Call(Call { callee, args, span }),
                span,
            }
        }
        _ => lower_atom(inner),
    }
}

fn lower_atom(pair: P) -> Expr {
    let span = span_of(&pair);
    let kind = match pair.as_rule() {
        Rule::number => {
            let text = pair.as_str();
            ExprKind::Number {
                // The grammar only admits decimal literals, which always parse.
                value: text.parse().expect("number: decimal literal"),
                integer: !text.contains(['.', 'e', 'E']),
            }
        }
        Rule::string => ExprKind::Str(unescape(
            pair.into_inner().next().expect("string: body").as_str(),
        )),
        Rule::list => ExprKind::List(pair.into_inner().map(lower_expr).collect()),
        Rule::dotted_name => ExprKind::Name(pair.as_str().to_string()),
        Rule::expr => return lower_expr(pair),
        rule => unreachable!("atom: unexpected rule {rule:?}"),
    };
    Expr { kind, span }
}

fn lower_call_args(pair: P) -> Vec<Arg> {
    pair.into_inner().map(lower_arg).collect()
}

fn lower_arg(pair: P) -> Arg {
    let span = span_of(&pair);
    let inner = pair.into_inner().next().expect("arg: keyword_arg or expr");
    match inner.as_rule() {
        Rule::keyword_arg => {
            let mut kw = inner.into_inner();
            let name = lower_ident(kw.next().expect("keyword_arg: name"));
            let value = lower_expr(kw.next().expect("keyword_arg: value"));
            Arg {
                name: Some(name),
                value,
                span,
            }
        }
        _ => Arg {
            name: None,
            value: lower_expr(inner),
            span,
        },
    }
}

/// Resolves `\"`, `\\`, `\n` and `\t`; any other escaped character stands for itself.
fn unescape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The span of a pair without the whitespace and comments pest lets a rule
/// swallow after its last token.
fn span_of(pair: &P) -> Span {
    let start = pair.as_span().start();
    let text = pair.as_str();
    let mut end = text.len();
    loop {
        let trimmed = text[..end].trim_end();
        end = trimmed.len();
        // A comment is trailing if its line holds only code before `#` that is
        // not inside a string; strip it and look again.
        let line_start = trimmed.rfind('\n').map_or(0, |i| i + 1);
        match comment_start(&trimmed[line_start..]) {
            Some(hash) if line_start + hash < end => end = line_start + hash,
            _ => break,
        }
    }
    Span::new(start, start + end)
}

/// Where a `#` comment starts in one line of code, outside strings.
fn comment_start(line: &str) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '#' if !in_string => return Some(i),
            _ => {}
        }
    }
    None
}
