"""Pre-train dSprites' E_c (the shared encoder's class part) with MAML on N-way K-shot episodes from the labelled subset.

`python meta_pretrain.py [--key=value ...]` writes meta_path (pretrained/E_c_maml.pt), which
`python train.py --few_labels=true --meta=true` loads (same n_labels / label_seed, so the same
labelled images). Settings: the meta_* keys of param.yml.
"""
import os
import sys

from codegan.pretraining.maml import meta_main

if __name__ == "__main__":
    meta_main(os.path.dirname(os.path.abspath(__file__)), sys.argv[1:])
