"""CIFAR-10 networks (paper section 4): SNGAN ResNet G (4x4x256, three up blocks with BN, BN,
ReLU, conv3x3, tanh), spectral-norm ResNet D (128 channels: optimized block, down block, two
plain blocks, ReLU, sum pooling, linear), ResNet-18 (CIFAR stem) E_c with MLP head 512-512-128
(L2-normalised) and E_z with head 512-512-zn_dim.
To try another architecture, build your own G, D, E_c and E_z here and return them as Nets,
the encoders only when ``encoders`` is true (a method that does not train them asks for none)."""
from codegan.nets.resnet import build_cifar_nets


def build_nets(cfg, encoders=True):
    return build_cifar_nets(cfg, encoders=encoders)
