"""Methods: what a disentangling GAN computes on the shared training loop."""
