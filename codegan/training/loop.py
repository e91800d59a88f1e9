"""The training loop every method runs on (the ``training_loop.py`` of NVlabs'
stylegan2-ada-pytorch; the method is its ``loss.py``: ``codegan.methods``).

``Trainer`` reads the data once, builds the folder's networks, G's and D's optimisers and the
method named by the ``method`` setting, then ``run()`` repeats the method's iteration
(``Method.train_iteration``) to the end of the schedule, with what every method shares: the
numbered run folder, logging, periodic evaluation and sample grids, checkpoints, resume, Ctrl-C,
the speed settings, the learning-rate decay and the EMA of G.
"""

from __future__ import annotations

import copy
import json
import math
import os
import signal
import sys
import time
import types

import torch

from .. import checkpoint as ckpt_io
from ..config import Config, stored, validate
from ..data.datasets import DATASETS, BatchStream, load_images, to_float
from ..device import pick_device, precision_note
from ..errors import UserError, WriteFailed, append_file, write_failure, write_text
from ..evaluation.evaluate import evaluate, log_lines
from ..evaluation.traversal import save_method_samples
from ..folders import load_models
from ..latent import sample_latent_cfg
from ..methods import METHODS, build_method_nets
from ..nets import has_batchnorm, has_spectral_norm, set_grad
from . import distributed
from .graphs import EagerSteps, StepGraphs
from .runs import END_FILE, checkpoint_iteration, new_run_dir


class Trainer:
    """Builds everything a run needs from ``cfg`` and the dataset folder; ``run()`` trains."""

    def __init__(self, cfg: Config, dataset_dir: str, resume: str | None = None,
                 resume_overrides: dict | None = None):
        self.dataset_dir = os.path.abspath(dataset_dir)
        state = None
        if resume:
            state = ckpt_io.load_checkpoint(resume)
            if state["config"]["dataset"] != cfg.dataset:
                raise UserError(f"{resume} is a {state['config']['dataset']} checkpoint; this "
                                f"folder trains {cfg.dataset}. Resume it from its own folder.")
            cfg = validate({**stored(state["config"]), **(resume_overrides or {}),
                            "resume": resume},
                           source=f"the checkpoint {resume}")
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        # torchrun: one process per device, in lockstep (codegan.training.distributed)
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and self.device.type == "cuda":
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(self.device)
        self.dist = distributed.setup(cfg, self.device)
        self.main = self.dist is None or self.dist.main  # writes the run folder, evaluates
        self.spec = DATASETS[cfg.dataset]
        self.image_range = self.spec.image_range
        torch.manual_seed(cfg.seed)

        # data: read once, kept as uint8 on the training device
        self.train_x, self.train_y = load_images(cfg.dataset, cfg.data_root, "train", cfg)
        self.train_x = self.train_x.to(self.device)
        self.eval_data = {}
        if cfg.eval_protocol == "e-based" and self.main and cfg.zc_dim:  # zc_dim 0: no k-means
            self.eval_data["test_x"], self.eval_data["test_y"] = load_images(
                cfg.dataset, cfg.data_root, "test", cfg)
        self.stream = BatchStream(self.train_x, cfg.d_batch_size, cfg.seed,
                                  part=self.dist.part if self.dist else None)
        # an epoch is a pass over the images, whatever an iteration of the method draws
        per_iter = METHODS[cfg.method].batches_per_iteration(cfg)
        self.iters_per_epoch = max(1, self.stream.iters_per_epoch // per_iter)

        # the folder's networks with the method's heads, the method, its optimisers
        self.nets = build_method_nets(self.dataset_dir, cfg).to(self.device)
        self.method = METHODS[cfg.method](self)
        for key, value in self.method.eval_data().items():  # beyond the test set
            self.eval_data.setdefault(key, value)
        self._speed_settings()
        # what runs an iteration of the method: eagerly, or as CUDA graphs (StepGraphs)
        self.steps = EagerSteps(self)
        self._extra = None  # extra_iterations(), made once
        self.opt = self.method.optimizers()
        self.G_ema = copy.deepcopy(self.nets.G).eval() if cfg.use_ema else None
        if self.G_ema is not None:
            set_grad([self.G_ema], False)

        self.gd_source = None  # the checkpoint whose G and D started this run (load_path)
        self.iteration = 0
        if state is not None:
            self._load_state(state)
        else:
            self.method.start()
            self._start_weights()
        self.stop_requested = False
        self.stopped_by = None  # the signal that stopped the run early: 'SIGINT', 'SIGTERM'
        self.last_checkpoint = None
        self.rollbacks = 0  # rollbacks after a divergence so far (rollback_on_divergence)
        self.run_dir = self._log_path = self.tb = None
        if cfg.cuda_graphs and self.device.type == "cuda":
            self.enable_graphs()

    def enable_graphs(self, capture: bool = True) -> StepGraphs:
        """Run the iterations through ``StepGraphs`` (``cuda_graphs: true`` on a CUDA device;
        ``capture=False`` keeps its static inputs without capturing, for tests on the CPU)."""
        self.steps = StepGraphs(self, capture=capture)
        self.steps.adopt(self.opt.values())
        return self.steps

    @property
    def graphs(self) -> StepGraphs | None:
        """The ``StepGraphs`` that run the iterations, None when they run eagerly."""
        return self.steps if isinstance(self.steps, StepGraphs) else None

    def replace_optimizer(self, name: str, opt: torch.optim.Optimizer) -> None:
        """The method's optimiser ``name`` from now on (InfoGAN-CR's new Adam of H at its
        switch): the loop keeps it, decays its learning rate and saves it. A method hands a new
        optimiser over here; it never writes the loop's ``opt`` itself."""
        self.opt[name] = opt
        self.steps.adopt([opt])

    def _speed_settings(self):
        """The ``speed`` keys of the config (bench/bench_speed.py measures each)."""
        cfg, nets = self.cfg, self.nets
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        if cfg.channels_last:
            nets.to(memory_format=torch.channels_last)
        # exact-maths shortcut, only where D allows it (see the helpers' docstrings)
        self.stack_d = cfg.stack_d_batches and not (has_batchnorm(nets.D) or
                                                    has_spectral_norm(nets.D))
        if cfg.compile:  # in place, so state_dict keys stay; D is left out: GP needs double backward
            for m in (nets.G, *self.method.networks().values()):
                m.compile()

    def adam(self, params, weight_decay: float = 0.0, lr: float | None = None) -> torch.optim.Adam:
        """The run's Adam (``adam_betas``; fused with ``fused_adam``) at ``lr`` (None: the
        ``lr`` setting). Each parameter group keeps its start value as ``base_lr``, from which
        the learning-rate decay scales it."""
        adam = dict(fused=True) if self.cfg.fused_adam else dict(foreach=False)
        lr = self.cfg.lr if lr is None else lr
        opt = torch.optim.Adam(params, lr, tuple(self.cfg.adam_betas),
                               weight_decay=weight_decay, **adam)
        for group in opt.param_groups:
            group["base_lr"] = lr
        return opt

    def fresh_nets(self):
        """Another G and D of the folder (new weights from the global random stream), on the
        device: for a method's heads that reuse an architecture."""
        return load_models(self.dataset_dir).build_nets(self.cfg, encoders=False).to(self.device)

    def amp(self):
        """Autocast context of the forward passes: bfloat16 with ``precision: bf16``, else off.
        Every loss is computed in float32 outside autocast
        (``codegan.methods.losses.float32_loss``)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16,
                              enabled=self.cfg.precision == "bf16")

    # -- state ------------------------------------------------------------------------------
    def _start_weights(self):
        """A fresh run: G and D from ``load_path`` (an earlier run of the folder) when set; the
        EMA of G starts as G."""
        cfg = self.cfg
        if cfg.load_path and cfg.load_path != "scratch":
            path = cfg.load_path
            if not os.path.isabs(path) and not os.path.exists(path):
                path = os.path.join(self.dataset_dir, path)
            if os.path.isdir(path):  # a run folder: its newest checkpoint
                found = ckpt_io.list_checkpoints(path)
                if not found:
                    raise UserError(f"load_path {cfg.load_path} is a folder without "
                                    f"checkpoints/ckpt-*.pt; give a run folder or a checkpoint.")
                path = found[-1]
            if not os.path.isfile(path):
                raise UserError(f"load_path {cfg.load_path} not found: give an earlier run's "
                                f"folder (runs/<run>) or checkpoint (runs/<run>/checkpoints/"
                                f"ckpt-*.pt) whose G and D start this run, or set load_path: "
                                f"null (scratch in the modes that need G and D).")
            self.gd_source = path
            src = ckpt_io.load_checkpoint(path)
            if src["config"]["dataset"] != cfg.dataset:
                raise UserError(f"load_path {cfg.load_path} is a {src['config']['dataset']} "
                                f"checkpoint, not {cfg.dataset}.")
            sd = src["nets"]
            for part in ("G", "D"):
                try:
                    getattr(self.nets, part).load_state_dict(
                        {k[len(part) + 1:]: v for k, v in sd.items() if k.startswith(part + ".")})
                except RuntimeError as e:
                    raise UserError(f"the {part} of load_path {cfg.load_path} does not fit this "
                                    f"folder's models.py ({str(e).splitlines()[0][:160]}).") \
                        from None
        if self.G_ema is not None:
            self.G_ema.load_state_dict(self.nets.G.state_dict())

    def state_dict(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        shared = {
            "config": self.cfg.to_dict(),
            "dataset_dir": self.dataset_dir,
            "iteration": self.iteration,
            "nets": self.nets.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "optim": {k: _portable(o.state_dict()) for k, o in self.opt.items()},
            "stream": self.stream.state_dict(),
            "rng": rng,
        }
        extra = self.method.state_dict()  # beside the shared entries, never in their place
        clash = sorted(set(extra) & set(shared))
        if clash:
            raise ValueError(f"method {self.method.name} saves {clash}, which the loop saves")
        return {**shared, **extra}

    def _load_state(self, s: dict) -> None:
        try:
            self.nets.load_state_dict(s["nets"])
            if self.G_ema is not None:
                self.G_ema.load_state_dict(s["G_ema"] or s["nets"])
            for k, o in self.opt.items():
                o.load_state_dict(s["optim"][k])
        except (RuntimeError, KeyError) as e:
            raise UserError(f"the checkpoint does not fit this folder's models.py "
                            f"({str(e).splitlines()[0][:200]}). Resume with the models.py it "
                            f"was trained with.") from None
        self.stream.load_state_dict(s["stream"])
        self.steps.adopt(self.opt.values())  # new optimiser states: graphs read the old ones
        self.steps.reset()
        self.iteration = s["iteration"]
        self.method.load_state_dict(s)
        torch.set_rng_state(s["rng"]["torch"])
        if self.device.type == "cuda" and "cuda" in s["rng"]:
            torch.cuda.set_rng_state(s["rng"]["cuda"], self.device)

    # -- what the loop offers its method (codegan.methods.base) -----------------------------------
    def latents(self, n: int):
        """``n`` latents ``z`` (n, zn_dim), ``c`` (n,) from the prior, on the device. In a
        multi-process run ``n`` is the global batch: every rank draws all ``n`` (the same
        numbers) and keeps its part."""
        z, c = sample_latent_cfg(self.cfg, n, self.device)  # c None: no class code (zc_dim 0)
        if self.dist:
            return self.dist.part(z), (None if c is None else self.dist.part(c))
        return z, c

    def real(self, xb_uint8: torch.Tensor) -> torch.Tensor:
        """uint8 images -> float images in the dataset's range."""
        return to_float(xb_uint8, self.image_range)

    def next_real(self) -> torch.Tensor:
        """The iteration's real minibatch of the stream, as float images in the dataset's range
        (one per iteration; with CUDA graphs read from the graphs' static buffer, which they
        fill before each iteration)."""
        return self.real(self.steps.next_batch())

    def ema_weight(self) -> float:
        """``1 - beta`` of this iteration's EMA update: ``1 - ema_decay``, or 1 (a copy of G)
        before ``ema_start`` (counted from 1, like the official counter)."""
        return 1 - (self.cfg.ema_decay if self.iteration + 1 >= self.cfg.ema_start else 0.0)

    def update_ema(self):
        """EMA of G's whole state (parameters and BatchNorm running statistics, as the official
        ``utils/ema.py`` averages the state_dict), once per optimiser step of G (CoDeGAN: after
        that iteration's encoder steps, as the official loop); nothing without ``use_ema``.
        Before ``ema_start`` (counted from 1, like the official counter) the EMA copies G;
        integer buffers (BatchNorm's batch counter) are copied."""
        if self.G_ema is None:
            return
        w = self.steps.ema_weight()  # with graphs a tensor, filled before each iteration
        with torch.no_grad():
            for pe, p in zip(self.G_ema.parameters(), self.nets.G.parameters()):
                pe.lerp_(p, w)
            for be, b in zip(self.G_ema.buffers(), self.nets.G.buffers()):
                if be.is_floating_point():
                    be.lerp_(b, w)
                else:
                    be.copy_(b)

    def _decay_lr(self):
        """Linear decay as the official CIFAR-10 loop: after every ``lr_decay_every``-th
        iteration of each epoch (``idx % 5 == 4``, the count restarting every epoch) each
        optimiser's lr falls by ``base_lr * lr_decay_every / lr_decay_iters`` (official:
        2e-4 / 180000)."""
        cfg, t, ipe = self.cfg, self.iteration, self.iters_per_epoch
        every = cfg.lr_decay_every
        if not cfg.lr_decay or (t % ipe) % every:  # lr changes only at these iterations
            return
        decays = (t // ipe) * (ipe // every) + (t % ipe) // every
        self._set_lr(max(0.0, 1 - decays * every / cfg.lr_decay_iters))

    def _set_lr(self, factor: float) -> None:
        """Every optimiser's learning rate = its start value (``base_lr``) * ``factor``: the
        one place that writes them (the decay above, a method's ``lr_factor``)."""
        cfg = self.cfg
        for o in self.opt.values():
            for group in o.param_groups:  # checkpoints from before base_lr started at lr
                lr = group.get("base_lr", cfg.lr) * factor
                if torch.is_tensor(group["lr"]):  # CUDA graphs read it on the device
                    group["lr"].fill_(lr)
                else:
                    group["lr"] = lr

    def train_iteration(self) -> dict:
        """The method's learning rates for this iteration (``Method.lr_factor``), one iteration
        of the method (its steps, in its order), then the count and the learning-rate decay.
        Returns the losses."""
        epoch, idx = divmod(self.iteration, self.iters_per_epoch)
        factor = self.method.lr_factor(epoch, idx)  # a method's own schedule (ConGAN's)
        if factor is not None:
            self._set_lr(factor)
        losses = self.steps.iteration(epoch, idx)
        self.iteration += 1
        self._decay_lr()
        return losses

    def total_iters(self) -> int:
        total = self.cfg.max_step * self.iters_per_epoch
        return min(total, self.cfg.max_iters) if self.cfg.max_iters else total

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> str:
        """Train to the end (or ``max_iters``, or Ctrl-C), evaluating and checkpointing on
        schedule and once more at the end. Returns the run folder."""
        cfg = self.cfg
        out_dir = cfg.out if os.path.isabs(cfg.out) else os.path.join(self.dataset_dir, cfg.out)
        # the method names its runs: CoDeGAN's by mode (runs/00000-mnist-unsupervised), the
        # others' by method (runs/00001-mnist-infogan)
        name = self.method.run_name(cfg)
        try:
            return self._run(out_dir, f"{cfg.dataset}-{name}")
        except WriteFailed as e:  # disk full, not writable: one message, the last checkpoint
            if self.tb is not None:
                try:
                    self.tb.close()
                except Exception:  # noqa: BLE001  (its file is on the same full disk)
                    pass
            if self.dist:
                self.dist.close()
            raise e.after(self.last_good()) from None

    def _run(self, out_dir: str, name: str) -> str:
        cfg = self.cfg
        if self.main:  # one process writes the run folder (the others train in lockstep)
            self._open_run_folder(out_dir, name)
        total = self.total_iters()
        procs = f" x {self.dist.world} processes" if self.dist else ""
        self.log(f"run folder {self.run_dir}; device {self.device}{procs}; {self.iters_per_epoch} "
                 f"iterations per epoch; training to iteration {total}"
                 + (f" (resumed at {self.iteration})" if cfg.resume else ""))
        if self.gd_source:
            self.log(f"G and D start from {self.gd_source} (load_path)")
        note = precision_note(self.device, cfg.precision)
        if note:
            self.log(note)
        if cfg.cuda_graphs:
            self.log("cuda_graphs: each branch of the iteration is captured after "
                     f"{StepGraphs.WARMUP} eager iterations and replayed"
                     if self.graphs is not None else
                     f"cuda_graphs: ignored on {self.device.type} (CUDA only); the eager loop runs")
        self._t0 = time.perf_counter()
        ipe = self.iters_per_epoch
        old_handlers = self._install_signals()
        from tqdm import tqdm

        bar = tqdm(total=total, initial=self.iteration, disable=not cfg.progress,
                   dynamic_ncols=True, file=sys.stdout)
        last_eval = last_save = -1
        extra = self.extra_iterations()  # e.g. InfoGAN-CR's state before its switch
        try:
            while self.iteration < total and not self.stop_requested:
                losses = self.train_iteration()
                it = self.iteration
                every = cfg.finite_check_every
                bad = every and it % every == 0 and self.nonfinite_loss(losses)
                if self.dist:  # a stop or a divergence on one process stops them all
                    self.stop_requested, other = self.dist.any(self.stop_requested, bool(bad))
                    bad = bad or (other and "a loss of another process is not finite")
                if bad:
                    if self.can_roll_back():
                        self.roll_back(bad)
                        bar.n = self.iteration
                        continue
                    self.diverged(bad)
                bar.update(1)
                if it % 10 == 0 or it == total:
                    vals = {k: float(v) for k, v in losses.items()}
                    bar.set_postfix({k.split("/")[0] + k.split("/")[1][:3]: f"{v:.3g}"
                                     for k, v in vals.items()}, refresh=False)
                    for k, v in vals.items():
                        if self.tb:
                            self.tensorboard("add_scalar", f"Loss/{k}", v, it)
                end_of_epoch = it % ipe == 0
                epoch = it // ipe
                if (end_of_epoch and epoch % cfg.test_step == 0) or \
                        (cfg.test_iters and it % cfg.test_iters == 0) or it in extra:
                    self.evaluate_and_log()
                    last_eval = it
                if (end_of_epoch and epoch % cfg.save_step == 0) or \
                        (cfg.save_iters and it % cfg.save_iters == 0) or it in extra:
                    self.save()
                    last_save = it
        finally:
            bar.close()
            for sig, old in old_handlers.items():
                signal.signal(sig, old)
        if self.stop_requested:
            by = f" ({self.stopped_by})" if self.stopped_by else ""
            self.log(f"interrupted at iteration {self.iteration}{by}: final evaluation and "
                     f"checkpoint")
        if last_eval != self.iteration:
            self.evaluate_and_log()
        if last_save != self.iteration:
            self.save()
        if self.main:
            # how the run ended, for whoever started it (the comparison tells a run a signal cut
            # short from a schedule that ended before its --max_iters)
            write_text(os.path.join(self.run_dir, END_FILE), json.dumps(
                {"iteration": self.iteration, "interrupted": bool(self.stop_requested),
                 "stopped_by": self.stopped_by}) + "\n")
            self.tensorboard("close")
        if self.dist:
            self.dist.close()
        return self.run_dir

    def _open_run_folder(self, out_dir: str, name: str) -> None:
        """A new numbered run folder with the resolved config, the log and TensorBoard."""
        import yaml

        self.run_dir = new_run_dir(out_dir, name)
        write_text(os.path.join(self.run_dir, "config.yml"),
                   yaml.safe_dump(self.cfg.to_dict(), sort_keys=False), exclusive=True)
        self.method.write_run_files(self.run_dir)
        self._log_path = os.path.join(self.run_dir, "log.txt")
        # tensorboard imports all of TensorFlow when it is installed (for IS/FID), which costs
        # seconds per run; its 'notf' marker module makes it use its own TF-free stub instead
        sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
        from torch.utils.tensorboard import SummaryWriter

        self.tb = SummaryWriter(self.run_dir)

    def _install_signals(self):
        """First Ctrl-C, or SIGTERM (what Slurm and Kubernetes send before they preempt a job):
        finish the iteration, evaluate, checkpoint, stop (``stopped_by`` names the signal).
        A second one aborts. Returns the previous handlers, to put back."""
        import threading

        if threading.current_thread() is not threading.main_thread():
            return {}

        def handler(signum, frame):
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True
            self.stopped_by = signal.Signals(signum).name
            what = "Ctrl-C" if signum == signal.SIGINT else self.stopped_by
            # the evaluation can take minutes (G-based: a classifier pass over 1,000 images per
            # code): the message says it is coming and how to skip it
            print(f"\n{what}: stopping after this iteration, then the final evaluation and a "
                  f"checkpoint ({what} again aborts at once, without them; the last checkpoint "
                  f"stays)", file=sys.stderr)

        return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def log(self, msg: str) -> None:
        if not self.main:
            return
        from tqdm import tqdm

        tqdm.write(msg)
        append_file(self._log_path, msg + "\n")

    def tensorboard(self, call: str, *args) -> None:
        """``self.tb.<call>(*args)``; a full disk under its events file raises ``WriteFailed``
        as any other write (TensorBoard writes in a thread and raises at the next call)."""
        try:
            getattr(self.tb, call)(*args)
        except (OSError, RuntimeError) as e:
            path = self.tb.get_logdir()
            failure = write_failure(e, path)
            if failure is None:
                raise
            raise WriteFailed(f"the TensorBoard events file in {path}", *failure) from None

    def evaluate_and_log(self) -> dict:
        self.check_finite()  # NaN weights would only make the evaluation fail obscurely
        if not self.main:
            return {}
        it = self.iteration
        G = self.G_ema if self.G_ema is not None else self.nets.G
        path = os.path.join(self.run_dir, "samples", f"grid-{it:08d}.png")
        save_method_samples(self.nets, G, self.cfg, path, self.device, self.cfg.grid_per_class,
                            self.eval_data)
        res = evaluate(self.nets, self.cfg, self.eval_data, self.device)
        from ..evaluation.disentangle import training_scores  # late: dSprites' metric suite

        # dSprites: the train_metrics (their factor sampler is cached in eval_data)
        dis = training_scores(self.nets, self.cfg, self.device, self.eval_data)
        res.update(dis)
        record = {"epoch": round(it / self.iters_per_epoch, 4), "iteration": it,
                  "seconds": round(time.perf_counter() - self._t0, 2), **res}
        append_file(os.path.join(self.run_dir, "metrics.jsonl"), json.dumps(record) + "\n")
        for k in ("acc", "acc_purity", "nmi", "ari"):
            if k in res:
                self.tensorboard("add_scalar", f"Metrics/{k}", res[k], it)
        for line in log_lines(res, it, record["epoch"], self.cfg.train_metrics):
            self.log(line)
        for k in (*self.cfg.train_metrics, "dci_completeness"):
            if k in dis:
                self.tensorboard("add_scalar", f"Disentanglement/{k}", dis[k], it)
        return record

    @staticmethod
    def nonfinite_loss(losses: dict) -> str | None:
        """Which loss of ``losses`` is NaN or infinite (one host synchronisation), or None."""
        if not losses:
            return None
        dev = next(iter(losses.values())).device
        vals = torch.stack([v.detach().float().reshape(()).to(dev) for v in losses.values()])
        if bool(torch.isfinite(vals).all()):
            return None
        name, v = next((k, v) for k, v in zip(losses, vals.tolist()) if not math.isfinite(v))
        return f"the loss {name} is {v}"

    def check_finite(self) -> None:
        """Stop the run (``diverged``) when a weight of the networks or of G's EMA is NaN or
        infinite: before an evaluation and before every checkpoint."""
        ema = self.G_ema.state_dict().items() if self.G_ema is not None else ()
        weights = [(name, t) for name, t in
                   [*self.nets.state_dict().items(), *(("G_ema." + k, v) for k, v in ema)]
                   if t.is_floating_point()]
        # one host synchronisation for all of them; the name only when one is not finite
        if bool(torch.stack([torch.isfinite(t).all() for _, t in weights]).all()):
            return
        name = next(name for name, t in weights if not bool(torch.isfinite(t).all()))
        self.diverged(f"the weight {name} is not finite")

    def can_roll_back(self) -> bool:
        """Whether a divergence goes back to the last checkpoint (``rollback_on_divergence``
        times at most, one process, a checkpoint of this run written)."""
        return (self.rollbacks < self.cfg.rollback_on_divergence and self.dist is None
                and self.last_checkpoint is not None)

    def roll_back(self, where: str) -> None:
        """Go back to the last checkpoint (every weight, optimiser state, random stream, the
        data position) and multiply every learning rate by ``rollback_lr_factor``."""
        self.rollbacks += 1
        self._load_state(ckpt_io.load_checkpoint(self.last_checkpoint))
        f = self.cfg.rollback_lr_factor
        for o in self.opt.values():
            for group in o.param_groups:
                group["base_lr"] = group.get("base_lr", self.cfg.lr) * f
                group["lr"] *= f
        self.log(f"rollback {self.rollbacks}/{self.cfg.rollback_on_divergence}: {where}; back "
                 f"to {self.last_checkpoint} (iteration {self.iteration}), learning rates x{f}")

    def diverged(self, where: str) -> None:
        """Stop the run with one message: what is not finite, at which iteration, the last
        good checkpoint. Nothing is saved afterwards, and every earlier checkpoint stays."""
        last = self.last_good()
        msg = (f"the run diverged: {where} at iteration {self.iteration}. It stops without "
               f"saving; " + (f"the last good checkpoint is {last}" if last else
                              "no checkpoint was written yet") +
               ". Resume from it with a lower lr (a new run: --lr=...), or another seed.")
        if self._log_path is not None:
            try:
                self.log("error: " + msg)
            except WriteFailed:  # the divergence is the message; a full disk does not hide it
                pass
        if self.dist:
            self.dist.close()
        raise UserError(msg)

    def last_good(self) -> str | None:
        """The run's last good checkpoint: the last one saved, else the newest in the run
        folder, else the one this run resumed; None when there is none."""
        if self.last_checkpoint is not None:
            return self.last_checkpoint
        found = ckpt_io.list_checkpoints(self.run_dir) if self.run_dir else []
        return found[-1] if found else (self.cfg.resume or None)

    def extra_iterations(self) -> set:
        """The method's own checkpoint iterations (``Method.extra_checkpoints``: fixed for the
        run), evaluated and saved beside the schedule and spared by ``keep_checkpoints``."""
        if self._extra is None:
            self._extra = self.method.extra_checkpoints()
        return self._extra

    def save(self) -> str:
        """Write a checkpoint of the current state (never one with non-finite weights). A save
        that fails (disk full, no permission) raises ``WriteFailed``, which ``run`` stops with
        one message naming the previous checkpoint, left as it was."""
        self.check_finite()
        if not self.main:
            return None
        path = os.path.join(self.run_dir, "checkpoints", ckpt_io.checkpoint_name(self.iteration))
        ckpt_io.save_checkpoint(path, self.state_dict())
        self.last_checkpoint = path
        keep = self.cfg.keep_checkpoints
        if keep:  # the method's own checkpoints (InfoGAN-CR's pre-switch state) stay
            named = self.extra_iterations()
            for old in ckpt_io.list_checkpoints(self.run_dir)[:-keep]:
                if checkpoint_iteration(old) in named:
                    continue
                os.remove(old)
                self.log(f"removed {os.path.basename(old)} (keep_checkpoints: {keep})")
        self.log(f"saved {path}")
        return path


def _portable(optim_state: dict) -> dict:
    """An optimiser's state_dict as a checkpoint keeps it: learning rates as numbers and
    ``capturable`` off, so that a checkpoint of a CUDA-graph run resumes anywhere (the loop
    turns them back on where it captures again)."""
    for group in optim_state["param_groups"]:
        if torch.is_tensor(group.get("lr")):
            group["lr"] = float(group["lr"])
        if "capturable" in group:
            group["capturable"] = False
    return optim_state
