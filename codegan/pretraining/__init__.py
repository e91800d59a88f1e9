"""Pre-training of ``E_c`` before CoDeGAN's training: SimCLR (``simclr``, "CoDeGAN (self)") and
MAML on the labelled subset (``maml``, "meta"), both on the shared ``encoder_loop``."""
