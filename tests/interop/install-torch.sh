#!/usr/bin/env bash
# Installs the pinned CPU-usable PyTorch the interoperability tests compare
# against, as bench/README.md explains: the torch wheel and the NVIDIA
# runtime wheels it links, without triton and cuda-bindings. Does nothing
# when that version already imports.
set -euo pipefail
version=2.15.0
if python3 -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$version')" 2>/dev/null; then
    exit 0
fi
python3 -m pip install --quiet --no-deps "torch==$version"
python3 -m pip install --quiet filelock typing-extensions sympy networkx jinja2 fsspec numpy threadpoolctl
python3 -m pip install --quiet \
    "cuda-toolkit[cublas,cudart,cufft,cufile,cupti,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.2.2" \
    nvidia-cudnn-cu13==9.26.0.51 nvidia-cusparselt-cu13==0.8.1 \
    nvidia-nccl-cu13==2.30.7 nvidia-nvshmem-cu13==3.7.2
python3 -c "import torch; print('torch', torch.__version__)"
