"""One run on several processes: ``torchrun --nproc_per_node=N train.py ...``.

The design keeps every rank in lockstep, so a multi-process run is the single-process run with
its batches cut into N parts:

- Every rank seeds the same random streams (``seed``) and draws the same numbers: the data
  permutation, the global batch of latents, T's crops. Each rank keeps its part of every global
  batch (the batch sizes of ``param.yml`` are the global ones) and computes its losses on it.
- After each backward the gradients of the optimiser's parameters are averaged over the ranks
  (one all-reduce of one flat buffer), then every rank takes the same optimiser step. This is
  what DistributedDataParallel computes, written out: DDP's hooks cannot follow the steps that
  switch ``requires_grad`` on and off, and the WGAN-GP penalty (a double backward,
  ``autograd.grad(create_graph=True)``) is simply part of each rank's loss.
- So the weights, optimiser states and random streams are the same on every rank, and a
  checkpoint (written by rank 0 alone, with the run folder, logs and evaluations) is the same as
  a single process's: it resumes under any number of processes.

Where a multi-process run differs from a single process with the same global batch: batch
statistics. BatchNorm normalises each rank's part with that part's statistics (not synchronised:
``SyncBatchNorm`` cannot pass the penalty's double backward, and G's and the encoders' BatchNorm
see fakes only, so their per-part statistics are what a smaller batch would give), and a loss
that couples the rows of a batch (CoDeGAN's SupCon ``L_c``: every other view is a negative) sees
the rank's part only. A method whose losses are means of per-image terms on nets without
BatchNorm (ClusterGAN on a BatchNorm-free G, tested) computes exactly the single-process
updates. The labelled batches of few-label CoDeGAN are used whole on every rank.
"""

from __future__ import annotations

import os

import torch

from ..errors import UserError


class Dist:
    """This process's place in a multi-process run (``rank`` of ``world``)."""

    def __init__(self, rank: int, world: int, local_rank: int):
        self.rank, self.world, self.local_rank = rank, world, local_rank
        self.main = rank == 0

    def part(self, x: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a global batch (n, ...) -> (n / world, ...)."""
        k = len(x) // self.world
        return x[self.rank * k:(self.rank + 1) * k]

    def average_grads(self, params) -> None:
        """Average the ``.grad`` of ``params`` over the ranks (the ones that have one: every
        rank runs the same steps, so the same ones)."""
        import torch.distributed as dist
        from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = _flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        flat /= self.world
        for g, avg in zip(grads, _unflatten_dense_tensors(flat, grads)):
            g.copy_(avg)

    def any(self, *flags: bool) -> list:
        """Each flag, true if it is true on any rank (a stop asked on one rank stops all)."""
        import torch.distributed as dist

        t = torch.tensor([float(f) for f in flags])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return [bool(v) for v in t.tolist()]

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


BATCH_KEYS = ("g_batch_size", "d_batch_size", "e_batch_size", "ec_batch_size", "ez_batch_size")


def setup(cfg, device: torch.device) -> Dist | None:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1 in the environment;
    None otherwise): NCCL on CUDA, gloo on the CPU. Checks that every global batch size splits
    evenly."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    values = cfg.to_dict()
    for key in BATCH_KEYS:
        n = values.get(key)  # the encoders' batches are CoDeGAN's: absent in other runs
        if n is not None and n % world:
            raise UserError(f"'{key}' ({n}) is the global batch and must split evenly over the "
                            f"{world} processes; use a multiple of {world}.")
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
