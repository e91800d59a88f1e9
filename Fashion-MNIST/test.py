"""Evaluate a Fashion-MNIST checkpoint (E-based: k-means on E_c features of the 10,000 test images).

`python test.py [--checkpoint=PATH]`: default, the latest checkpoint of the latest run.
"""
import os
import sys

from codegan.training.cli import test_main

if __name__ == "__main__":
    test_main(os.path.dirname(os.path.abspath(__file__)), sys.argv[1:])
