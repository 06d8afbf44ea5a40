"""Evaluation harness: sweep sampler settings with Hydra, score them (input fidelity, temporal quality, motion,
parity) and compare settings with paired statistics.

Nothing heavy is imported here, so ``python -m eval.run --help`` and the aggregate start fast; the modules that
need torchvision (``eval.metrics``) import ``longcat_i2v.compat`` first themselves.
"""
