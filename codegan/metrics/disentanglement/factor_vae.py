"""FactorVAE metric (Kim & Mnih 2018), by InfoGAN-CR's procedure (its ``FactorVAEMetric``).

Protocol (defaults = the published dSprites protocol):
  1. Std set: ``n_std`` distinct combinations (default a tenth of all: 73,728 on dSprites);
     each code dimension's std (ddof 0) over it divides every code.
  2. Votes: ``n_groups`` = 500 groups of ``group_size`` = 100 images; group j fixes active factor
     ``j mod K_active`` (so 100 groups per dSprites factor) and votes for the code dimension whose
     std across the group (normalised codes) is smallest: a (d, K_active) vote matrix.
  3. Majority-vote classifier, scored on the same votes it was built from: score = sum over code
     dimensions of the largest count in its row / n_groups. ``revised`` sums only the K_active
     largest row maxima (InfoGAN-CR's "revised" variant, which stops duplicated dimensions from
     each claiming a factor).

Value range [0, 1]: 1 when each factor's own dimension is constant in its groups; chance about
1 / K_active for codes independent of the factors (a little above with few groups, since each
row's maximum is biased up).

Where this differs: a code dimension with zero std over the std set gives NaN in InfoGAN-CR; here
it is left out of the vote (it carries nothing). google-research/disentanglement_lib instead
draws the fixed factor at random per vote, uses the variance with ddof 1 over 10,000 images,
prunes dimensions whose global std is under 0.05, builds the classifier from 10,000 votes of 64
images and reports accuracy on 5,000 fresh votes (``eval_accuracy``).
"""

from __future__ import annotations

import numpy as np

from . import _common as C


def score(represent, factors, *, seed: int = 0, n_groups: int = C.N_GROUPS,
          group_size: int = C.GROUP_SIZE, n_std: int | None = None,
          batch: int = C.BATCH) -> dict:
    """``{"factor_vae": float in [0,1], "factor_vae_revised": float in [0,1], "votes": (d,
    K_active) int array}``. See the module docstring for the protocol."""
    std = C.represent_indices(represent, factors, C.std_set(factors, seed, n_std), batch).std(0)
    keep = std > 0  # why: a constant dimension would win every vote with std 0
    idx, label = C.groups(factors, seed, n_groups, group_size)
    k_act = len(C.active_factors(factors))
    codes = C.represent_indices(represent, factors, idx.reshape(-1, idx.shape[-1]), batch)
    codes = codes.reshape(n_groups, group_size, -1)
    votes = np.zeros((codes.shape[-1], k_act), dtype=np.int64)
    if keep.any():
        local = (codes[:, :, keep] / std[keep]).std(axis=1)  # (n_groups, d_kept)
        chosen = np.flatnonzero(keep)[local.argmin(axis=1)]
        np.add.at(votes, (chosen, label), 1)
    maxima = votes.max(axis=1)
    return {"factor_vae": float(maxima.sum() / n_groups),
            "factor_vae_revised": float(np.sort(maxima)[::-1][:k_act].sum() / n_groups),
            "votes": votes}
