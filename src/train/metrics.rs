//! Evaluation metrics as pure functions over a whole data part.
//!
//! Classification metrics come from the confusion matrix of the whole part,
//! never from per-batch averages. A metric that is undefined on the data (no
//! predicted positives for precision, a zero target for MAPE) is reported as
//! undefined with the reason, not as a silent 0.

use crate::ir::Metric;

/// A metric's value, or why it has none.
#[derive(Clone, Debug, PartialEq)]
pub struct Reported {
    /// The value, if defined.
    pub value: Option<f64>,
    /// Why it is undefined, or what was left out of an average.
    pub note: Option<String>,
}

impl Reported {
    fn value(v: f64) -> Reported {
        Reported {
            value: Some(v),
            note: None,
        }
    }

    fn undefined(note: impl Into<String>) -> Reported {
        Reported {
            value: None,
            note: Some(note.into()),
        }
    }
}

/// `counts[actual][predicted]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confusion {
    /// Row = actual class, column = predicted class.
    pub counts: Vec<Vec<u64>>,
}

impl Confusion {
    /// The confusion matrix of `predicted` against `actual` over `classes` classes.
    pub fn new(classes: usize, actual: &[u32], predicted: &[u32]) -> Confusion {
        let mut counts = vec![vec![0; classes]; classes];
        for (&a, &p) in actual.iter().zip(predicted) {
            if (a as usize) < classes && (p as usize) < classes {
                counts[a as usize][p as usize] += 1;
            }
        }
        Confusion { counts }
    }

    fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    fn true_positives(&self, class: usize) -> u64 {
        self.counts[class][class]
    }

    fn predicted(&self, class: usize) -> u64 {
        self.counts.iter().map(|row| row[class]).sum()
    }

    fn actual(&self, class: usize) -> u64 {
        self.counts[class].iter().sum()
    }

    /// Fraction of samples classified correctly.
    pub fn accuracy(&self) -> Reported {
        let total = self.total();
        if total == 0 {
            return Reported::undefined("no samples");
        }
        let correct: u64 = (0..self.counts.len()).map(|c| self.true_positives(c)).sum();
        Reported::value(correct as f64 / total as f64)
    }

    fn precision_of(&self, class: usize) -> Option<f64> {
        let predicted = self.predicted(class);
        (predicted > 0).then(|| self.true_positives(class) as f64 / predicted as f64)
    }

    fn recall_of(&self, class: usize) -> Option<f64> {
        let actual = self.actual(class);
        (actual > 0).then(|| self.true_positives(class) as f64 / actual as f64)
    }

    fn f1_of(&self, class: usize) -> Option<f64> {
        let (p, r) = (self.precision_of(class)?, self.recall_of(class)?);
        Some(if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        })
    }

    /// Precision: of class 1 for two classes, else the macro average.
    pub fn precision(&self) -> Reported {
        self.per_class(
            "precision",
            "no sample was predicted as class",
            Confusion::precision_of,
        )
    }

    /// Recall: of class 1 for two classes, else the macro average.
    pub fn recall(&self) -> Reported {
        self.per_class("recall", "no sample of class", Confusion::recall_of)
    }

    /// F1: of class 1 for two classes, else the macro average.
    pub fn f1(&self) -> Reported {
        self.per_class(
            "f1",
            "precision or recall is undefined for class",
            Confusion::f1_of,
        )
    }

    fn per_class(
        &self,
        name: &str,
        why: &str,
        of: fn(&Confusion, usize) -> Option<f64>,
    ) -> Reported {
        let classes = self.counts.len();
        if classes == 2 {
            return match of(self, 1) {
                Some(v) => Reported::value(v),
                None => Reported::undefined(format!("{name} is undefined: {why} 1")),
            };
        }
        let values: Vec<(usize, Option<f64>)> = (0..classes).map(|c| (c, of(self, c))).collect();
        let defined: Vec<f64> = values.iter().filter_map(|(_, v)| *v).collect();
        let missing: Vec<String> = values
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(c, _)| c.to_string())
            .collect();
        if defined.is_empty() {
            return Reported::undefined(format!("{name} is undefined for every class"));
        }
        let mean = defined.iter().sum::<f64>() / defined.len() as f64;
        Reported {
            value: Some(mean),
            note: (!missing.is_empty()).then(|| {
                format!(
                    "macro average over {} classes; undefined for class {} ({why} it)",
                    defined.len(),
                    missing.join(", ")
                )
            }),
        }
    }
}

/// Mean absolute error.
pub fn mae(predicted: &[f32], actual: &[f32]) -> Reported {
    mean_of(predicted, actual, |d| d.abs())
}

/// Mean squared error.
pub fn mse(predicted: &[f32], actual: &[f32]) -> Reported {
    mean_of(predicted, actual, |d| d * d)
}

/// Root mean squared error.
pub fn rmse(predicted: &[f32], actual: &[f32]) -> Reported {
    let m = mse(predicted, actual);
    Reported {
        value: m.value.map(f64::sqrt),
        note: m.note,
    }
}

/// Mean absolute percentage error, in percent; undefined when a target is 0.
pub fn mape(predicted: &[f32], actual: &[f32]) -> Reported {
    let zeros = actual.iter().filter(|&&a| a == 0.0).count();
    if zeros > 0 {
        return Reported::undefined(format!(
            "MAPE is undefined: {zeros} target{} equal to 0",
            if zeros == 1 { " is" } else { "s are" }
        ));
    }
    if actual.is_empty() {
        return Reported::undefined("no samples");
    }
    let total: f64 = predicted
        .iter()
        .zip(actual)
        .map(|(&p, &a)| ((p as f64 - a as f64) / a as f64).abs())
        .sum();
    Reported::value(100.0 * total / actual.len() as f64)
}

fn mean_of(predicted: &[f32], actual: &[f32], f: fn(f64) -> f64) -> Reported {
    if actual.is_empty() {
        return Reported::undefined("no samples");
    }
    let total: f64 = predicted
        .iter()
        .zip(actual)
        .map(|(&p, &a)| f(p as f64 - a as f64))
        .sum();
    Reported::value(total / actual.len() as f64)
}

/// Predictions on a data part, in the form the metrics need.
pub enum Outcome<'a> {
    /// Predicted and actual classes, and the class count.
    Classes {
        /// Predicted class per sample.
        predicted: &'a [u32],
        /// Actual class per sample.
        actual: &'a [u32],
        /// Number of classes.
        classes: usize,
    },
    /// Predicted and actual values.
    Values {
        /// Predicted value per sample.
        predicted: &'a [f32],
        /// Actual value per sample.
        actual: &'a [f32],
    },
}

/// Computes `metrics` on an outcome; metrics of the other kind are undefined.
pub fn evaluate(metrics: &[Metric], outcome: &Outcome) -> Vec<(Metric, Reported)> {
    let confusion = match outcome {
        Outcome::Classes {
            predicted,
            actual,
            classes,
        } => Some(Confusion::new(*classes, actual, predicted)),
        Outcome::Values { .. } => None,
    };
    metrics
        .iter()
        .map(|&m| {
            let r = match (m, &confusion, outcome) {
                (Metric::Accuracy, Some(c), _) => c.accuracy(),
                (Metric::Precision, Some(c), _) => c.precision(),
                (Metric::Recall, Some(c), _) => c.recall(),
                (Metric::F1, Some(c), _) => c.f1(),
                (Metric::Mae, _, Outcome::Values { predicted, actual }) => mae(predicted, actual),
                (Metric::Mse, _, Outcome::Values { predicted, actual }) => mse(predicted, actual),
                (Metric::Rmse, _, Outcome::Values { predicted, actual }) => rmse(predicted, actual),
                (Metric::Mape, _, Outcome::Values { predicted, actual }) => mape(predicted, actual),
                _ => Reported::undefined("does not apply to this kind of data"),
            };
            (m, r)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_metrics_by_hand() {
        // actual:    1 1 1 0 0 0 0 1
        // predicted: 1 0 1 0 1 0 0 1  -> TP 3, FN 1, FP 1, TN 3
        let actual = [1, 1, 1, 0, 0, 0, 0, 1];
        let predicted = [1, 0, 1, 0, 1, 0, 0, 1];
        let c = Confusion::new(2, &actual, &predicted);
        assert_eq!(c.counts, vec![vec![3, 1], vec![1, 3]]);
        assert_eq!(c.accuracy().value, Some(0.75));
        assert_eq!(c.precision().value, Some(0.75));
        assert_eq!(c.recall().value, Some(0.75));
        assert_eq!(c.f1().value, Some(0.75));
    }

    #[test]
    fn no_predicted_positives_leaves_precision_undefined() {
        let c = Confusion::new(2, &[1, 0, 1], &[0, 0, 0]);
        let p = c.precision();
        assert_eq!(p.value, None);
        assert!(
            p.note
                .unwrap()
                .contains("no sample was predicted as class 1")
        );
        assert_eq!(c.recall().value, Some(0.0));
        assert_eq!(c.f1().value, None);
    }

    #[test]
    fn macro_average_over_three_classes() {
        // class 0: P 1/2 R 1; class 1: P 1 R 1/2; class 2: P 1 R 1
        let c = Confusion::new(3, &[0, 1, 1, 2], &[0, 0, 1, 2]);
        let p = c.precision().value.unwrap();
        assert!((p - (0.5 + 1.0 + 1.0) / 3.0).abs() < 1e-12);
        let r = c.recall().value.unwrap();
        assert!((r - (1.0 + 0.5 + 1.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_class_never_present_is_left_out_of_the_macro_recall() {
        let c = Confusion::new(3, &[0, 1], &[0, 2]);
        let r = c.recall();
        assert_eq!(r.value, Some(0.5));
        assert!(r.note.unwrap().contains("class 2"));
    }

    #[test]
    fn regression_metrics_by_hand() {
        let p = [1.0, 2.0, 4.0];
        let a = [2.0, 2.0, 2.0];
        assert_eq!(mae(&p, &a).value, Some(1.0));
        assert_eq!(mse(&p, &a).value, Some(5.0 / 3.0));
        assert_eq!(rmse(&p, &a).value, Some((5.0f64 / 3.0).sqrt()));
        assert_eq!(mape(&p, &a).value, Some(50.0));
    }

    #[test]
    fn mape_with_zero_targets_is_undefined_with_the_count() {
        let m = mape(&[1.0, 2.0, 3.0], &[0.0, 2.0, 0.0]);
        assert_eq!(m.value, None);
        assert_eq!(
            m.note.as_deref(),
            Some("MAPE is undefined: 2 targets are equal to 0")
        );
    }
}
