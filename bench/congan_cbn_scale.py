"""ConGAN: what the official conditional-BatchNorm initialisation makes of gamma and beta at the
start, for our representations and for ones of the authors' scale.

The official init (``congan_cbn_init: official``) sets the first C input columns of each CBN's
embedding to N(1, 0.02) and the rest to 0, so gamma_k and beta_k both start near the sum of r's
first C entries (plus torch's default bias). Their scale is then r's scale:
  - ours: S is the folder's E_c, whose output is L2-normalised (norm 1, fc_dim 128 entries);
  - the authors': SimSiam's 2048-d projector output, whose last BatchNorm has no affine, so each
    entry is standardised over the batch (norm about sqrt(2048) = 45); modelled here as
    N(0, I_2048), independent entries (their correlations are not known here).
Builds G (``ConGenerator``, CIFAR-10 32 px, 128 channels, default ``official`` init) for each,
feeds r, and reports gamma and beta over channels x samples, per CBN layer and pooled.

S is **randomly initialised** (no pre-trained SimSiam encoder is stored in the repository);
with any weights its output has norm 1, which is what bounds the sums (|sum| <= sqrt(128)).
A random S maps every image to nearly one direction; as the other extreme for a trained S, r
spread uniformly over the unit sphere is measured too.

    python bench/congan_cbn_scale.py --data_root=DIR [--n=512]
        [--out=bench/results/congan_cbn_scale.json]

DIR holds cifar10.npz (default: $CODEGAN_DATA, else <repo>/data).
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from codegan.config import load_config  # noqa: E402
from codegan.nets.congan import CondBatchNorm2d, ConGenerator  # noqa: E402
from codegan.nets.resnet import build_cifar_nets  # noqa: E402


def cbn_stats(G: ConGenerator, r: torch.Tensor) -> dict:
    """gamma and beta of every CBN of G for the rows of r: mean and std over samples x
    channels, per layer and pooled."""
    rows, all_g, all_b = {}, [], []
    with torch.no_grad():
        for name, m in G.named_modules():
            if isinstance(m, CondBatchNorm2d):
                gamma, beta = m.embed(r).chunk(2, dim=1)
                rows[name] = {"gamma_mean": gamma.mean().item(), "gamma_std": gamma.std().item(),
                              "beta_mean": beta.mean().item(), "beta_std": beta.std().item()}
                all_g.append(gamma.flatten())
                all_b.append(beta.flatten())
    g, b = torch.cat(all_g), torch.cat(all_b)
    return {"layers": rows,
            "pooled": {"gamma_mean": g.mean().item(), "gamma_std": g.std().item(),
                       "beta_mean": b.mean().item(), "beta_std": b.std().item(),
                       "gamma_abs_median": g.abs().median().item(),
                       "share_gamma_negative": (g < 0).float().mean().item()},
            "r_norm_mean": r.norm(dim=1).mean().item(),
            "r_sum_first_C_mean": r[:, :G.ch].sum(1).mean().item(),
            "r_sum_first_C_std": r[:, :G.ch].sum(1).std().item()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data_root", default=os.environ.get("CODEGAN_DATA",
                                                         os.path.join(REPO, "data")))
    p.add_argument("--n", type=int, default=512, help="test images (and authors'-scale r)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join(REPO, "bench", "results",
                                                 "congan_cbn_scale.json"))
    a = p.parse_args(argv)
    torch.manual_seed(a.seed)
    cfg = load_config(os.path.join(REPO, "CIFAR-10", "param.yml"),
                      {"method": "congan", "data_root": a.data_root, "device": "cpu"})
    x = np.load(os.path.join(a.data_root, "cifar10.npz"))["x_test"][:a.n]
    x = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1  # [-1, 1], the folder's
    S = build_cifar_nets(cfg).E_c.eval()  # random init; eval: BN running statistics (0, 1)
    with torch.no_grad():
        r_ours = S(x).float()
    noise = cfg.zn_dim - cfg.fc_dim
    ours = ConGenerator(noise, cfg.fc_dim, cfg.congan_hidden, cfg.congan_channels, 32, 3,
                        cfg.congan_cbn_init)
    theirs = ConGenerator(noise, 2048, cfg.congan_hidden, cfg.congan_channels, 32, 3,
                          cfg.congan_cbn_init)
    r_theirs = torch.randn(a.n, 2048)
    ident = ConGenerator(noise, cfg.fc_dim, cfg.congan_hidden, cfg.congan_channels, 32, 3,
                         "identity")
    res = {"what": "gamma, beta of ConGenerator's CBNs at initialisation (congan_cbn_init "
                   f"{cfg.congan_cbn_init}), {a.n} samples, CIFAR-10 32 px, 128 channels",
           "ours_random_init_S_on_cifar10_test": cbn_stats(ours, r_ours),
           "ours_r_uniform_on_the_unit_sphere": cbn_stats(ours, F.normalize(
               torch.randn(a.n, cfg.fc_dim), dim=1)),
           "authors_scale_r_N01_2048": cbn_stats(theirs, r_theirs),
           "identity_init_ours": cbn_stats(ident, r_ours)["pooled"],
           "command": "python bench/congan_cbn_scale.py --data_root=DIR "
                      f"--n={a.n} --seed={a.seed}"}
    for k in ("ours_random_init_S_on_cifar10_test", "ours_r_uniform_on_the_unit_sphere",
              "authors_scale_r_N01_2048"):
        s = res[k]
        print(f"{k}: |r| {s['r_norm_mean']:.3f}, sum of r's first C entries "
              f"{s['r_sum_first_C_mean']:.3f} +- {s['r_sum_first_C_std']:.3f}; pooled " +
              ", ".join(f"{n} {v:.3f}" for n, v in s["pooled"].items()))
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print("wrote", os.path.relpath(a.out, REPO))


if __name__ == "__main__":
    main()
