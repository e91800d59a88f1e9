import numpy as np
import pytest
import torch

from codegan.latent import grid_latent, latent_input, sample_latent


@pytest.mark.parametrize("k", [10, 20])
def test_sampler_covers_every_class_uniformly(k):
    torch.manual_seed(0)
    n = 50000
    z, c = sample_latent(n, 7, k)
    assert z.shape == (n, 7) and c.shape == (n,) and c.dtype == torch.int64
    counts = torch.bincount(c, minlength=k).numpy()
    assert len(counts) == k and counts.min() > 0
    chi2 = ((counts - n / k) ** 2 / (n / k)).sum()
    assert chi2 < 3 * k  # chi-square with k-1 dof: mean k-1, far below 3k unless non-uniform
    assert abs(float(z.mean())) < 0.02 and abs(float(z.std()) - 1) < 0.02


def test_sampler_deterministic_under_generator():
    a = sample_latent(5, 3, 10, generator=torch.Generator().manual_seed(4))
    b = sample_latent(5, 3, 10, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_latent_input_is_noise_then_one_hot():
    z = torch.randn(3, 4)
    x = latent_input(z, torch.tensor([0, 2, 1]), 3)
    assert torch.equal(x[:, :4], z)
    assert torch.equal(x[:, 4:], torch.tensor([[1.0, 0, 0], [0, 0, 1], [0, 1, 0]]))


def test_grid_rows_are_codes_columns_share_noise():
    z, c = grid_latent(4, 5, 3)
    assert c.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert torch.equal(z[:4], z[4:8]) and not torch.equal(z[0], z[1])
    np.testing.assert_array_equal(grid_latent(4, 5, 3)[0].numpy(), z.numpy())
