"""dSprites networks of the official first upload (348d046:dSprites/model.py): InfoGAN-CR's
dSprites G (ReLU before BatchNorm, sigmoid: binary images in [0, 1]) and spectral-norm D, and a
shared spectral-norm encoder whose first zn_dim outputs are E_z and the L2-normalised rest E_c
(codegan/nets/dsprites.py). To try another architecture, build your own G, D and encoder(s)
here and return them as Nets,
the encoders only when ``encoders`` is true (a method that does not train them asks for none)."""
from codegan.nets.dsprites import build_nets as dsprites_nets


def build_nets(cfg, encoders=True):
    return dsprites_nets(cfg, channels=1, encoders=encoders)
