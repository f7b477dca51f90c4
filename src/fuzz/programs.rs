//! A structure-aware program generator: the fuzzer's bytes choose a whole
//! `.dl` program (data sets, a cell, models, train blocks) from the
//! language's grammar, so that mutations reach the checker and the reports
//! instead of stopping at the first syntax error as random text does.
//!
//! Two things random text almost never reaches are chosen on purpose:
//! - nesting far past the front end's limit (more than 10,000 levels of
//!   brackets, calls, unary signs, `repeat` blocks) and long flat chains
//!   (`x + x + ...`, `x -> relu -> ...`), each on either side of the limit;
//! - sizes at the edges of the integers (0, 2^31, 2^63 - 1, 2^64) and ones
//!   that make a model larger than any machine, for the memory estimate.

use std::fmt::Write;

/// The fuzzer's bytes read as a sequence of choices; past their end every
/// choice is the first, so any byte string is a program.
struct Choices<'a> {
    bytes: &'a [u8],
}

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((&b, rest)) => {
                self.bytes = rest;
                b
            }
            None => 0,
        }
    }

    /// A number in `0..n` (`n` at least 1), from as many bytes as it needs.
    fn below(&mut self, n: usize) -> usize {
        let mut value = 0usize;
        let mut range = 1usize;
        while range < n {
            value = value << 8 | usize::from(self.byte());
            range = range.saturating_mul(256);
        }
        value % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// True with probability `chance / 256`.
    fn chance(&mut self, chance: u8) -> bool {
        self.byte() < chance
    }
}

/// Sizes a program may give a layer: the usual ones, and the edges.
const SIZES: [&str; 20] = [
    "1",
    "2",
    "3",
    "4",
    "8",
    "10",
    "16",
    "28",
    "32",
    "64",
    "0",
    "-1",
    "100000",
    "2147483647",
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "18446744073709551616",
    "C",
    "n",
];

/// Fractions: dropout rates, split sizes, learning rates.
const FRACTIONS: [&str; 8] = ["0.5", "0.1", "0.0", "1.0", "1.5", "-0.2", "1e308", "0.001"];

const ACTIVATIONS: [&str; 9] = [
    "relu",
    "tanh",
    "sigmoid",
    "softmax",
    "flatten",
    "batchnorm",
    "layernorm",
    "last",
    "exp",
];

/// The most levels a deep construct takes: twice the limit the issue asks
/// the front end to survive.
const DEEPEST: usize = 20_000;

/// The program these bytes choose.
pub fn generate(bytes: &[u8]) -> String {
    let mut c = Choices { bytes };
    let mut out = String::new();
    let data_sets = c.below(3);
    for i in 0..data_sets {
        data(&mut c, &mut out, i);
    }
    let with_cell = c.chance(64);
    if with_cell {
        cell(&mut c, &mut out);
    }
    let models = 1 + c.below(3);
    for i in 0..models {
        model(&mut c, &mut out, i, with_cell);
    }
    for _ in 0..c.below(3) {
        train(&mut c, &mut out, models, data_sets);
    }
    out
}

fn data(c: &mut Choices, out: &mut String, i: usize) {
    let source = match c.below(5) {
        0 => format!(
            "synthetic.linear(n = {}, features = {}, noise = {}, seed = 3)",
            c.pick(&SIZES),
            c.pick(&SIZES),
            c.pick(&FRACTIONS)
        ),
        1 => format!(
            "synthetic.blobs(n = {}, classes = {}, features = {}, seed = 1)",
            c.pick(&SIZES),
            c.pick(&SIZES),
            c.pick(&SIZES)
        ),
        2 => "csv(\"missing.csv\", label = \"y\")".to_string(),
        3 => "mnist(\"no/such/folder\")".to_string(),
        _ => format!(
            "series(\"missing.csv\", column = \"y\", window = {})",
            c.pick(&SIZES)
        ),
    };
    let _ = write!(out, "data d{i} = {source}");
    if c.chance(160) {
        let _ = write!(
            out,
            " | standardize | split(val = {}, test = {}, seed = 2)",
            c.pick(&FRACTIONS),
            c.pick(&FRACTIONS)
        );
    }
    out.push('\n');
}

fn cell(c: &mut Choices, out: &mut String) {
    let next = match c.below(3) {
        0 => "tanh(x @ U + h @ W + b)".to_string(),
        1 => format!("sigmoid({})", deep(c, "x @ U + h @ W")),
        _ => "h".to_string(),
    };
    let _ = writeln!(
        out,
        "cell Elman(x: [I], hidden: int) state (h: [hidden] = zeros) {{\n    param U: [I, hidden]\n    param W: [hidden, {}]\n    param b: [hidden] = zeros\n    next h = {next}\n    h\n}}",
        c.pick(&["hidden", "hidden", "I", "3"])
    );
}

fn model(c: &mut Choices, out: &mut String, i: usize, with_cell: bool) {
    let rank = 1 + c.below(3);
    let dims: Vec<&str> = (0..rank)
        .map(|_| c.pick(&["1", "3", "4", "8", "28", "32", "T", "C", "0", "100000"]))
        .collect();
    let mut shape = format!("[{}]", dims.join(", "));
    if c.chance(8) {
        let depth = depth(c);
        shape = format!("{}{shape}{}", "[".repeat(depth), "]".repeat(depth));
    }
    let options = if c.chance(64) { ", n: int = 4" } else { "" };
    let _ = writeln!(out, "model M{i}(x: {shape}{options}) {{");
    let mut budget = 24;
    statements(c, out, 1, &mut budget, i, with_cell);
    out.push_str("}\n");
}

/// A body's statements at `indent`, while `budget` lasts.
fn statements(
    c: &mut Choices,
    out: &mut String,
    indent: usize,
    budget: &mut usize,
    model: usize,
    with_cell: bool,
) {
    let count = 1 + c.below(6);
    for _ in 0..count {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        out.push_str(&"    ".repeat(indent.min(8)));
        match c.below(12) {
            0..=4 => layer(c, out),
            5 => out.push_str(c.pick(&ACTIVATIONS)),
            6 => {
                let _ = writeln!(out, "repeat {} {{", c.pick(&SIZES));
                statements(c, out, indent + 1, budget, model, with_cell);
                out.push_str(&"    ".repeat(indent.min(8)));
                out.push('}');
            }
            7 => {
                let expression = deep(c, "x");
                let _ = write!(out, "let y = {expression}");
            }
            8 if model > 0 => {
                let _ = write!(out, "M{}", c.below(model));
            }
            9 if with_cell => {
                let _ = write!(out, "Elman({}) last", c.pick(&SIZES));
            }
            10 => {
                let _ = write!(out, "param p: [{}, {}]", c.pick(&SIZES), c.pick(&SIZES));
            }
            _ => {
                let _ = write!(
                    out,
                    "x -> {} -> {}",
                    c.pick(&ACTIVATIONS),
                    c.pick(&ACTIVATIONS)
                );
            }
        }
        out.push('\n');
    }
}

fn layer(c: &mut Choices, out: &mut String) {
    let size = if c.chance(16) {
        let depth = depth(c);
        format!("{}3{}", "(".repeat(depth), ")".repeat(depth))
    } else {
        c.pick(&SIZES).to_string()
    };
    let _ = match c.below(10) {
        0 | 1 => write!(out, "dense({size})"),
        2 => write!(
            out,
            "conv2d({size}, kernel = {}, stride = {}, padding = {})",
            c.pick(&SIZES),
            c.pick(&["1", "2", "0", "-1"]),
            c.pick(&["0", "1", "\"same\"", "100000"])
        ),
        3 => write!(out, "conv1d({size}, kernel = {})", c.pick(&SIZES)),
        4 => write!(
            out,
            "{}({}, stride = {})",
            c.pick(&["maxpool", "avgpool"]),
            c.pick(&SIZES),
            c.pick(&["1", "2", "0"])
        ),
        5 => write!(out, "dropout({})", c.pick(&FRACTIONS)),
        6 => write!(out, "{}({size})", c.pick(&["rnn", "lstm", "gru"])),
        7 => write!(out, "embedding({}, {size})", c.pick(&SIZES)),
        8 => write!(out, "reshape([{}, {}])", c.pick(&SIZES), c.pick(&SIZES)),
        _ => write!(out, "global_avgpool"),
    };
}

/// How deep a deep construct goes: mostly around the front end's limit of
/// 256, one time in 32 past 10,000 (such programs take the longest, a
/// pipeline of 10,000 stages a fifth of a second).
fn depth(c: &mut Choices) -> usize {
    if c.chance(8) {
        10_001 + c.below(DEEPEST - 10_000)
    } else {
        c.below(300)
    }
}

/// An expression around `inner`, often nested or chained deep.
fn deep(c: &mut Choices, inner: &str) -> String {
    let depth = depth(c);
    match c.below(7) {
        0 => format!("{}{inner}{}", "(".repeat(depth), ")".repeat(depth)),
        1 => format!("{}{inner}", "-".repeat(depth)),
        2 => format!("{}{inner}{}", "relu(".repeat(depth), ")".repeat(depth)),
        3 => format!("{inner}{}", " + x".repeat(depth)),
        4 => format!("{inner}{}", " -> relu".repeat(depth)),
        5 => format!(
            "concat({inner}, {}, axis = 0)",
            "[".repeat(depth) + &"]".repeat(depth)
        ),
        _ => inner.to_string(),
    }
}

fn train(c: &mut Choices, out: &mut String, models: usize, data_sets: usize) {
    let model = c.below(models);
    let data = c.below(data_sets.max(1));
    let optimizer = match c.below(4) {
        0 => format!("sgd(lr = {})", c.pick(&FRACTIONS)),
        1 => format!("sgd(lr = {}, momentum = 0.9)", c.pick(&FRACTIONS)),
        2 => format!("adam(lr = {})", c.pick(&FRACTIONS)),
        _ => format!("rmsprop(lr = {})", c.pick(&FRACTIONS)),
    };
    let _ = writeln!(
        out,
        "train M{model} on d{data} {{\n    loss = {}  optimizer = {optimizer}\n    epochs = {}  batch = {}  seed = {}\n}}",
        c.pick(&["mse", "cross_entropy", "mae"]),
        c.pick(&SIZES),
        c.pick(&SIZES),
        c.pick(&SIZES)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_bytes_make_a_program_and_some_reach_past_ten_thousand_levels() {
        let empty = generate(&[]);
        assert!(empty.contains("model M0"), "{empty}");
        let deepest = (0u32..2_000)
            .map(|seed| {
                let bytes: Vec<u8> = (0..64u32)
                    .map(|i| (seed.wrapping_mul(2_654_435_761).rotate_left(i) >> 3) as u8)
                    .collect();
                let program = generate(&bytes);
                nesting(&program)
            })
            .max()
            .unwrap();
        assert!(deepest > 10_000, "deepest program: {deepest} levels");
    }

    /// The most brackets open at once, or signs in a row.
    fn nesting(program: &str) -> usize {
        let (mut open, mut most, mut run) = (0usize, 0usize, 0usize);
        for ch in program.chars() {
            match ch {
                '(' | '[' | '{' => open += 1,
                ')' | ']' | '}' => open = open.saturating_sub(1),
                _ => {}
            }
            run = if ch == '-' { run + 1 } else { 0 };
            most = most.max(open).max(run);
        }
        most
    }
}
