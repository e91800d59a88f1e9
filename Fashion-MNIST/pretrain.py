"""Pre-train Fashion-MNIST's E_c with SimCLR (NT-Xent on two strong views of each real
training image).

`python pretrain.py [--key=value ...]` writes pretrain_path (pretrained/E_c_simclr.pt), which
`python train.py --pretrain=true` loads; `--resume=pretrained/E_c_simclr.resume.pt` continues an
interrupted run. Settings: the pretrain_* keys of param.yml.
"""
import os
import sys

from codegan.pretraining.simclr import pretrain_main

if __name__ == "__main__":
    pretrain_main(os.path.dirname(os.path.abspath(__file__)), sys.argv[1:])
