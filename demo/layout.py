"""The page: inputs on the left, the video and a side-by-side first-frame check on the right, examples below.

The inputs are built from the form's table (``fields``): one component per row, in the table's order, so the
page, the request parsing and the API's parameter names always agree.
"""

from __future__ import annotations

import json
from itertools import groupby
from pathlib import Path

import gradio as gr

from longcat_i2v import LongCatI2V

from .components import FormSlider, ImageUpload
from .config import CUSTOM_SIZE, DemoConfig
from .fields import FormField, form_fields
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
        f"Checkpoint: `{pipe.checkpoint_dir.name}` on `{pipe.device}`."
    )


TINY_WARNING = (
    "**This is the built-in tiny demo checkpoint with random weights: its videos are noise.** "
    "It only shows that the page works. For real results start the demo with "
    "`python app.py --checkpoint /path/to/LongCat-Video`."
)


def make_component(field: FormField, config: DemoConfig, pipe: LongCatI2V) -> gr.components.Component:
    """The gradio component for one row of the form's table."""
    common = {"label": field.label, "elem_id": field.element_id or f"field-{field.name}"}
    info = field.info or None
    if field.component == "image":
        return ImageUpload(type="filepath", sources=["upload", "clipboard"], height=300, **common)
    if field.component == "textbox":
        main = field.place == "main"
        return gr.Textbox(value=field.default, lines=3 if main else 2, max_lines=None if main else 4,
                          placeholder=info if main else None, info=None if main else info, **common)  # fmt: skip
    if field.component == "radio":
        return gr.Radio(list(field.choices or ()), value=field.default, info=info, **common)
    if field.component == "slider":
        return FormSlider(field.minimum, field.maximum, value=field.default, step=field.step, info=info, **common)
    if field.component == "checkbox":
        if field.setting == "distill" and not pipe.distill_lora_path.is_file():
            return gr.Checkbox(value=False, interactive=False, info=f"needs {pipe.distill_lora_path.name}", **common)
        return gr.Checkbox(value=bool(field.default), info=info, **common)
    visible = field.setting not in ("height", "width") or config.resolution == CUSTOM_SIZE
    return gr.Number(value=field.default, precision=0 if field.whole else None, step=field.step or 1, info=info,
                     visible=visible, **common)  # fmt: skip


def build_inputs(fields: tuple[FormField, ...], place: str, config: DemoConfig, pipe: LongCatI2V) -> dict:
    """The components of the fields placed at ``place``, side by side where they share a row."""
    built = {}
    chosen = [f for f in fields if f.place == place]
    for row, group in groupby(chosen, key=lambda f: f.row):
        members = list(group)
        if row is None:
            built.update({f.name: make_component(f, config, pipe) for f in members})
            continue
        with gr.Row():
            built.update({f.name: make_component(f, config, pipe) for f in members})
    return built


def build_page(handlers: Handlers, pipe: LongCatI2V, config: DemoConfig) -> gr.Blocks:
    """Lay out the components and wire their events; the caller configures the queue."""
    fields = form_fields(config)
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
                inputs = build_inputs(fields, "main", config, pipe)
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary", elem_id="generate")
                    cancel = gr.Button("Cancel", variant="stop", elem_id="cancel")
                with gr.Accordion("Settings", open=True):
                    inputs.update(build_inputs(fields, "settings", config, pipe))
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
        gr.Examples(load_examples(), inputs=[inputs["image"], inputs["prompt"]], cache_examples=False, label="Examples")

        run = generate.click(
            handlers.generate_fn(fields),
            inputs=[inputs[f.name] for f in fields],
            outputs=[video, cond_view, first_frame, seed_used, status, settings],
            api_name="generate",
            concurrency_id="device",
            concurrency_limit=1,
            show_progress_on=[video],
        )
        cancel.click(handlers.cancelled, outputs=status, cancels=[run], queue=False, api_name="stop")
        inputs["distill"].change(
            handlers.distill_defaults, inputs["distill"], [inputs["steps"], inputs["guidance"]], queue=False,
            api_name="distill_defaults",
        )  # fmt: skip
        inputs["resolution"].change(
            handlers.show_custom_size, inputs["resolution"], [inputs["width"], inputs["height"]], queue=False,
            api_name="custom_size",
        )  # fmt: skip
        reuse_seed.click(handlers.reuse_seed, seed_used, inputs["seed"], queue=False, api_name="reuse_seed")
    return page
