"""One entry to the evaluation protocols (CODEGAN.md section 6): the dataset's ``eval_protocol``
picks the E-based (``codegan.evaluation.e_based``) or the G-based one
(``codegan.evaluation.g_based``). Training's periodic evaluation and ``test.py`` both call it."""

from __future__ import annotations

from . import e_based, g_based


def evaluate(nets, cfg, data: dict, device) -> dict:
    """Run the dataset's protocol. ``data`` holds 'test_x', 'test_y' (and what the G-based
    protocol needs: 'classifier')."""
    from ..methods import METHODS

    if not cfg.zc_dim:  # no class code (InfoGAN / InfoGAN-CR's own dSprites setup)
        return {"protocol": f"{cfg.eval_protocol}: not applicable: {cfg.method} runs without a "
                            f"class code (zc_dim 0), so there is no class to cluster or assign; "
                            f"its scores are the disentanglement metrics"}
    if cfg.eval_protocol == "g-based":
        res = g_based.evaluate_g_based(nets, cfg, data, device)
    else:
        res = e_based.evaluate_e_based(nets, cfg, data["test_x"], data["test_y"], device)
    if METHODS[cfg.method].split_codes:  # the authors' scores of z and s (Mathieu16)
        from .split_codes import probe_scores

        res.update(probe_scores(nets, cfg, data, device))
    return res


def format_table(res: dict) -> str:
    """The four clustering scores of ``res`` (mean, std, lowest-inertia run) as a text table,
    then the MLP accuracies on z and s where ``res`` has them (Mathieu16)."""
    names = [("acc", "ACC (Hungarian)"), ("acc_purity", "ACC (purity, official)"),
             ("nmi", "NMI"), ("ari", "ARI")]
    lines = [f"{'metric':<24}{'mean':>8}{'std':>8}{'best-inertia':>14}"]
    if not any(key in res for key, _ in names):  # nothing to cluster (no class code)
        lines = []
    for key, label in names:
        if key in res:
            lines.append(f"{label:<24}{res[key]:>8.4f}{res[key + '_std']:>8.4f}"
                         f"{res[key + '_best_of_runs']:>14.4f}")
    if "assign_acc" in res:  # the class head's argmax: one assignment, no std
        lines.append("class-head argmax (one assignment, no k-means):")
        for key, label in names:
            lines.append(f"{label:<24}{res['assign_' + key]:>8.4f}")
    from .split_codes import probe_table

    lines += probe_table(res)
    return "\n".join(lines)
