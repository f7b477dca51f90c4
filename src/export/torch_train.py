"""__TITLE__

Trains the exported model as dl's `train` block does (loss, optimizer,
learning rate, epochs, batch size, clip, seed, metrics), from the weights
`dl export` wrote, and saves the result in dl's layout and names so that
`dl eval`, `dl predict` and `dl repl` read it back.

The data: a CSV file or an MNIST folder is read here as dl reads it (the
same columns, `scale`, `standardize` with the training rows' statistics,
`reshape`), and each part takes the source rows dl's seeded shuffle and
split chose (`data.safetensors` holds their indices; `--source` points at
the file or folder elsewhere). Other sources (series, text, synthetic) come
as the rows dl prepared, in `data.safetensors`.

    python3 train.py                          # CPU, or the first GPU there is
    torchrun --nproc_per_node 2 train.py      # DistributedDataParallel
    torchrun --nnodes 2 --node_rank 0 --master_addr HOST --nproc_per_node 4 train.py

Under torchrun each process takes its share of every batch (the batch size
stays the one of the train block, summed over processes) and DDP averages
the gradients: gloo on CPU, nccl on GPUs. Each process normalises its own
share in batchnorm. A last batch with fewer rows than processes is skipped.
"""

import argparse
import csv
import gzip
import json
import math
import os
import pathlib
import sys

import safetensors.torch
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from model import __MODEL__ as Model, dl_state_dict  # noqa: E402

# The train block's settings, as dl checked them.
SETTINGS = json.loads(r"""__SETTINGS__""")


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"], help="override the epochs")
    parser.add_argument("--weights", default=HERE / "weights.safetensors", help="initial weights")
    parser.add_argument("--data", default=HERE / "data.safetensors", help="the split's rows, or the prepared rows")
    parser.add_argument("--source", help="the data's CSV file or MNIST folder (default: where dl read it)")
    parser.add_argument("-o", "--output", default=HERE / SETTINGS["output"], help="the dl checkpoint to write")
    parser.add_argument("--device", help="cpu, cuda or cuda:K (default: a GPU when there is one)")
    return parser.parse_args()


def setup(device):
    """The device, this process's rank and the number of processes."""
    distributed = "RANK" in os.environ  # set by torchrun
    local = int(os.environ.get("LOCAL_RANK", 0))
    if device is None:
        device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if not distributed:
        return device, 0, 1
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device, dist.get_rank(), dist.get_world_size()


def read_csv(path):
    """The feature columns and the target of a CSV file, as dl reads them."""
    source = SETTINGS["source"]
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], [r for r in rows[1:] if r]
    columns = [header.index(name) for name in source["features"]]
    target = header.index(source["target"])
    x = torch.tensor([[float(r[c]) for c in columns] for r in body], dtype=torch.float32)
    if source["label"]:
        y = torch.tensor([int(float(r[target])) for r in body], dtype=torch.long)
    else:
        y = torch.tensor([[float(r[target])] for r in body], dtype=torch.float32)
    return x, y


def read_idx(folder, name):
    """An IDX file of an MNIST folder (`name` or `name.gz`) as a tensor."""
    path = pathlib.Path(folder) / name
    raw = path.read_bytes() if path.exists() else gzip.decompress(path.with_name(name + ".gz").read_bytes())
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    values = torch.frombuffer(bytearray(raw[4 + 4 * dims :]), dtype=torch.uint8)
    return values.reshape(shape)


def read_mnist(folder):
    """Training and test images as [n, 784] floats and their labels."""
    def pair(images, labels):
        x = read_idx(folder, images)
        return x.reshape(len(x), -1).float(), read_idx(folder, labels).long()

    return pair("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), pair(
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
    )


def load_parts(data, source):
    """The parts (x, y) by name: read from the source and split as dl split
    it, or as dl prepared them."""
    if "x_train" in data:
        return {p: (data[f"x_{p}"], data[f"y_{p}"]) for p in ("train", "val", "test") if f"x_{p}" in data}
    kind = SETTINGS["source"]["kind"]
    source = source or SETTINGS["source"]["path"]
    if kind == "csv":
        x, y = read_csv(source)
        test = None
    else:
        (x, y), test = read_mnist(source)
    # Values, in program order; standardize uses the training rows' statistics.
    for transform in SETTINGS["transforms"]:
        if "scale" in transform:
            x = x * torch.tensor(transform["scale"], dtype=torch.float32)
            test = test and (test[0] * torch.tensor(transform["scale"], dtype=torch.float32), test[1])
        else:
            mean = torch.tensor(transform["mean"], dtype=torch.float64)
            std = torch.tensor(transform["std"], dtype=torch.float64)
            x = ((x.double() - mean) / std).float()
            test = test and (((test[0].double() - mean) / std).float(), test[1])
    shape = SETTINGS["sample_shape"]
    parts = {}
    for part in ("train", "val", "test"):
        if f"rows_{part}" not in data:
            continue
        rows = data[f"rows_{part}"]
        xs, ys = (test if part == "test" and test is not None else (x, y))
        parts[part] = (xs[rows].reshape(len(rows), *shape), ys[rows])
    return parts


def final(logits):
    """The model's output from its logits: the final softmax or sigmoid."""
    if SETTINGS["final"] == "softmax":
        return torch.softmax(logits, dim=-1)
    if SETTINGS["final"] == "sigmoid":
        return torch.sigmoid(logits)
    return logits


def loss_of(logits, y):
    """The mean loss of a batch, as dl computes it (on logits where it can)."""
    kind = SETTINGS["loss"]
    if kind == "cross_entropy":
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    if kind == "bce":
        y = y.to(logits.dtype).reshape(logits.shape)
        if SETTINGS["final"] == "sigmoid":
            return F.binary_cross_entropy_with_logits(logits, y)
        return F.binary_cross_entropy(logits, y)
    diff = logits - y.reshape(logits.shape)
    if kind == "mae":
        return diff.abs().mean()
    mean = (diff * diff).mean()
    return 0.5 * mean if kind == "half_mse" else mean


def optimizer_for(parameters):
    o = SETTINGS["optimizer"]
    if o["name"] == "sgd":
        return torch.optim.SGD(parameters, lr=o["lr"], momentum=o["momentum"])
    if o["name"] == "adam":
        return torch.optim.Adam(parameters, lr=o["lr"], betas=tuple(o["betas"]), eps=1e-8)
    return torch.optim.RMSprop(parameters, lr=o["lr"], alpha=o["alpha"], eps=1e-8)


def classes_of(output):
    """Predicted classes: the largest score, or for one output the threshold."""
    if output.shape[-1] > 1:
        return output.argmax(dim=-1).reshape(-1)
    threshold = 0.5 if SETTINGS["final"] == "sigmoid" else 0.0
    return (output >= threshold).long().reshape(-1)


def per_class(confusion, of):
    """dl's convention: class 1 for two classes, else the macro average over
    the classes where it is defined."""
    n = confusion.shape[0]
    if n == 2:
        return of(confusion, 1), ""
    values = [v for v in (of(confusion, c) for c in range(n)) if v is not None]
    return (sum(values) / len(values) if values else None), " (macro)"


def precision_of(m, c):
    predicted = m[:, c].sum().item()
    return m[c, c].item() / predicted if predicted else None


def recall_of(m, c):
    actual = m[c].sum().item()
    return m[c, c].item() / actual if actual else None


def f1_of(m, c):
    p, r = precision_of(m, c), recall_of(m, c)
    if p is None or r is None:
        return None
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def metrics(output, y):
    """Each metric of the train block on a whole part, as dl reports it."""
    shown = []
    if SETTINGS["classes"]:
        n = SETTINGS["classes"]
        predicted, actual = classes_of(output), y.reshape(-1)
        confusion = torch.zeros(n, n, dtype=torch.long)
        confusion.index_put_((actual, predicted), torch.ones_like(actual), accumulate=True)
    else:
        predicted, actual = output.reshape(-1).double(), y.reshape(-1).double()
    for name in SETTINGS["metrics"]:
        suffix = ""
        if name == "accuracy":
            value = (predicted == actual).double().mean().item()
        elif name in ("precision", "recall", "f1"):
            of = {"precision": precision_of, "recall": recall_of, "f1": f1_of}[name]
            value, suffix = per_class(confusion, of)
        elif name == "mae":
            value = (predicted - actual).abs().mean().item()
        elif name in ("mse", "rmse"):
            value = ((predicted - actual) ** 2).mean().item()
            value = math.sqrt(value) if name == "rmse" else value
        else:  # mape
            value = None if (actual == 0).any() else 100 * ((predicted - actual) / actual).abs().mean().item()
        shown.append(f"{name} undefined" if value is None else f"{name} {value:.4f}{suffix}")
    return shown


@torch.no_grad()
def evaluate(model, x, y, device):
    """Mean loss and metrics of the model on a whole part, in evaluation mode."""
    model.eval()
    total, outputs = 0.0, []
    for start in range(0, len(x), 1024):
        xb, yb = x[start : start + 1024].to(device), y[start : start + 1024].to(device)
        logits = model(xb, logits=True)
        total += loss_of(logits, yb).item() * len(xb)
        outputs.append(final(logits).cpu())
    model.train()
    return [f"loss {total / len(x):.4f}", *metrics(torch.cat(outputs), y)]


def save(model, path):
    """Writes the weights in dl's layout atomically, with dl's input metadata."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    safetensors.torch.save_file(dl_state_dict(model), temporary, metadata={"dl.input": SETTINGS["dl_input"]})
    os.replace(temporary, path)


def main():
    args = arguments()
    device, rank, world = setup(args.device)
    torch.manual_seed(SETTINGS["seed"])
    model = Model()
    model.load_state_dict(safetensors.torch.load_file(args.weights), strict=True)
    model.to(device)
    model.train()
    net = model
    if world > 1:
        net = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = optimizer_for(parameters)
    parts = load_parts(safetensors.torch.load_file(args.data), args.source)
    x, y = parts["train"]
    rows = len(x)
    batch = SETTINGS["batch"] or rows
    if rank == 0:
        where = f"{world} processes" if world > 1 else str(device)
        print(f"{SETTINGS['title']}: {rows:,} training rows, batch {batch}, {args.epochs} epochs on {where}")
    for epoch in range(1, args.epochs + 1):
        # One order for every process: a generator seeded by the seed and the epoch.
        generator = torch.Generator().manual_seed(SETTINGS["seed"] * 1_000_003 + epoch)
        order = torch.randperm(rows, generator=generator) if SETTINGS["batch"] else torch.arange(rows)
        total = torch.zeros(2, dtype=torch.float64)
        for start in range(0, rows, batch):
            chosen = order[start : start + batch]
            if len(chosen) < world:
                continue
            mine = chosen[rank::world]
            xb, yb = x[mine].to(device), y[mine].to(device)
            optimizer.zero_grad()
            loss = loss_of(net(xb, logits=True), yb)
            loss.backward()
            if SETTINGS["clip"] is not None:
                torch.nn.utils.clip_grad_norm_(parameters, SETTINGS["clip"])
            optimizer.step()
            total += torch.tensor([loss.item() * len(mine), len(mine)], dtype=torch.float64)
        if world > 1:
            dist.all_reduce(total)
        line = f"epoch {epoch}/{args.epochs}: train loss {total[0] / total[1]:.4f}"
        if "val" in parts and rank == 0:
            line += ", val " + ", ".join(evaluate(model, *parts["val"], device))
        if rank == 0:
            print(line, flush=True)
    if rank == 0:
        if "test" in parts:
            print("test: " + ", ".join(evaluate(model, *parts["test"], device)))
        save(model, args.output)
        print(f"saved {args.output}")
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
