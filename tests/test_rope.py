import math

import pytest
import torch

from longcat_i2v.rope import apply_rope, axis_dims, rope_cos_sin


def test_axis_split_matches_original():
    assert axis_dims(128) == (44, 42, 42)
    assert axis_dims(32) == (12, 10, 10)


def test_angles_follow_positions_and_interleaved_pairs():
    cos, sin = rope_cos_sin((3, 2, 4), 32)
    # token (t=2, h=1, w=3): the first temporal pair rotates by 2·1, the first h pair by 1, the first w pair by 3
    idx = 2 * 8 + 1 * 4 + 3
    assert math.isclose(sin[idx, 0].item(), math.sin(2.0), rel_tol=1e-6)
    assert sin[idx, 0] == sin[idx, 1]
    assert math.isclose(sin[idx, 12].item(), math.sin(1.0), rel_tol=1e-6)
    assert math.isclose(sin[idx, 22].item(), math.sin(3.0), rel_tol=1e-6)


def test_skip_leaves_cond_frame_unrotated_and_others_as_full():
    full_cos, full_sin = rope_cos_sin((3, 2, 4), 32, num_cond_latents=1, cond_rope="full")
    cos, sin = rope_cos_sin((3, 2, 4), 32, num_cond_latents=1, cond_rope="skip")
    x = torch.randn(1, 2, 24, 32)
    rotated = apply_rope(x, cos, sin)
    assert torch.equal(rotated[:, :, :8], x[:, :, :8])
    torch.testing.assert_close(rotated[:, :, 8:], apply_rope(x, full_cos, full_sin)[:, :, 8:])
    assert not torch.allclose(apply_rope(x, full_cos, full_sin)[:, :, 1:8], x[:, :, 1:8])


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="cond_rope"):
        rope_cos_sin((1, 2, 2), 32, cond_rope="none")


def test_skip_changes_the_dit_output(tiny_pipe):
    dit = tiny_pipe.dit
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 16, 3, 4, 4, generator=gen)
    text = torch.randn(1, 1, 8, 64, generator=gen)
    t = torch.tensor([[0.0, 500.0, 500.0]])
    with torch.no_grad():
        full = dit(x, t, text, None, num_cond_latents=1, cond_rope="full")
        skip = dit(x, t, text, None, num_cond_latents=1, cond_rope="skip")
    assert (full - skip).abs().max() > 1e-3
