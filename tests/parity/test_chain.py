"""The original's interactive long-video chain (i2v, then two continuations with their own prompts, one generator):
each segment from its stored input frames, and the assembly of the long video from the segments."""

import numpy as np
import torch
from PIL import Image

from longcat_i2v.long_video import LongVideo
from longcat_i2v.settings import LongVideoSettings
from tests.conftest import PARITY, load_case

CASE = "chain_interactive"


def assert_levels(ours: np.ndarray, ref: np.ndarray, levels: int) -> None:
    assert np.abs(ours.astype(np.int16) - ref.astype(np.int16)).max() <= levels


def test_each_segment_from_its_stored_input(parity_pipe):
    meta, ref = load_case(CASE)
    tol = meta["tolerance"]["per_segment_from_stored_inputs"]
    i2v, vc = meta["i2v"], meta["vc"]
    size = {"height": meta["segments"][0]["height"], "width": meta["segments"][0]["width"]}
    common = {"max_sequence_length": meta["max_sequence_length"], **size}
    generator = torch.Generator("cpu").manual_seed(meta["seed"])  # one generator through all segments
    out = parity_pipe.generate_video(
        meta["prompts"][0],
        image=str(PARITY / "cases" / meta["input_image"]),
        negative_prompt=i2v["negative_prompt"],
        num_frames=i2v["num_frames"],
        num_inference_steps=i2v["num_inference_steps"],
        guidance_scale=i2v["guidance_scale"],
        generator=generator,
        **common,
    )
    outputs = [out]
    for j in (1, 2):
        frames = [Image.fromarray(f) for f in ref[f"seg{j}_input_uint8"].numpy()]
        outputs.append(
            parity_pipe.generate_continuation(
                meta["prompts"][j],
                video=frames,
                negative_prompt=vc["negative_prompt"],
                num_frames=vc["num_frames"],
                num_cond_frames=vc["num_cond_frames"],
                num_inference_steps=vc["num_inference_steps"],
                guidance_scale=vc["guidance_scale"],
                use_kv_cache=vc["use_kv_cache"],
                enhance_hf=vc["enhance_hf"],
                generator=generator,
                **common,
            )
        )
    for j, out in enumerate(outputs):
        torch.testing.assert_close(out.latents, ref[f"seg{j}_final_latents"], atol=tol["latents_atol"], rtol=0)
        ncl = 1 if j == 0 else meta["segments"][j]["num_cond_latents"]
        torch.testing.assert_close(out.latents[:, :, :ncl], ref[f"seg{j}_cond_latent"], atol=1e-4, rtol=0)
        levels = tol["uint8_max_level_diff"]
        assert_levels((out.frames * 255).astype(np.uint8), ref[f"seg{j}_video_uint8"].numpy(), levels)


def test_the_long_video_is_assembled_as_the_demo_assembles_it(tmp_path):
    """From the stored segment videos: each continuation receives the previous segment's frames (uint8, resized
    to the first segment's size), and the long video is segment 0 then each continuation's new frames."""
    meta, ref = load_case(CASE)
    settings = LongVideoSettings(num_frames=13, num_cond_frames=meta["vc"]["num_cond_frames"])
    with LongVideo(settings, tmp_path / "long.mp4") as video:
        for j in range(3):
            video.add(ref[f"seg{j}_video_uint8"].numpy())
            if j < 2:
                given = np.stack([np.asarray(f) for f in video.previous])
                assert np.array_equal(given, ref[f"seg{j + 1}_input_uint8"].numpy())
                assert video.next_clip().last[-1].size == tuple(meta["target_size_wh"])
    assert np.array_equal(np.stack(video.frames), ref["long_video_uint8"].numpy())
    assert len(video.frames) == meta["long_video_frames"] == video.writer.num_frames
