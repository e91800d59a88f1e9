"""Disentanglement metrics of a checkpoint on dSprites (``codegan.metrics.disentanglement``).

The representation is what the method infers from a real image (``Method.represent``), chosen
by ``represent``:
  * ``zc`` (default): ``concat(continuous, class)``, its estimate of the continuous codes (for
    CoDeGAN E_z's noise estimate, zn_dim: the code of the continuous factors scale,
    orientation and position, which G was trained to put in z; for InfoGAN and InfoGAN-CR Q's
    ``info_cont_dim`` continuous-code means, InfoGAN-CR's metric code) and its class code (E_c's
    L2-normalised feature, fc_dim: the shape; Q's class softmax). This is everything the
    method infers from an image.
  * ``z``: the continuous codes alone; ``c``: the class code alone.
A method without a class code (InfoGAN-CR's own dSprites setup, zc_dim 0) has ``zc`` = ``z``;
one that gives neither part is scored on its E-based ``features`` whatever ``represent``.
The metrics see many dimensions (52 + 40 at CoDeGAN's official sizes, InfoGAN-CR's codes have
5): scores that reward one dimension per factor (MIG, SAP, Modularity) are lower for any
spread-out code, so compare methods at the same ``represent`` and say which.

Protocol sizes default to InfoGAN-CR's (500 groups of 100 images; std and labelled sets of
73,728 images; dHSIC's 5,000 images); ``n``, ``n_groups``, ``group_size`` shrink them (tests,
quick looks; ``protocol_kwargs``).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..errors import UserError
from ..methods import METHODS
from ..metrics.disentanglement import METRICS

REPRESENTATIONS = ("zc", "z", "c")

# InfoGAN-CR's Table 1 (dSprites, mean of 50 runs; its official code), in its row order:
# metric -> (InfoGAN (modified), InfoGAN-CR). DCI is its disentanglement (regressor not stated).
PUBLISHED_TABLE1 = {
    "factor_vae": (0.82, 0.88), "dci": (0.60, 0.71), "sap": (0.41, 0.58),
    "explicitness": (0.82, 0.85), "modularity": (0.94, 0.96), "mig": (0.22, 0.37),
    "beta_vae": (0.87, 0.95),
}


def _parts(method, cfg, represent: str) -> list:
    """The keys of ``Method.represent`` that ``represent`` concatenates (module docstring)."""
    if represent not in REPRESENTATIONS:
        raise UserError(f"--represent={represent!r}; choose one of {', '.join(REPRESENTATIONS)}.")
    have = [k for k in ("continuous", "class") if k in method.codes(cfg)]
    if not have:  # no split into continuous and class codes: the E-based features
        return ["features"]
    want = {"zc": have, "z": ["continuous"], "c": ["class"]}[represent]
    missing = [k for k in want if k not in have]
    if missing:
        what = "class code" if missing == ["class"] else "continuous codes"
        raise UserError(f"--represent={represent} reads the {what}, but this {cfg.method} run "
                        f"has none (zc_dim {cfg.zc_dim}); use "
                        f"{' or '.join(r for r in REPRESENTATIONS if r != represent)}.")
    return want


def describe(cfg, represent: str) -> str:
    """The representation ``represent`` of the run's method in words (protocol lines)."""
    method = METHODS[cfg.method]
    names = [method.describe(cfg, k) for k in _parts(method, cfg, represent)]
    return f"concat({', '.join(names)})" if len(names) > 1 else names[0]


def representation(nets, cfg, device, represent: str = "zc", batch: int = 500):
    """``fn(images) -> (n, d) float64``: the method's code of dSprites images (uint8 or float in
    {0, 1}, (n, 1, 64, 64)), in eval mode, ``batch`` images per call: the entries of
    ``Method.represent`` that ``represent`` names (module docstring), concatenated."""
    method = METHODS[cfg.method]
    keys = _parts(method, cfg, represent)

    @torch.inference_mode()
    def fn(images):
        x = torch.as_tensor(np.asarray(images))
        codes = []
        for i in range(0, len(x), batch):
            # the factor sampler's images are in {0, 1} already: the dataset range (0, 1)
            out = method.represent(nets, cfg, x[i:i + batch].to(device).float(), keys)
            codes.append(torch.cat([out[k].float() for k in keys], 1).double().cpu())
        return torch.cat(codes).numpy()

    return fn


def protocol_kwargs(name: str, seed: int, n: int | None = None, n_groups: int | None = None,
                    group_size: int | None = None) -> dict:
    """The keyword arguments of metric ``name``'s score for ``score_all``'s sizes: ``n`` is the
    std set of FactorVAE, the labelled set of the others, and for dHSIC it only shrinks its
    5,000 images (its n x n kernel matrices grow with n^2: 73,728 would need 43 GB a matrix);
    BetaVAE takes only the group sizes."""
    from ..metrics.disentanglement import dhsic

    kw = {"seed": seed}
    if name in ("factor_vae", "beta_vae"):
        kw.update({k: v for k, v in (("n_groups", n_groups), ("group_size", group_size))
                   if v is not None})
    if n is not None and name != "beta_vae":
        kw["n_std" if name == "factor_vae" else "n"] = min(n, dhsic.N) if name == "dhsic" else n
    return kw


def score_all(nets, cfg, device, factors, metrics=None, represent: str = "zc", seed: int = 0,
              n: int | None = None, n_groups: int | None = None,
              group_size: int | None = None) -> dict:
    """Every metric in ``metrics`` (names of ``METRICS``; None: all) of the checkpoint's
    representation against ``factors`` (a ground-truth sampler, e.g.
    ``codegan.data.dsprites.DSpritesFactors``). Returns ``{metric: {its result, arrays as lists,
    "seconds": s}}`` and ``"protocol"``: a line saying what was scored."""
    names = list(METRICS) if metrics is None else list(metrics)
    bad = [m for m in names if m not in METRICS]
    if bad:
        raise UserError(f"unknown metric {bad[0]!r}; choose from {', '.join(METRICS)}.")
    fn = representation(nets, cfg, device, represent, cfg.eval_batch_size)
    was_training = nets.training
    nets.eval()
    out = {}
    try:
        for name in names:
            kw = protocol_kwargs(name, seed, n, n_groups, group_size)
            t0 = time.perf_counter()
            res = METRICS[name](fn, factors, **kw)
            res = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in res.items()}
            res["seconds"] = round(time.perf_counter() - t0, 2)
            out[name] = res
    finally:
        nets.train(was_training)
    what = describe(cfg, represent)
    sizes = (f"n={n if n is not None else 'a tenth of the grid'}, "
             f"{n_groups or 500} groups of {group_size or 100}")
    out["protocol"] = (f"disentanglement metrics (InfoGAN-CR's procedures, seed {seed}, {sizes}) "
                       f"of {what} of the images, represent={represent}")
    return out


def headline(scores: dict) -> dict:
    """``{metric: its first (headline) number}`` of ``score_all``'s result."""
    return {name: next(iter(res.values())) for name, res in scores.items()
            if isinstance(res, dict)}


def number_text(v: float, decimals: int = 4) -> str:
    """A score as text: ``decimals`` places, or 3 significant digits below 1e-3 in magnitude
    (why: dHSIC of a many-dimensional code is far below 1e-3, which fixed places show as 0)."""
    return f"{v:.3g}" if 0 < abs(v) < 1e-3 else f"{v:.{decimals}f}"


def format_scores(scores: dict) -> str:
    lines = [f"{'metric':<24}{'score':>8}{'seconds':>10}"]
    for name, res in scores.items():
        if name == "protocol":
            continue
        key = next(iter(res))
        v = res[key]
        lines.append(f"{key:<24}{number_text(v):>8}{res['seconds']:>10.1f}")
        if name == "dci":
            lines.append(f"{'dci_completeness':<24}{res['dci_completeness']:>8.4f}")
    return "\n".join(lines)


class CachedFactors:
    """A factor sampler whose images are kept after their first request: training evaluates
    the same seeded evaluation images at every evaluation, and rendering them (when the data
    file is not the full grid) costs far more than encoding them."""

    def __init__(self, factors):
        self.factors = factors
        self.sizes = factors.sizes
        self.categorical = getattr(factors, "categorical", ())
        self._images: dict = {}

    def sample_factors(self, n: int, rng):
        return self.factors.sample_factors(n, rng)

    def images(self, factor_idx):
        idx = np.ascontiguousarray(factor_idx)
        key = (idx.shape, idx.tobytes())
        if key not in self._images:
            self._images[key] = self.factors.images(idx)
        return self._images[key]


def protocol_factors(data_root) -> tuple:
    """The dSprites factor sampler of a protocol evaluation (test.py, the comparison): the data
    file's images when it holds the full grid, else rendered ones (a metric samples any factor
    combination). Returns ``(factors, note)``, ``note`` a sentence for the protocol line when
    the images are rendered, else ``""``."""
    from ..data import dsprites
    from ..data.datasets import resolve_data_root

    data = dsprites.read_cached(resolve_data_root(data_root))
    full = len(data["imgs"]) == dsprites.N_IMAGES
    note = "" if full else (f"; the data file holds {len(data['imgs'])} of the "
                            f"{dsprites.N_IMAGES} images, so the factor sampler renders them "
                            f"(codegan.data.dsprites.render)")
    return dsprites.DSpritesFactors(data["imgs"] if full else None), note


def checkpoint_scores(checkpoint: str, device="auto", data_root=None, metrics=None,
                      **sizes) -> dict:
    """Every metric of a checkpoint at InfoGAN-CR's protocol sizes (``represent`` zc, seed 0),
    kept beside it in ``<checkpoint stem>.disentanglement.json`` and read from there when that
    file exists (the comparison scores each run once, however often its report is made).

    ``data_root``: where the dSprites file is (None: the run's); ``metrics`` and ``sizes``
    (``n``, ``n_groups``, ``group_size``: smaller than the protocol's, for tests) as
    ``score_all``'s. Returns ``score_all``'s dict plus
    ``"iteration"``."""
    import json
    import os

    from .sampling import load_nets

    path = os.path.splitext(checkpoint)[0] + ".disentanglement.json"
    if os.path.isfile(path):
        with open(path) as f:
            return json.load(f)
    nets, cfg, state = load_nets(checkpoint, device=device)
    # the sampler is cheap to make (the file's images are read once per process, read_cached)
    factors, note = protocol_factors(data_root if data_root is not None else cfg.data_root)
    scores = score_all(nets, cfg, next(nets.parameters()).device, factors, metrics, **sizes)
    scores["protocol"] += note
    scores["iteration"] = int(state["iteration"])
    with open(path, "x") as f:
        json.dump(scores, f, indent=1)
    return scores


def training_factors(data_root):
    """The dSprites factor sampler of training-time metrics: ``protocol_factors``' sampler,
    cached (``CachedFactors``)."""
    return CachedFactors(protocol_factors(data_root)[0])


def training_scores(nets, cfg, device, data: dict) -> dict:
    """The ``train_metrics`` of a run at its small sizes (``train_metric_n``, ``_groups``,
    ``_group_size``, ``train_metric_represent``), as flat entries of a metrics.jsonl record:
    ``{metric: headline, "dci_completeness": ... (with dci), "disentanglement_seconds": s,
    "disentanglement_protocol": text}``; {} when the run asks for none. ``data``: the cache the
    caller keeps between evaluations (the trainer's ``eval_data``); the factor sampler, whose
    images it caches, is built into it at the first call."""
    import time as _time

    if not cfg.train_metrics:
        return {}
    if data.get("factors") is None:
        data["factors"] = training_factors(cfg.data_root)
    factors = data["factors"]
    t0 = _time.perf_counter()
    scores = score_all(nets, cfg, device, factors, cfg.train_metrics, cfg.train_metric_represent,
                       seed=0, n=cfg.train_metric_n, n_groups=cfg.train_metric_groups,
                       group_size=cfg.train_metric_group_size)
    out = {k: float(v) for k, v in headline(scores).items()}
    if "dci" in scores:
        out["dci_completeness"] = float(scores["dci"]["dci_completeness"])
    out["disentanglement_seconds"] = round(_time.perf_counter() - t0, 2)
    out["disentanglement_protocol"] = scores["protocol"]
    return out
