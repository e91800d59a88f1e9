"""How many class codes of a G collapsed onto another code's class, from the G-based assignment.

The real-data classifier of the G-based protocol (``codegan.evaluation.classifier``) assigns a
class to each of G's samples (its argmax); each class code ``c`` then has a class of its own,
the class most of its samples get (its majority class; ties go to the lowest class index). A
G whose codes are disentangled gives K codes K different classes. Counted per run:

- ``no_own_class``: the codes left without a class of their own when each majority class goes
  to one of the codes that have it: K minus the number of distinct majority classes (codes
  0, 1, 2 all making mostly class 5: two of them have none of their own);
- ``shared``: the codes whose majority class is also another code's (the three above);
- ``missing_classes``: the classes no code has as its majority class (of ``n_classes``).

``no_own_class`` is 0 and ``shared`` 0 exactly when the codes' majority classes are all
different, as the Hungarian ACC's one-to-one matching would like.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import UserError


def majority_classes(pred, codes, k: int) -> np.ndarray:
    """The majority class of each code: ``pred`` (N,) int class per sample, ``codes`` (N,) int
    in [0, k). Returns (k,) int64, -1 for a code without samples."""
    pred, codes = np.asarray(pred, dtype=np.int64), np.asarray(codes, dtype=np.int64)
    out = np.full(k, -1, dtype=np.int64)
    for c in range(k):
        mine = pred[codes == c]
        if len(mine):
            out[c] = int(np.bincount(mine).argmax())  # argmax: the lowest index of a tie
    return out


def collapse_count(pred, codes, k: int, n_classes: int | None = None) -> dict:
    """The counts of the module docstring for predictions ``pred`` (N,) of samples made with
    ``codes`` (N,) in [0, k); ``n_classes`` defaults to ``k``. Returns ``{"codes": k,
    "no_own_class": 0..k, "shared": 0..k, "missing_classes": 0..n_classes, "majority": [k
    ints]}``."""
    maj = majority_classes(pred, codes, k)
    had = maj[maj >= 0]
    counts = np.bincount(had, minlength=1) if len(had) else np.zeros(1, dtype=np.int64)
    distinct = int((counts > 0).sum())
    return {"codes": k, "no_own_class": k - distinct,
            "shared": int(counts[counts > 1].sum()),
            "missing_classes": (n_classes if n_classes is not None else k) - distinct,
            "majority": maj.tolist()}


@torch.no_grad()
def generator_collapse(G, cfg, classifier, device) -> dict:
    """``collapse_count`` of G's samples: ``cfg.g_eval_per_class`` images per code from the
    G-based protocol's fixed noise (``g_based.generate_per_code``: seed ``cfg.seed``, the run's
    prior), classified by ``classifier`` (its argmax)."""
    from .classifier import predict_logits
    from .g_based import generate_per_code

    x, codes = generate_per_code(G, cfg.g_eval_per_class, cfg.zn_dim, cfg.zc_dim, device,
                                 cfg.seed, cfg.eval_batch_size, cfg.z_prior, cfg.z_scale)
    pred = predict_logits(classifier, x, cfg.eval_batch_size).argmax(1).cpu().numpy()
    return collapse_count(pred, codes.numpy(), cfg.zc_dim)


def nets_collapse(nets, cfg, device, dataset_dir: str | None = None) -> dict:
    """``generator_collapse`` of ``nets.G`` (the G the evaluation scores) with the run's G-based
    classifier; ``{"missing": why}`` when the folder's protocol has no classifier (E-based) or
    its file is absent or does not fit."""
    from .classifier import classifier_file, load_classifier

    if cfg.eval_protocol != "g-based" or not cfg.zc_dim:
        return {"missing": f"{cfg.eval_protocol} protocol: no real-data classifier to assign "
                           f"classes to G's samples"}
    try:
        clf, _ = load_classifier(classifier_file(cfg, dataset_dir), cfg, device)
    except UserError as e:
        return {"missing": str(e)}
    return generator_collapse(nets.G, cfg, clf, device)


def checkpoint_collapse(checkpoint: str, device="cpu") -> dict:
    """``nets_collapse`` of a checkpoint, computed once and kept beside it
    (``ckpt-<N>.collapse.json``; a later call reads it back)."""
    from .sampling import kept_beside

    # without a classifier nothing is kept: one trained later gives the count then
    return kept_beside(checkpoint, "collapse", nets_collapse,
                       keep=lambda res: "missing" not in res, device=device)


def collapse_text(res: dict) -> str:
    """``"2 / 3"`` (no class of their own / shared), or ``"–"`` without a count."""
    return "–" if "missing" in res else f"{res['no_own_class']} / {res['shared']}"
