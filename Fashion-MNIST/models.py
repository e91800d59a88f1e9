"""Fashion-MNIST networks (paper section 4): InfoGAN-style G (sigmoid, images in [0, 1]) and
D, and one shared encoder trunk whose first zn_dim outputs are E_z and the L2-normalised rest E_c.
To try another architecture, build your own G, D and encoder(s) here and return them as Nets,
the encoders only when ``encoders`` is true (a method that does not train them asks for none)."""
from codegan.nets.infogan import build_nets as infogan_nets


def build_nets(cfg, encoders=True):
    return infogan_nets(cfg, channels=1, size=28, encoders=encoders)
