//! Robustness test: thousands of truncated and mutated variants of every
//! example program go through the whole front end (parse, check, render the
//! diagnostics, and the text and JSON reports), and none of them may panic.
//!
//! The mutations come from a small deterministic PRNG with a constant seed,
//! so every run feeds exactly the same inputs. A failure lists each distinct
//! panic (by message location) with a minimised input that triggers it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;

use dl::diagnostic::Severity;

/// Mutated variants generated per example file (on top of the truncations).
const MUTANTS_PER_FILE: usize = 450;
/// At most this many truncations per example file.
const MAX_TRUNCATIONS_PER_FILE: usize = 250;

// ---------------------------------------------------------------------------
// Deterministic PRNG (splitmix64).

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------
// Running the front end.

/// Everything the CLI does with a source file, minus the printing.
fn front_end(source: &str) {
    let (program, diagnostics) = dl::check_source(source);
    let _ = dl::diagnostic::render("fuzz.dl", source, &diagnostics, false);
    for expand in [false, true] {
        let value = dl::report::render_json(program.as_ref(), &diagnostics, source, expand);
        let _ = value.to_string();
    }
    let has_error = diagnostics.iter().any(|d| d.severity == Severity::Error);
    if !has_error && let Some(program) = &program {
        for expand in [false, true] {
            let _ = dl::report::render_text(program, expand);
        }
    }
}

thread_local! {
    /// Message and location of the last panic on this thread.
    static LAST_PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Runs the front end on `source`; on a panic returns `(location, message)`.
fn run(source: &str) -> Option<(String, String)> {
    LAST_PANIC.with(|p| *p.borrow_mut() = None);
    let result = panic::catch_unwind(AssertUnwindSafe(|| front_end(source)));
    match result {
        Ok(()) => None,
        Err(payload) => {
            let recorded = LAST_PANIC.with(|p| p.borrow_mut().take());
            Some(recorded.unwrap_or_else(|| {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "<non-string panic payload>".to_string());
                ("<unknown location>".to_string(), message)
            }))
        }
    }
}

/// Shrinks `source` while it still panics at `location`: greedily deletes
/// chunks of chars, halving the chunk size whenever a whole pass deletes
/// nothing, until no single char can go (or the run budget is spent).
fn minimise(source: &str, location: &str) -> String {
    let still_fails = |s: &str| matches!(run(s), Some((loc, _)) if loc == location);
    let mut current: Vec<char> = source.chars().collect();
    let mut budget = 20_000usize;
    let mut chunk = (current.len() / 2).max(1);
    while budget > 0 && !current.is_empty() {
        chunk = chunk.min(current.len());
        let mut progress = false;
        let mut start = 0;
        while start < current.len() && budget > 0 {
            let end = (start + chunk).min(current.len());
            let candidate: String = current[..start].iter().chain(&current[end..]).collect();
            budget -= 1;
            if still_fails(&candidate) {
                current = candidate.chars().collect();
                progress = true;
            } else {
                start += chunk;
            }
        }
        if !progress {
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
    }
    current.into_iter().collect()
}

// ---------------------------------------------------------------------------
// Mutations.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ident,
    Number,
    Other,
}

/// A rough token: its byte range and kind.
#[derive(Clone, Copy)]
struct Token {
    start: usize,
    end: usize,
    kind: Kind,
}

/// Splits `source` into identifiers, numbers and single other chars
/// (whitespace is skipped).
fn tokens(source: &str) -> Vec<Token> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b.is_ascii_alphabetic() || b == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push(Token {
                start,
                end: i,
                kind: Kind::Ident,
            });
        } else if b.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
                i += 1;
                if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
                    i += 1;
                }
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
            out.push(Token {
                start,
                end: i,
                kind: Kind::Number,
            });
        } else {
            let len = source[i..].chars().next().map_or(1, char::len_utf8);
            out.push(Token {
                start: i,
                end: i + len,
                kind: Kind::Other,
            });
            i += len;
        }
    }
    out
}

fn splice(source: &str, start: usize, end: usize, with: &str) -> String {
    let mut s = String::with_capacity(source.len() + with.len());
    s.push_str(&source[..start]);
    s.push_str(with);
    s.push_str(&source[end..]);
    s
}

/// The nearest char boundary at or below `i`.
fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "99999999999",
    "1e400",
    "0.5",
    "-0",
    "1e-400",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967296",
    "2147483648",
    "1.0",
    "00",
];
const PUNCT: &[&str] = &[
    "(", ")", "[", "]", "{", "}", ",", "=", "->", "@", "\"", "#", "-", "+", "*", "/", ":", ".",
    "|", "\\", "\n", "\r\n", "\t", "\0", "é", "∞", "😀",
];
const WORDS: &[&str] = &[
    "data", "model", "cell", "train", "let", "param", "next", "return", "repeat", "on", "state",
    "int", "float", "x", "_", "zeros", "concat", "relu", "dense", "conv2d", "axis", "é", "∞",
];

fn near_miss(rng: &mut Rng, word: &str) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    match rng.below(5) {
        0 if chars.len() > 1 => {
            chars.remove(rng.below(chars.len()));
        }
        1 => {
            let c = (b'a' + rng.below(26) as u8) as char;
            chars.insert(rng.below(chars.len() + 1), c);
        }
        2 if chars.len() > 1 => {
            let i = rng.below(chars.len() - 1);
            chars.swap(i, i + 1);
        }
        3 => {
            let i = rng.below(chars.len());
            chars[i] = if chars[i].is_ascii_uppercase() {
                chars[i].to_ascii_lowercase()
            } else {
                chars[i].to_ascii_uppercase()
            };
        }
        _ => {
            let i = rng.below(chars.len());
            chars[i] = (b'a' + rng.below(26) as u8) as char;
        }
    }
    chars.into_iter().collect()
}

/// Applies one random mutation to `source`.
fn mutate(rng: &mut Rng, source: &str) -> String {
    let toks = tokens(source);
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let of_kind =
        |k: Kind| -> Vec<Token> { toks.iter().copied().filter(|t| t.kind == k).collect() };
    match rng.below(9) {
        // Delete a span of 1..=4 tokens.
        0 if !toks.is_empty() => {
            let i = rng.below(toks.len());
            let j = (i + rng.below(4)).min(toks.len() - 1);
            splice(source, toks[i].start, toks[j].end, "")
        }
        // Duplicate a line.
        1 if !lines.is_empty() => {
            let i = rng.below(lines.len());
            let copy = format!("{}\n", lines[i].trim_end_matches('\n'));
            let mut out: Vec<&str> = lines.clone();
            out.insert(i, &copy);
            out.concat()
        }
        // Swap two lines.
        2 if lines.len() > 1 => {
            let mut out: Vec<String> = lines
                .iter()
                .map(|l| l.trim_end_matches('\n').to_string())
                .collect();
            let i = rng.below(out.len());
            let j = rng.below(out.len());
            out.swap(i, j);
            out.join("\n")
        }
        // Replace a number.
        3 => {
            let nums = of_kind(Kind::Number);
            if nums.is_empty() {
                return source.to_string();
            }
            let t = rng.pick(&nums);
            splice(source, t.start, t.end, rng.pick(NUMBERS))
        }
        // Replace an identifier with a near miss.
        4 => {
            let ids = of_kind(Kind::Ident);
            if ids.is_empty() {
                return source.to_string();
            }
            let t = rng.pick(&ids);
            let new = near_miss(rng, &source[t.start..t.end]);
            splice(source, t.start, t.end, &new)
        }
        // Replace an identifier with another one from the file, or a keyword.
        5 => {
            let ids = of_kind(Kind::Ident);
            if ids.is_empty() {
                return source.to_string();
            }
            let t = rng.pick(&ids);
            let new = if rng.below(4) == 0 {
                rng.pick(WORDS).to_string()
            } else {
                let o = rng.pick(&ids);
                source[o.start..o.end].to_string()
            };
            splice(source, t.start, t.end, &new)
        }
        // Insert punctuation at a token boundary (or anywhere).
        6 => {
            let at = if toks.is_empty() || rng.below(3) == 0 {
                floor_boundary(source, rng.below(source.len() + 1))
            } else {
                let t = rng.pick(&toks);
                if rng.below(2) == 0 { t.start } else { t.end }
            };
            splice(source, at, at, rng.pick(PUNCT))
        }
        // Replace a random byte range with random ASCII.
        7 => {
            let start = floor_boundary(source, rng.below(source.len() + 1));
            let end = floor_boundary(source, start + rng.below(12));
            let len = rng.below(10);
            let junk: String = (0..len)
                .map(|_| (0x20 + rng.below(0x5f) as u8) as char)
                .collect();
            splice(source, start, end, &junk)
        }
        // Replace a number with an expression, an identifier or a keyword.
        _ => {
            let nums = of_kind(Kind::Number);
            if nums.is_empty() {
                return source.to_string();
            }
            let t = rng.pick(&nums);
            let with = match rng.below(4) {
                0 => format!("-{}", &source[t.start..t.end]),
                1 => format!("{} * 0", &source[t.start..t.end]),
                2 => "\"s\"".to_string(),
                _ => rng.pick(WORDS).to_string(),
            };
            splice(source, t.start, t.end, &with)
        }
    }
}

// ---------------------------------------------------------------------------
// The test.

fn examples() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "dl"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).expect("example is readable");
            (name, text)
        })
        .collect()
}

/// All inputs derived from one example: the example itself, its
/// truncations, then its mutants.
fn variants(rng: &mut Rng, source: &str) -> Vec<String> {
    let mut out = vec![source.to_string()];
    let boundaries: Vec<usize> = source
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(source.len()))
        .collect();
    let stride = boundaries.len().div_ceil(MAX_TRUNCATIONS_PER_FILE).max(1);
    // Start at an offset so that a stride > 1 still hits odd positions.
    for &b in boundaries.iter().skip(rng.below(stride)).step_by(stride) {
        out.push(source[..b].to_string());
    }
    for _ in 0..MUTANTS_PER_FILE {
        // Stack 1 to 3 mutations.
        let mut s = source.to_string();
        for _ in 0..1 + rng.below(3) {
            s = mutate(rng, &s);
        }
        out.push(s);
    }
    out
}

/// A panic found while fuzzing one example.
struct Failure {
    message: String,
    example: String,
    input: String,
    count: usize,
}

/// Feeds every variant of one example through the front end; returns the
/// panics by location, and the number of inputs tried.
fn fuzz_example(index: usize, name: &str, source: &str) -> (BTreeMap<String, Failure>, usize) {
    // One generator per example, so the inputs do not depend on scheduling.
    let mut rng = Rng(0x0D15_EED0_2024 ^ (index as u64).wrapping_mul(0x9E37_79B9));
    let inputs = variants(&mut rng, source);
    // Set DL_NO_PANIC_TRACE=DIR to keep each example's current input in
    // DIR/NAME: if the test hangs or aborts, that file holds the culprit.
    let trace = std::env::var_os("DL_NO_PANIC_TRACE").map(|dir| PathBuf::from(dir).join(name));
    let mut failures: BTreeMap<String, Failure> = BTreeMap::new();
    for input in &inputs {
        if let Some(path) = &trace {
            std::fs::write(path, input).expect("trace file is writable");
        }
        if let Some((location, message)) = run(input) {
            failures
                .entry(location)
                .and_modify(|f| f.count += 1)
                .or_insert_with(|| Failure {
                    message,
                    example: name.to_string(),
                    input: input.clone(),
                    count: 1,
                });
        }
    }
    (failures, inputs.len())
}

#[test]
fn front_end_never_panics() {
    let examples = examples();
    assert!(!examples.is_empty(), "no examples found");

    // Record panic messages and locations instead of printing them.
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map_or("<unknown location>".to_string(), |l| {
                format!("{}:{}", l.file(), l.line())
            });
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "<non-string panic payload>".to_string());
        LAST_PANIC.with(|p| *p.borrow_mut() = Some((location, message)));
    }));

    // One thread per example; the results are merged in example order.
    let results: Vec<(BTreeMap<String, Failure>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = examples
            .iter()
            .enumerate()
            .map(|(i, (name, source))| scope.spawn(move || fuzz_example(i, name, source)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("fuzzing thread"))
            .collect()
    });

    let mut total = 0;
    let mut failures: BTreeMap<String, Failure> = BTreeMap::new();
    for (found, count) in results {
        total += count;
        for (location, failure) in found {
            failures
                .entry(location)
                .and_modify(|f| f.count += failure.count)
                .or_insert(failure);
        }
    }

    let report = failures
        .iter()
        .map(|(location, f)| {
            let small = minimise(&f.input, location);
            format!(
                "panic at {location} ({} inputs, first from {}): {}\nminimised input: {small:?}\n",
                f.count, f.example, f.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    panic::set_hook(previous_hook);

    assert!(total >= 5000, "only {total} inputs were generated");
    assert!(
        failures.is_empty(),
        "{} distinct panic(s) in {total} inputs:\n\n{report}",
        failures.len()
    );
}
