"""Train the G-based evaluation classifier on the real 3D-Cars images (every 5th view held out
to measure it): `python train_classifier.py [--epochs=15] [--classifier_arch=resnet50|resnet18]
[--out=PATH]`. The network is classifier_arch of param.yml (resnet50: the official Classifier();
resnet18: cheaper on CPUs); the training recipe is this project's
(codegan/evaluation/classifier.py). Writes classifier_path of param.yml (null:
classifier/<classifier_arch>.pt), never overwriting."""
import os
import sys

from codegan.evaluation.classifier import main

if __name__ == "__main__":
    main(os.path.dirname(os.path.abspath(__file__)), sys.argv[1:])
