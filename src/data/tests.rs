//! Tests of the data loader. Small files are written to a fresh folder under
//! the system temp dir; the real data sets come from `examples/data`.

use super::*;
use crate::ir::{Source as Src, Transform as T};
use crate::span::Span;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

fn set(source: Src, transforms: Vec<T>) -> ir::DataSet {
    ir::DataSet {
        name: "d".into(),
        span: Span::default(),
        source,
        transforms,
        input: None,
        task: ir::Task::Regression,
    }
}

/// A new empty folder for one test.
fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "dl-data-{}-{}-{name}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn csv_label(path: &str, column: &str, classes: Option<i64>) -> Src {
    Src::Csv {
        path: path.into(),
        column: column.into(),
        label: true,
        classes,
    }
}

fn csv_target(path: &str, column: &str) -> Src {
    Src::Csv {
        path: path.into(),
        column: column.into(),
        label: false,
        classes: None,
    }
}

/// Writes `text` as `name` in a fresh folder and loads it as a labelled CSV.
fn load_csv_text(text: &str, column: &str, classes: Option<i64>) -> Result<Loaded, DataError> {
    let dir = temp_dir("csv");
    std::fs::write(dir.join("t.csv"), text).unwrap();
    load(&set(csv_label("t.csv", column, classes), vec![]), &dir)
}

fn split(train: Option<f64>, val: f64, test: f64, seed: u64, shuffle: bool) -> T {
    T::Split {
        train,
        val,
        test,
        seed,
        shuffle,
    }
}

fn classes(t: &Targets) -> &[u32] {
    match t {
        Targets::Classes(c) => c,
        _ => panic!("expected classes"),
    }
}

/// A CSV whose feature `a` is the row number and `label` is `row % 2`.
fn numbered_csv(n: usize) -> String {
    let mut s = String::from("a,b,label\n");
    for i in 0..n {
        s.push_str(&format!("{i},{},{}\n", (i * i) % 7, i % 2));
    }
    s
}

/// The row numbers (column `a`) in a part of a [`numbered_csv`].
fn row_ids(part: &Part) -> Vec<usize> {
    part.x.column(0).iter().map(|&v| v as usize).collect()
}

// ---- sources ---------------------------------------------------------------

#[test]
fn csv_classification_iris() {
    let d = load(
        &set(csv_label("data/iris.csv", "label", None), vec![]),
        &examples(),
    )
    .unwrap();
    assert_eq!(d.train.x.dim(), (150, 4));
    assert_eq!(d.sample_shape, vec![4]);
    assert_eq!(d.classes, Some(3));
    assert_eq!(d.feature_names[0], "sepal_length_cm");
    assert_eq!(d.feature_names.len(), 4);
    assert_eq!(d.train.x[[0, 0]], 5.1);
    assert_eq!(classes(&d.train.y)[..2], [0, 0]);
    assert!(d.val.is_none() && d.test.is_none());
}

#[test]
fn csv_regression_diabetes() {
    let d = load(
        &set(csv_target("data/diabetes.csv", "target"), vec![]),
        &examples(),
    )
    .unwrap();
    assert_eq!(d.train.x.dim(), (442, 10));
    assert_eq!(d.classes, None);
    match &d.train.y {
        Targets::Values(v) => {
            assert_eq!(v.dim(), (442, 1));
            assert_eq!(v[[0, 0]], 151.0);
        }
        _ => panic!("regression expected"),
    }
}

#[test]
fn csv_label_column_anywhere_and_classes() {
    let d = load_csv_text("label,x,y\n1,0.5,2\n0,1.5,3\n", "label", None).unwrap();
    assert_eq!(d.feature_names, vec!["x", "y"]);
    assert_eq!(d.train.x.row(1).to_vec(), vec![1.5, 3.0]);
    assert_eq!(d.classes, Some(2));
    let d = load_csv_text("x,label\n0.5,1\n1.5,2.0\n", "label", Some(5)).unwrap();
    assert_eq!(d.classes, Some(5));
    assert_eq!(classes(&d.train.y), [1, 2]);
}

#[test]
fn series_sunspots() {
    let src = Src::Series {
        path: "data/sunspots_yearly.csv".into(),
        column: "sunactivity".into(),
        window: 24,
        horizon: 1,
    };
    let d = load(&set(src, vec![]), &examples()).unwrap();
    assert_eq!(d.train.x.dim(), (309 - 24, 24));
    assert_eq!(d.sample_shape, vec![24, 1]);
    assert_eq!(d.feature_names[23], "sunactivity[t]");
    assert_eq!(d.train.x[[0, 0]], 5.0); // 1700
    assert_eq!(d.train.x[[0, 1]], 11.0); // 1701
    let Targets::Values(y) = &d.train.y else {
        panic!()
    };
    assert_eq!(y[[0, 0]], d.train.x[[1, 23]]); // the value after the window
    // Persistence: the window's last value predicts the next one.
    let b = d.baseline(&d.train).expect("a baseline");
    assert_eq!((b.name, b.measure), ("persistence", "rmse"));
    assert!(b.value > 5.0 && b.value < 40.0, "{b:?}");
}

#[test]
fn standardize_on_a_series_scales_targets_with_inputs() {
    let src = Src::Series {
        path: "data/sunspots_yearly.csv".into(),
        column: "sunactivity".into(),
        window: 24,
        horizon: 1,
    };
    let split = T::Split {
        train: Some(0.8),
        val: 0.0,
        test: 0.2,
        seed: 0,
        shuffle: false,
    };
    let d = load(&set(src, vec![T::Standardize, split]), &examples()).unwrap();
    let Targets::Values(y) = &d.train.y else {
        panic!()
    };
    // One scale for the whole series: the target is still the next input.
    assert_eq!(y[[0, 0]], d.train.x[[1, 23]]);
    let mean = d.train.x.mean().unwrap();
    assert!(mean.abs() < 0.05, "{mean}");
}

#[test]
fn text_gives_next_character_targets() {
    let src = Src::Text {
        path: "data/devils_dictionary.txt".into(),
        seq: 32,
    };
    let d = load(&set(src.clone(), vec![]), &examples()).unwrap();
    let SourceKind::Text { vocabulary } = &d.kind else {
        panic!("{:?}", d.kind)
    };
    let v = vocabulary.len();
    assert_eq!(d.sample_shape, vec![32, v]);
    assert_eq!(d.classes, Some(v));
    let Targets::Sequences(y) = &d.train.y else {
        panic!()
    };
    // Each target is the next input; the last one is the next window's first.
    assert_eq!(y[[0, 0]] as f32, d.train.x[[0, 1]]);
    assert_eq!(y[[0, 31]] as f32, d.train.x[[1, 0]]);
    let input = d.input(&d.train.select(&[0]));
    assert_eq!(input.shape(), &[1, 32, v]);
    assert_eq!(input.sum(), 32.0);
    assert_eq!(input[[0, 1, y[[0, 0]] as usize]], 1.0);
    // The frequency baseline is below a uniform guess's ln(V).
    let b = d.baseline(&d.train).expect("a baseline");
    assert!(b.value > 1.0 && b.value < (v as f64).ln(), "{b:?}");
    let e = load(&set(src, vec![T::Standardize]), &examples()).unwrap_err();
    assert!(e.to_string().contains("one-hot"), "{e}");
}

#[test]
fn text_drops_a_byte_order_mark() {
    let dir = temp_dir("bom");
    std::fs::write(dir.join("t.txt"), "\u{feff}abcabcabc").unwrap();
    let src = Src::Text {
        path: "t.txt".into(),
        seq: 3,
    };
    let d = load(&set(src, vec![]), &dir).unwrap();
    let SourceKind::Text { vocabulary } = &d.kind else {
        panic!("{:?}", d.kind)
    };
    assert_eq!(vocabulary, &vec!['a', 'b', 'c']);
}

#[test]
fn synthetic_linear_is_deterministic_and_linear() {
    let src = |noise, seed| Src::SyntheticLinear {
        n: 50,
        features: 3,
        noise,
        seed,
    };
    let a = load(&set(src(0.0, 4), vec![]), Path::new(".")).unwrap();
    let b = load(&set(src(0.0, 4), vec![]), Path::new(".")).unwrap();
    let c = load(&set(src(0.5, 4), vec![]), Path::new(".")).unwrap();
    let other = load(&set(src(0.0, 5), vec![]), Path::new(".")).unwrap();
    assert_eq!(a.train, b.train);
    assert_eq!(a.train.x, c.train.x, "noise changes only y");
    assert_ne!(a.train.y, c.train.y);
    assert_ne!(a.train.x, other.train.x);
    assert!(a.train.x.iter().all(|v| (-1.7321..1.7321).contains(v)));
    assert_eq!((a.sample_shape.clone(), a.classes), (vec![3], None));
    // Without noise y is exactly affine in x: the residual of y against four
    // rows' worth of differences is zero. Check with finite differences on
    // the fitted plane through the first 4 rows.
    let Targets::Values(y) = &a.train.y else {
        panic!()
    };
    let x = &a.train.x;
    let solve = solve4(
        (0..4)
            .map(|i| [x[[i, 0]], x[[i, 1]], x[[i, 2]], 1.0])
            .collect(),
        (0..4).map(|i| y[[i, 0]]).collect(),
    );
    for i in 4..50 {
        let pred = solve[0] * f64::from(x[[i, 0]])
            + solve[1] * f64::from(x[[i, 1]])
            + solve[2] * f64::from(x[[i, 2]])
            + solve[3];
        assert!((pred - f64::from(y[[i, 0]])).abs() < 1e-3, "row {i}");
    }
}

/// Solves a 4×4 linear system by Gaussian elimination with pivoting.
fn solve4(a: Vec<[f32; 4]>, b: Vec<f32>) -> [f64; 4] {
    let mut m: Vec<[f64; 5]> = (0..4)
        .map(|i| {
            let r = a[i];
            [
                r[0].into(),
                r[1].into(),
                r[2].into(),
                r[3].into(),
                b[i].into(),
            ]
        })
        .collect();
    for c in 0..4 {
        let p = (c..4)
            .max_by(|&i, &j| m[i][c].abs().total_cmp(&m[j][c].abs()))
            .unwrap();
        m.swap(c, p);
        let pivot = m[c];
        for (r, row) in m.iter_mut().enumerate() {
            if r != c {
                let f = row[c] / pivot[c];
                row.iter_mut().zip(pivot).for_each(|(v, p)| *v -= f * p);
            }
        }
    }
    [0, 1, 2, 3].map(|i| m[i][4] / m[i][i])
}

#[test]
fn synthetic_blobs() {
    let src = Src::SyntheticBlobs {
        n: 30,
        classes: 3,
        features: 2,
        seed: 1,
    };
    let d = load(&set(src.clone(), vec![]), Path::new(".")).unwrap();
    assert_eq!(d.classes, Some(3));
    assert_eq!(d.train.x.dim(), (30, 2));
    let y = classes(&d.train.y);
    assert_eq!(&y[..4], &[0, 1, 2, 0]);
    assert_eq!(
        d.train,
        load(&set(src, vec![]), Path::new(".")).unwrap().train
    );
    // Each sample is nearer its own centre (its class mean) than the others.
    let mean = |k: u32| -> Vec<f32> {
        let rows: Vec<usize> = (0..30).filter(|&i| y[i] == k).collect();
        (0..2)
            .map(|j| rows.iter().map(|&i| d.train.x[[i, j]]).sum::<f32>() / rows.len() as f32)
            .collect()
    };
    let means: Vec<Vec<f32>> = (0..3).map(mean).collect();
    let dist = |i: usize, m: &[f32]| {
        (0..2)
            .map(|j| (d.train.x[[i, j]] - m[j]).powi(2))
            .sum::<f32>()
    };
    let correct = (0..30)
        .filter(|&i| (0..3).all(|k| dist(i, &means[y[i] as usize]) <= dist(i, &means[k])))
        .count();
    assert!(correct >= 27, "{correct}/30 nearest their own centre");
}

// ---- MNIST -------------------------------------------------------------------

fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Writes a tiny MNIST folder: `train` and `test` images, each image filled
/// with its index; labels `index % 10`. Optionally gzipped.
fn fake_mnist(train: u32, test: u32, gz: bool) -> PathBuf {
    let dir = temp_dir("mnist");
    let write = |name: &str, bytes: Vec<u8>| {
        if gz {
            std::fs::write(dir.join(format!("{name}.gz")), gzip(&bytes)).unwrap();
        } else {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    };
    for (prefix, n) in [("train", train), ("t10k", test)] {
        let pixels: Vec<u8> = (0..n).flat_map(|i| [i as u8; 784]).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        write(
            &format!("{prefix}-images-idx3-ubyte"),
            idx_bytes(0x803, &[n, 28, 28], &pixels),
        );
        write(
            &format!("{prefix}-labels-idx1-ubyte"),
            idx_bytes(0x801, &[n], &labels),
        );
    }
    dir
}

fn mnist_src() -> Src {
    Src::Mnist { dir: "m".into() }
}

/// Loads the fake MNIST folder `dir` through a base folder.
fn load_mnist(dir: &Path, transforms: Vec<T>) -> Result<Loaded, DataError> {
    let src = Src::Mnist {
        dir: dir.to_string_lossy().into_owned(),
    };
    load(&set(src, transforms), Path::new("/"))
}

#[test]
fn mnist_small_raw_and_gzipped() {
    for gz in [false, true] {
        let dir = fake_mnist(12, 5, gz);
        let d = load_mnist(&dir, vec![]).unwrap();
        assert_eq!(d.sample_shape, vec![1, 28, 28]);
        assert_eq!(d.classes, Some(10));
        assert_eq!(d.train.x.dim(), (12, 784));
        assert_eq!(d.train.x[[11, 500]], 11.0, "raw 0..255 values");
        let test = d.test.unwrap();
        assert_eq!(test.rows(), 5);
        assert_eq!(classes(&test.y), [0, 1, 2, 3, 4]);
        assert_eq!(d.feature_names[29], "pixel_1_1");
    }
}

#[test]
fn mnist_val_split_is_carved_from_train() {
    let dir = fake_mnist(20, 5, true);
    let d = load_mnist(&dir, vec![T::Scale(0.5), split(None, 0.25, 0.0, 7, true)]).unwrap();
    let val = d.val.unwrap();
    assert_eq!((d.train.rows(), val.rows()), (15, 5));
    let test = d.test.unwrap();
    assert_eq!(test.rows(), 5);
    assert_eq!(test.x[[4, 0]], 2.0, "test part scaled too, order kept");
    let mut ids: Vec<f32> = d
        .train
        .x
        .column(0)
        .iter()
        .chain(val.x.column(0))
        .copied()
        .collect();
    ids.sort_by(f32::total_cmp);
    assert_eq!(ids, (0..20).map(|i| i as f32 * 0.5).collect::<Vec<_>>());
    let e = load_mnist(&dir, vec![split(None, 0.1, 0.1, 0, true)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadArgument);
}

#[test]
fn mnist_real_files() {
    let dir = examples().join("data").join("mnist");
    let started = std::time::Instant::now();
    let d = load(
        &set(
            Src::Mnist {
                dir: "data/mnist".into(),
            },
            vec![],
        ),
        &examples(),
    )
    .unwrap();
    eprintln!("loaded MNIST in {:?}", started.elapsed());
    assert!(dir.is_dir());
    assert_eq!(d.train.x.dim(), (60000, 784));
    let test = d.test.as_ref().unwrap();
    assert_eq!(test.x.dim(), (10000, 784));
    let mut counts = [0usize; 10];
    classes(&test.y)
        .iter()
        .for_each(|&c| counts[c as usize] += 1);
    assert_eq!(
        counts,
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    let mut counts = [0usize; 10];
    classes(&d.train.y)
        .iter()
        .for_each(|&c| counts[c as usize] += 1);
    assert_eq!(
        counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(d.train.x.iter().copied().fold(0.0, f32::max), 255.0);
}

// ---- transforms --------------------------------------------------------------

#[test]
fn split_rounding_and_layout() {
    let dir = temp_dir("split");
    std::fs::write(dir.join("t.csv"), numbered_csv(7)).unwrap();
    let go = |t: Vec<T>| load(&set(csv_label("t.csv", "label", None), t), &dir).unwrap();
    // n = 7: test = round(2.1) = 2, val = round(1.4) = 1, train = the rest.
    let d = go(vec![split(None, 0.2, 0.3, 0, false)]);
    assert_eq!(row_ids(&d.train), [0, 1, 2, 3]);
    assert_eq!(row_ids(d.val.as_ref().unwrap()), [4]);
    assert_eq!(row_ids(d.test.as_ref().unwrap()), [5, 6]);
    // train given, fractions below 1: the rows between val and test are dropped.
    let d = go(vec![split(Some(0.5), 0.0, 0.25, 0, false)]);
    assert_eq!(row_ids(&d.train), [0, 1, 2, 3]); // round(3.5) = 4
    assert!(d.val.is_none());
    assert_eq!(row_ids(d.test.as_ref().unwrap()), [5, 6]); // round(1.75) = 2
    // A part asked for but rounding to no rows exists and is empty.
    let d = go(vec![split(None, 0.05, 0.0, 0, false)]);
    assert_eq!(d.val.as_ref().unwrap().rows(), 0);
    assert_eq!(d.train.rows(), 7);
}

#[test]
fn seeded_split_is_stable() {
    let dir = temp_dir("stable");
    std::fs::write(dir.join("t.csv"), numbered_csv(10)).unwrap();
    let go = |seed| {
        let t = vec![split(None, 0.2, 0.2, seed, true)];
        load(&set(csv_label("t.csv", "label", None), t), &dir).unwrap()
    };
    let a = go(42);
    let parts = |d: &Loaded| {
        (
            row_ids(&d.train),
            row_ids(d.val.as_ref().unwrap()),
            row_ids(d.test.as_ref().unwrap()),
        )
    };
    // Hard-coded: a change here means the RNG or the shuffle changed, which
    // would silently change every program's data split.
    assert_eq!(parts(&a), (vec![5, 4, 1, 6, 8, 2], vec![9, 7], vec![3, 0]));
    assert_eq!(parts(&a), parts(&go(42)));
    assert_ne!(parts(&a), parts(&go(43)));
    // The targets travel with their rows.
    let y = classes(&a.train.y);
    assert!(
        row_ids(&a.train)
            .iter()
            .zip(y)
            .all(|(&i, &l)| l as usize == i % 2)
    );
}

#[test]
fn shuffle_is_stable_and_per_part_after_split() {
    let dir = temp_dir("shuffle");
    std::fs::write(dir.join("t.csv"), numbered_csv(8)).unwrap();
    let go = |t: Vec<T>| load(&set(csv_label("t.csv", "label", None), t), &dir).unwrap();
    let d = go(vec![T::Shuffle { seed: 3 }]);
    assert_eq!(row_ids(&d.train), [6, 5, 3, 1, 2, 7, 4, 0]);
    // Shuffle then a chronological split: the split takes the shuffled order.
    let d = go(vec![
        T::Shuffle { seed: 3 },
        split(None, 0.0, 0.25, 0, false),
    ]);
    assert_eq!(row_ids(d.test.as_ref().unwrap()), [4, 0]);
    // A shuffle after a split keeps each part's rows.
    let d = go(vec![
        split(None, 0.0, 0.5, 0, false),
        T::Shuffle { seed: 1 },
    ]);
    let mut train = row_ids(&d.train);
    let mut test = row_ids(d.test.as_ref().unwrap());
    train.sort();
    test.sort();
    assert_eq!((train, test), (vec![0, 1, 2, 3], vec![4, 5, 6, 7]));
}

#[test]
fn low_level_rng_is_stable() {
    // Pins the generator itself: ChaCha8, key from seed_from_u64, stream.
    let mut r = crate::seed::data(0, 0);
    let first: Vec<usize> = (0..5).map(|_| below(&mut r, 1000)).collect();
    assert_eq!(first, [709, 465, 699, 60, 879]);
}

fn standardized(text: &str, transforms: Vec<T>) -> Loaded {
    let dir = temp_dir("std");
    std::fs::write(dir.join("t.csv"), text).unwrap();
    load(&set(csv_label("t.csv", "label", None), transforms), &dir).unwrap()
}

#[test]
fn standardize_uses_training_rows_and_handles_constant_columns() {
    let text = "a,c,label\n1,5,0\n2,5,1\n3,5,0\n4,5,1\n100,7,0\n";
    let d = standardized(text, vec![T::Standardize, split(None, 0.0, 0.2, 0, false)]);
    // Training rows 1..4: mean 2.5, population std sqrt(1.25).
    let s = 1.25f64.sqrt();
    let want: Vec<f32> = [1.0, 2.0, 3.0, 4.0]
        .iter()
        .map(|v| ((v - 2.5) / s) as f32)
        .collect();
    assert_eq!(d.train.x.column(0).to_vec(), want);
    // The constant column (5 in every training row) becomes 0; the test row
    // uses the same statistics (mean 5, std 1).
    assert!(d.train.x.column(1).iter().all(|&v| v == 0.0));
    let test = d.test.unwrap();
    assert_eq!(test.x[[0, 1]], 2.0);
    assert_eq!(test.x[[0, 0]], ((100.0 - 2.5) / s) as f32);
    // Standardize written after the split gives the same numbers.
    let after = standardized(text, vec![split(None, 0.0, 0.2, 0, false), T::Standardize]);
    assert_eq!(after.train, d.train);
}

#[test]
fn standardize_does_not_leak_validation_or_test_rows() {
    let transforms = || vec![T::Standardize, split(Some(0.6), 0.2, 0.2, 9, true)];
    let base = numbered_csv(20);
    let a = standardized(&base, transforms());
    // Which rows are held out: the same split without standardize, where
    // column `a` still holds the row numbers.
    let plain = standardized(&base, transforms()[1..].to_vec());
    let held_out: Vec<usize> = row_ids(plain.val.as_ref().unwrap())
        .into_iter()
        .chain(row_ids(plain.test.as_ref().unwrap()))
        .collect();
    // Change every value of the rows that ended up in val and test.
    assert_eq!(held_out.len(), 8);
    let mut changed = String::from("a,b,label\n");
    for i in 0..20 {
        if held_out.contains(&i) {
            changed.push_str(&format!("{},1000,{}\n", i as f64 + 0.001, i % 2));
        } else {
            changed.push_str(&format!("{i},{},{}\n", (i * i) % 7, i % 2));
        }
    }
    let b = standardized(&changed, transforms());
    assert_eq!(
        a.train, b.train,
        "training data must not depend on held-out rows"
    );
    assert_ne!(a.test, b.test);
    // And the training part really is standardized.
    for col in a.train.x.columns() {
        let n = col.len() as f64;
        let mean = col.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = col
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(
            mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5,
            "{mean} {var}"
        );
    }
}

#[test]
fn scale_and_reshape() {
    let d = load(
        &set(
            csv_label("data/breast_cancer.csv", "label", None),
            vec![T::Scale(2.0), T::Reshape(vec![5, -1])],
        ),
        &examples(),
    )
    .unwrap();
    assert_eq!(d.sample_shape, vec![5, 6]);
    assert_eq!(d.train.x[[0, 0]], 2.0 * 17.99);
    assert_eq!(d.train.x.ncols(), 30);
    let e = load(
        &set(
            csv_label("data/breast_cancer.csv", "label", None),
            vec![T::Reshape(vec![4, 8])],
        ),
        &examples(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadArgument);
    assert!(e.to_string().contains("[30]"), "{e}");
}

#[test]
fn bad_split_arguments() {
    let dir = temp_dir("badsplit");
    std::fs::write(dir.join("t.csv"), numbered_csv(5)).unwrap();
    let go = |t: Vec<T>| load(&set(csv_label("t.csv", "label", None), t), &dir).unwrap_err();
    assert!(
        go(vec![split(None, 0.7, 0.7, 0, true)])
            .to_string()
            .contains("more than 1")
    );
    let twice = vec![
        split(None, 0.2, 0.0, 0, true),
        split(None, 0.2, 0.0, 0, true),
    ];
    assert!(go(twice).to_string().contains("twice"));
}

// ---- errors ------------------------------------------------------------------

#[test]
fn missing_file() {
    let dir = temp_dir("missing");
    let e = load(
        &set(csv_label("data/nope.csv", "label", None), vec![]),
        &dir,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingFile);
    let text = e.to_string();
    assert!(
        text.contains(&dir.join("data/nope.csv").display().to_string()),
        "{text}"
    );
    assert!(
        text.contains("paths are relative to the .dl file's folder"),
        "{text}"
    );
    let e = load(&set(mnist_src(), vec![]), &dir).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingFile);
    assert!(e.to_string().contains("relative to the .dl file's folder"));
}

#[test]
fn ragged_row() {
    let e = load_csv_text("a,b,label\n1,2,0\n3,1\n", "label", None).unwrap_err();
    assert_eq!((e.kind(), e.line()), (ErrorKind::RaggedRow, Some(3)));
    let text = e.to_string();
    assert!(
        text.contains("t.csv, line 3: this row has 2 fields but the header has 3"),
        "{text}"
    );
}

/// The csv crate places a row after a `\r\n` (or after blank lines) one
/// line too early; the reported line must be the row's own, whatever the line
/// ends.
#[test]
fn csv_lines_are_counted_alike_for_every_line_end() {
    for end in ["\n", "\r\n", "\r"] {
        let rows = |rows: &[&str]| rows.join(end) + end;
        let shown = end.escape_debug().to_string();
        // The bad cell is on line 3.
        let e = load_csv_text(
            &rows(&["a,b,label", "1,2,0", "3,abc,1", "4,5,0"]),
            "label",
            None,
        )
        .unwrap_err();
        assert_eq!(
            (e.kind(), e.line()),
            (ErrorKind::NotNumeric, Some(3)),
            "{shown}"
        );
        assert!(
            e.to_string().contains("t.csv, line 3, column 2 (`b`)"),
            "{shown}: {e}"
        );
        // The ragged row is on line 5, after blank lines.
        let e = load_csv_text(&rows(&["a,b,label", "", "1,2,0", "", "3,1"]), "label", None)
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.line()),
            (ErrorKind::RaggedRow, Some(5)),
            "{shown}"
        );
        assert!(e.to_string().contains("t.csv, line 5: "), "{shown}: {e}");
        // A bad label on the last line, with no line end after it.
        let text = rows(&["a,label", "1,0", "2,1"]) + "3,-1";
        let e = load_csv_text(&text, "label", None).unwrap_err();
        assert_eq!(
            (e.kind(), e.line()),
            (ErrorKind::BadLabel, Some(4)),
            "{shown}"
        );
    }
}

#[test]
fn csv_bytes_that_are_not_utf8_name_their_line() {
    for end in ["\n", "\r\n"] {
        let dir = temp_dir("csv-utf8");
        let mut bytes = format!("a,label{end}1,0{end}").into_bytes();
        bytes.extend_from_slice(b"caf\xe9,1");
        bytes.extend_from_slice(end.as_bytes());
        std::fs::write(dir.join("t.csv"), bytes).unwrap();
        let e = load(&set(csv_label("t.csv", "label", None), vec![]), &dir).unwrap_err();
        assert_eq!((e.kind(), e.line()), (ErrorKind::Io, Some(3)), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("t.csv, line 3: column 1 is not valid UTF-8 text"),
            "{text}"
        );
    }
}

#[test]
fn non_numeric_cell() {
    let e = load_csv_text("a,b,label\n1,2,0\n3,abc,1\n", "label", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotNumeric);
    let text = e.to_string();
    assert!(
        text.contains("t.csv, line 3, column 2 (`b`): cannot read `abc` as a number"),
        "{text}"
    );
    let e = load_csv_text("a,b,label\n1,,0\n", "label", None).unwrap_err();
    assert!(e.to_string().contains("empty cell"), "{e}");
    let e = load_csv_text("a,label\n1,x\n", "label", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotNumeric);
    assert!(e.to_string().contains("`x`"), "{e}");
}

#[test]
fn bad_labels() {
    let e = load_csv_text("a,label\n1,0\n2,1.5\n", "label", None).unwrap_err();
    assert_eq!((e.kind(), e.line()), (ErrorKind::BadLabel, Some(3)));
    assert!(e.to_string().contains("`1.5` is not an integer"), "{e}");
    let e = load_csv_text("a,label\n1,-1\n", "label", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadLabel);
    assert!(e.to_string().contains("negative"), "{e}");
    let e = load_csv_text("a,label\n1,0\n1,3\n", "label", Some(3)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadLabel);
    let text = e.to_string();
    assert!(text.contains("line 3, column 2 (`label`)"), "{text}");
    assert!(text.contains("out of range for classes = 3"), "{text}");
}

#[test]
fn unknown_column_lists_columns() {
    let e = load_csv_text("a,b,labels\n1,2,0\n", "label", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownColumn);
    let text = e.to_string();
    assert!(
        text.contains("no column named `label`; the columns are: a, b, labels"),
        "{text}"
    );
    assert!(text.contains("did you mean `labels`?"), "{text}");
}

#[test]
fn empty_files() {
    let e = load_csv_text("", "label", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Empty);
    let e = load_csv_text("a,label\n", "label", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Empty);
    assert!(e.to_string().contains("no data rows"), "{e}");
}

#[test]
fn bad_idx_magic() {
    let dir = fake_mnist(3, 2, false);
    // Labels where images are expected.
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        idx_bytes(0x801, &[3], &[0, 1, 2]),
    )
    .unwrap();
    let e = load_mnist(&dir, vec![]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadIdx);
    let text = e.to_string();
    assert!(text.contains("train-images-idx3-ubyte"), "{text}");
    assert!(
        text.contains("bad magic number 0x00000801; expected 0x00000803"),
        "{text}"
    );
}

#[test]
fn truncated_idx() {
    let dir = fake_mnist(3, 2, false);
    let path = dir.join("t10k-images-idx3-ubyte");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let e = load_mnist(&dir, vec![]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Truncated);
    assert!(e.to_string().contains("truncated"), "{e}");
    std::fs::write(&path, &bytes[..6]).unwrap();
    assert_eq!(
        load_mnist(&dir, vec![]).unwrap_err().kind(),
        ErrorKind::Truncated
    );
    // A cut gzip stream.
    let dir = fake_mnist(3, 2, true);
    let path = dir.join("train-labels-idx1-ubyte.gz");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_mnist(&dir, vec![]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Truncated, "{e}");
    assert!(e.to_string().contains("train-labels-idx1-ubyte.gz"), "{e}");
}

/// The header is read and checked before the rest is decompressed, and
/// decompression stops where the header says the data ends: a gzip stream
/// cut after its first megabyte of a gigabyte-sized promise is reported by
/// what its header says, never by reading it all first.
#[test]
fn idx_headers_are_checked_before_the_data_is_decompressed() {
    let dir = fake_mnist(3, 2, true);
    let zeros = vec![0u8; 4 << 20];
    let cut = |bytes: Vec<u8>| {
        let gz = gzip(&bytes);
        gz[..gz.len() / 2].to_vec()
    };
    // A bad magic number: found without decompressing the rest.
    let mut bad = idx_bytes(0x801, &[3], &[0, 1, 2]);
    bad.extend_from_slice(&zeros);
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), cut(bad)).unwrap();
    let e = load_mnist(&dir, vec![]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadIdx, "{e}");
    assert!(e.to_string().contains("bad magic number"), "{e}");
    // More data than announced: one byte past the end is enough to say so.
    let dir = fake_mnist(3, 2, true);
    let mut long = idx_bytes(0x801, &[3], &[0, 1, 2]);
    long.extend_from_slice(&zeros);
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), cut(long)).unwrap();
    let e = load_mnist(&dir, vec![]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadIdx, "{e}");
    assert!(
        e.to_string()
            .contains("the file holds more data than its header announces (3: 3 bytes)"),
        "{e}"
    );
}

#[test]
fn mismatched_idx_counts_and_labels() {
    let dir = fake_mnist(3, 2, false);
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        idx_bytes(0x801, &[2], &[0, 1]),
    )
    .unwrap();
    let e = load_mnist(&dir, vec![]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CountMismatch);
    assert!(e.to_string().contains("2 labels here but 3 images"), "{e}");
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        idx_bytes(0x801, &[3], &[0, 12, 1]),
    )
    .unwrap();
    let e = load_mnist(&dir, vec![]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadLabel);
    assert!(e.to_string().contains("label 12 of sample 1"), "{e}");
}

#[test]
fn display_without_location() {
    let e = DataError::new(ErrorKind::BadArgument, "oops").with_help("fix it");
    assert_eq!(e.to_string(), "oops (fix it)");
}

// ---- batches -----------------------------------------------------------------

fn part(rows: usize) -> Part {
    Part {
        x: Array2::zeros((rows, 1)),
        y: Targets::Classes(vec![0; rows]),
    }
}

#[test]
fn batches_cover_every_row_once_and_keep_the_last_partial() {
    let p = part(10);
    let batches: Vec<Vec<usize>> = epoch(&p, Some(4), 5, 0).collect();
    assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
    let mut all: Vec<usize> = batches.concat();
    all.sort();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    assert_eq!(epoch(&p, Some(4), 5, 0).len(), 3);
}

#[test]
fn batches_are_seeded_per_epoch() {
    let p = part(10);
    let order = |seed, e| Batches::epoch(&p, Some(3), seed, e).order().to_vec();
    assert_eq!(order(5, 0), order(5, 0));
    assert_ne!(order(5, 0), order(5, 1));
    assert_ne!(order(5, 0), order(6, 0));
    // Hard-coded so a change in the generator is caught.
    assert_eq!(order(5, 0), [6, 5, 4, 2, 3, 9, 0, 7, 8, 1]);
}

#[test]
fn full_batch_and_in_order() {
    let p = part(5);
    let b: Vec<Vec<usize>> = epoch(&p, None, 0, 0).collect();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].len(), 5);
    let b: Vec<Vec<usize>> = Batches::in_order(&p, Some(2)).collect();
    assert_eq!(b, vec![vec![0, 1], vec![2, 3], vec![4]]);
    assert_eq!(epoch(&part(0), Some(2), 0, 0).count(), 0);
    assert_eq!(batch_size(&ir::Batch::Size(32)), Some(32));
    assert_eq!(batch_size(&ir::Batch::Full), None);
    let sel = Part {
        x: Array2::from_shape_fn((3, 2), |(i, j)| (i * 2 + j) as f32),
        y: Targets::Classes(vec![7, 8, 9]),
    }
    .select(&[2, 0]);
    assert_eq!(sel.x.row(0).to_vec(), vec![4.0, 5.0]);
    assert_eq!(sel.y, Targets::Classes(vec![9, 7]));
}

#[test]
fn every_example_program_data_loads() {
    let dir = examples();
    let mut loaded = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "dl") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let (program, _) = crate::check_source(&text);
        for set in program.map(|p| p.data).unwrap_or_default() {
            if matches!(set.source, Src::Text { .. }) {
                continue;
            }
            let d = load(&set, &dir).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let features: usize = d.sample_shape.iter().product();
            assert_eq!(d.train.x.ncols(), features, "{}", set.name);
            assert!(d.train.rows() > 0, "{}", set.name);
            loaded += 1;
        }
    }
    assert!(loaded >= 4, "only {loaded} data sets found in the examples");
}

#[test]
fn rows_taken_in_place_equal_a_copy_of_them() {
    let x = ndarray::Array2::from_shape_fn((9, 3), |(r, c)| (r * 10 + c) as f32);
    for idx in [
        vec![4, 0, 8, 2, 7],
        vec![8, 7, 6, 5, 4, 3, 2, 1, 0],
        vec![0, 1, 2],
        vec![3],
        vec![],
    ] {
        let copied = x.select(ndarray::Axis(0), &idx);
        assert_eq!(transform::take_rows(x.clone(), &idx), copied, "{idx:?}");
    }
    let transposed = x.t().to_owned().reversed_axes();
    assert_eq!(
        transform::take_rows(transposed, &[2, 1]),
        x.select(ndarray::Axis(0), &[2, 1])
    );
}
