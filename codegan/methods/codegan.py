"""CoDeGAN (Zhao et al., arXiv 2103.03636; learninginvision/CoDeGAN@348d046) on the shared loop.

Per iteration (one real minibatch of ``d_batch_size``):
  every ``critic``-th iteration of the epoch: a G step on ``L_GAN + beta_1 L_c + beta_2 L_z``,
  then the encoder step(s) (separate encoders: E_c from the chain epoch on, then E_z always; a
  shared encoder E takes one step on ``L_c + beta_2/beta_1 * L_z``, on dSprites
  ``beta_1 L_c + beta_2 L_z``, from the chain epoch on, none before), then the EMA of G (after
  the encoder steps, whose G forward passes move G's BatchNorm running statistics, as the
  official CIFAR-10 loop); and a D step on real images and as many fakes, after them or
  (``d_step_first``) before them.
The per-mode rules of the official code (chain epoch, where the labelled batch goes, detach,
which modes load pre-trained G and D) live in ``codegan.methods.codegan_rules``.
Networks that a step does not update have ``requires_grad`` switched off for it, so no parameter
gradients are computed for them; gradients still flow through them to their input.
"""

from __future__ import annotations

import os

import torch

from ..checkpoint import load_encoder_file
from ..data.augment import Augment
from ..data.fewlabel import LabelledBatches, load_indices, save_indices, select_labelled
from ..errors import UserError
from ..nets import has_batchnorm, set_grad
from . import codegan_rules as rules
from . import codegan_settings
from .base import Method
from .losses import d_loss, g_loss, gradient_penalty, lz_loss, supcon_loss


def load_ec_weights(nets, path: str, dataset: str) -> dict:
    """Load pre-trained E_c weights (written by the pre-training / meta commands) into
    ``nets.E`` (shared encoder) or ``nets.E_c``. Returns the file's contents."""
    return load_encoder_file(
        nets.E if nets.shared else nets.E_c, path, dataset,
        f"pre-trained E_c weights {path} not found. Run the folder's pretrain.py (for "
        f"pretrain: true) or meta_pretrain.py (for meta: true) first, point pretrain_path / "
        f"meta_path at the file, or set pretrain / meta to false.")


class CoDeGAN(Method):
    """G, D and the folder's encoders (a shared E, or E_c and E_z), trained as the official
    code trains them in every mode (unsupervised, pre-trained, few labels, meta)."""

    name = "codegan"
    folder_encoders = True
    # CoDeGAN's own settings, in groups (codegan.methods.codegan_settings)
    settings = codegan_settings.SETTINGS
    setting_groups = codegan_settings.GROUPS
    check = staticmethod(codegan_settings.check)
    code_names = {"features": "E_c features", "class": "E_c", "continuous": "E_z"}
    paper_scores = {
        "fashion_mnist": {"acc": 0.65, "nmi": 0.66, "ari": 0.52, "rerun": False},
        "coil20": {"acc": 0.89, "nmi": 0.91, "ari": 0.84, "rerun": False},
        "cifar10": {"acc": 0.44, "nmi": 0.35, "ari": 0.26, "rerun": False},
    }
    paper_scores_by_mode = {"self": {  # "CoDeGAN (self)": E_c pre-trained
        "fashion_mnist": {"acc": 0.75, "nmi": 0.72, "ari": 0.63, "rerun": False},
        "coil20": {"acc": 0.95, "nmi": 0.95, "ari": 0.92, "rerun": False},
        "cifar10": {"acc": 0.50, "nmi": 0.35, "ari": 0.27, "rerun": False},
    }}

    def __init__(self, loop):
        super().__init__(loop)
        cfg, nets = self.cfg, self.nets
        self.T = Augment.from_config(cfg)
        # exact-maths shortcut, only where the nets allow it (see g_step)
        self.detach_aug = rules.detach_aug(cfg)
        self.split_view = (cfg.split_detached_view and self.detach_aug and not any(
            has_batchnorm(e) for e in nets.encoders().values()))
        self.labelled = None  # few labels: the class-balanced batches of the labelled subset
        self.labelled_idx = None
        self._ec_source = None  # contents of the pre-trained E_c file, when one was loaded

    # -- networks, start, state ------------------------------------------------------------------
    def networks(self) -> dict:
        return self.nets.encoders()

    def optimizers(self) -> dict:
        """G's and D's Adam, and one per encoder with weight decay as G's (the official
        code)."""
        return {**super().optimizers(),
                **{name: self.loop.adam(enc.parameters(), self.cfg.weight_decay)
                   for name, enc in self.networks().items()}}

    def start(self) -> None:
        """The pre-trained E_c of the pre-trained and meta modes, and the labelled subset."""
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
                path = os.path.join(self.loop.dataset_dir, path)
            self._ec_source = load_ec_weights(self.nets, path, cfg.dataset)
        self._labelled_batches()

    def state_dict(self) -> dict:
        return {"labelled_idx": self.labelled_idx}

    def load_state_dict(self, state: dict) -> None:
        self.labelled_idx = state.get("labelled_idx")
        self._labelled_batches()

    def _labelled_batches(self) -> None:
        """Few labels: the run's labelled subset (a checkpoint's, ``labels_file``'s, or drawn
        with ``label_seed``) and its class-balanced batches."""
        cfg, loop = self.cfg, self.loop
        if not cfg.few_labels:
            return
        if self.labelled_idx is None:
            self.labelled_idx = (load_indices(cfg.labels_file, loop.train_y, cfg.zc_dim,
                                              cfg.n_labels)
                                 if cfg.labels_file else
                                 select_labelled(loop.train_y, cfg.n_labels, cfg.zc_dim,
                                                 cfg.label_seed))
        self.labelled = LabelledBatches(loop.train_x, loop.train_y, self.labelled_idx,
                                        cfg.zc_dim, cfg.r_batch_size)
        meta_idx = (self._ec_source or {}).get("labelled_indices")
        if meta_idx is not None and not torch.equal(torch.as_tensor(meta_idx),
                                                    self.labelled_idx.cpu()):
            # MAML saw these labels: training on another subset would use more labels
            # than the run claims
            raise UserError("the meta pre-trained E_c was trained on another labelled "
                            "subset than this run's; use the same n_labels / label_seed, "
                            "or labels_file=<its .labels.json>.")

    def write_run_files(self, run_dir: str) -> None:
        if self.labelled_idx is not None:
            save_indices(os.path.join(run_dir, "labelled_indices.json"), self.labelled_idx,
                         self.loop.train_y)

    @classmethod
    def run_name(cls, cfg) -> str:
        """CoDeGAN's runs are named by mode (runs/00000-mnist-unsupervised); a subclass is
        another method and goes by its own name."""
        return cfg.mode if cls is CoDeGAN else cls.name

    @classmethod
    def codes(cls, cfg) -> tuple:
        return ("features", "class", "continuous")

    @classmethod
    def represent(cls, nets, cfg, x, keys=None):
        """``features`` = ``class``: E_c's class feature (n, fc_dim; L2-normalised, so in
        [-1, 1]); ``continuous``: E_z's estimate of the noise (n, zn_dim, unbounded; left out
        when ``keys`` do not ask for it and E_z is separate)."""
        if nets.shared:
            z_hat, f_c = nets.E(x)
        else:  # E_z is a network of its own: run it only when its code is read
            z_hat = nets.E_z(x) if keys is None or "continuous" in keys else None
            f_c = nets.E_c(x)
        f_c = f_c.float()
        out = {"features": f_c, "class": f_c}
        if z_hat is not None:
            out["continuous"] = z_hat.float()
        return out

    # -- the steps ---------------------------------------------------------------------------------
    def train_iteration(self, epoch: int, idx: int) -> dict:
        """G and E steps at every ``critic``-th iteration of the epoch (the official
        ``idx % critic == 0``, idx counted within the epoch), then the EMA of G, and a D step.
        The EMA follows the encoder steps, as ``solver.ema.update`` follows
        ``optimize_parametersEZ`` in the official CIFAR-10 loop (learninginvision/CoDeGAN@348d046:
        CIFAR-10/train.py:93-102): their forward passes through G (train mode) move its
        BatchNorm running statistics, which the EMA copies or averages."""
        losses = {}
        if self.cfg.d_step_first:  # official COIL-20 and 3D sets
            losses.update(self.d_step())
        if idx % self.cfg.critic == 0:
            losses.update(self.g_step(epoch))
            losses.update(self.e_steps(epoch))
            self.loop.update_ema()
        if not self.cfg.d_step_first:
            losses.update(self.d_step())
        return losses

    def graph_key(self, epoch: int, idx: int):
        """The branch: a G/E step this iteration (``critic``), E_c training yet (the chain).
        Few-label runs draw their labelled batch on the host: eager."""
        if self.labelled is not None:
            return None
        return (idx % self.cfg.critic == 0, self.ec_trains(epoch))

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
        xr = self.loop.real(xr_u8)
        return torch.cat([x, xr]), torch.cat([k, self.T(xr)]), torch.cat([c, yr])

    def _fakes(self, n: int):
        """``n`` latents ``z``, ``c`` and G's images of them, without a graph (the encoder and D
        steps, which do not train G)."""
        with torch.no_grad():
            z, c = self.loop.latents(n)
            return z, c, self.nets.G(z, c)

    def _encode_per_view(self, q: torch.Tensor, k: torch.Tensor, n: int, graph):
        """``encoder_calls: per_view``: the encoder called once per view, in the official dSprites
        order (dSprites/solver.py:48-64, 99-112): plain fakes ``q[:n]``, augmented fakes
        ``k[:n]``, then the labelled reals' plain and augmented views where there are any.
        ``graph(i)``: whether view i (that order) is encoded with a graph. Returns ``f`` of
        ``cat([q, k])``'s row order (2m, fc_dim) and the shared E's ``z_hat`` of the plain fakes
        (n, zn_dim), or None for separate encoders (E_z's call is the step's own)."""
        nets = self.nets
        views = [q[:n], k[:n], q[n:], k[n:]]
        f, z_hat = [None] * 4, None
        for i, v in enumerate(views):
            if len(v) == 0:
                continue
            with torch.enable_grad() if graph(i) else torch.no_grad():
                if nets.shared:
                    zv, f[i] = nets.E(v)
                    z_hat = zv if i == 0 else z_hat
                else:
                    f[i] = nets.E_c(v)
        return torch.cat([t for t in (f[0], f[2], f[1], f[3]) if t is not None]), z_hat

    def _supcon(self, f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``L_c`` of features ``f`` (2m, fc_dim) = E_c(cat([q, k])) with labels ``y`` (m,)."""
        return supcon_loss(f, torch.cat([y, y]), self.cfg.temp_C, self.cfg.supcon_base_temp)

    def ec_trains(self, epoch: int) -> bool:
        """Whether E_c is updated now (``codegan_rules.ec_trains``)."""
        return rules.ec_trains(self.cfg, epoch, self.loop.iteration)

    def g_step(self, epoch: int = 0) -> dict:
        """G's step on ``L_GAN + beta_1 L_c + beta_2 L_z`` (few labels: the labelled batch joins
        ``L_c`` while E_c does not train yet). The EMA of G is updated after the encoder steps
        (``train_iteration``)."""
        loop, cfg, nets = self.loop, self.cfg, self.nets
        set_grad([nets.G], True)
        set_grad([nets.D, *nets.encoders().values()], False)
        z, c = loop.latents(cfg.g_batch_size)
        n = len(z)
        # few labels: the labelled batch is G's only while E_c does not train yet (rules)
        labelled = self.labelled is not None and not self.ec_trains(epoch)
        with loop.amp():
            x = nets.G(z, c)
            q, k, y = self._views(x, c, labelled, self.detach_aug)
            f, z_hat = self._g_features(x, q, k, n)
            l_z = lz_loss(z_hat, z)
            l_gan = g_loss(nets.D(x), cfg.gan_loss)
        l_c = self._supcon(f, y)
        self.minimize("G", l_gan + cfg.beta_1 * l_c + cfg.beta_2 * l_z)
        return {"G/gan": l_gan.detach(), "G/L_c": l_c.detach(), "G/L_z": l_z.detach()}

    def _g_features(self, x: torch.Tensor, q: torch.Tensor, k: torch.Tensor, n: int):
        """G's step: E_c's features ``f`` of ``cat([q, k])`` (2m, fc_dim) and E_z's ``z_hat`` of
        the plain fakes ``x`` (n, zn_dim), with a graph where a view carries G's gradient. Three
        encodings of the same rows, chosen by the settings:
        ``encoder_calls: per_view``, one call per view in the official dSprites order (each call
        of a spectral-norm E is one power step); ``split_view``, the plain fakes with a graph
        and the other rows without (as fast, for encoders whose rows are independent); else one
        stacked call, as the official CIFAR-10 ``forward_G`` (one set of BatchNorm
        statistics)."""
        nets = self.nets
        if self.cfg.encoder_calls == "per_view":
            # a graph where a view carries G's gradient: the plain fakes, and the augmented
            # ones when T(x) is not detached
            f, z_hat = self._encode_per_view(q, k, n, lambda i: i == 0 or (
                i == 1 and not self.detach_aug))
            return f, (nets.E_z(x) if z_hat is None else z_hat)
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
            return torch.cat([f_x, f_rest]), z_hat
        if nets.shared:
            z_hat, f = nets.E(torch.cat([q, k]))
            return f, z_hat[:n]
        # one E_c call on fakes, reals and both views: one set of BatchNorm statistics, as the
        # official CIFAR-10 forward_G
        return nets.E_c(torch.cat([q, k])), nets.E_z(x)

    def e_steps(self, epoch: int) -> dict:
        """The encoder steps: E_c (from the chain epoch on), then E_z (always); or one step of
        a shared encoder (from the chain epoch on). In few-label mode the labelled batch joins
        the encoder's L_c once E_c trains."""
        loop, cfg, nets = self.loop, self.cfg, self.nets
        train_c = self.ec_trains(epoch)
        labelled = self.labelled is not None and train_c  # the encoder's from the chain on
        set_grad([nets.G, nets.D], False)
        out = {}
        if nets.shared:
            if not train_c:  # one trunk: E_z cannot move without moving E_c
                return out
            set_grad([nets.E], True)
            with loop.amp():
                z, c, x = self._fakes(cfg.e_batch_size)
                q, k, y = self._views(x, c, labelled, True)
                if cfg.encoder_calls == "per_view":
                    f, z_hat = self._encode_per_view(q, k, len(z), lambda i: True)
                else:
                    z_hat, f = nets.E(torch.cat([q, k]))
                l_z = lz_loss(z_hat[:len(z)], z)
            l_c = self._supcon(f, y)
            w_c, w_z = rules.encoder_loss_weights(cfg)  # the folder's official weights
            self.minimize("E", w_c * l_c + w_z * l_z)
            return {"E/L_c": l_c.detach(), "E/L_z": l_z.detach()}
        # separate encoders, in the official order: E_c (once chained), then E_z
        if train_c:
            set_grad([nets.E_z], False)
            set_grad([nets.E_c], True)
            with loop.amp():
                z, c, x = self._fakes(cfg.ec_batch_size)
                q, k, y = self._views(x, c, labelled, True)
                f = (self._encode_per_view(q, k, len(z), lambda i: True)[0]
                     if cfg.encoder_calls == "per_view" else nets.E_c(torch.cat([q, k])))
            l_c = self._supcon(f, y)
            self.minimize("E_c", l_c)
            out["E_c/L_c"] = l_c.detach()
        set_grad([nets.E_c], False)
        set_grad([nets.E_z], True)
        with loop.amp():
            z, c, x = self._fakes(cfg.ez_batch_size)
            l_z = lz_loss(nets.E_z(x), z)
        self.minimize("E_z", l_z)
        out["E_z/L_z"] = l_z.detach()
        return out

    def d_step(self) -> dict:
        """D's step on a real minibatch of the stream and as many fakes (WGAN-GP or hinge)."""
        loop, cfg, nets = self.loop, self.cfg, self.nets
        set_grad([nets.D], True)
        set_grad([nets.G, *nets.encoders().values()], False)
        real = loop.next_real()
        with loop.amp():
            _, _, fake = self._fakes(cfg.d_batch_size)
            if loop.stack_d:  # one call, same scores: no batch statistics in D
                scores = nets.D(torch.cat([real, fake.to(real.dtype)]))
                d_real, d_fake = scores[:len(real)], scores[len(real):]
            else:
                d_real, d_fake = nets.D(real), nets.D(fake)
            gp = (gradient_penalty(nets.D, real, fake.to(real.dtype))
                  if cfg.gan_loss == "wgan-gp" and cfg.gp_weight > 0 else None)
        loss = cfg.d_loss_scale * d_loss(cfg.gan_loss, d_real, d_fake)
        out = {"D/loss": loss.detach()}
        if gp is not None:
            loss = loss + cfg.gp_weight * gp
            out["D/gp"] = gp.detach()
        self.minimize("D", loss)
        return out
