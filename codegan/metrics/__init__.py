"""Metrics. Clustering scores share one signature, ``metric(labels, clusters) -> float``, with
``labels`` the true classes and ``clusters`` the assigned cluster ids (int arrays of equal length). The disentanglement metrics of dSprites
(FactorVAE, BetaVAE, SAP, MIG, Modularity, Explicitness, DCI) are the sub-package
``disentanglement``, with a signature of their own (a representation and a factor sampler).
"""

from .clustering import acc_hungarian, acc_purity, ari, nmi

CLUSTERING_METRICS = {"acc": acc_hungarian, "acc_purity": acc_purity, "nmi": nmi, "ari": ari}

__all__ = ["acc_hungarian", "acc_purity", "nmi", "ari", "CLUSTERING_METRICS"]
