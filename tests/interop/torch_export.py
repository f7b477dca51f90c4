"""`dl export --format torch` against PyTorch itself.

For every model of every example and benchmark (the same cases as
`onnx_export.py`: each `train` block's model bound to its data, and each
model on its own with a concrete input shape, the classic nets at their real
input sizes), with the seeded initial weights:

1. `dl export --format torch` writes `model.py` and `weights.safetensors`;
2. the module is built and `load_state_dict(strict=True)` accepts the
   weights;
3. its forward (in evaluation mode) on a seeded random input equals
   `dl predict --transformed` on the same input (1e-4 relative, 1e-5
   absolute on the scale of the outputs, as for ONNX Runtime);
4. `dl_state_dict(model)`, saved with safetensors, is a checkpoint that
   `dl predict --weights` reads back to the same outputs.

A user `cell` is a loop over the time steps in `forward`. Anything
that fails fails the run. A missing package is an error, never a skip.

Usage (from the repository root, after `cargo build --release`):
    python3 tests/interop/torch_export.py [--dl target/release/dl]
"""

import argparse
import importlib.util
import pathlib
import sys
import tempfile

try:
    import numpy as np
    import onnx
    import safetensors.torch
    import torch
except ImportError as e:  # never a silent skip
    sys.exit(f"error: {e}; install the pinned packages: pip install -r tests/interop/requirements.txt")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from onnx_export import ROOT, cases, differs, report, run  # noqa: E402


def load_module(folder, name):
    """The module `model.py` of an export folder, imported under `name`."""
    spec = importlib.util.spec_from_file_location(name, folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dl", default=str(ROOT / "target/release/dl"))
    args = parser.parse_args()
    torch.manual_seed(0)
    failures, passed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for i, (path, select, what) in enumerate(cases(args.dl)):
            name = f"{path.name}: {what}"
            folder = tmp / f"m{i}"
            out = run(args.dl, "export", path, *select, "--format", "torch", "-o", folder)
            if out.returncode != 0:
                failures.append(f"{name}: export failed:\n{out.stderr}")
                continue
            try:
                code = load_module(folder, f"exported_{i}")
                model_name = what.split(" ")[0]
                model = getattr(code, model_name)()
                model.load_state_dict(safetensors.torch.load_file(folder / "weights.safetensors"), strict=True)
            except Exception as e:  # whatever PyTorch raises
                failures.append(f"{name}: PyTorch cannot build or load it: {e!r}")
                continue
            model.eval()
            # The bound input sizes (a vocabulary known from the data only)
            # are those of the ONNX export's input.
            onnx_file = tmp / f"m{i}.onnx"
            out = run(args.dl, "export", path, *select, "-o", onnx_file)
            if out.returncode != 0:
                failures.append(f"{name}: dl export (ONNX, for the input shape) failed:\n{out.stderr}")
                continue
            graph_input = onnx.load(str(onnx_file)).graph.input[0]
            shape = [2] + [d.dim_value for d in graph_input.type.tensor_type.shape.dim[1:]]
            x = np.random.default_rng(i).standard_normal(shape).astype(np.float32)
            embeddings = [m for m in model.modules() if isinstance(m, torch.nn.Embedding)]
            if embeddings:
                vocab = min(m.num_embeddings for m in embeddings)
                x = np.random.default_rng(i).integers(0, vocab, shape).astype(np.float32)
            with torch.no_grad():
                expected = model(torch.from_numpy(x)).numpy().reshape(2, -1)
            np.save(tmp / "x.npy", x)
            out = run(args.dl, "predict", path, *select, "--transformed", tmp / "x.npy", "-o", tmp / "y.npy")
            if out.returncode != 0:
                failures.append(f"{name}: dl predict failed:\n{out.stderr}")
                continue
            got = np.load(tmp / "y.npy")
            why = differs(got, expected)
            if why:
                failures.append(f"{name}: PyTorch and dl differ ({why})")
                continue
            back = tmp / f"m{i}.safetensors"
            safetensors.torch.save_file(code.dl_state_dict(model), back)
            out = run(args.dl, "predict", path, *select, "--weights", back, "--transformed", tmp / "x.npy",
                      "-o", tmp / "y2.npy")
            if out.returncode != 0:
                failures.append(f"{name}: dl cannot read dl_state_dict's checkpoint back:\n{out.stderr}")
                continue
            if not np.allclose(np.load(tmp / "y2.npy"), got, rtol=1e-6, atol=1e-7):
                failures.append(f"{name}: the weights read back from PyTorch give other outputs")
                continue
            modules = sorted({type(m).__name__ for m in model.modules()} - {"Module", model_name})
            passed.append(f"{name}: {', '.join(modules) or 'no submodules'}")
    report(passed, failures, "PyTorch")


if __name__ == "__main__":
    main()
