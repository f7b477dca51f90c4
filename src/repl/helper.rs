//! The line editor's helper: tab completion of commands, model names, data
//! parts, layer paths and files, and multi-line input (a line with an
//! unclosed bracket continues on the next).

use super::command::COMMANDS;
use super::session::Names;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

/// Whether `text` is unfinished `.dl` source: a bracket is still open
/// (brackets inside strings and comments do not count). Commands are
/// always one line.
pub fn needs_more(text: &str) -> bool {
    if text.trim_start().starts_with(':') {
        return false;
    }
    let mut depth = 0i64;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                // A comment runs to the end of its line.
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    depth > 0
}

/// The candidates for completing `line` at byte `pos`: where the replaced
/// word starts, and the words that may replace it. `None` means "complete a
/// file name".
pub fn candidates(names: &Names, line: &str, pos: usize) -> Option<(usize, Vec<String>)> {
    let before = &line[..pos];
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let word = &before[start..];
    let mut words = before.split_whitespace();
    let first = words.next().unwrap_or("");
    let completing_first = start == 0 || before[..start].trim().is_empty();
    let prefixed = |options: Vec<String>| {
        options
            .into_iter()
            .filter(|o| o.starts_with(word))
            .collect::<Vec<String>>()
    };
    // A path matches from its start or from after any dot in it, so
    // `relu_1` completes to `LeNet5.relu_1`.
    let paths = |list: &[String]| {
        list.iter()
            .filter(|p| {
                p.starts_with(word)
                    || p.match_indices('.')
                        .any(|(i, _)| p[i + 1..].starts_with(word))
            })
            .cloned()
            .collect::<Vec<String>>()
    };
    let layers = || paths(&names.layers);
    if !first.starts_with(':') {
        // Source being typed: the built-in layers and functions (from their
        // specs, as `dl check` and the docs know them), models and data.
        let mut options: Vec<String> = crate::nn::Builtin::ALL
            .iter()
            .map(|b| b.name().to_string())
            .collect();
        options.extend(names.models.iter().cloned());
        options.extend(
            names
                .parts
                .iter()
                .map(|p| p.split('.').next().unwrap_or(p).to_string()),
        );
        options.dedup();
        return Some((start, prefixed(options)));
    }
    if completing_first {
        let options = COMMANDS.iter().map(|c| format!(":{}", c.name)).collect();
        return Some((start, prefixed(options)));
    }
    let options = match first.trim_start_matches(':') {
        "use" => names.models.clone(),
        "help" => COMMANDS.iter().map(|c| c.name.to_string()).collect(),
        "input" if before[..start].split_whitespace().count() == 1 => {
            let mut options = vec!["random".to_string()];
            options.extend(names.parts.iter().cloned());
            let matching = prefixed(options);
            if matching.is_empty() {
                return None;
            }
            return Some((start, matching));
        }
        "show" => {
            let mut all = layers();
            all.extend(paths(&names.params));
            return Some((start, all));
        }
        "params" => return Some((start, layers())),
        "break" => {
            let mut all = prefixed(vec!["nan".to_string(), "off".to_string()]);
            all.extend(layers());
            return Some((start, all));
        }
        "load" | "weights" => return None,
        _ => Vec::new(),
    };
    Some((start, prefixed(options)))
}

/// The rustyline helper of `dl repl`.
pub struct DlHelper {
    /// What can be completed now; the session refreshes it after each input.
    pub names: Names,
    files: FilenameCompleter,
}

impl DlHelper {
    /// A helper completing `names`.
    pub fn new(names: Names) -> DlHelper {
        DlHelper {
            names,
            files: FilenameCompleter::new(),
        }
    }
}

impl Completer for DlHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        match candidates(&self.names, line, pos) {
            Some((start, words)) => Ok((
                start,
                words
                    .into_iter()
                    .map(|w| Pair {
                        display: display(&w),
                        replacement: w,
                    })
                    .collect(),
            )),
            None => self.files.complete(line, pos, ctx),
        }
    }
}

/// How a candidate is listed: a built-in with its signature and defaults
/// (`conv2d(out, kernel, stride = 1, ...)`), anything else as it is.
fn display(word: &str) -> String {
    crate::nn::Builtin::from_name(word).map_or_else(|| word.to_string(), |b| b.signature())
}

impl Hinter for DlHelper {
    type Hint = String;
}

impl Highlighter for DlHelper {}

impl Validator for DlHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if needs_more(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

impl Helper for DlHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names {
            models: vec!["LeNet5".into(), "Line".into()],
            parts: vec!["digits.train".into(), "digits.test".into()],
            layers: vec![
                "LeNet5.x".into(),
                "LeNet5.relu_0".into(),
                "LeNet5.relu_1".into(),
            ],
            params: vec!["LeNet5.conv2d_0.weight".into()],
        }
    }

    fn complete(line: &str) -> Option<(usize, Vec<String>)> {
        candidates(&names(), line, line.len())
    }

    #[test]
    fn open_brackets_continue() {
        assert!(needs_more("model M(x: [4]) {"));
        assert!(needs_more("model M(x: [4]) {\n dense(3"));
        assert!(!needs_more("model M(x: [4]) {\n dense(3) }"));
        assert!(!needs_more("model M(x: [4]) { # {\n}"));
        assert!(!needs_more("data d = csv(\"a(.csv\", label = \"y\")"));
        assert!(!needs_more(":show ("));
        assert!(!needs_more("dense(3))"));
    }

    #[test]
    fn completes_commands_and_their_arguments() {
        assert_eq!(complete(":st"), Some((0, vec![":step".into()])));
        assert_eq!(complete(":use Le"), Some((5, vec!["LeNet5".into()])));
        assert_eq!(
            complete(":input di"),
            Some((7, vec!["digits.train".into(), "digits.test".into()]))
        );
        assert_eq!(complete(":input r"), Some((7, vec!["random".into()])));
        assert_eq!(complete(":input ./x"), None);
        assert_eq!(
            complete(":break relu"),
            Some((7, vec!["LeNet5.relu_0".into(), "LeNet5.relu_1".into()]))
        );
        assert_eq!(
            complete(":show LeNet5.c"),
            Some((6, vec!["LeNet5.conv2d_0.weight".into()]))
        );
        assert_eq!(
            complete(":show conv2d_0.w"),
            Some((6, vec!["LeNet5.conv2d_0.weight".into()]))
        );
        assert_eq!(complete(":load exa"), None);
        assert_eq!(complete("train Li"), Some((6, vec!["Line".into()])));
        assert_eq!(
            complete("dense(10) conv"),
            Some((10, vec!["conv1d".into(), "conv2d".into()]))
        );
        assert_eq!(
            display("maxpool"),
            "maxpool(kernel, stride = kernel, padding = 0, round = \"floor\")"
        );
        assert_eq!(display("LeNet5"), "LeNet5");
        assert_eq!(complete(":use\u{3000}Li"), Some((7, vec!["Line".into()])));
    }
}
