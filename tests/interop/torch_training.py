"""The PyTorch program `dl export --format torch` writes, against `dl train`.

1. From the same weights (the seeded initial ones the export writes), four
   full-batch training steps of the exported `train.py` end at the weights
   of four steps of `dl train` (1e-4 relative, 1e-5 absolute, every tensor,
   running statistics included), for a CNN with batchnorm (SGD with
   momentum), an LSTM (Adam), a GRU (RMSprop with gradient clipping) and a
   GRU with `reset_after = true`, which is PyTorch's own `nn.GRU` (Adam).
2. The data `train.py` reads itself (a CSV file, an MNIST folder) is dl's:
   with `--epochs 0` it saves the initial weights after printing their test
   loss and metrics, and `dl eval` on that checkpoint prints the same line,
   for `examples/mlp_digits.dl` (CSV) and `examples/lenet5_mnist.dl` (IDX).
3. `torchrun --nproc_per_node 2` (DistributedDataParallel over gloo, on
   localhost) trains the export of `examples/mlp_digits.dl` to at least 96%
   test accuracy, and `dl eval` reads the checkpoint it saves back with that
   accuracy.

A missing package or command is an error, never a skip.

Usage (from the repository root, after `cargo build --release`):
    python3 tests/interop/torch_training.py [--dl target/release/dl]
"""

import argparse
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import safetensors.numpy
    import torch  # noqa: F401 (train.py needs it; fail here, with the message)
except ImportError as e:  # never a silent skip
    sys.exit(f"error: {e}; install the pinned packages: pip install -r tests/interop/requirements.txt")

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data"

PROGRAMS = {
    "cnn_batchnorm": f"""
data digits = csv("{DATA}/digits.csv", label = "label") | scale(1 / 16) | reshape([1, 8, 8])
            | split(train = 0.8, test = 0.2, seed = 3)
model CNN(x: [1, 8, 8]) {{
    conv2d(8, kernel = 3, padding = 1) batchnorm relu maxpool(2)
    flatten dense(10) softmax
}}
train CNN on digits {{
    loss = cross_entropy  optimizer = sgd(lr = 0.1, momentum = 0.9)
    epochs = 4  batch = full  seed = 5  metrics = [accuracy]
    save = "dl.safetensors"
}}
""",
    "lstm": f"""
data sun = series("{DATA}/sunspots_yearly.csv", column = "sunactivity", window = 24)
         | standardize | split(train = 0.8, test = 0.2, shuffle = false)
model Forecast(x: [T, 1]) {{ lstm(16) last dense(1) }}
train Forecast on sun {{
    loss = mse  optimizer = adam(lr = 0.01)
    epochs = 4  batch = full  seed = 2  metrics = [rmse]
    save = "dl.safetensors"
}}
""",
    "gru": f"""
data sun = series("{DATA}/sunspots_yearly.csv", column = "sunactivity", window = 24)
         | standardize | split(train = 0.8, test = 0.2, shuffle = false)
model Forecast(x: [T, 1]) {{ gru(16) last dense(1) }}
train Forecast on sun {{
    loss = mse  optimizer = rmsprop(lr = 0.01)  clip = 0.5
    epochs = 4  batch = full  seed = 4  metrics = [mae]
    save = "dl.safetensors"
}}
""",
    "gru_reset_after": f"""
data sun = series("{DATA}/sunspots_yearly.csv", column = "sunactivity", window = 24)
         | standardize | split(train = 0.8, test = 0.2, shuffle = false)
model Forecast(x: [T, 1]) {{ gru(16, reset_after = true) last dense(1) }}
train Forecast on sun {{
    loss = mse  optimizer = adam(lr = 0.01)
    epochs = 4  batch = full  seed = 6  metrics = [mae]
    save = "dl.safetensors"
}}
""",
}


def run(*args, cwd=ROOT):
    out = subprocess.run([*map(str, args)], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"error: {' '.join(map(str, args))} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.stdout


def four_steps(dl, tmp, name, source):
    """Differences between dl's and PyTorch's weights after four steps."""
    folder = tmp / name
    folder.mkdir()
    program = folder / f"{name}.dl"
    program.write_text(source)
    run(dl, "export", program, "--format", "torch", "-o", folder / "torch")
    run(dl, "train", program)
    run(sys.executable, folder / "torch" / "train.py", "-o", folder / "torch.safetensors")
    ours = safetensors.numpy.load_file(folder / "dl.safetensors")
    theirs = safetensors.numpy.load_file(folder / "torch.safetensors")
    if sorted(ours) != sorted(theirs):
        return [f"{name}: tensors differ: {sorted(ours)} against {sorted(theirs)}"], 0.0
    failures, worst = [], 0.0
    for key, value in ours.items():
        other = theirs[key]
        difference = float(np.abs(value - other).max())
        worst = max(worst, difference)
        if value.shape != other.shape or not np.allclose(other, value, rtol=1e-4, atol=1e-5):
            failures.append(f"{name}: {key} differs by up to {difference:.3g}")
    initial = safetensors.numpy.load_file(folder / "torch" / "weights.safetensors")
    if all(np.array_equal(v, initial[k]) for k, v in ours.items() if k in initial):
        failures.append(f"{name}: training changed nothing, the comparison proves nothing")
    return failures, worst


def same_data(dl, tmp, example):
    """train.py's test line with no training, and dl eval's, on its weights."""
    folder = tmp / f"data_{example}"
    program = ROOT / "examples" / f"{example}.dl"
    run(dl, "export", program, "--format", "torch", "-o", folder)
    printed = run(sys.executable, folder / "train.py", "--epochs", "0", "-o", folder / "initial.safetensors")
    theirs = re.search(r"^test: (.*)$", printed, re.M).group(1)
    evaluated = run(dl, "eval", program, "--weights", folder / "initial.safetensors")
    ours = re.search(r"\.test: (.*)$", evaluated, re.M).group(1)
    return theirs, ours


def distributed(dl, tmp):
    """torchrun on two processes: the test accuracy it prints and dl eval's."""
    folder = tmp / "mlp_digits"
    run(dl, "export", ROOT / "examples" / "mlp_digits.dl", "--format", "torch", "-o", folder)
    torchrun = shutil.which("torchrun")
    if torchrun is None:
        sys.exit("error: torchrun is not on PATH (it comes with the torch package)")
    printed = run(torchrun, "--nproc_per_node", "2", "--master_port", "29517", folder / "train.py",
                  "-o", folder / "ddp.safetensors", cwd=folder)
    theirs = float(re.search(r"^test: loss [0-9.]+, accuracy ([0-9.]+)", printed, re.M).group(1))
    evaluated = run(dl, "eval", ROOT / "examples" / "mlp_digits.dl", "--weights", folder / "ddp.safetensors")
    ours = float(re.search(r"test: loss [0-9.]+, accuracy ([0-9.]+)", evaluated).group(1))
    return theirs, ours, "2 processes" in printed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dl", default=str(ROOT / "target/release/dl"))
    args = parser.parse_args()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for name, source in PROGRAMS.items():
            found, worst = four_steps(args.dl, tmp, name, source)
            failures += found
            print(f"{'FAILED' if found else 'ok    '}  {name}: 4 full-batch steps, largest difference {worst:.3g}")
        for example in ("mlp_digits", "lenet5_mnist"):
            theirs, ours = same_data(args.dl, tmp, example)
            ok = theirs == ours
            print(f"{'ok    ' if ok else 'FAILED'}  {example}: train.py reads the data as dl does: {theirs}")
            if not ok:
                failures.append(f"{example}: train.py says `{theirs}`, dl eval `{ours}`")
        theirs, ours, both = distributed(args.dl, tmp)
        ok = theirs >= 0.96 and abs(theirs - ours) < 1e-9 and both
        print(f"{'ok    ' if ok else 'FAILED'}  torchrun --nproc_per_node 2 on mlp_digits: "
              f"test accuracy {theirs:.4f}, read back by dl eval: {ours:.4f}")
        if not ok:
            failures.append("torchrun: below 96%, not two processes, or dl eval disagrees")
    for line in failures:
        print(f"FAILED  {line}")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
