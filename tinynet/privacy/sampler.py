"""Poisson sampling of batches, the sampling DP-SGD's privacy analysis assumes (Opacus' name).

Each of the ``steps`` batches includes every example ``i`` independently with probability
``q = sample_rate``; batch sizes are therefore random (Binomial(N, q), mean N q) and can be empty.
The RDP accountant's "subsampled Gaussian" bound is proven for exactly this scheme.
Use it as a DataLoader ``batch_sampler``. An empty batch is still a step (noise only): with a
:class:`tinynet.data.TensorDataset` the loader yields zero-length tensors that flow through the model.
"""
from __future__ import annotations

import math

from ..data.sampler import Sampler
from ..tensor.random import Generator, resolve

__all__ = ["UniformWithReplacementSampler"]


class UniformWithReplacementSampler(Sampler):
    """Yield ``steps`` lists of indices into ``range(num_samples)``, each index kept with
    probability ``sample_rate`` (independently per index and per batch).

    ``steps`` defaults to ``round(1 / sample_rate)`` (one "epoch" in expectation).
    ``generator`` (a ``tn.Generator``) makes the batches reproducible.
    """

    def __init__(self, *, num_samples: int, sample_rate: float, steps: int | None = None, generator=None):
        op = "UniformWithReplacementSampler"
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
            raise ValueError(f"{op}: num_samples must be a positive int, got {num_samples!r}")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float)) or not 0 < sample_rate <= 1:
            raise ValueError(f"{op}: sample_rate must be in (0, 1], got {sample_rate!r}")
        if steps is None:
            steps = max(1, round(1 / sample_rate))
        if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
            raise ValueError(f"{op}: steps must be a positive int, got {steps!r}")
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"{op}: generator must be a tn.Generator or None, got {type(generator).__name__}")
        self.num_samples = num_samples
        self.sample_rate = float(sample_rate)
        self.steps = steps
        self.generator = generator  # None: tinynet's global generator (tn.manual_seed makes it repeatable)

    def __len__(self):
        return self.steps

    def __iter__(self):
        rng = resolve(self.generator)
        for _ in range(self.steps):
            mask = rng.random(self.num_samples) < self.sample_rate
            yield [int(i) for i in mask.nonzero()[0]]

    @property
    def expected_batch_size(self) -> int:
        """``round(num_samples * sample_rate)``: what DP-SGD divides the noisy sum by."""
        return max(1, math.floor(self.num_samples * self.sample_rate + 0.5))
