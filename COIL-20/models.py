"""COIL-20 networks (paper section 4): ResNet G (4x4x256, three up blocks -> 1x32x32, tanh),
ResNet D (128 channels, no spectral norm: WGAN-GP), ResNet-18 E_c (head 512-512-fc_dim,
L2-normalised) and E_z (head 512-512-zn_dim), one input channel.
To try another architecture, build your own G, D, E_c and E_z here and return them as Nets,
the encoders only when ``encoders`` is true (a method that does not train them asks for none)."""
from codegan.nets.resnet import build_coil20_nets


def build_nets(cfg, encoders=True):
    return build_coil20_nets(cfg, encoders=encoders)
