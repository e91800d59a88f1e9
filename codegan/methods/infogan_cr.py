"""InfoGAN-CR (Lin et al. 2020; official code fjxmlzn/InfoGAN-CR, its official code) on the
shared loop: InfoGAN plus a contrastive regulariser (CR).

The CR discriminator H sees a pair of generated images and guesses which factor the pair shares.
The official code has continuous codes only; the CoDeGAN paper ran InfoGAN-CR with a categorical
code without publishing how. Our adaptation: the factors are the class code ``c`` (factor 0)
and the ``info_cont_dim`` continuous codes (factors 1..m). A pair shares its noise (the entries
of z after the codes) and factor ``i`` ~ U{0..m}; every other factor is drawn independently per
image: the class code is forced to DIFFER (a categorical "gap": an equal class code would make
the label ambiguous), and the continuous codes keep the official gap rule (both values drawn in
[-1 + gap/2, 1 - gap/2], then pushed gap/2 apart; gap 0: plain independent draws).

Without a class code (``zc_dim: 0``, InfoGAN-CR's own dSprites setup and its published dSprites
settings here) the factors are the ``info_cont_dim`` continuous codes alone, as in the official
code: a pair shares code ``i`` ~ U{0..m-1} and the noise, H has m outputs.

H is the folder's D architecture built anew for 2C input channels (``D.with_in_channels``), so
its first layers see the two images of a pair with filters of their own, as the official
``CrDiscriminator`` (fjxmlzn/InfoGAN-CR@e0537bc:InfoGAN-CR_dSprites/gan/network.py:184-243, its
input the channel concatenation of ``gan/infogan_cr.py:115-121``), and a linear layer from D's
trunk features to the factor logits. With ``infogan_cr_nets`` (dSprites) H is exactly the
official one (``codegan.nets.dsprites.InfoGANCRPairDiscriminator``).

Per iteration, as the official loop (``gan/infogan_cr.py:445-489``): one feed is drawn (the real
minibatch, latents ``z`` and ``c``, a batch of pairs) and every step uses it: an H step (always,
even while the CR weight is 0), a D/Q step (InfoGAN's) on ``G(z, c)``, then ``g_steps`` (2) G
steps on the same ``z``, ``c`` and pairs:
  L_H = CE(H(pair), i)
  L_G = GAN_G + MI terms + cr_weight(t) * CE(H(pair), i)     (G and H cooperate)
The two images of a pair go through G in two calls (each half its own BatchNorm statistics,
``gan/infogan_cr.py:115-119``). With ``d_batch_size`` below ``g_batch_size`` D's fakes are G of
the feed's first ``d_batch_size`` latents; above it, the feed holds ``d_batch_size`` latents and
G's steps take the first ``g_batch_size`` (the official code has one batch size).
``cr_weight(t)`` is 0 before ``cr_start`` (a fraction of the run's iterations as planned at its
start; official 288,000 of 322,560) and ``cr_weight`` from then on; at the switch H and its Adam
state are re-initialised. While the CR weight is 0 the pairs are generated with G's BatchNorm in
eval mode (official ``train_with_crd``).
"""

from __future__ import annotations

import torch
from torch import nn

from ..data.datasets import DATASETS
from ..errors import UserError
from ..keys import Key, nonneg, pos, unit
from ..latent import sample_z
from ..nets import set_grad
from ..nets.heads import PairDiscriminator
from .infogan import InfoGAN
from .losses import categorical_nll


def cr_pairs(n: int, zn_dim: int, zc_dim: int, n_cont: int, gap: float = 0.0,
             scale: float = 1.0, device="cpu", generator=None):
    """``n`` pairs of latents for the CR discriminator (module docstring: the adaptation).

    Returns ``z1``, ``z2`` (n, zn_dim) with codes ``z[:, :n_cont]`` ~ U(-scale, scale) and the
    noise ``z[:, n_cont:]`` shared; ``c1``, ``c2`` (n,) int64; ``i`` (n,) int64 in 0..n_cont,
    the shared factor (0: the class code, j + 1: continuous code j). Every factor other than
    ``i`` differs: ``c2 != c1``; continuous codes at least ``gap * scale`` apart.

    ``zc_dim`` 0 (no class code: InfoGAN-CR's own setup, its ``sample_cr``): the factors are the
    continuous codes alone, ``i`` in 0..n_cont-1 is continuous code ``i``, and ``c1``, ``c2`` are
    None.
    """
    kw = dict(device=device, generator=generator)
    first = 1 if zc_dim else 0  # the factor index of continuous code 0
    i = torch.randint(0, n_cont + first, (n,), **kw)
    noise = sample_z(n, zn_dim - n_cont, device, generator, "uniform", scale)
    c1 = c2 = None
    if zc_dim:
        c1 = torch.randint(0, zc_dim, (n,), **kw)
        c2 = torch.where(i == 0, c1, (c1 + torch.randint(1, zc_dim, (n,), **kw)) % zc_dim)
    shared = torch.rand(n, n_cont, **kw) * 2 - 1
    half = gap / 2
    a = (torch.rand(n, n_cont, **kw) * 2 - 1) * (1 - half)
    b = (torch.rand(n, n_cont, **kw) * 2 - 1) * (1 - half)
    push = torch.where(a >= b, half, -half)  # the larger one up, the smaller one down
    a, b = a + push, b - push
    same = i[:, None] == torch.arange(first, n_cont + first, device=device)[None]
    code1 = torch.where(same, shared, a) * scale
    code2 = torch.where(same, shared, b) * scale
    return (torch.cat([code1, noise], 1), c1, torch.cat([code2, noise], 1), c2, i)


class InfoGANCR(InfoGAN):
    """InfoGAN with the contrastive regulariser H (module docstring)."""

    name = "infogan-cr"
    paper_scores = {
        "fashion_mnist": {"acc": 0.64, "nmi": 0.64, "ari": 0.50, "rerun": True},
        "coil20": {"acc": 0.85, "nmi": 0.90, "ari": 0.82, "rerun": True},
        "cifar10": {"acc": 0.34, "nmi": 0.24, "ari": 0.15, "rerun": True},
    }
    settings = {
        **InfoGAN.settings,
        "cr_weight": Key("float", 2.0, "InfoGAN-CR: weight of H's cross-entropy in G's loss once "
                         "the CR starts (official dSprites config 2.0)", nonneg, ">= 0"),
        "cr_start": Key("float", 288000 / 322560, "InfoGAN-CR: fraction of the run's iterations "
                        "after which the CR weight switches on (official 288,000 of 322,560)",
                        unit, "in [0, 1)"),
        "cr_gap": Key("float", 0.0, "InfoGAN-CR: least distance of a pair's differing "
                      "continuous codes, in units of z_scale (official dSprites 0)",
                      lambda v: 0 <= v < 2, "in [0, 2)"),
        "lr_h": Key("float", 2e-3, "InfoGAN-CR: Adam learning rate of H (official 2e-3)",
                    pos, "> 0"),
        "g_steps": Key("int", 2, "InfoGAN-CR: G steps per iteration, on the same latents "
                       "(official 2)", pos, "> 0"),
    }
    # fjxmlzn/InfoGAN-CR dSprites config: Adam (0.5, 0.999), G 1e-3, D/Q 2e-3, H 2e-3, the
    # standard GAN loss, codes and noise ~ U(-1, 1), Q's weight 0.05 on the continuous codes.
    # The class code's weight is InfoGAN's 1.0 (InfoGAN-CR has no categorical code).
    published = {**InfoGAN.published, "lr": 1e-3, "lr_d": 2e-3, "info_weight_cont": 0.05,
                 "info_weight_c": 1.0}
    # its own dSprites benchmark: InfoGAN's dSprites values (InfoGAN.DSPRITES: no class code, 5
    # continuous codes, its networks, batch 64, 28 epochs), the CR keys at their defaults (the
    # dSprites config: weight 2.0 from 288,000 of 322,560 iterations, gap 0, H 2e-3, 2 G steps)
    published_by_dataset = {"dsprites": {**InfoGAN.DSPRITES, "cr_weight": 2.0,
                                         "cr_start": 288000 / 322560, "cr_gap": 0.0,
                                         "lr_h": 2e-3, "g_steps": 2}}

    @classmethod
    def check(cls, c: dict) -> None:
        super().check(c)
        if c["z_prior"] != "uniform":
            raise UserError("infogan-cr draws its pairs' codes uniformly (its gap rule is "
                            "defined for U(-1, 1) codes); set z_prior: uniform.")
        if c["zc_dim"] == 1:
            raise UserError("infogan-cr needs 'zc_dim' >= 2 (or 0: no class code): a pair that "
                            "does not share the class code must have two different codes.")
        if c["zc_dim"] == 0 and c["info_cont_dim"] < 2:
            raise UserError("infogan-cr without a class code (zc_dim 0) needs 'info_cont_dim' "
                            ">= 2: H guesses which of the continuous codes a pair shares.")

    @staticmethod
    def n_factors(cfg) -> int:
        """H's classes: the continuous codes, and the class code when there is one."""
        return cfg.info_cont_dim + (1 if cfg.zc_dim else 0)

    @classmethod
    def _new_h(cls, cfg, D: nn.Module) -> nn.Module:
        """H with new weights: D's architecture on the 2C-channel pair (module docstring)."""
        channels = DATASETS[cfg.dataset].channels
        if cfg.infogan_cr_nets:
            from ..nets.dsprites import InfoGANCRPairDiscriminator

            return InfoGANCRPairDiscriminator(channels, cls.n_factors(cfg))
        if not callable(getattr(D, "with_in_channels", None)):
            raise UserError(
                f"infogan-cr builds its pair discriminator H as D's architecture on the two "
                f"images of a pair ({2 * channels} input channels), but this folder's D "
                f"({type(D).__name__}) has no with_in_channels(channels) method: give it one "
                f"(codegan.nets.with_in_channels shows how) or use the folder's own models.py.")
        return PairDiscriminator(D.with_in_channels(2 * channels), cls.n_factors(cfg))

    @classmethod
    def attach(cls, nets, cfg, fresh_nets) -> None:
        """InfoGAN's Q, and H."""
        super().attach(nets, cfg, fresh_nets)
        nets.H = cls._new_h(cfg, nets.D)

    def __init__(self, loop):
        super().__init__(loop)
        self._start_iteration = None

    def networks(self) -> dict:
        return {**super().networks(), "H": self.nets.H}

    def optimizers(self) -> dict:
        return {**super().optimizers(), "H": self._adam_h()}

    def _adam_h(self):
        return self.loop.adam(self.nets.H.parameters(), lr=self.cfg.lr_h)

    def start_iteration(self) -> int:
        """The iteration from which the CR weight is on: ``cr_start`` of the run's iterations
        as planned when it started (kept in its checkpoints, so a resume, even with another
        ``max_iters``, keeps the switch where it was)."""
        if self._start_iteration is None:
            self._start_iteration = round(self.cfg.cr_start * self.loop.total_iters())
        return self._start_iteration

    def state_dict(self) -> dict:
        return {**super().state_dict(), "cr_start_iteration": self.start_iteration()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._start_iteration = state["cr_start_iteration"]

    @classmethod
    def named_checkpoints(cls, state: dict) -> dict[str, int]:
        """The state just before the CR switches on (``cr_start``): the official code evaluates
        and saves it (``global_id - 1``), and InfoGAN-CR's paper reports it as "InfoGAN
        (modified)"."""
        start = state.get("cr_start_iteration")
        on = state["config"].get("cr_weight", 0) > 0
        return {"InfoGAN (modified)": start} if on and start and start < state["iteration"] else {}

    def cr_weight(self) -> float:
        return self.cfg.cr_weight if self.loop.iteration >= self.start_iteration() else 0.0

    def reinit_h(self) -> None:
        """New weights for H (drawn as at the start) and a new Adam: the official re-initialises
        H's variables and its optimiser's at the switch."""
        fresh = self._new_h(self.cfg, self.nets.D)
        self.nets.H.load_state_dict(fresh.state_dict())
        self.loop.replace_optimizer("H", self._adam_h())

    def _pairs(self, n: int):
        cfg = self.cfg
        return cr_pairs(n, cfg.zn_dim, cfg.zc_dim, cfg.info_cont_dim, cfg.cr_gap, cfg.z_scale,
                        self.loop.device)

    def draw_feed(self):
        """The iteration's one draw of latents (the official ``feed_dict``): ``z`` (n, zn_dim),
        ``c`` (n,) or None, with n the larger of the D and G batch sizes, and ``g_batch_size``
        pairs (``cr_pairs``' five tensors)."""
        cfg = self.cfg
        z, c = self.loop.latents(max(cfg.d_batch_size, cfg.g_batch_size))
        return z, c, self._pairs(cfg.g_batch_size)

    def _pair_images(self, z1, c1, z2, c2, train_bn: bool):
        """G on each half of the pairs, in two calls (each half its own BatchNorm statistics,
        as the official two decoder calls); ``train_bn`` False: G's BatchNorm in eval mode
        (official while the CR weight is 0)."""
        G = self.nets.G
        was = G.training
        G.train(train_bn)
        try:
            return G(z1, c1), G(z2, c2)
        finally:
            G.train(was)

    def graph_key(self, epoch: int, idx: int):
        """Eager: the pair sampling and the CR switch are not checked under capture yet."""
        return None

    def train_iteration(self, epoch: int, idx: int) -> dict:
        """H step, D/Q step, then ``g_steps`` G steps, all on one draw of latents and pairs."""
        cfg, loop = self.cfg, self.loop
        start = self.start_iteration()
        reinit = loop.iteration == start and start > 0 and cfg.cr_weight > 0
        if reinit:
            self.reinit_h()
        lam = self.cr_weight()
        z, c, pairs = self.draw_feed()
        losses = self.h_step(pairs, lam > 0)
        losses.update(self.d_step(first(z, c, cfg.d_batch_size, len(z))))
        if idx % cfg.critic == cfg.critic - 1:
            losses.update(self.g_steps(first(z, c, cfg.g_batch_size, len(z)), pairs, lam))
        if reinit:
            losses["H/reinit"] = torch.ones((), device=loop.device)
        return losses

    def h_step(self, pairs, train_bn: bool) -> dict:
        """H's cross-entropy on the feed's pairs."""
        loop, nets = self.loop, self.nets
        set_grad([nets.H], True)
        set_grad([nets.G, nets.D, nets.Q], False)
        z1, c1, z2, c2, i = pairs
        with torch.no_grad():
            x1, x2 = self._pair_images(z1, c1, z2, c2, train_bn)
        with loop.amp():
            logits = nets.H(x1, x2)
        loss = categorical_nll(logits, i)
        self.minimize("H", loss)
        return {"H/CE": loss.detach()}

    def g_steps(self, latents, pairs, lam: float) -> dict:
        """``g_steps`` G steps on the same latents and pairs (official), then the EMA of G
        after each."""
        loop, cfg, nets = self.loop, self.cfg, self.nets
        set_grad([nets.G], True)
        set_grad([nets.D, nets.Q, nets.H], False)
        z, c = latents
        out = {}
        for _ in range(cfg.g_steps):
            loss, out = self.g_loss_terms(z, c)
            if lam > 0:
                z1, c1, z2, c2, i = pairs
                x1, x2 = self._pair_images(z1, c1, z2, c2, True)
                with loop.amp():
                    l_cr = categorical_nll(nets.H(x1, x2), i)
                loss = loss + lam * l_cr
                out["G/CR"] = l_cr.detach()
            self.minimize("G", loss)
            loop.update_ema()
        return out


def first(z: torch.Tensor, c, n: int, of: int):
    """The first ``n`` of a global batch of ``of`` latents: ``z`` (and ``c`` unless None) hold
    this process's part of the ``of``, so it keeps the same fraction of its rows."""
    k = len(z) * n // of
    return z[:k], (None if c is None else c[:k])
