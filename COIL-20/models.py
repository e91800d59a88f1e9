"""COIL-20 networks (paper section 4): ResNet G (4x4x256, three up blocks -> 1x32x32, tanh),
ResNet D (128 channels, no spectral norm: WGAN-GP), ResNet-18 E_c (head 512-512-fc_dim,
L2-normalised) and E_z (head 512-512-zn_dim), one input channel.
To try another architecture, build your own G, D, E_c and E_z here and return them as Nets."""
from codegan.nets.resnet import build_coil20_nets


def build_nets(cfg):
    return build_coil20_nets(cfg)
