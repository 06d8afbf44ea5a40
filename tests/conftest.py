"""Shared fixtures: the parity reference data and the tiny checkpoint.

The reference data (outputs of the original code) lives in eval/parity/data, shipped with the harness, so that
`parity=reference` works from an installed package too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

PARITY = Path(__file__).resolve().parent.parent / "eval" / "parity" / "data"
PARITY_CKPT = PARITY / "checkpoint"


def load_case(name: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """(json metadata, tensors) of one reference case produced by the original code."""
    meta = json.loads((PARITY / "cases" / f"{name}.json").read_text())
    return meta, load_file(str(PARITY / "cases" / f"{name}.safetensors"))


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """The built-in tiny checkpoint (and anything else cached) goes to a temporary folder, never ~/.cache;
    subprocesses started by tests inherit it."""
    patch = pytest.MonkeyPatch()
    patch.setenv("LONGCAT_I2V_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def parity_pipe():
    from longcat_i2v import LongCatI2V

    return LongCatI2V.from_pretrained(PARITY_CKPT)


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory) -> Path:
    from longcat_i2v.tiny import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "ckpt")


@pytest.fixture(scope="session")
def tiny_pipe(tiny_ckpt):
    from longcat_i2v import LongCatI2V

    return LongCatI2V.from_pretrained(tiny_ckpt)
