"""Generate images from a checkpoint for the IS / FID protocol, as .npy.

    python test/sample_fake_images2npy.py --checkpoint=CIFAR-10/runs/00000-.../checkpoints/ckpt-....pt

Writes ``--out`` (uint8 (N, H, W, C) in [0, 255]; gray stays 1-channel) and ``<out>_codes.npy``
(int64 (N,), the class code of each image), from the EMA generator when the run kept one.
Deterministic under ``--seed``. Then: python test/test_IS&FID.py --fakes=OUT --dataset=NAME
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from codegan.errors import UserError, cli_guard  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a checkpoint written by train.py")
    p.add_argument("--num", type=int, default=50000, help="how many images (protocol: 50000)")
    p.add_argument("--out", default=None,
                   help="output .npy (default: beside the checkpoint, <ckpt>_fakes<num>.npy)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latent draw")
    p.add_argument("--batch_size", type=int, default=500)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--uint8", choices=("truncate", "round"), default="truncate",
                   help="float -> uint8: truncate (official sampler's astype('int32')) or round")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    return p.parse_args(argv)


@cli_guard
def main(argv=None):
    args = parse_args(argv)
    if args.num < 1:
        raise UserError(f"--num must be >= 1, got {args.num}.")
    from codegan.data.datasets import DATASETS
    from codegan.evaluation.fakes import codes_path_for, generate_fakes, save_fakes
    from codegan.evaluation.inception_tf import count_name
    from codegan.evaluation.sampling import load_generator

    out = args.out or (os.path.splitext(args.checkpoint)[0] + f"_fakes{count_name(args.num)}.npy")
    for p in (out, codes_path_for(out)):  # refuse before the (long) generation, not after
        if os.path.exists(p) and not args.overwrite:
            raise UserError(f"{p} already exists; choose another --out or pass --overwrite.")
    G, cfg = load_generator(args.checkpoint, args.device)
    device = next(G.parameters()).device
    images, codes = generate_fakes(G, cfg.zn_dim, cfg.zc_dim, DATASETS[cfg.dataset].image_range,
                                   args.num, batch_size=args.batch_size, seed=args.seed,
                                   device=device, progress=True, uint8=args.uint8,
                                   prior=cfg.z_prior, scale=cfg.z_scale)
    save_fakes(out, images, codes, overwrite=args.overwrite)
    print(f"wrote {out} ({images.dtype} {images.shape}) and {codes_path_for(out)} "
          f"({cfg.zc_dim} codes); next: python test/test_IS&FID.py --fakes={out} "
          f"--dataset={cfg.dataset}")
    return out


if __name__ == "__main__":
    main()
