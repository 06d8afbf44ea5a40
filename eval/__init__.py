"""Evaluation harness: sweep sampler settings with Hydra, score fidelity, temporal consistency and parity.

``longcat_i2v`` is imported first on purpose: it declares torchvision's op schemas, without which
torchvision (imported by torchmetrics, lpips and transformers) fails to import next to the CPU torch.
"""

import longcat_i2v  # noqa: F401
