//! Where a built-in is written, for its diagnostics.

use crate::span::Span;

/// Where a layer is written, for diagnostics.
#[derive(Clone, Copy, Debug)]
pub struct Site {
    /// The whole call.
    pub span: Span,
    /// Where the input came from.
    pub input_span: Span,
}
