//! Parsing: source text to [`ast::Program`], or a diagnostic saying what was
//! expected where, in the words a user would use.

pub mod ast;
mod grammar;
mod lower;

use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;
use grammar::{DlParser, Rule};
use pest::Parser;
use pest::error::{ErrorVariant, InputLocation};
use std::collections::BTreeSet;

/// Parses a whole `.dl` file. On a syntax error the program is `None` and the
/// diagnostics say why.
pub fn parse(source: &str) -> (Option<ast::Program>, Vec<Diagnostic>) {
    let scanned = scan(source);
    if let Some(diagnostic) = unterminated_string(&scanned) {
        return (None, vec![diagnostic]);
    }
    if let Some(diagnostic) = too_deep(&scanned) {
        return (None, vec![diagnostic]);
    }
    pest::set_error_detail(true);
    match DlParser::parse(Rule::program, source) {
        Ok(mut pairs) => {
            let program = lower::lower_program(pairs.next().expect("program: the top pair"));
            (Some(program), Vec::new())
        }
        Err(error) => (None, vec![syntax_error(source, &error)]),
    }
}

/// The deepest nesting a program may have: brackets open at once, unary
/// signs in a row, or operators of one expression (a chain `a + b + ...`
/// is a tree as deep as it is long) together with the brackets around them.
/// The parser, the lowering and the checker recurse once per level; far beyond what anyone writes (the deepest example nests 4), far
/// below what their stacks hold (about 2,700 levels).
pub const MAX_NESTING: usize = 256;

/// What a quick lexical pass finds before (or after) pest has its say.
struct Scan {
    /// A string that runs to the end of its line: `start..end`.
    unterminated_string: Option<Span>,
    /// The innermost bracket still open at the end of the source.
    unclosed_bracket: Option<usize>,
    /// The first bracket opened, or sign written, past [`MAX_NESTING`].
    too_deep: Option<(usize, Nesting)>,
}

/// What nests too deeply.
#[derive(Clone, Copy)]
enum Nesting {
    Brackets,
    Signs,
    Operators,
}

/// One pass over the source that skips comments and strings and tracks
/// brackets.
fn scan(source: &str) -> Scan {
    let bytes = source.as_bytes();
    let mut open = Vec::new();
    let mut too_deep = None;
    // Signs in a row, whitespace between them allowed.
    let mut signs = 0;
    // Operators of the expression being written at each bracket level (the
    // outermost first), and how deep that puts the innermost one: brackets
    // open plus every level's operators.
    let mut operators = vec![0usize];
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'-' | b'+' if bytes.get(i + 1) != Some(&b'>') => {
                signs += 1;
                if signs > MAX_NESTING && too_deep.is_none() {
                    too_deep = Some((i, Nesting::Signs));
                }
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => signs = 0,
        }
        let level = operators.last_mut().expect("the outermost level stays");
        match bytes[i] {
            b'+' | b'-' | b'*' | b'/' | b'@' if bytes.get(i + 1) != Some(&b'>') => {
                *level += 1;
                depth += 1;
                if depth + open.len() > MAX_NESTING && too_deep.is_none() {
                    too_deep = Some((i, Nesting::Operators));
                }
            }
            // Where one expression ends and the next begins: a new line
            // does only between statements, not inside `(..)` or `[..]`.
            b'\n' if open.last().is_some_and(|&at| bytes[at] != b'{') => {}
            b',' | b'=' | b'>' | b'\n' => {
                depth -= *level;
                *level = 0;
            }
            b'{' | b'(' | b'[' => operators.push(0),
            b'}' | b')' | b']' if operators.len() > 1 => {
                depth -= operators.pop().unwrap_or(0);
            }
            _ => {}
        }
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                let start = i;
                i += 1;
                loop {
                    match bytes.get(i) {
                        None | Some(b'\n') => {
                            return Scan {
                                unterminated_string: Some(Span::new(start, i.min(bytes.len()))),
                                unclosed_bracket: open.pop(),
                                too_deep,
                            };
                        }
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
            }
            b'{' | b'(' | b'[' => {
                open.push(i);
                if open.len() > MAX_NESTING && too_deep.is_none() {
                    too_deep = Some((i, Nesting::Brackets));
                }
            }
            b'}' | b')' | b']' => {
                open.pop();
            }
            _ => {}
        }
        i += 1;
    }
    Scan {
        unterminated_string: None,
        unclosed_bracket: open.pop(),
        too_deep,
    }
}

/// E0005: nesting past [`MAX_NESTING`], found before the parser recurses
/// into it (it would run out of stack).
fn too_deep(scanned: &Scan) -> Option<Diagnostic> {
    let (at, what) = scanned.too_deep?;
    let (message, label, help) = match what {
        Nesting::Brackets => (
            format!("the program nests more than {MAX_NESTING} brackets deep"),
            format!("bracket number {} open at once", MAX_NESTING + 1),
            "name the inner parts with `let`, or split the model into sub-models",
        ),
        Nesting::Signs => (
            format!("more than {MAX_NESTING} signs in a row"),
            format!("sign number {} in a row", MAX_NESTING + 1),
            "an even number of `-` is `+`: keep one sign or none",
        ),
        Nesting::Operators => (
            format!("an expression nests more than {MAX_NESTING} operations deep"),
            format!(
                "operation number {} of this expression and the brackets around it",
                MAX_NESTING + 1
            ),
            "compute it in parts with `let`, or split the model into sub-models",
        ),
    };
    Some(
        Diagnostic::error(Code::E0005, message, Span::new(at, at + 1), label)
            .with_note(format!(
                "dl accepts at most {MAX_NESTING} levels, far more than a model needs"
            ))
            .with_help(help),
    )
}

/// A string that runs to the end of its line is reported on its own, since the
/// parser would otherwise only say that it expected something after the quote.
fn unterminated_string(scanned: &Scan) -> Option<Diagnostic> {
    scanned.unterminated_string.map(|span| {
        Diagnostic::error(
            Code::E0002,
            "unterminated string",
            span,
            "this string is never closed",
        )
        .with_help("add a closing `\"` before the end of the line")
    })
}

/// E0004 when `source` declares nothing: it is empty, or holds only
/// whitespace and comments (what the grammar skips between items). A file
/// given to a command must declare something; the REPL starts from an empty
/// program on purpose and does not ask.
pub fn empty_program(source: &str) -> Option<Diagnostic> {
    let blank = source.split('\n').all(|line| {
        let line = line.trim_start_matches([' ', '\t', '\r']);
        line.is_empty() || line.starts_with('#')
    });
    if !blank {
        return None;
    }
    let what = if source.contains('#') {
        "only comments"
    } else if source.is_empty() {
        "nothing"
    } else {
        "only whitespace"
    };
    Some(
        Diagnostic::error(
            Code::E0004,
            "the program is empty",
            Span::new(0, 0),
            format!("this file holds {what}"),
        )
        .with_help(
            "a program declares one or more `data`, `model`, `cell` or `train` items, \
             e.g. `model Net(x: [4]) { dense(1) }`",
        ),
    )
}

fn syntax_error(source: &str, error: &pest::error::Error<Rule>) -> Diagnostic {
    let mut position = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((start, _)) => start,
    };
    let mut expected = BTreeSet::new();
    if let ErrorVariant::ParsingError { positives, .. } = &error.variant {
        for rule in positives {
            if let Some(name) = rule_name(*rule) {
                expected.insert(name.to_string());
            }
        }
    }
    if let Some(attempts) = error.parse_attempts() {
        // The parser got furthest at `max_position`; what it wanted there is
        // more precise than the rule that failed as a whole.
        let tokens: BTreeSet<String> = attempts
            .expected_tokens()
            .iter()
            .filter_map(|t| token_name(&t.to_string()))
            .collect();
        if attempts.max_position > position && !tokens.is_empty() {
            position = attempts.max_position;
            expected = tokens;
        } else if attempts.max_position == position {
            expected.extend(tokens);
        }
    }
    let found = describe_found(source, position);
    let span = found_span(source, position);
    let expected: Vec<String> = expected.into_iter().collect();
    if position >= source.trim_end().len()
        && let Some(open) = scan(source).unclosed_bracket
    {
        let close = match source.as_bytes()[open] {
            b'{' => '}',
            b'(' => ')',
            _ => ']',
        };
        return Diagnostic::error(
            Code::E0001,
            "unexpected end of file",
            span,
            format!("expected `{close}`"),
        )
        .with_label(
            Span::new(open, open + 1),
            format!("this `{}` is never closed", source.as_bytes()[open] as char),
        )
        .with_help(format!("add `{close}` to close it"));
    }
    if source[position.min(source.len())..].starts_with(';') {
        return Diagnostic::error(
            Code::E0001,
            "unexpected `;`",
            span,
            "statements need no separator",
        )
        .with_help("remove the `;`: statements are separated by spaces or new lines");
    }
    let message = format!("expected {}, found {found}", join_alternatives(&expected));
    let mut diagnostic = Diagnostic::error(Code::E0001, "syntax error", span, message);
    if let Some(help) = syntax_help(source, position, &expected) {
        diagnostic = diagnostic.with_help(help);
    }
    diagnostic
}

/// The user's name for a grammar rule; `None` for rules that never appear on
/// their own in an error.
fn rule_name(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "the end of the file",
        Rule::ident | Rule::dotted_name | Rule::arg_name => "a name",
        Rule::number => "a number",
        Rule::string => "a string",
        Rule::expr
        | Rule::product
        | Rule::matprod
        | Rule::unary
        | Rule::postfix
        | Rule::call
        | Rule::list
        | Rule::neg
        | Rule::pipeline
        | Rule::pipeline_stmt => "an expression",
        Rule::add_op | Rule::mul_op | Rule::matmul_op => "an operator",
        Rule::shape => "a shape such as `[3, 32, 32]`",
        Rule::option_type => "`int` or `float`",
        Rule::call_args => "`(`",
        Rule::arg | Rule::keyword_arg => "an argument",
        Rule::setting => "a setting such as `loss = mse`",
        Rule::block => "`{`",
        Rule::let_stmt
        | Rule::param_stmt
        | Rule::next_stmt
        | Rule::repeat_stmt
        | Rule::return_stmt => "a statement",
        Rule::data_item | Rule::kw_data => "`data`",
        Rule::model_item | Rule::kw_model => "`model`",
        Rule::cell_item | Rule::kw_cell => "`cell`",
        Rule::train_item | Rule::kw_train => "`train`",
        Rule::kw_state => "`state`",
        Rule::kw_on => "`on`",
        Rule::kw_let => "`let`",
        Rule::kw_param => "`param`",
        Rule::kw_next => "`next`",
        Rule::kw_repeat => "`repeat`",
        Rule::kw_return => "`return`",
        Rule::option_decl => "an option such as `stride: int = 1`",
        Rule::input_decl | Rule::signature => "the input, such as `x: [3, 32, 32]`",
        Rule::state_decl => "a state such as `h: [hidden] = zeros`",
        Rule::data_stage => "a data source or transform",
        _ => return None,
    })
}

/// The user's name for a literal token the parser tried; whitespace and the
/// characters of keywords are left out.
fn token_name(token: &str) -> Option<String> {
    match token {
        "(" | ")" | "[" | "]" | "{" | "}" | "," | ":" | "=" | "|" | "->" | "." => {
            Some(format!("`{token}`"))
        }
        "+" | "-" | "*" | "/" | "@" => Some("an operator".to_string()),
        _ => None,
    }
}

fn join_alternatives(items: &[String]) -> String {
    match items {
        [] => "something else".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn describe_found(source: &str, position: usize) -> String {
    let rest = &source[position.min(source.len())..];
    match rest.chars().next() {
        None => "the end of the file".to_string(),
        Some(c) if c.is_ascii_alphanumeric() || c == '_' => {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                .collect();
            format!("`{word}`")
        }
        Some(c) => format!("`{c}`"),
    }
}

fn found_span(source: &str, position: usize) -> Span {
    let position = position.min(source.len());
    let rest = &source[position..];
    let len = match rest.chars().next() {
        None => 0,
        Some(c) if c.is_ascii_alphanumeric() || c == '_' => rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
            .count(),
        Some(c) => c.len_utf8(),
    };
    Span::new(position, position + len)
}

/// A hint for the most common slips.
fn syntax_help(source: &str, position: usize, expected: &[String]) -> Option<String> {
    let rest = &source[position.min(source.len())..];
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if matches!(
        word.as_str(),
        "data"
            | "model"
            | "cell"
            | "train"
            | "let"
            | "param"
            | "next"
            | "return"
            | "repeat"
            | "on"
            | "state"
    ) && expected.iter().any(|e| e == "a name")
    {
        return Some(format!(
            "`{word}` is a keyword and cannot be used as a name"
        ));
    }
    if rest.is_empty()
        && expected
            .iter()
            .any(|e| e == "`}`" || e == "`)`" || e == "`]`")
    {
        return Some("a bracket opened earlier is never closed".to_string());
    }
    if rest.starts_with('=') && expected.iter().any(|e| e == "`:`") {
        return Some(
            "declare a shape or type with `:`, as in `x: [3, 32, 32]` or `stride: int = 1`"
                .to_string(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_of_whitespace_and_comments_is_empty() {
        for source in ["", "\n", " \t\r\n\n", "# a\n", "  # a\r\n\n# b"] {
            let d = empty_program(source).unwrap_or_else(|| panic!("{source:?} is empty"));
            assert_eq!(d.code, Code::E0004);
            assert_eq!(d.span(), Span::new(0, 0));
            // The parser agrees: no items.
            let (program, diagnostics) = parse(source);
            assert!(diagnostics.is_empty(), "{source:?}");
            assert!(program.expect("parses").items.is_empty(), "{source:?}");
        }
        assert!(
            empty_program("# a").unwrap().labels[0]
                .message
                .contains("only comments")
        );
        assert!(
            empty_program(" \n").unwrap().labels[0]
                .message
                .contains("only whitespace")
        );
        assert!(
            empty_program("").unwrap().labels[0]
                .message
                .contains("nothing")
        );
    }

    #[test]
    fn anything_else_is_not_empty() {
        // An item, a syntax error, whitespace the grammar does not skip.
        for source in [
            "model M(x: [1]) { dense(1) }",
            "# a\nmodel",
            "x",
            "\u{A0}",
            "\u{FEFF}",
        ] {
            assert!(empty_program(source).is_none(), "{source:?}");
        }
    }
}
