"""Which generator a generation draws from, and its seed: the caller's, or a fresh CPU one (so a seed gives the
same starting noise on any device), with one seed for all ranks of a parallel run."""

from __future__ import annotations

import random

import torch

from .errors import InvalidInputError
from .parallel import Parallel


def make_generator(
    seed: int | None,
    generator: torch.Generator | None = None,
    parallel: Parallel | None = None,
    device: torch.device | str = "cpu",
) -> tuple[torch.Generator, int]:
    """The generator to draw from and its seed; a fresh random seed when neither is given. Under a parallel run
    every rank ends up with global rank 0's seed (a caller's generator is replaced when its seed differs)."""
    if generator is not None:
        seed = generator.initial_seed()
    elif seed is None:
        seed = random.SystemRandom().randrange(2**31)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InvalidInputError(f"seed={seed!r} is invalid: must be an integer >= 0 and < 2**63")
    if parallel is not None and parallel.active:
        shared = parallel.shared_seed(seed, device)
        if shared != seed or generator is None:
            return torch.Generator("cpu").manual_seed(shared), shared
    if generator is not None:
        return generator, seed
    return torch.Generator("cpu").manual_seed(seed), seed
