//! The wording of shapes: operands that do not broadcast (with the projection
//! a residual sum needs), `@`, a model's input, and a cell's sequence.

use super::CheckError;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::dim::Dim;
use crate::ir::shape::Shape;
use crate::span::Span;

/// Renders the variants of shapes.
pub(super) fn render(error: CheckError) -> Diagnostic {
    match error {
        CheckError::BroadcastMismatch {
            op,
            a,
            a_span,
            b,
            b_span,
            span,
            residual,
        } => {
            let d = Diagnostic::error(
                Code::E0301,
                format!("shapes {a} and {b} do not broadcast for `{op}`"),
                span,
                "incompatible operands",
            )
            .with_label(a_span, format!("this is {a}"))
            .with_label(b_span, format!("this is {b}"));
            match residual {
                None => d.with_note(
                    "axes are compared from the right; each pair must be equal or one of them 1",
                ),
                Some(r) => d.with_note(r.note()).with_help(r.help()),
            }
        }
        CheckError::MatmulMismatch {
            a,
            a_span,
            b,
            b_span,
            span,
        } => matmul_mismatch(&a, a_span, &b, b_span, span),
        CheckError::InputMismatch {
            model,
            expected,
            actual,
            is_cell,
            use_span,
            input_span,
            declared,
        } => input_mismatch(
            &model.name,
            &expected,
            &actual,
            is_cell,
            [use_span, input_span, declared],
        ),
        CheckError::CellNeedsSequence { shape, span } => Diagnostic::error(
            Code::E0309,
            "a cell needs a sequence input [T, ...]",
            span,
            format!("the input is {shape}"),
        ),
        other => unreachable!("not a diagnostic of shapes: {other:?}"),
    }
}

/// A residual sum `branch + skip` whose branch, computed from the shortcut
/// `skip`, changed its channels (or features) or its spatial size.
#[derive(Clone, Debug, PartialEq)]
pub struct Residual {
    /// The shortcut as written (`x`).
    pub skip: String,
    /// The branch as written (`y`).
    pub branch: String,
    /// The sum with `skip` in place of the shortcut (`y + skip`).
    pub fixed: String,
    /// The projection's layer: `conv2d`, `conv1d` or `dense`.
    pub layer: &'static str,
    /// The channels (features, for `dense`) of the shortcut and the branch.
    pub channels: (Dim, Dim),
    /// The spatial sizes of the shortcut and the branch (empty for `dense`).
    pub sizes: (Vec<Dim>, Vec<Dim>),
    /// The stride per spatial axis of a 1x1 projection that gives the
    /// branch's size, if one does.
    pub stride: Option<Vec<i64>>,
}

impl Residual {
    fn channels_differ(&self) -> bool {
        self.channels.0 != self.channels.1
    }

    fn sizes_differ(&self) -> bool {
        self.sizes.0 != self.sizes.1
    }

    fn note(&self) -> String {
        let (skip, branch) = (&self.skip, &self.branch);
        let what = if self.layer == "dense" {
            "features"
        } else {
            "channels"
        };
        // A symbolic count reads as the name it is: `out` channels.
        let count = |d: &Dim| match d.as_known() {
            Some(n) => n.to_string(),
            None => format!("`{d}`"),
        };
        let mut parts = Vec::new();
        if self.channels_differ() {
            parts.push(format!(
                "`{branch}` has {} {what} where `{skip}` has {}",
                count(&self.channels.1),
                count(&self.channels.0)
            ));
        }
        if self.sizes_differ() {
            let size = |dims: &[Dim]| {
                let dims: Vec<String> = dims.iter().map(Dim::to_string).collect();
                format!("[{}]", dims.join(", "))
            };
            let stride = match self.stride.as_deref() {
                Some([s]) => format!(" (stride {s})"),
                Some(s) if s.iter().all(|&v| v == s[0]) => format!(" (stride {})", s[0]),
                Some(s) => format!(" (stride {s:?})"),
                None => String::new(),
            };
            let lead = if parts.is_empty() {
                format!("`{branch}` has")
            } else {
                "and".to_string()
            };
            parts.push(format!(
                "{lead} size {}{stride} where `{skip}` has {}",
                size(&self.sizes.1),
                size(&self.sizes.0)
            ));
        }
        format!(
            "a residual sum needs the branch to keep the shortcut's shape: {}",
            parts.join(", ")
        )
    }

    fn help(&self) -> String {
        let skip = if self.skip.chars().all(|c| c.is_alphanumeric() || c == '_') {
            self.skip.clone()
        } else {
            format!("({})", self.skip)
        };
        let out = &self.channels.1;
        if self.layer == "dense" {
            return format!(
                "project the shortcut: `let skip = {skip} -> dense({out})`, then write `{}`",
                self.fixed
            );
        }
        let stride = match self.stride.as_deref() {
            _ if !self.sizes_differ() => String::new(),
            Some(s) if s.iter().all(|&v| v == s[0]) => format!(", stride = {}", s[0]),
            Some(s) => format!(", stride = {s:?}"),
            None => String::new(),
        };
        let projection = format!(
            "`let skip = {skip} -> {}({out}, kernel = 1{stride})`, then write `{}`",
            self.layer, self.fixed
        );
        match (self.sizes_differ(), &self.stride) {
            (true, None) if self.channels_differ() => format!(
                "keep the size in the branch with padding (`padding = 1` for `kernel = 3`), and \
                 project the shortcut to {out} channels: {projection}"
            ),
            (true, None) => "keep the size in the branch with padding (`padding = 1` for \
                             `kernel = 3`)"
                .to_string(),
            _ => format!("project the shortcut: {projection}"),
        }
    }
}

/// `@` with inner dimensions that differ.
fn matmul_mismatch(a: &Shape, a_span: Span, b: &Shape, b_span: Span, span: Span) -> Diagnostic {
    let inner_a = a
        .dims
        .last()
        .map(|d| d.to_string())
        .unwrap_or_else(|| "none".into());
    let inner_b = match b.rank() {
        0 => "none".to_string(),
        1 => b.dims[0].to_string(),
        r => b.dims[r - 2].to_string(),
    };
    Diagnostic::error(Code::E0302, format!("cannot multiply {a} by {b}"), span, "matrix product of mismatched shapes")
        .with_label(a_span, format!("this is {a}"))
        .with_label(b_span, format!("this is {b}"))
        .with_note(format!("the last axis of the left operand ({inner_a}) must equal the first axis of a matrix on the right ({inner_b})"))
}

/// A model used on an input of the wrong shape.
fn input_mismatch(
    model: &str,
    expected: &str,
    actual: &Shape,
    is_cell: bool,
    [use_span, input_span, declared]: [Span; 3],
) -> Diagnostic {
    let kind = if is_cell { "cell" } else { "model" };
    // Shown with the batch, like the actual shape it is compared with.
    let expected = match expected.strip_prefix('[') {
        Some("]") => "[N]".to_string(),
        Some(rest) => format!("[N, {rest}"),
        None => expected.to_string(),
    };
    let d = Diagnostic::error(
        Code::E0309,
        format!("{kind} `{model}` does not accept this input"),
        use_span,
        format!(
            "expects {expected}{}",
            if is_cell { " per step" } else { "" }
        ),
    )
    .with_label(declared, "input declared here");
    let d = if input_span != use_span {
        d.with_label(input_span, format!("this is {actual}"))
    } else {
        d.with_note(format!("the input is {actual}"))
    };
    let declared_rank = expected.matches(',').count() + usize::from(expected != "[]");
    let d = if !is_cell && declared_rank > 1 && actual.rank() == 1 {
        let dims = expected.trim_start_matches("[N, ").trim_end_matches(']');
        d.with_help(format!("add `| reshape([{dims}])` to the data declaration"))
    } else if !is_cell && declared_rank == 1 && actual.rank() > 1 {
        d.with_help(format!("declare the input as `{}` and start the body with `flatten`, or add `| reshape([...])` to the data", Shape { batched: false, dims: actual.dims.clone() }))
    } else {
        d
    };
    if is_cell {
        d.with_note("a cell maps a sequence [T, ...] step by step; its declared input is one step")
    } else {
        d
    }
}
