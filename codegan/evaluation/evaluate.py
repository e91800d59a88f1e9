"""One entry to the evaluation protocols (learninginvision/CoDeGAN@348d046): the dataset's
``eval_protocol``
picks the E-based (``codegan.evaluation.e_based``) or the G-based one
(``codegan.evaluation.g_based``). Training's periodic evaluation and ``test.py`` both call it."""

from __future__ import annotations

from . import e_based, g_based


def evaluate(nets, cfg, data: dict, device) -> dict:
    """Run the dataset's protocol. ``data`` holds 'test_x', 'test_y' (and what the G-based
    protocol needs: 'classifier')."""
    if not cfg.zc_dim:  # no class code (InfoGAN / InfoGAN-CR's own dSprites setup)
        return {"protocol": f"{cfg.eval_protocol}: not applicable: {cfg.method} runs without a "
                            f"class code (zc_dim 0), so there is no class to cluster or assign; "
                            f"its scores are the disentanglement metrics"}
    if cfg.eval_protocol == "g-based":
        res = g_based.evaluate_g_based(nets, cfg, data, device)
    else:
        res = e_based.evaluate_e_based(nets, cfg, data["test_x"], data["test_y"], device)
    from .split_codes import has_split_codes, probe_scores

    if has_split_codes(cfg):  # the reference's scores of z and s (Mathieu16)
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


def log_lines(res: dict, iteration: int, epoch: float, train_metrics=()) -> list:
    """The lines training logs for one evaluation ``res`` (``evaluate``'s, plus the
    ``train_metrics`` entries of ``disentangle.training_scores`` where asked for): the
    clustering scores (or why none apply), a method's own probe table (Mathieu16), the
    disentanglement subset. Every method's result is read here, so the loop has no branch of
    its own per method."""
    head = f"iter {iteration} (epoch {epoch:.2f}): "
    if "acc" in res:
        official = assign = ""
        if "acc_purity_best_of_runs" in res:  # the paper's protocol: the best k-means run
            official = (f"; official protocol (lowest-inertia k-means run): purity "
                        f"{res['acc_purity_best_of_runs']:.4f} NMI {res['nmi_best_of_runs']:.4f} "
                        f"ARI {res['ari_best_of_runs']:.4f}")
        if "assign_acc" in res:  # a method with a class head: its argmax as the clusters
            assign = (f"; class-head argmax: ACC {res['assign_acc']:.4f} NMI "
                      f"{res['assign_nmi']:.4f} ARI {res['assign_ari']:.4f}")
        lines = [f"{head}ACC {res['acc']:.4f} (purity {res.get('acc_purity', 0):.4f}) NMI "
                 f"{res.get('nmi', 0):.4f} ARI {res.get('ari', 0):.4f}{official}{assign} "
                 f"[{res.get('eval_seconds', 0):.1f} s]"]
    else:  # no class code, or a protocol without clustering scores: what it says instead
        lines = [head + str(res.get("protocol", "no scores"))]
    from .split_codes import probe_table

    lines += ["  " + line for line in probe_table(res)]  # the MLP accuracies on z and s
    names = [k for k in train_metrics if k in res]
    if names:
        names += ["dci_completeness"] if "dci_completeness" in res else []
        lines.append("  disentanglement (train_metrics): " + " ".join(
            f"{k} {res[k]:.4f}" for k in names) +
            f" [{res.get('disentanglement_seconds', 0):.1f} s]")
    return lines
