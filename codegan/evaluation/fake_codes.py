"""A label-free score of a checkpoint: how well the method's encoder recovers, from G's own
samples, the class codes those samples were drawn with.

``n`` latents ``(z, c)`` come from the prior through their own seeded generator, never from the
training stream (held-out fakes); G draws ``x = G(z, c)``; the method's ``represent`` gives the
features the E-based protocol clusters; k-means with K = ``zc_dim`` clusters them as the E-based
protocol does (``kmeans_runs`` seeded runs, the lowest-inertia one kept) and NMI compares the
clusters with ``c``. No real image and no dataset label enters, so choosing a checkpoint by this
score does not peek at the test set (``codegan.table``'s ``--select=fake_codes``).

What it does not see: image quality. In CoDeGAN's grey phase (docs/results.md) E_c tells the
codes apart perfectly while G draws one grey pattern for all of them, so a high score says the
codes are written into the images, not that the images look like the data.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import UserError
from ..latent import sample_latent_cfg
from ..methods import METHODS
from .e_based import kmeans_scores, represent_fn

SEED = 20210305  # the held-out latents' own stream (any fixed number outside the run seeds)


@torch.inference_mode()
def fake_code_scores(G, nets, cfg, device, n: int = 2000, seed: int = SEED) -> dict:
    """``{"fake_nmi": NMI of the lowest-inertia k-means run, "fake_acc_purity": its purity,
    "fake_nmi_mean": mean NMI over the runs, "n": n}`` for ``n`` held-out fakes of ``G``
    (eval mode; the EMA where the run keeps one) encoded by ``nets`` (eval mode). NMI in
    [0, 1]: 1 when the clusters are exactly the codes, about 0 when they ignore them."""
    method = METHODS[cfg.method]
    if not cfg.zc_dim or not method.noise_generator:
        lacks = "no class code (zc_dim 0)" if not cfg.zc_dim else "no generator of the prior"
        raise UserError(f"--select=fake_codes needs G to draw samples of each class code; "
                        f"{cfg.method} here has {lacks}: use --select=final.")
    gen = torch.Generator().manual_seed(seed)
    z, c = sample_latent_cfg(cfg, n, "cpu", gen)
    fn = represent_fn(nets, cfg, device, ("features",))
    feats = []
    for i in range(0, n, cfg.eval_batch_size):
        x = G(z[i:i + cfg.eval_batch_size].to(device), c[i:i + cfg.eval_batch_size].to(device))
        feats.append(fn(x.float())["features"].float().cpu())
    res = kmeans_scores(torch.cat(feats).numpy(), c.numpy(), cfg.zc_dim, cfg.kmeans_runs,
                        seed=cfg.seed, threads=getattr(cfg, "num_threads", 0))
    return {"fake_nmi": res["nmi_best_of_runs"], "fake_acc_purity": res["acc_purity_best_of_runs"],
            "fake_nmi_mean": res["nmi"], "n": n}


def checkpoint_fake_codes(checkpoint: str, device="cpu") -> dict:
    """``fake_code_scores`` of a checkpoint, computed once and kept beside it
    (``ckpt-<N>.fake_codes.json``; a later call reads it back)."""
    from .sampling import kept_beside, load_generator

    def score(nets, cfg, dev):  # G's samples from the EMA where the run keeps one
        return fake_code_scores(load_generator(checkpoint, device=str(dev))[0], nets, cfg, dev)

    return kept_beside(checkpoint, "fake_codes", score, device=device)


def best_iteration(scores: dict) -> int:
    """The iteration ``--select=fake_codes`` picks from ``{iteration: fake_code_scores}``: the
    highest ``fake_nmi``; of equal ones the latest (more training for the same score)."""
    return max(scores, key=lambda it: (np.round(scores[it]["fake_nmi"], 12), it))
