"""Evaluate a 3D-Chairs checkpoint (G-based: 1000 generated images per code, classified by the
real-data ResNet-18; plus E-based numbers on the real images).

`python test.py [--checkpoint=PATH]`: default, the latest checkpoint of the latest run.
"""
import os
import sys

from codegan.training.cli import test_main

if __name__ == "__main__":
    test_main(os.path.dirname(os.path.abspath(__file__)), sys.argv[1:])
