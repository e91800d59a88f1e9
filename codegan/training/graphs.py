"""Whole training iterations captured as CUDA graphs and replayed (``cuda_graphs: true``).

Why: at the MNIST / Fashion-MNIST settings one CoDeGAN iteration is about 100 GFLOP, a few
milliseconds of an H100, but the eager loop launches well over a thousand small kernels from
Python for it: on a GPU the loop is bound by launches, not arithmetic. A CUDA graph records the
kernels of one iteration once (``torch.cuda.graph``, which also records the penalty's double
backward, where ``torch.compile`` and ``make_graphed_callables`` cannot) and replays them with
one launch.

A replay computes what the eager iteration computes:
- What changes from one iteration to the next stays outside the graph, in static tensors the
  graph reads: the real minibatch (the data stream's gather, copied into ``real_u8``), the EMA
  weight of the iteration (``ema_w``) and the learning rates (0-dim tensors the decay changes
  in place; Adam runs with ``capturable=True``, its step count on the device).
- Everything random (latents, the augmentation ``T``, the penalty's interpolation) is drawn
  inside the graph from the global CUDA generator: PyTorch's graph-safe Philox gives each
  replay the offsets the eager kernels would get, so replays draw the numbers an eager run
  draws, and the checkpoints' RNG states stay valid.
- A method's iteration may take branches (CoDeGAN: whether E_c trains yet; with ``critic`` > 1
  whether G steps this iteration). ``Method.graph_key(epoch, idx)`` names the branch; each is
  captured once, after ``warmup`` eager iterations of it (then Adam's state exists and cuDNN has
  chosen its algorithms). A method, or a branch, whose key is None runs eagerly.

Host synchronisation inside an iteration would break the capture (CUDA refuses it), so the
iteration has none; the loop reads losses only every ``finite_check_every`` iterations and
every 10th for the log. Equality with the eager loop is checked on the GPU by
``tests/test_cuda_graphs.py``; ``bench/bench_graphs.py`` measures the speed.

The loop runs every iteration through an object with ``EagerSteps``' five calls
(``iteration``, ``next_batch``, ``ema_weight``, ``adopt`` for optimisers it (re)made, ``reset``
after their states were replaced), so that all it knows of graphs is which of the two it
holds. ``capture=False`` (the CPU, and tests) keeps every static tensor and the warm-up
bookkeeping but never captures: it checks that the capture-ready structure computes what the
plain loop computes, on machines without a GPU.
"""

from __future__ import annotations

from collections import Counter

import torch

from ..errors import UserError


class EagerSteps:
    """How the loop runs an iteration when nothing is captured: the method's
    ``train_iteration`` as it is. ``StepGraphs`` offers the same five calls; the loop knows no
    more of CUDA graphs than this interface."""

    def __init__(self, loop):
        self.loop = loop

    def iteration(self, epoch: int, idx: int) -> dict:
        """One iteration of the method; its losses."""
        return self.loop.method.train_iteration(epoch, idx)

    def next_batch(self) -> torch.Tensor:
        """The iteration's real minibatch (uint8), for ``Trainer.next_real``."""
        return self.loop.stream.next()

    def ema_weight(self):
        """``1 - beta`` of this iteration's EMA update (``Trainer.ema_weight``)."""
        return self.loop.ema_weight()

    def adopt(self, opts) -> None:
        """Prepare optimisers the loop (re)made for this way of running: nothing eagerly."""

    def reset(self) -> None:
        """Forget what was prepared for the old optimiser states: nothing eagerly."""


class StepGraphs(EagerSteps):
    """The graphs of one Trainer's iterations, by branch key. Created by
    ``Trainer.enable_graphs``; ``iteration(epoch, idx)`` runs one iteration."""

    WARMUP = 3  # eager iterations of a branch before it is captured

    def __init__(self, loop, capture: bool = True, warmup: int = WARMUP):
        if capture and loop.device.type != "cuda":
            raise ValueError("CUDA graphs need a CUDA device")
        super().__init__(loop)
        self.capture = capture
        self.warmup = warmup
        self.graphs: dict = {}  # key -> (CUDAGraph, the losses it writes)
        self.seen: Counter = Counter()  # eager iterations run so far, per key
        self.real_u8: torch.Tensor | None = None  # the iteration's real minibatch (uint8)
        self.ema_w = torch.zeros((), device=loop.device)  # 1 - beta of the iteration's EMA
        self.side = torch.cuda.Stream(loop.device) if capture else None
        self.captures = 0  # graphs captured so far (a rollback drops them and recaptures)
        self.static_inputs = False  # this iteration reads real_u8 and ema_w

    def next_batch(self) -> torch.Tensor:
        return self.real_u8 if self.static_inputs else super().next_batch()

    def ema_weight(self):
        return self.ema_w if self.static_inputs else super().ema_weight()

    def adopt(self, opts) -> None:
        """Every learning rate of ``opts`` a 0-dim tensor on the device (a graph reads it there;
        the decay fills it in place), and capturable Adam (its step count on the device) when
        capturing."""
        device = self.loop.device
        for o in opts:
            for group in o.param_groups:
                # float32 whatever the parameters' dtype: the fused CUDA Adam reads it so
                group["lr"] = torch.tensor(float(group["lr"]), device=device, dtype=torch.float32)
                if self.capture:
                    group["capturable"] = True
                    # a checkpoint of non-capturable Adam keeps the step count on the CPU
                    for p in group["params"]:
                        st = o.state.get(p, {})
                        if torch.is_tensor(st.get("step")) and st["step"].device != device:
                            st["step"] = st["step"].to(device, torch.float32)

    def reset(self) -> None:
        """Drop every graph (after the optimisers' state tensors were replaced, e.g. by a
        rollback to a checkpoint): each branch warms up and is captured again."""
        self.graphs.clear()
        self.seen.clear()

    def _inputs(self) -> None:
        """The iteration's data and EMA weight, into the static tensors the graph reads."""
        loop = self.loop
        batch = loop.stream.next()
        if self.real_u8 is None or self.real_u8.shape != batch.shape:
            self.real_u8 = torch.empty_like(batch)
            self.reset()  # a graph would read the old buffer
        self.real_u8.copy_(batch)
        self.ema_w.fill_(loop.ema_weight())

    def iteration(self, epoch: int, idx: int) -> dict:
        """One iteration of the method: replayed when its branch is captured, else eager (the
        warm-up of a branch, or a branch that cannot be captured); captured at the first
        occurrence after the warm-up. Returns the losses (the graph's own output tensors when
        replayed: read them before the next iteration)."""
        method = self.loop.method
        key = method.graph_key(epoch, idx)
        self.static_inputs = key is not None
        if key is None:
            return method.train_iteration(epoch, idx)
        self._inputs()
        if key in self.graphs:
            g, out = self.graphs[key]
            g.replay()
            return out
        if not self.capture or self.seen[key] < self.warmup:
            self.seen[key] += 1
            return self._eager(epoch, idx)
        return self._capture(key, epoch, idx)

    def _eager(self, epoch: int, idx: int) -> dict:
        if self.side is None:
            return self.loop.method.train_iteration(epoch, idx)
        # warm-up on the stream the capture will use (PyTorch's recipe for whole-network capture)
        cur = torch.cuda.current_stream(self.loop.device)
        self.side.wait_stream(cur)
        with torch.cuda.stream(self.side):
            out = self.loop.method.train_iteration(epoch, idx)
        cur.wait_stream(self.side)
        return out

    def _capture(self, key, epoch: int, idx: int) -> dict:
        g = torch.cuda.CUDAGraph()
        torch.cuda.synchronize(self.loop.device)
        try:
            with torch.cuda.graph(g, stream=self.side):
                out = self.loop.method.train_iteration(epoch, idx)
        except Exception as e:  # e.g. an operation that reads a value on the host
            # A failed capture leaves the CUDA generator unusable in this process (PyTorch
            # 2.11: "Offset increment outside graph capture"), so the run cannot go on eagerly:
            # stop with the first error of the capture, before anything is saved.
            first = e
            while first.__context__ is not None:
                first = first.__context__
            why = f"{type(first).__name__}: {str(first).splitlines()[0][:300]}"
            raise UserError(
                f"cuda_graphs: the capture of {type(self.loop.method).__name__}'s iteration "
                f"(branch {key}) failed at iteration {self.loop.iteration}: {why}. An operation "
                f"of this method or setting cannot be recorded in a CUDA graph; train without "
                f"--cuda_graphs (the eager loop computes the same).") from None
        self.graphs[key] = (g, out)
        self.captures += 1
        g.replay()  # a capture records the kernels without running them
        return out
