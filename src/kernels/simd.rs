//! The vector instructions the hand-written loops run with, chosen at run
//! time: AVX-512 where the CPU has it, else AVX2 with FMA, else the x86-64
//! baseline (SSE2) the binary is built for. Nothing is chosen at compile
//! time (`-C target-cpu`), so one binary is fast on every machine.
//!
//! A loop is written once, as plain Rust, inside [`multiversion!`], which
//! compiles it three times (with each instruction set enabled, so that LLVM
//! vectorises it as wide as the CPU allows) and calls the one [`level`]
//! picks. NOTE: Rust never fuses a multiply and an add on its own, so the
//! three compilations do the same operations in the same order: results are
//! bit-identical whichever runs (a test checks it on every level the
//! machine has).
//!
//! The environment variable `DL_SIMD` (`baseline`, `avx2` or `avx512`)
//! lowers the level, for comparing them; a level the CPU lacks is never
//! used.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction-set level, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// x86-64's baseline (SSE2), or any other architecture.
    Baseline,
    /// AVX2 and FMA (x86-64-v3).
    Avx2,
    /// AVX-512 F, VL, BW and DQ (x86-64-v4).
    Avx512,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 3] = [Level::Baseline, Level::Avx2, Level::Avx512];

    /// The best level this CPU supports.
    pub fn detected() -> Level {
        static DETECTED: OnceLock<Level> = OnceLock::new();
        *DETECTED.get_or_init(detect)
    }

    /// The level named `name` as `DL_SIMD` spells it.
    pub fn parse(name: &str) -> Option<Level> {
        match name.trim().to_ascii_lowercase().as_str() {
            "baseline" | "sse2" | "none" => Some(Level::Baseline),
            "avx2" => Some(Level::Avx2),
            "avx512" | "avx-512" => Some(Level::Avx512),
            _ => None,
        }
    }

    fn code(self) -> u8 {
        self as u8 + 1
    }

    fn from_code(code: u8) -> Option<Level> {
        Level::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Level {
    if is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
    {
        Level::Avx512
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        Level::Avx2
    } else {
        Level::Baseline
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Level {
    Level::Baseline
}

/// A level set by [`force`] (0: none).
static FORCED: AtomicU8 = AtomicU8::new(0);

/// The level the loops run with: the detected one, lowered by `DL_SIMD` or
/// [`force`].
pub fn level() -> Level {
    static FROM_ENV: OnceLock<Option<Level>> = OnceLock::new();
    let asked = Level::from_code(FORCED.load(Ordering::Relaxed)).or_else(|| {
        *FROM_ENV.get_or_init(|| std::env::var("DL_SIMD").ok().and_then(|v| Level::parse(&v)))
    });
    match asked {
        Some(level) => level.min(Level::detected()),
        None => Level::detected(),
    }
}

/// Makes every loop run at `level` (at most the detected one) from now on,
/// in every thread, or at the detected level again with `None`: for tests
/// and measurements comparing the levels.
pub fn force(level: Option<Level>) {
    FORCED.store(level.map_or(0, Level::code), Ordering::Relaxed);
}

/// Defines a function whose body is compiled once per [`Level`] and run at
/// [`level`]: `multiversion! { /// docs \n pub fn name(a: T, ...) -> R { body } }`.
/// The body may use no generics of its own; functions it calls should be
/// `#[inline(always)]` so that they are compiled with it.
#[macro_export]
#[doc(hidden)]
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn avx512($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn avx2($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                match $crate::kernels::simd::level() {
                    // SAFETY: `level` never returns a level above the
                    // detected one, so the CPU has these instructions.
                    $crate::kernels::simd::Level::Avx512 => return unsafe { avx512($($arg),*) },
                    $crate::kernels::simd::Level::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::kernels::simd::Level::Baseline => {}
                }
            }
            body($($arg),*)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_levels_never_exceed_the_cpu() {
        assert_eq!(Level::parse("AVX2"), Some(Level::Avx2));
        assert_eq!(Level::parse("baseline"), Some(Level::Baseline));
        assert_eq!(Level::parse("avx512"), Some(Level::Avx512));
        assert_eq!(Level::parse("neon"), None);
        assert!(level() <= Level::detected());
        for l in Level::ALL {
            assert_eq!(Level::from_code(l.code()), Some(l));
        }
    }
}
