"""`dl export --format onnx` against ONNX's own checker and ONNX Runtime.

For every model of every example and benchmark, and of the programs in
`tests/interop/` (each `train` block's model bound to its
data, and each model on its own whose input shape is concrete: LeNet-5,
AlexNet, VGG-16, ResNet-18 and GoogLeNet at their real input sizes), with
the seeded initial weights:

1. `dl export` writes the ONNX file;
2. `onnx.checker.check_model(full_check=True)` accepts it;
3. ONNX Runtime's output on a seeded random input equals `dl predict`'s on
   the same input (`--transformed`: the array is the model's input) to
   1e-4 relative / 1e-5 absolute, the absolute tolerance taken on the
   scale of the outputs (1e-5 times the largest |output| when that is above
   1: an untrained ResNet-18 at 224x224 gives logits near 100, where the two
   runtimes' different summation orders alone differ by 1e-4).

A user `cell` is unrolled over the sequence length the data fixes. Anything
that fails fails the run. A missing package is an error, never a skip.

Usage (from the repository root, after `cargo build --release`):
    python3 tests/interop/onnx_export.py [--dl target/release/dl]
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
except ImportError as e:  # never a silent skip
    sys.exit(f"error: {e}; install the pinned packages: pip install -r tests/interop/requirements.txt")

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run(dl, *args):
    return subprocess.run([dl, *map(str, args)], cwd=ROOT, capture_output=True, text=True)


def cases(dl):
    """(file, selector args, description) for every exportable model use."""
    programs = [*(ROOT / "examples").glob("*.dl"), *(ROOT / "bench").glob("*.dl")]
    programs += (ROOT / "tests" / "interop").glob("*.dl")
    for path in sorted(programs):
        checked = json.loads(run(dl, "check", path, "--format", "json").stdout)
        for k, train in enumerate(checked["trains"], start=1):
            yield path, ["--run", k], f"{train['model']} (run {k})"
        used_in_trains = {t["model"] for t in checked["trains"]}
        for model in checked["models"]:
            concrete = all(d.isdigit() for d in model["input"].strip("[]").split(", ")[1:])
            if model["kind"] == "model" and concrete and model["name"] not in used_in_trains:
                yield path, ["--model", model["name"]], f"{model['name']} (on its own)"


def differs(got, expected):
    """Why `got` is not `expected` (1e-4 relative, 1e-5 absolute on the
    outputs' scale), or None."""
    atol = 1e-5 * max(1.0, float(np.abs(expected).max()))
    if got.shape != expected.shape:
        return f"shapes differ: {got.shape} against {expected.shape}"
    if not np.allclose(got, expected, rtol=1e-4, atol=atol):
        return f"largest difference {np.abs(got - expected).max()}"
    return None


def report(passed, failures, peer):
    """Prints each case and exits non-zero when one failed or none ran."""
    for line in passed:
        print(f"ok      {line}")
    for line in failures:
        print(f"FAILED  {line}")
    print(f"{len(passed)} equal to {peer}, {len(failures)} failed")
    if failures or not passed:
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dl", default=str(ROOT / "target/release/dl"))
    args = parser.parse_args()
    failures, passed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for i, (path, select, what) in enumerate(cases(args.dl)):
            name = f"{path.name}: {what}"
            model_file = tmp / f"m{i}.onnx"
            out = run(args.dl, "export", path, *select, "-o", model_file)
            if out.returncode != 0:
                failures.append(f"{name}: export failed:\n{out.stderr}")
                continue
            model = onnx.load(str(model_file))
            try:
                onnx.checker.check_model(model, full_check=True)
            except Exception as e:  # the checker's own exception types vary
                failures.append(f"{name}: onnx.checker: {e}")
                continue
            try:
                session = ort.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
            except Exception as e:  # ONNX Runtime's own exception types
                failures.append(f"{name}: ONNX Runtime refuses it: {e}")
                continue
            inp = session.get_inputs()[0]
            shape = [2] + [int(d) for d in inp.shape[1:]]
            x = np.random.default_rng(i).standard_normal(shape).astype(np.float32)
            if any(n.op_type == "Gather" and n.input[0].endswith(".weight") for n in model.graph.node):
                # An embedding's input is ids below its vocabulary.
                vocab = min(t.dims[0] for t in model.graph.initializer if t.name.endswith(".weight"))
                x = np.random.default_rng(i).integers(0, vocab, shape).astype(np.float32)
            expected = session.run(None, {inp.name: x})[0].reshape(2, -1)
            np.save(tmp / "x.npy", x)
            out = run(args.dl, "predict", path, *select, "--transformed", tmp / "x.npy", "-o", tmp / "y.npy")
            if out.returncode != 0:
                failures.append(f"{name}: dl predict failed:\n{out.stderr}")
                continue
            got = np.load(tmp / "y.npy")
            why = differs(got, expected)
            if why:
                failures.append(f"{name}: ONNX Runtime and dl differ ({why})")
                continue
            ops = sorted({n.op_type for n in model.graph.node})
            passed.append(f"{name}: {len(model.graph.node)} nodes ({', '.join(ops)})")
    report(passed, failures, "ONNX Runtime")


if __name__ == "__main__":
    main()
