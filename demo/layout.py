"""The page: inputs on the left, the video and a side-by-side first-frame check on the right, examples below."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from longcat_i2v import LongCatI2V, defaults

from .components import FormSlider, ImageUpload
from .config import CUSTOM_SIZE, DemoConfig
from .handlers import Handlers

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"]
CSS = """
.tiny-warning { border: 1px solid #e0a800; background: #fff8e1; border-radius: 8px; padding: 4px 12px; }
.tiny-warning, .tiny-warning * { color: #5c4400 !important; }
"""


def load_examples(folder: Path = EXAMPLES_DIR) -> list[list[str]]:
    """[[image path, prompt], ...] from the folder's examples.json."""
    entries = json.loads((folder / "examples.json").read_text())
    return [[str(folder / entry["image"]), entry["prompt"]] for entry in entries]


def header(pipe: LongCatI2V) -> str:
    return (
        "# LongCat-Video · image to video\n"
        "Upload a picture, describe the motion, press **Generate**. "
        f"Checkpoint: `{pipe.checkpoint_dir.resolve()}` on `{pipe.device}`."
    )


TINY_WARNING = (
    "**This is the built-in tiny demo checkpoint with random weights: its videos are noise.** "
    "It only shows that the page works. For real results start the demo with "
    "`python app.py --checkpoint /path/to/LongCat-Video`."
)


def build_page(handlers: Handlers, pipe: LongCatI2V, config: DemoConfig) -> gr.Blocks:
    """Lay out the components and wire their events; the caller configures the queue."""
    has_distill = pipe.distill_lora_path.is_file()
    theme = gr.themes.Soft(font=SYSTEM_FONTS, font_mono=["ui-monospace", "Consolas", "monospace"])
    with gr.Blocks(
        title="LongCat-Video image to video",
        theme=theme,
        css=CSS,
        analytics_enabled=False,
        delete_cache=(600, int(config.keep_outputs_s)),
    ) as page:
        gr.Markdown(header(pipe))
        if pipe.is_tiny:
            gr.Markdown(TINY_WARNING, elem_classes="tiny-warning", elem_id="tiny-warning")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                image = ImageUpload(
                    label="Input image",
                    type="filepath",
                    sources=["upload", "clipboard"],
                    height=300,
                    elem_id="input-image",
                )
                prompt = gr.Textbox(label="Prompt", lines=3, placeholder="Describe what should move and how…")
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary", elem_id="generate")
                    cancel = gr.Button("Cancel", variant="stop", elem_id="cancel")
                with gr.Accordion("Settings", open=True):
                    negative_prompt = gr.Textbox(
                        label="Negative prompt", value=defaults.NEGATIVE_PROMPT, lines=2, max_lines=4
                    )
                    resolution = gr.Radio(
                        list(config.resolution_choices),
                        value=config.resolution,
                        label="Resolution",
                        info="480p/720p pick the size closest to the image's aspect ratio; custom sets it exactly.",
                    )
                    custom = config.resolution == CUSTOM_SIZE
                    with gr.Row():
                        width = gr.Number(label="Width", value=config.width, precision=0, step=16, visible=custom)
                        height = gr.Number(label="Height", value=config.height, precision=0, step=16, visible=custom)
                    num_frames = FormSlider(
                        config.min_frames, config.max_frames, value=config.num_frames, step=4, label="Frames (4k+1)"
                    )
                    with gr.Row():
                        steps = FormSlider(1, config.max_steps, value=config.steps, step=1, label="Steps")
                        guidance = FormSlider(
                            0.0, config.max_guidance, value=defaults.GUIDANCE, step=0.5, label="Guidance"
                        )
                    with gr.Row():
                        seed = gr.Number(label="Seed", info="-1 or empty: random", value=-1, precision=0)
                        fps = FormSlider(1, config.max_fps, value=config.fps, step=1, label="FPS")
                    with gr.Row():
                        distill = gr.Checkbox(
                            label="Distill (16 steps, guidance 1.0)",
                            interactive=has_distill,
                            info=None if has_distill else f"needs {pipe.distill_lora_path}",
                        )
                        skip_cond_rope = gr.Checkbox(label="Skip RoPE on the conditioning frame")
            with gr.Column(scale=6):
                video = gr.Video(
                    label="Video", format="mp4", interactive=False, autoplay=True, loop=True, elem_id="output-video"
                )
                with gr.Row():
                    cond_view = gr.Image(label="Input, as the model saw it", interactive=False, format="png")
                    first_frame = gr.Image(label="First generated frame", interactive=False, format="png")
                status = gr.Markdown(label="Status", elem_id="status")
                with gr.Row():
                    seed_used = gr.Number(label="Seed used", interactive=False, precision=0)
                    reuse_seed = gr.Button("Use this seed", size="sm")
                with gr.Accordion("Settings used", open=False):
                    settings = gr.JSON(label="Settings used", show_label=False)
        gr.Examples(load_examples(), inputs=[image, prompt], cache_examples=False, label="Examples")

        form = [image, prompt, negative_prompt, resolution, width, height, num_frames, steps, guidance, seed,
                distill, skip_cond_rope, fps]  # fmt: skip
        run = generate.click(
            handlers.generate,
            inputs=form,
            outputs=[video, cond_view, first_frame, seed_used, status, settings],
            api_name="generate",
            concurrency_id="device",
            concurrency_limit=1,
            show_progress_on=[video],
        )
        cancel.click(handlers.cancelled, outputs=status, cancels=[run], queue=False, api_name="stop")
        distill.change(handlers.distill_defaults, distill, [steps, guidance], queue=False, api_name="distill_defaults")
        resolution.change(handlers.show_custom_size, resolution, [width, height], queue=False, api_name="custom_size")
        reuse_seed.click(handlers.reuse_seed, seed_used, seed, queue=False, api_name="reuse_seed")
    return page
