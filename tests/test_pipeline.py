"""generate_video on the tiny checkpoint: shapes, seeds, callbacks, cancel, distill, video output."""

import numpy as np
import pytest
import torch
from PIL import Image

from longcat_i2v import defaults
from longcat_i2v.errors import GenerationCancelled
from longcat_i2v.video import even_size, read_mp4, resize_frames, to_uint8, write_mp4

IMG = Image.fromarray((np.random.RandomState(0).rand(50, 75, 3) * 255).astype(np.uint8))
SMALL = {"num_frames": 5, "height": 32, "width": 48, "num_inference_steps": 2}


def test_output_shapes_and_ranges(tiny_pipe):
    out = tiny_pipe.generate_video("a cat", image=IMG, seed=3, **SMALL)
    assert out.frames.shape == (5, 32, 48, 3) and out.frames.dtype == np.float32
    assert 0.0 <= out.frames.min() and out.frames.max() <= 1.0
    assert out.latents.shape == (1, 16, 2, 4, 6)
    assert out.cond_image.shape == (32, 48, 3)
    assert out.seed == 3 and out.input_size == (75, 50)
    assert (out.num_frames, out.height, out.width) == (5, 32, 48)


def test_seed_reproduces_and_random_seed_is_reported(tiny_pipe):
    a = tiny_pipe.generate_video("a cat", image=IMG, seed=11, **SMALL)
    b = tiny_pipe.generate_video("a cat", image=IMG, generator=torch.Generator().manual_seed(11), **SMALL)
    c = tiny_pipe.generate_video("a cat", image=IMG, seed=12, **SMALL)
    assert np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, c.frames)
    r = tiny_pipe.generate_video("a cat", image=IMG, **SMALL)
    again = tiny_pipe.generate_video("a cat", image=IMG, seed=r.seed, **SMALL)
    assert np.array_equal(r.frames, again.frames)


def test_callback_every_step_and_cancel(tiny_pipe):
    calls = []
    tiny_pipe.generate_video("a cat", image=IMG, seed=1, callback=lambda i, n, lat: calls.append((i, n)), **SMALL)
    assert calls == [(0, 2), (1, 2)]

    def cancel(i, n, latents):
        raise GenerationCancelled(f"stopped at step {i}")

    with pytest.raises(GenerationCancelled, match="step 0"):
        tiny_pipe.generate_video("a cat", image=IMG, seed=1, callback=cancel, distill=True, **SMALL)
    # the distill LoRA hooks were removed despite the cancel: plain generation is unchanged
    plain = tiny_pipe.generate_video("a cat", image=IMG, seed=1, **SMALL)
    again = tiny_pipe.generate_video("a cat", image=IMG, seed=1, **SMALL)
    assert np.array_equal(plain.frames, again.frames)


def test_distill_applies_lora_and_its_defaults(tiny_pipe):
    steps = []
    kwargs = {k: v for k, v in SMALL.items() if k != "num_inference_steps"}
    tiny_pipe.generate_video(
        "a cat", image=IMG, seed=2, distill=True, callback=lambda i, n, lat: steps.append(n), **kwargs
    )
    assert steps[0] == defaults.DISTILL_STEPS
    base = tiny_pipe.generate_video("a cat", image=IMG, seed=2, guidance_scale=1.0, **SMALL)
    lora = tiny_pipe.generate_video("a cat", image=IMG, seed=2, guidance_scale=1.0, distill=True, **SMALL)
    assert np.abs(base.latents - lora.latents).max() > 1e-3


def test_image_path_alias_and_bucket(tiny_pipe, tmp_path):
    path = tmp_path / "in.png"
    IMG.save(path)
    out = tiny_pipe.generate_video("a cat", image_path=str(path), seed=1, num_frames=1, num_inference_steps=1)
    assert (out.height, out.width) == (512, 768)  # 50/75 = 0.67 → the 480p bucket 512x768
    assert out.frames.shape[0] == 1


def test_uint8_truncates_and_mp4_round_trip(tmp_path):
    frames = np.full((3, 16, 16, 3), 0.999, np.float32)
    assert to_uint8(frames).max() == 254  # truncation, as the original demo
    path = write_mp4(np.linspace(0, 1, 5 * 32 * 48 * 3, dtype=np.float32).reshape(5, 32, 48, 3), tmp_path / "v.mp4")
    decoded = read_mp4(path)
    assert decoded.shape == (5, 32, 48, 3)
    assert even_size(75, 51) == (74, 50)
    assert resize_frames(to_uint8(frames), 10, 6).shape == (3, 6, 10, 3)


def test_settings_object_gives_the_same_video_as_keywords(tiny_pipe):
    from longcat_i2v.settings import I2VSettings

    kw = tiny_pipe.generate_video("a cat", image=IMG, seed=5, cond_rope="skip", **SMALL)
    settings = I2VSettings(prompt="a cat", seed=5, cond_rope="skip", **SMALL)
    obj = tiny_pipe.generate_video(image=IMG, settings=settings)
    assert np.array_equal(kw.frames, obj.frames)
    assert obj.settings == settings.resolved() and obj.settings.guidance_scale == defaults.GUIDANCE
    with pytest.raises(ValueError, match="either as keyword arguments or in settings=, not both .*num_frames"):
        tiny_pipe.generate_video(image=IMG, settings=settings, num_frames=9)


def test_given_latents_replace_the_noise(tiny_pipe):
    """latents= starts from given latents (the diffusers convention): the run that drew its own noise is reproduced
    from that noise, and other latents give another video; frame 0 is still the image's latent."""
    gen = torch.Generator().manual_seed(8)
    noise = torch.randn(1, 16, 2, 4, 6, generator=gen)  # the first draw of a generator seeded 8, as the pipeline's
    drawn = tiny_pipe.generate_video("a cat", image=IMG, seed=8, **SMALL)
    # seed 9's generator: its first draw (the posterior eps) differs from seed 8's second draw, so compare frame 0
    given = tiny_pipe.generate_video("a cat", image=IMG, latents=noise, seed=8, **SMALL)
    assert not np.array_equal(drawn.latents, given.latents)  # the posterior eps is now the generator's first draw
    same = tiny_pipe.generate_video("a cat", image=IMG, latents=noise, seed=8, **SMALL)
    assert np.array_equal(given.frames, same.frames)
    other = tiny_pipe.generate_video("a cat", image=IMG, latents=noise + 1, seed=8, **SMALL)
    assert not np.array_equal(given.frames, other.frames)
    with pytest.raises(ValueError, match=r"latents must have shape \[1, 16, 2, 4, 6\]"):
        tiny_pipe.generate_video("a cat", image=IMG, latents=noise[:, :, :1], **SMALL)


def test_one_pipeline_refuses_a_second_thread(tiny_pipe):
    import threading

    started, release, errors = threading.Event(), threading.Event(), []

    def slow(i, n, latents):
        started.set()
        release.wait(30)

    worker = threading.Thread(target=lambda: tiny_pipe.generate_video("a", image=IMG, callback=slow, **SMALL))
    worker.start()
    try:
        assert started.wait(30)
        try:
            tiny_pipe.generate_video("b", image=IMG, **SMALL)
        except ValueError as exc:
            errors.append(str(exc))
    finally:
        release.set()
        worker.join(30)
    assert errors and "already generating in another thread" in errors[0]
    assert tiny_pipe.generate_video("c", image=IMG, seed=1, **SMALL).seed == 1  # free again afterwards
