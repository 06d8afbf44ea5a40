"""The DiT with block-sparse attention against the original's Triton BSA (dit_bsa_cond4): the output, and
the blocks its gating selected, call by call."""

import pytest
import torch

from longcat_i2v import bsa
from tests.conftest import load_case


@pytest.fixture(scope="module")
def case():
    return load_case("dit_bsa_cond4")


def _inputs(t: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    return t["hidden_states"], t["timestep"], t["encoder_hidden_states"], t["encoder_attention_mask"]


@pytest.fixture(scope="module")
def bsa_run(parity_pipe, case):
    """attention="bsa" as the refinement calls it (the default kernel: compiled FlexAttention), recording
    the block mask of every BSA call in order."""
    meta, t = case
    masks: list[torch.Tensor] = []
    select = bsa.select_blocks

    def recording(q_mean, k_mean, params):
        indices, counts = select(q_mean, k_mean, params)
        masks.append(bsa.block_mask(indices, counts, k_mean.shape[2]))
        return indices, counts

    patch = pytest.MonkeyPatch()
    patch.setattr(bsa, "select_blocks", recording)
    try:
        with torch.no_grad():
            out = parity_pipe.dit(*_inputs(t), num_cond_latents=meta["num_cond_latents"], attention="bsa")
    finally:
        patch.undo()
    return out, masks


def test_bsa_output_matches_original(case, bsa_run):
    meta, t = case
    tol = meta["tolerance"]
    torch.testing.assert_close(bsa_run[0], t["output"], atol=tol["atol"], rtol=tol["rtol"])


def test_selected_blocks_match_original_call_by_call(case, bsa_run):
    meta, t = case
    masks = bsa_run[1]
    assert len(masks) == meta["bsa_calls"] == 4
    for i, mask in enumerate(masks):
        expected = t[f"block_mask_call{i}"].bool()
        assert mask.shape == expected.shape, f"call {i}"
        assert torch.equal(mask, expected), f"call {i}: {(mask != expected).sum()} blocks differ"
        assert (mask.sum(-1) == meta["selected_per_row"][i]).all()


def test_bsa_is_not_dense_and_dense_matches_original(parity_pipe, case, bsa_run):
    """BSA changes this output by ~0.38, so a BSA that silently ran dense fails here."""
    meta, t = case
    assert (bsa_run[0] - t["output_dense"]).abs().max() > 0.1
    with torch.no_grad():
        dense = parity_pipe.dit(*_inputs(t), num_cond_latents=meta["num_cond_latents"], attention="dense")
        default = parity_pipe.dit(*_inputs(t), num_cond_latents=meta["num_cond_latents"])
    tol = meta["tolerance"]
    torch.testing.assert_close(dense, t["output_dense"], atol=tol["atol"], rtol=tol["rtol"])
    assert torch.equal(default, dense)


def test_reference_kernel_matches_original(parity_pipe, case):
    meta, t = case
    with torch.no_grad():
        out = parity_pipe.dit(
            *_inputs(t), num_cond_latents=meta["num_cond_latents"], attention=bsa.BlockSparse(kernel="sdpa")
        )
    torch.testing.assert_close(out, t["output"], atol=meta["tolerance"]["atol"], rtol=meta["tolerance"]["rtol"])


def test_one_latent_frame_stays_dense(parity_pipe, case):
    """The original applies BSA only with more than one latent frame."""
    _, t = case
    x, ts, text, mask = _inputs(t)
    with torch.no_grad():
        sparse = parity_pipe.dit(x[:, :, :1], ts[:, :1], text, mask, attention="bsa")
        dense = parity_pipe.dit(x[:, :, :1], ts[:, :1], text, mask)
    assert torch.equal(sparse, dense)
