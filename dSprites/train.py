"""Train CoDeGAN on dSprites: `python train.py [--key=value ...]` (keys: see param.yml)."""
import os
import sys

from codegan.training.cli import train_main

if __name__ == "__main__":
    train_main(os.path.dirname(os.path.abspath(__file__)), sys.argv[1:])
