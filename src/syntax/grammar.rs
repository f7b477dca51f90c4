//! The pest parser generated from `grammar/dl.pest`.

/// The parser for `.dl` files; its rules are documented in the grammar file.
#[derive(pest_derive::Parser)]
#[grammar = "../grammar/dl.pest"]
pub struct DlParser;
