"""3D-Cars networks (paper section 4): ResNet G (4x4x512, four up blocks all 512 channels,
BN, ReLU, conv 512 -> 3, tanh: 3x64x64), ResNet D (256 channels, optimized block, two down
blocks, two plain blocks, no spectral norm: WGAN-GP), as the official first upload; ResNet-18
(CIFAR stem) E_c (head 512-512-fc_dim, L2-normalised) and E_z (head 512-512-zn_dim).
To try another architecture, build your own G, D, E_c and E_z here and return them as Nets,
the encoders only when ``encoders`` is true (a method that does not train them asks for none)."""
from codegan.nets.resnet import build_3d_nets


def build_nets(cfg, encoders=True):
    return build_3d_nets(cfg, encoders=encoders)
