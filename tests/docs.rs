//! The reference tables in `docs/language.md` are those of the code: every
//! built-in has its row, printed from its spec (signature with defaults,
//! shapes, parameters).

use dl::nn::Builtin;

#[test]
fn every_builtin_has_its_docs_row() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/language.md"))
        .expect("docs/language.md is readable");
    let missing: Vec<String> = Builtin::ALL
        .iter()
        .map(|b| b.doc_row())
        .filter(|row| !docs.lines().any(|line| line == row))
        .collect();
    assert!(
        missing.is_empty(),
        "rows missing from docs/language.md (or different there):\n{}",
        missing.join("\n")
    );
}
