//! Every seeded random stream, in one place. A stream is ChaCha8 keyed with
//! `ChaCha8Rng::seed_from_u64(seed)` and, for the data's purposes, a ChaCha
//! stream number of its own (`set_stream`), so that one seed gives
//! independent sequences for a split, a shuffle and each epoch's batch
//! order. The values drawn depend on nothing but the seed and the purpose:
//! the same on every run, platform and thread count.
//!
//! | stream | seeded by | used for |
//! |---|---|---|
//! | [`parameters`] | the run's `seed` | initial weights, in graph order |
//! | [`data`] with [`SHUFFLE`], [`SPLIT`] | the transform's `seed` | `shuffle`, `split` |
//! | [`batches`] | the run's `seed`, the epoch | the order of the batches of an epoch |
//! | [`data`] with [`LINEAR`], [`BLOBS`] | the source's `seed` | `synthetic.*` rows |
//! | [`dropout`] | [`dropout_seed`] of the run's seed, epoch and step | the masks of one training step (a cell draws a child stream per use from it) |
//! | [`generator`] | a command's `--seed` | `dl sample`'s characters, `dl bench`'s synthetic batches, the REPL's `:use` weights |

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `shuffle(seed)`.
pub const SHUFFLE: u64 = 1 << 56;
/// `split(seed)`.
pub const SPLIT: u64 = 2 << 56;
/// Per-epoch batch order; the epoch number is added.
pub const BATCH: u64 = 3 << 56;
/// `synthetic.linear`.
pub const LINEAR: u64 = 4 << 56;
/// `synthetic.blobs`.
pub const BLOBS: u64 = 5 << 56;

/// A plain generator for `seed` (ChaCha stream 0).
pub fn generator(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// The generator of the data's purpose `stream` ([`SHUFFLE`], [`SPLIT`],
/// [`LINEAR`], [`BLOBS`]) for `seed`.
pub fn data(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = generator(seed);
    rng.set_stream(stream);
    rng
}

/// The initial parameters of a run with `seed`.
pub fn parameters(seed: u64) -> ChaCha8Rng {
    generator(seed)
}

/// The batch order of `epoch` of a run with `seed`.
pub fn batches(seed: u64, epoch: u64) -> ChaCha8Rng {
    data(seed, BATCH | (epoch & ((1 << 56) - 1)))
}

/// The dropout seed of training step `step` of `epoch` of a run with `seed`.
pub fn dropout_seed(seed: u64, epoch: u64, step: u64) -> u64 {
    seed ^ (epoch << 32) ^ step
}

/// The dropout masks of one forward pass, from [`dropout_seed`] (0 in
/// evaluation, where dropout draws nothing).
pub fn dropout(seed: u64) -> ChaCha8Rng {
    generator(seed)
}
