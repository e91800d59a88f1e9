"""The CoDeGAN training loop (CODEGAN.md sections 1-2), one readable class.

Per iteration (one real minibatch of ``d_batch_size``):
  every ``critic``-th iteration: a G step, then the encoder step(s) (separate encoders: E_c from
  the chain epoch on, then E_z always; a shared encoder E takes one step on
  ``L_c + beta_2/beta_1 * L_z`` from the chain epoch on, none before);
  and a D step on real images and as many fakes, after them or (``d_step_first``) before them.
The per-mode rules of the official code (chain epoch, where the labelled batch goes, detach,
which modes load pre-trained G and D) live in ``codegan.rules``.
Networks that a step does not update have ``requires_grad`` switched off for it, so no parameter
gradients are computed for them; gradients still flow through them to their input.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import sys
import time
import types

import torch

from .. import checkpoint as ckpt_io
from ..config import Config, validate
from ..data.augment import Augment
from ..data.datasets import DATASETS, BatchStream, load_images, to_float
from ..data.fewlabel import LabelledBatches, load_indices, save_indices, select_labelled
from ..device import pick_device
from ..errors import UserError
from ..evaluation.evaluate import evaluate
from ..evaluation.sampling import save_grid
from ..folders import load_models
from ..latent import sample_latent
from ..methods import codegan_rules as rules
from ..methods.losses import d_loss, g_loss, gradient_penalty, lz_loss, supcon_loss
from ..nets import has_batchnorm, has_spectral_norm, set_grad
from .runs import new_run_dir


def load_ec_weights(nets, path: str, dataset: str) -> dict:
    """Load pre-trained E_c weights (written by the pre-training / meta commands) into
    ``nets.E`` (shared encoder) or ``nets.E_c``. Returns the file's contents."""
    blob = ckpt_io.read_torch_file(
        path, f"pre-trained E_c weights {path} not found. Run the folder's pretrain.py (for "
              f"pretrain: true) or meta_pretrain.py (for meta: true) first, point pretrain_path / "
              f"meta_path at the file, or set pretrain / meta to false.",
        f"{path} is not a readable weights file")
    if not isinstance(blob, dict) or "state_dict" not in blob:
        raise UserError(f"{path} is not a pre-trained E_c file of this project.")
    if blob.get("dataset") != dataset:
        raise UserError(f"{path} was pre-trained on {blob.get('dataset')}, not {dataset}.")
    target = nets.E if nets.shared else nets.E_c
    try:
        target.load_state_dict(blob["state_dict"])
    except RuntimeError as e:
        raise UserError(f"{path} does not fit this E_c architecture: "
                        f"{str(e).splitlines()[0]}") from None
    return blob


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
            cfg = validate({**state["config"], **(resume_overrides or {}), "resume": resume},
                           source=f"the checkpoint {resume}")
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        self.spec = DATASETS[cfg.dataset]
        self.image_range = self.spec.image_range
        torch.manual_seed(cfg.seed)

        # data: read once, kept as uint8 on the training device
        self.train_x, self.train_y = load_images(cfg.dataset, cfg.data_root, "train", cfg)
        self.train_x = self.train_x.to(self.device)
        self.eval_data = {}
        if cfg.eval_protocol == "e-based":
            self.eval_data["test_x"], self.eval_data["test_y"] = load_images(
                cfg.dataset, cfg.data_root, "test")
        self.stream = BatchStream(self.train_x, cfg.d_batch_size, cfg.seed)
        self.iters_per_epoch = self.stream.iters_per_epoch
        self.T = Augment.from_config(cfg)

        # networks and optimisers (weight decay on G and the encoders, as the official code)
        self.nets = load_models(self.dataset_dir).build_nets(cfg).to(self.device)
        self._speed_settings()
        betas = tuple(cfg.adam_betas)
        adam = dict(fused=True) if cfg.fused_adam else dict(foreach=False)
        self.opt = {"G": torch.optim.Adam(self.nets.G.parameters(), cfg.lr, betas,
                                          weight_decay=cfg.weight_decay, **adam),
                    "D": torch.optim.Adam(self.nets.D.parameters(), cfg.lr, betas, **adam)}
        for name, enc in self.nets.encoders().items():
            self.opt[name] = torch.optim.Adam(enc.parameters(), cfg.lr, betas,
                                              weight_decay=cfg.weight_decay, **adam)
        self.G_ema = copy.deepcopy(self.nets.G).eval() if cfg.use_ema else None
        if self.G_ema is not None:
            set_grad([self.G_ema], False)

        self.labelled = None
        self.labelled_idx = None
        self._ec_source = None  # contents of the pre-trained E_c file, when one was loaded
        self.gd_source = None  # the checkpoint whose G and D started this run (load_path)
        self.iteration = 0
        if state is not None:
            self._load_state(state)
        else:
            self._start_weights()
        if cfg.few_labels:
            if self.labelled_idx is None:
                self.labelled_idx = (load_indices(cfg.labels_file, self.train_y, cfg.zc_dim,
                                                  cfg.n_labels)
                                     if cfg.labels_file else
                                     select_labelled(self.train_y, cfg.n_labels, cfg.zc_dim,
                                                     cfg.label_seed))
            self.labelled = LabelledBatches(self.train_x, self.train_y, self.labelled_idx,
                                            cfg.zc_dim, cfg.r_batch_size)
            meta_idx = (self._ec_source or {}).get("labelled_indices")
            if meta_idx is not None and not torch.equal(torch.as_tensor(meta_idx),
                                                        self.labelled_idx.cpu()):
                # MAML saw these labels: training on another subset would use more labels
                # than the run claims
                raise UserError("the meta pre-trained E_c was trained on another labelled "
                                "subset than this run's; use the same n_labels / label_seed, "
                                "or labels_file=<its .labels.json>.")
        self.stop_requested = False

    def _speed_settings(self):
        """The ``speed`` keys of the config (bench/bench_speed.py measures each)."""
        cfg, nets = self.cfg, self.nets
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        # im2col pays only against oneDNN on the CPU; on CUDA cuDNN's convolution is faster
        # (bench on an H100: 0.028 s/iter with it, 0.022 without)
        im2col = cfg.im2col_first_conv and self.device.type == "cpu"
        for m in nets.modules():
            if hasattr(m, "im2col"):
                m.im2col = im2col
        if cfg.channels_last:
            nets.to(memory_format=torch.channels_last)
        # exact-maths shortcuts, only where the nets allow them (see the helpers' docstrings)
        self.detach_aug = rules.detach_aug(cfg)
        self.split_view = (cfg.split_detached_view and self.detach_aug and not any(
            has_batchnorm(e) for e in nets.encoders().values()))
        self.stack_d = cfg.stack_d_batches and not (has_batchnorm(nets.D) or
                                                    has_spectral_norm(nets.D))
        if cfg.compile:  # in place, so state_dict keys stay; D is left out: GP needs double backward
            for m in (nets.G, *nets.encoders().values()):
                m.compile()

    def amp(self):
        """Autocast context of the forward passes: bfloat16 with ``precision: bf16``, else off.
        Every loss is computed in float32 outside autocast (``codegan.losses.float32_loss``)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16,
                              enabled=self.cfg.precision == "bf16")

    # -- state ------------------------------------------------------------------------------
    def _start_weights(self):
        cfg = self.cfg
        if cfg.load_path is None and rules.loads_pretrained_gd(cfg):
            raise UserError(
                "in this mode the official code also starts G and D from pre-trained weights "
                "(pre_G / pre_D), which are not published. Set load_path to the checkpoint of an "
                "earlier run of this folder whose G and D should start this one (README, 'Modes': "
                "the recipe), or load_path: scratch to start them from random weights (a "
                "difference from the official code, FAITHFULNESS.md).")
        if cfg.pretrain or cfg.meta:
            path = cfg.pretrain_path if cfg.pretrain else cfg.meta_path
            if not os.path.isabs(path):
                path = os.path.join(self.dataset_dir, path)
            self._ec_source = load_ec_weights(self.nets, path, cfg.dataset)
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
                                f"null.")
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
        return {
            "config": self.cfg.to_dict(),
            "dataset_dir": self.dataset_dir,
            "iteration": self.iteration,
            "nets": self.nets.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "optim": {k: o.state_dict() for k, o in self.opt.items()},
            "stream": self.stream.state_dict(),
            "labelled_idx": self.labelled_idx,
            "rng": rng,
        }

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
        self.iteration = s["iteration"]
        self.labelled_idx = s.get("labelled_idx")
        torch.set_rng_state(s["rng"]["torch"])
        if self.device.type == "cuda" and "cuda" in s["rng"]:
            torch.cuda.set_rng_state(s["rng"]["cuda"], self.device)

    # -- the steps --------------------------------------------------------------------------
    def _latents(self, n: int):
        return sample_latent(n, self.cfg.zn_dim, self.cfg.zc_dim, self.device)

    def _real(self, xb_uint8: torch.Tensor) -> torch.Tensor:
        return to_float(xb_uint8, self.image_range)

    def _views(self, x: torch.Tensor, c: torch.Tensor, labelled: bool, detach_aug: bool):
        """The two views of ``L_c``: plain images ``q`` and augmented ``k``, with their labels.

        ``x`` (n, C, H, W) fakes of codes ``c`` (n,). With ``labelled``, a labelled real batch
        (r images) is appended after the fakes in both views, its own ``T`` draw (the official
        code augments reals and fakes in two calls). Returns ``q``, ``k`` (n [+ r], C, H, W) and
        ``y`` (n [+ r],); the features of ``cat([q, k])`` pair with ``cat([y, y])``."""
        k = self.T(x.detach() if detach_aug else x)
        if not labelled:
            return x, k, c
        xr_u8, yr = self.labelled.next()
        xr = self._real(xr_u8)
        return torch.cat([x, xr]), torch.cat([k, self.T(xr)]), torch.cat([c, yr])

    def _supcon(self, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``L_c`` of features ``f`` (2m, fc_dim) = E_c(cat([q, k])) with labels ``y`` (m,)."""
        return supcon_loss(f, torch.cat([y, y]), self.cfg.temp_C, self.cfg.supcon_base_temp)

    def g_step(self, epoch: int = 0) -> dict:
        cfg, nets = self.cfg, self.nets
        set_grad([nets.G], True)
        set_grad([nets.D, *nets.encoders().values()], False)
        z, c = self._latents(cfg.g_batch_size)
        n = len(z)
        labelled = self.labelled is not None and rules.labelled_to_g(
            cfg, rules.ec_trains(cfg, epoch, self.iteration))
        with self.amp():
            x = nets.G(z, c)
            q, k, y = self._views(x, c, labelled, self.detach_aug)
            if self.split_view:
                # Same features as one stacked call (no BatchNorm couples the rows), but only the
                # plain fakes get a graph: the detached view and the labelled reals carry no
                # gradient to G, so their backward through E would be thrown away.
                rest = torch.cat([q[n:], k])
                if nets.shared:
                    z_hat, f_x = nets.E(x)
                    with torch.no_grad():
                        f_rest = nets.E(rest)[1]
                else:
                    f_x, z_hat = nets.E_c(x), nets.E_z(x)
                    with torch.no_grad():
                        f_rest = nets.E_c(rest)
                f = torch.cat([f_x, f_rest])
            elif nets.shared:
                z_hat, f = nets.E(torch.cat([q, k]))
                z_hat = z_hat[:n]
            else:
                # one E_c call on fakes, reals and both views: one set of BatchNorm statistics,
                # as the official CIFAR-10 forward_G
                f, z_hat = nets.E_c(torch.cat([q, k])), nets.E_z(x)
            l_z = lz_loss(z_hat, z)
            l_gan = g_loss(nets.D(x))
        l_c = self._supcon(f, y)
        loss = l_gan + cfg.beta_1 * l_c + cfg.beta_2 * l_z
        self.opt["G"].zero_grad(set_to_none=True)
        loss.backward()
        self.opt["G"].step()
        if self.G_ema is not None:
            self._update_ema()
        return {"G/gan": l_gan.detach(), "G/L_c": l_c.detach(), "G/L_z": l_z.detach()}

    def ec_trains(self, epoch: int) -> bool:
        """Whether E_c is updated now (``codegan.rules.ec_trains``)."""
        return rules.ec_trains(self.cfg, epoch, self.iteration)

    def e_steps(self, epoch: int) -> dict:
        """The encoder steps: E_c (from the chain epoch on), then E_z (always); or one step of
        a shared encoder (from the chain epoch on). In few-label mode the labelled batch joins
        the encoder's L_c once E_c trains."""
        cfg, nets = self.cfg, self.nets
        train_c = self.ec_trains(epoch)
        labelled = self.labelled is not None and not rules.labelled_to_g(cfg, train_c)
        set_grad([nets.G, nets.D], False)
        out = {}
        if nets.shared:
            if not train_c:  # one trunk: E_z cannot move without moving E_c
                return out
            set_grad([nets.E], True)
            with self.amp():
                with torch.no_grad():
                    z, c = self._latents(cfg.e_batch_size)
                    x = nets.G(z, c)
                q, k, y = self._views(x, c, labelled, True)
                z_hat, f = nets.E(torch.cat([q, k]))
                l_z = lz_loss(z_hat[:len(z)], z)
            l_c = self._supcon(f, y)
            loss = l_c + (cfg.beta_2 / cfg.beta_1) * l_z
            self.opt["E"].zero_grad(set_to_none=True)
            loss.backward()
            self.opt["E"].step()
            return {"E/L_c": l_c.detach(), "E/L_z": l_z.detach()}
        # separate encoders, in the official order: E_c (once chained), then E_z
        if train_c:
            set_grad([nets.E_z], False)
            set_grad([nets.E_c], True)
            with self.amp():
                with torch.no_grad():
                    z, c = self._latents(cfg.ec_batch_size)
                    x = nets.G(z, c)
                q, k, y = self._views(x, c, labelled, True)
                f = nets.E_c(torch.cat([q, k]))
            l_c = self._supcon(f, y)
            self.opt["E_c"].zero_grad(set_to_none=True)
            l_c.backward()
            self.opt["E_c"].step()
            out["E_c/L_c"] = l_c.detach()
        set_grad([nets.E_c], False)
        set_grad([nets.E_z], True)
        with self.amp():
            with torch.no_grad():
                z, c = self._latents(cfg.ez_batch_size)
                x = nets.G(z, c)
            l_z = lz_loss(nets.E_z(x), z)
        self.opt["E_z"].zero_grad(set_to_none=True)
        l_z.backward()
        self.opt["E_z"].step()
        out["E_z/L_z"] = l_z.detach()
        return out

    def d_step(self) -> dict:
        cfg, nets = self.cfg, self.nets
        set_grad([nets.D], True)
        set_grad([nets.G, *nets.encoders().values()], False)
        real = self._real(self.stream.next())
        with self.amp():
            with torch.no_grad():
                z, c = self._latents(cfg.d_batch_size)
                fake = nets.G(z, c)
            if self.stack_d:  # one call, same scores: no batch statistics in D
                scores = nets.D(torch.cat([real, fake.to(real.dtype)]))
                d_real, d_fake = scores[:len(real)], scores[len(real):]
            else:
                d_real, d_fake = nets.D(real), nets.D(fake)
            gp = (gradient_penalty(nets.D, real, fake.float())
                  if cfg.gan_loss == "wgan-gp" and cfg.gp_weight > 0 else None)
        loss = d_loss(cfg.gan_loss, d_real, d_fake)
        out = {"D/loss": loss.detach()}
        if gp is not None:
            loss = loss + cfg.gp_weight * gp
            out["D/gp"] = gp.detach()
        self.opt["D"].zero_grad(set_to_none=True)
        loss.backward()
        self.opt["D"].step()
        return out

    def _update_ema(self):
        """EMA of G's whole state (parameters and BatchNorm running statistics, as the official
        ``utils/ema.py`` averages the state_dict). Before ``ema_start`` (counted from 1, like the
        official counter) the EMA copies G; integer buffers (BatchNorm's batch counter) are
        copied."""
        with torch.no_grad():
            beta = self.cfg.ema_decay if self.iteration + 1 >= self.cfg.ema_start else 0.0
            for pe, p in zip(self.G_ema.parameters(), self.nets.G.parameters()):
                pe.lerp_(p, 1 - beta)
            for be, b in zip(self.G_ema.buffers(), self.nets.G.buffers()):
                if be.is_floating_point():
                    be.lerp_(b, 1 - beta)
                else:
                    be.copy_(b)

    def _decay_lr(self):
        """Linear decay as the official CIFAR-10 loop: after every ``lr_decay_every``-th
        iteration of each epoch (``idx % 5 == 4``, the count restarting every epoch) lr falls
        by ``lr * lr_decay_every / lr_decay_iters`` (official: 2e-4 / 180000)."""
        cfg, t, ipe = self.cfg, self.iteration, self.iters_per_epoch
        if not cfg.lr_decay:
            return
        every = cfg.lr_decay_every
        decays = (t // ipe) * (ipe // every) + (t % ipe) // every
        lr = cfg.lr * max(0.0, 1 - decays * every / cfg.lr_decay_iters)
        for o in self.opt.values():
            for group in o.param_groups:
                group["lr"] = lr

    def train_iteration(self) -> dict:
        """One iteration: G and E steps at every ``critic``-th iteration of the epoch (the
        official ``idx % critic == 0``, idx counted within the epoch) and a D step. Returns the
        losses."""
        epoch, idx = divmod(self.iteration, self.iters_per_epoch)
        losses = {}
        if self.cfg.d_step_first:  # official COIL-20 and 3D sets
            losses.update(self.d_step())
        if idx % self.cfg.critic == 0:
            losses.update(self.g_step(epoch))
            losses.update(self.e_steps(epoch))
        if not self.cfg.d_step_first:
            losses.update(self.d_step())
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
        self.run_dir = new_run_dir(out_dir, f"{cfg.dataset}-{cfg.mode}")
        with open(os.path.join(self.run_dir, "config.yml"), "x") as f:
            import yaml

            yaml.safe_dump(cfg.to_dict(), f, sort_keys=False)
        if self.labelled_idx is not None:
            save_indices(os.path.join(self.run_dir, "labelled_indices.json"), self.labelled_idx,
                         self.train_y)
        self._log_file = open(os.path.join(self.run_dir, "log.txt"), "a")
        # tensorboard imports all of TensorFlow when it is installed (for IS/FID), which costs
        # seconds per run; its 'notf' marker module makes it use its own TF-free stub instead
        sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
        from torch.utils.tensorboard import SummaryWriter

        self.tb = SummaryWriter(self.run_dir)
        total = self.total_iters()
        self.log(f"run folder {self.run_dir}; device {self.device}; {self.iters_per_epoch} "
                 f"iterations per epoch; training to iteration {total}"
                 + (f" (resumed at {self.iteration})" if cfg.resume else ""))
        if self.gd_source:
            self.log(f"G and D start from {self.gd_source} (load_path)")
        self._t0 = time.perf_counter()
        self._seconds_before = 0.0
        ipe = self.iters_per_epoch
        old_handler = self._install_sigint()
        from tqdm import tqdm

        bar = tqdm(total=total, initial=self.iteration, disable=not cfg.progress,
                   dynamic_ncols=True, file=sys.stdout)
        last_eval = last_save = -1
        try:
            while self.iteration < total and not self.stop_requested:
                losses = self.train_iteration()
                it = self.iteration
                bar.update(1)
                if it % 10 == 0 or it == total:
                    vals = {k: float(v) for k, v in losses.items()}
                    bar.set_postfix({k.split("/")[0] + k.split("/")[1][:3]: f"{v:.3g}"
                                     for k, v in vals.items()}, refresh=False)
                    for k, v in vals.items():
                        self.tb.add_scalar(f"Loss/{k}", v, it)
                end_of_epoch = it % ipe == 0
                epoch = it // ipe
                if (end_of_epoch and epoch % cfg.test_step == 0) or \
                        (cfg.test_iters and it % cfg.test_iters == 0):
                    self.evaluate_and_log()
                    last_eval = it
                if (end_of_epoch and epoch % cfg.save_step == 0) or \
                        (cfg.save_iters and it % cfg.save_iters == 0):
                    self.save()
                    last_save = it
        finally:
            bar.close()
            signal.signal(signal.SIGINT, old_handler) if old_handler is not None else None
        if self.stop_requested:
            self.log(f"interrupted at iteration {self.iteration}: final evaluation and checkpoint")
        if last_eval != self.iteration:
            self.evaluate_and_log()
        if last_save != self.iteration:
            self.save()
        self.tb.close()
        self._log_file.close()
        return self.run_dir

    def _install_sigint(self):
        """First Ctrl-C: finish the iteration, evaluate, checkpoint, stop. Second: abort."""
        import threading

        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum, frame):
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True
            print("\nCtrl-C: stopping after this iteration (press again to abort)",
                  file=sys.stderr)

        return signal.signal(signal.SIGINT, handler)

    def log(self, msg: str) -> None:
        from tqdm import tqdm

        tqdm.write(msg)
        self._log_file.write(msg + "\n")
        self._log_file.flush()

    def evaluate_and_log(self) -> dict:
        it = self.iteration
        G = self.G_ema if self.G_ema is not None else self.nets.G
        save_grid(G, self.cfg, os.path.join(self.run_dir, "samples", f"grid-{it:08d}.png"),
                  self.device)
        res = evaluate(self.nets, self.cfg, self.eval_data, self.device)
        record = {"epoch": round(it / self.iters_per_epoch, 4), "iteration": it,
                  "seconds": round(time.perf_counter() - self._t0, 2), **res}
        with open(os.path.join(self.run_dir, "metrics.jsonl"), "a") as f:
            f.write(json.dumps(record) + "\n")
        for k in ("acc", "acc_purity", "nmi", "ari"):
            if k in res:
                self.tb.add_scalar(f"Metrics/{k}", res[k], it)
        official = ""
        if "acc_purity_best_of_runs" in res:  # the paper's protocol: purity of the best k-means
            official = (f"; official protocol (lowest-inertia k-means run): purity "
                        f"{res['acc_purity_best_of_runs']:.4f} NMI {res['nmi_best_of_runs']:.4f} "
                        f"ARI {res['ari_best_of_runs']:.4f}")
        self.log(f"iter {it} (epoch {record['epoch']:.2f}): ACC {res.get('acc', 0):.4f} "
                 f"(purity {res.get('acc_purity', 0):.4f}) NMI {res.get('nmi', 0):.4f} "
                 f"ARI {res.get('ari', 0):.4f}{official} [{res.get('eval_seconds', 0):.1f} s]")
        return record

    def save(self) -> str:
        path = os.path.join(self.run_dir, "checkpoints", ckpt_io.checkpoint_name(self.iteration))
        ckpt_io.save_checkpoint(path, self.state_dict())
        keep = self.cfg.keep_checkpoints
        if keep:
            for old in ckpt_io.list_checkpoints(self.run_dir)[:-keep]:
                os.remove(old)
                self.log(f"removed {os.path.basename(old)} (keep_checkpoints: {keep})")
        self.log(f"saved {path}")
        return path

