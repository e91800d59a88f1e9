"""Train the G-based evaluation classifier (ResNet-18 on the real 3D-Chairs images, every 5th
view held out to measure it): `python train_classifier.py [--epochs=15] [--out=PATH]`.
Writes classifier_path of param.yml (never overwriting)."""
import os
import sys

from codegan.classifier import main

if __name__ == "__main__":
    main(os.path.dirname(os.path.abspath(__file__)), sys.argv[1:])
