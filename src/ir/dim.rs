//! Symbolic integer dimensions: polynomials over dimension variables.
//!
//! A [`Dim`] is a known number (`28`), a variable (`H`), or arithmetic on
//! them (`I + 32`, `32*I + 1056`, `floor((H - 5)/2) + 1`). A variable is a
//! dimension variable, or an integer option without a default in a model
//! checked on its own, whose value comes with each use. Polynomials are kept
//! in a canonical form, so two dims are equal exactly when they print alike.
//! A poisoned dim (from an earlier error) equals anything, so one mistake
//! gives one diagnostic.

use std::collections::BTreeMap;
use std::fmt;

/// A factor of a monomial that cannot be simplified further.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Atom {
    /// A dimension variable, by name.
    Var(String),
    /// An integer option without a default, by name, in a model checked on
    /// its own: every use gives it a value.
    Option(String),
    /// `floor(d / k)` for a `d` that is not a multiple of `k`.
    FloorDiv(Box<Dim>, i64),
    /// `ceil(d / k)` for a `d` that is not a multiple of `k`.
    CeilDiv(Box<Dim>, i64),
}

/// A symbolic integer; see the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dim {
    /// Monomial (sorted atoms, empty for the constant term) to its coefficient;
    /// `None` when poisoned.
    terms: Option<BTreeMap<Vec<Atom>, i64>>,
}

impl Dim {
    /// A known integer.
    pub fn known(value: i64) -> Dim {
        let mut terms = BTreeMap::new();
        if value != 0 {
            terms.insert(Vec::new(), value);
        }
        Dim { terms: Some(terms) }
    }

    /// A named variable.
    pub fn var(name: &str) -> Dim {
        Dim::atom(Atom::Var(name.to_string()))
    }

    /// An integer option without a default, in a model checked on its own.
    /// It prints as its name, like a variable; unlike one, it is known at
    /// every use (see [`Dim::depends_only_on_options`]).
    pub fn option(name: &str) -> Dim {
        Dim::atom(Atom::Option(name.to_string()))
    }

    /// The poisoned dim, which stands for a value an earlier error left unknown.
    pub fn error() -> Dim {
        Dim { terms: None }
    }

    fn atom(atom: Atom) -> Dim {
        let mut terms = BTreeMap::new();
        terms.insert(vec![atom], 1);
        Dim { terms: Some(terms) }
    }

    /// Whether this dim is poisoned.
    pub fn is_error(&self) -> bool {
        self.terms.is_none()
    }

    /// The value, when it is a known integer.
    pub fn as_known(&self) -> Option<i64> {
        let terms = self.terms.as_ref()?;
        match terms.len() {
            0 => Some(0),
            1 => terms.get(&Vec::new()).copied(),
            _ => None,
        }
    }

    /// Equal, or unknowable because either side is poisoned.
    pub fn agrees_with(&self, other: &Dim) -> bool {
        self.is_error() || other.is_error() || self == other
    }

    fn combine(&self, other: &Dim, sign: i64) -> Dim {
        let (Some(a), Some(b)) = (&self.terms, &other.terms) else {
            return Dim::error();
        };
        let mut terms = a.clone();
        for (monomial, coefficient) in b {
            let entry = terms.entry(monomial.clone()).or_insert(0);
            // An overflowing size is no size at all: poison it rather than wrap.
            let Some(sum) = coefficient
                .checked_mul(sign)
                .and_then(|c| entry.checked_add(c))
            else {
                return Dim::error();
            };
            *entry = sum;
            if *entry == 0 {
                terms.remove(monomial);
            }
        }
        Dim { terms: Some(terms) }
    }

    /// `self + other`
    pub fn add(&self, other: &Dim) -> Dim {
        self.combine(other, 1)
    }

    /// `self - other`
    pub fn sub(&self, other: &Dim) -> Dim {
        self.combine(other, -1)
    }

    /// `self * other`
    pub fn mul(&self, other: &Dim) -> Dim {
        let (Some(a), Some(b)) = (&self.terms, &other.terms) else {
            return Dim::error();
        };
        let mut terms: BTreeMap<Vec<Atom>, i64> = BTreeMap::new();
        for (ma, ca) in a {
            for (mb, cb) in b {
                let mut monomial: Vec<Atom> = ma.iter().chain(mb).cloned().collect();
                monomial.sort();
                let entry = terms.entry(monomial.clone()).or_insert(0);
                let Some(sum) = ca.checked_mul(*cb).and_then(|p| entry.checked_add(p)) else {
                    return Dim::error();
                };
                *entry = sum;
                if *entry == 0 {
                    terms.remove(&monomial);
                }
            }
        }
        Dim { terms: Some(terms) }
    }

    /// `floor(self / divisor)`, for a positive divisor.
    pub fn floor_div(&self, divisor: i64) -> Dim {
        self.div_rounded(divisor, false)
    }

    /// `ceil(self / divisor)`, for a positive divisor.
    pub fn ceil_div(&self, divisor: i64) -> Dim {
        self.div_rounded(divisor, true)
    }

    fn div_rounded(&self, divisor: i64, ceil: bool) -> Dim {
        let Some(terms) = &self.terms else {
            return Dim::error();
        };
        if let Some(value) = self.as_known() {
            let quotient = if ceil {
                value.div_euclid(divisor) + i64::from(value.rem_euclid(divisor) != 0)
            } else {
                value.div_euclid(divisor)
            };
            return Dim::known(quotient);
        }
        if terms.values().all(|c| c % divisor == 0) {
            let terms = terms
                .iter()
                .map(|(m, c)| (m.clone(), c / divisor))
                .collect();
            return Dim { terms: Some(terms) };
        }
        let inner = Box::new(self.clone());
        Dim::atom(if ceil {
            Atom::CeilDiv(inner, divisor)
        } else {
            Atom::FloorDiv(inner, divisor)
        })
    }

    /// Whether the dim contains a variable.
    pub fn is_symbolic(&self) -> bool {
        !self.is_error() && self.as_known().is_none()
    }

    /// Whether the dim is unknown only because of options without a default
    /// ([`Dim::option`]) and depends on no dimension variable: every use of
    /// the model gives it a value, so a size that must be known is checked
    /// there.
    pub fn depends_only_on_options(&self) -> bool {
        self.is_symbolic() && self.atoms_are_options()
    }

    fn atoms_are_options(&self) -> bool {
        self.terms.iter().flatten().all(|(monomial, _)| {
            monomial.iter().all(|atom| match atom {
                Atom::Var(_) => false,
                Atom::Option(_) => true,
                Atom::FloorDiv(inner, _) | Atom::CeilDiv(inner, _) => inner.atoms_are_options(),
            })
        })
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Var(name) | Atom::Option(name) => write!(f, "{name}"),
            Atom::FloorDiv(inner, k) => write!(f, "floor(({inner})/{k})"),
            Atom::CeilDiv(inner, k) => write!(f, "ceil(({inner})/{k})"),
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(terms) = &self.terms else {
            return write!(f, "?");
        };
        if terms.is_empty() {
            return write!(f, "0");
        }
        // Highest degree first, the constant last.
        let mut ordered: Vec<(&Vec<Atom>, &i64)> = terms.iter().collect();
        ordered.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(b.0)));
        for (i, (monomial, &coefficient)) in ordered.into_iter().enumerate() {
            let magnitude = coefficient.abs();
            if i == 0 {
                if coefficient < 0 {
                    write!(f, "-")?;
                }
            } else if coefficient < 0 {
                write!(f, " - ")?;
            } else {
                write!(f, " + ")?;
            }
            let factors: Vec<String> = monomial.iter().map(|a| a.to_string()).collect();
            match (magnitude, factors.is_empty()) {
                (m, true) => write!(f, "{m}")?,
                (1, false) => write!(f, "{}", factors.join("*"))?,
                (m, false) => write!(f, "{m}*{}", factors.join("*"))?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_canonical() {
        let i = Dim::var("I");
        let h = Dim::known(32);
        let rows = i.add(&h);
        let count = rows.mul(&h).add(&h);
        assert_eq!(count.to_string(), "32*I + 1056");
        assert_eq!(i.add(&h).sub(&i), Dim::known(32));
        assert_eq!(Dim::known(7).floor_div(2), Dim::known(3));
        assert_eq!(Dim::known(7).ceil_div(2), Dim::known(4));
        assert_eq!(
            Dim::var("H")
                .sub(&Dim::known(5))
                .floor_div(2)
                .add(&Dim::known(1))
                .to_string(),
            "floor((H - 5)/2) + 1"
        );
        assert!(Dim::error().agrees_with(&Dim::known(3)));
        assert_eq!(Dim::known(-3).floor_div(2), Dim::known(-2));
    }

    #[test]
    fn options_are_told_apart_from_dimension_variables() {
        let k = Dim::option("k");
        assert_eq!(k.to_string(), "k");
        assert!(k.depends_only_on_options());
        let size = Dim::var("H").sub(&k).floor_div(2);
        assert!(!size.depends_only_on_options());
        assert!(
            k.mul(&Dim::known(2))
                .add(&Dim::known(1))
                .depends_only_on_options()
        );
        assert!(k.sub(&Dim::known(1)).floor_div(2).depends_only_on_options());
        assert!(!Dim::known(3).depends_only_on_options());
        assert!(!Dim::error().depends_only_on_options());
    }
}
