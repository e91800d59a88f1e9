"""Train CoDeGAN on 3D-Chairs: `python train.py [--key=value ...]` (keys: see param.yml).
The G-based evaluation needs the classifier: run `python train_classifier.py` first."""
import os
import sys

from codegan.training.cli import train_main

if __name__ == "__main__":
    train_main(os.path.dirname(os.path.abspath(__file__)), sys.argv[1:])
