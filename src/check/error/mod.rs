//! Every diagnostic the checker emits, with its code and its prose, one file
//! per stage whose mistakes it words (re-exported here, so callers write
//! `error::foo`). The checker decides *what* is wrong; this folder alone
//! decides how to say it.

mod arguments;
mod names;
mod shapes;
mod statements;

pub use arguments::*;
pub use names::*;
pub use shapes::*;
pub use statements::*;

pub use crate::nn::error::{invalid_value, reshape_count};

use crate::diagnostic::Diagnostic;

/// The closest candidate to `name`, if one is close enough to be a typo.
pub fn suggest<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let limit = (name.len() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name && !c.is_empty())
        .map(|c| (strsim::osa_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

fn with_suggestion(diagnostic: Diagnostic, name: &str, candidates: &[String]) -> Diagnostic {
    match suggest(name, candidates.iter().map(String::as_str)) {
        Some(best) => diagnostic.with_help(format!("did you mean `{best}`?")),
        None => diagnostic,
    }
}
