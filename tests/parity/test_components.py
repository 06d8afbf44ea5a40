"""Each component, loaded through from_pretrained, against the original's outputs on the same inputs."""

import pytest
import torch

from longcat_i2v import conditioning
from longcat_i2v.schedule import input_sigmas, set_schedule
from longcat_i2v.text import clean_prompt, encode_prompts
from tests.conftest import load_case


@pytest.mark.parametrize("case", ["dit_cond0", "dit_cond1", "dit_cond1_lora"])
def test_dit_forward(parity_pipe, case):
    from longcat_i2v.lora import LoRAHandle

    meta, t = load_case(case)
    dit = parity_pipe.dit
    handle = LoRAHandle(dit, parity_pipe.distill_lora(), meta.get("lora_multiplier", 1.0)) if meta["lora"] else None
    try:
        with torch.no_grad():
            out = dit(
                t["hidden_states"],
                t["timestep"],
                t["encoder_hidden_states"],
                t["encoder_attention_mask"],
                num_cond_latents=meta["num_cond_latents"],
            )
    finally:
        if handle is not None:
            handle.remove()
    torch.testing.assert_close(out, t["output"], atol=1e-4, rtol=1e-4)


def test_lora_changes_output_and_is_removed_cleanly(parity_pipe):
    """The LoRA case must differ from the base model, and removing the hooks restores it bit for bit."""
    from longcat_i2v.lora import LoRAHandle

    _, t = load_case("dit_cond1_lora")
    dit = parity_pipe.dit
    args = (t["hidden_states"], t["timestep"], t["encoder_hidden_states"], t["encoder_attention_mask"])
    with torch.no_grad():
        base = dit(*args, num_cond_latents=1)
        with LoRAHandle(dit, parity_pipe.distill_lora()):
            adapted = dit(*args, num_cond_latents=1)
        again = dit(*args, num_cond_latents=1)
    assert (adapted - base).abs().max() > 1e-2
    assert torch.equal(base, again)


def test_vae_encode_and_decode(parity_pipe):
    _, t = load_case("vae")
    vae = parity_pipe.components.vae
    with torch.no_grad():
        dist = vae.encode(t["image"]).latent_dist
        torch.testing.assert_close(dist.mean, t["posterior_mean"], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(dist.logvar, t["posterior_logvar"], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(dist.std, t["posterior_std"], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(conditioning.normalize(dist.mean, vae), t["mode_normalized"], atol=1e-4, rtol=1e-4)
        z = conditioning.denormalize(t["decode_latent_normalized"], vae)
        torch.testing.assert_close(z, t["decode_latent_denormalized"], atol=1e-4, rtol=1e-4)
        video = vae.decode(z, return_dict=False)[0]
    torch.testing.assert_close(video, t["decode_video"], atol=1e-4, rtol=1e-4)


def test_text_cleaning_tokens_and_embeddings(parity_pipe):
    meta, t = load_case("text")
    assert [clean_prompt(p) for p in meta["prompts"]] == meta["cleaned_prompts"]
    c = parity_pipe.components
    tokens = c.tokenizer(
        meta["cleaned_prompts"], padding="max_length", max_length=meta["max_sequence_length"], truncation=True
    )
    assert torch.equal(torch.tensor(tokens["input_ids"]), t["input_ids"])
    embeds, mask = encode_prompts(c.tokenizer, c.text_encoder, meta["prompts"], meta["max_sequence_length"], "cpu")
    assert torch.equal(mask, t["attention_mask"])
    torch.testing.assert_close(embeds, t["prompt_embeds"], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("tag,steps,distill", [("50", 50, False), ("4", 4, False), ("16_distill", 16, True)])
def test_scheduler_sigmas_and_timesteps(parity_pipe, tag, steps, distill):
    _, t = load_case("scheduler")
    torch.testing.assert_close(input_sigmas(steps, distill), t[f"input_sigmas_{tag}"], atol=1e-6, rtol=0)
    scheduler = parity_pipe.components.scheduler
    timesteps = set_schedule(scheduler, steps, distill)
    torch.testing.assert_close(scheduler.sigmas, t[f"sigmas_{tag}"], atol=1e-6, rtol=0)
    torch.testing.assert_close(timesteps, t[f"timesteps_{tag}"], atol=1e-4, rtol=0)
