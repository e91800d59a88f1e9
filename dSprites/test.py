"""Evaluate a dSprites checkpoint: E-based (k-means, K = 3, on E_c features of the held-out
images, scored against the shape) and the disentanglement metrics of the encoder
(codegan.evaluation.disentangle), both printed and written to <checkpoint>.results.json.

`python test.py [--checkpoint=PATH] [--metrics=factor_vae,mig,...|none] [--represent=zc|z|c]
[--metric_n=N] [--metric_groups=N] [--metric_group_size=N] [--metric_seed=S] [--traversal=true]
[--shape_is=true] [--shape_is_n=N] [--shape_classifier=PATH]`:
default, the latest checkpoint of the latest run and all eight metrics (InfoGAN-CR's seven and
dHSIC) at InfoGAN-CR's protocol sizes. `--shape_is=true` adds InfoGAN-CR's dSprites inception
score of N (default 50,000) prior samples of G (codegan.evaluation.dsprites_is), by the shape
classifier at PATH (default pretrained/shape_classifier.pt, trained there first when missing:
many hours on a CPU; never overwritten). `--traversal=true` also writes the latent traversal (rows = one code varied over its range,
the rest fixed) and, with a class code, the grid of the discrete code beside the checkpoint
(`python -m codegan.evaluation.traversal --checkpoint=...` has more options).
"""
import os
import sys

from codegan.training.cli import test_main

if __name__ == "__main__":
    test_main(os.path.dirname(os.path.abspath(__file__)), sys.argv[1:])
