"""Data parallelism on one machine: several processes, each with a copy of the model and
its own share of the batch, average their gradients with an all-reduce.

    grads = parallel.data_parallel_grads(model, x, y, world_size=2)

Each process is what one GPU is in nanoGPT's DistributedDataParallel run. Here they talk
over the loopback address with the gloo backend, which runs on CPUs.
"""

import os
import socket
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world_size, port, model, x, y, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    torch.set_num_threads(1)
    share = x.size(0) // world_size  # this process's slice of the batch
    rows = slice(rank * share, (rank + 1) * share)
    _, loss = model(x[rows], y[rows])
    loss.backward()  # the gradient of this process's share only
    for p in model.parameters():
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)  # every process gets the sum...
        p.grad /= world_size  # ... and divides: the mean over the whole batch
    if rank == 0:
        torch.save([p.grad for p in model.parameters()], Path(out_dir) / "grads.pt")
    dist.destroy_process_group()


def data_parallel_grads(model, x, y, world_size: int = 2) -> list[torch.Tensor]:
    """The gradient of the mean loss over batch (x, y), computed by world_size processes
    on equal slices of it and all-reduced; as rank 0 holds it after the all-reduce."""
    if x.size(0) % world_size:
        raise ValueError(f"batch of {x.size(0)} does not split into {world_size} equal shares")
    with tempfile.TemporaryDirectory() as out_dir:
        args = (world_size, _free_port(), model, x, y, out_dir)
        mp.spawn(_worker, args=args, nprocs=world_size)
        return torch.load(Path(out_dir) / "grads.pt")
