//! Every example program parses, checks without errors, and its AST and
//! `dl check` summary match their snapshots; the famous networks have the
//! parameter counts torchvision publishes.

use std::path::{Path, PathBuf};

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "dl"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "expected the example programs, found {files:?}"
    );
    files
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn every_example_has_an_ast_snapshot() {
    for path in examples() {
        let source = std::fs::read_to_string(&path).expect("readable example");
        let (ast, diagnostics) = dl::syntax::parse(&source);
        assert!(
            diagnostics.is_empty(),
            "{}: {diagnostics:?}",
            path.display()
        );
        insta::with_settings!({snapshot_path => "snapshots/ast", prepend_module_to_snapshot => false, description => source.clone()}, {
            insta::assert_debug_snapshot!(stem(&path), ast.expect("parsed"));
        });
    }
}

#[test]
fn every_example_checks_and_its_summary_matches() {
    for path in examples() {
        let source = std::fs::read_to_string(&path).expect("readable example");
        let (program, diagnostics) = dl::check_source(&source);
        let rendered = dl::diagnostic::render(
            &format!("examples/{}.dl", stem(&path)),
            &source,
            &diagnostics,
            false,
        );
        assert!(diagnostics.is_empty(), "{}:\n{rendered}", path.display());
        let summary = dl::report::render_text(&program.expect("checked"), false);
        insta::with_settings!({snapshot_path => "snapshots/check", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(stem(&path), summary);
        });
    }
}

#[test]
fn expanded_summary_of_resnet18_lists_block_layers() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/resnet18.dl");
    let source = std::fs::read_to_string(path).expect("readable example");
    let (program, _) = dl::check_source(&source);
    let summary = dl::report::render_text(&program.expect("checked"), true);
    assert!(summary.contains("ResNet18.Down_1.conv2d_0"), "{summary}");
    insta::with_settings!({snapshot_path => "snapshots/check", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("resnet18_expanded", summary);
    });
}

/// The total learnable parameters of model `name` in example `file`.
fn total_params(file: &str, name: &str) -> i64 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(file);
    let source = std::fs::read_to_string(path).expect("readable example");
    let (program, diagnostics) = dl::check_source(&source);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let program = program.expect("checked");
    let model = program
        .models
        .iter()
        .find(|m| m.name == name)
        .expect("model present");
    model.graph.param_count().as_known().expect("a known count")
}

#[test]
fn famous_networks_have_the_published_parameter_counts() {
    assert_eq!(total_params("lenet5.dl", "LeNet5"), 61_706);
    assert_eq!(total_params("alexnet.dl", "AlexNet"), 61_100_840);
    assert_eq!(total_params("vgg16.dl", "VGG16"), 138_357_544);
    assert_eq!(total_params("resnet18.dl", "ResNet18"), 11_689_512);
    assert_eq!(total_params("googlenet.dl", "GoogLeNet"), 6_624_904);
}

#[test]
fn vgg16_is_512_by_7_by_7_before_flatten() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/vgg16.dl");
    let source = std::fs::read_to_string(path).expect("readable example");
    let (program, _) = dl::check_source(&source);
    let program = program.expect("checked");
    let graph = &program.models[0].graph;
    let flatten = graph
        .nodes
        .iter()
        .position(|n| n.path == "VGG16.flatten_0")
        .expect("a flatten layer");
    let before = &graph.nodes[graph.nodes[flatten].inputs[0]];
    assert_eq!(before.shape.to_string(), "[N, 512, 7, 7]");
}
