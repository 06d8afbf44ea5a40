"""The page: the image, prompt and Generate first (on a phone too), the live preview and the video beside them
(below them on a phone, scrolled to when a run starts), the settings, then the session's history and the
comparison of two of its videos.

The inputs are built from the form's table (``fields``): one component per row, in the table's order, so the
page, the request parsing and the API's parameter names always agree.
"""

from __future__ import annotations

import json
from itertools import groupby
from pathlib import Path

import gradio as gr
import torch

from longcat_i2v import LongCatI2V
from longcat_i2v.settings import LongVideoSettings

from .components import FormSlider, ImageUpload
from .config import CUSTOM_SIZE, DemoConfig
from .fields import FormField, form_fields, own_fields
from .follow_ups import FollowUps, extend_fields, long_fields, refine_fields
from .gallery import GalleryHandlers
from .handlers import Handlers

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"]
CSS = """
.tiny-warning { border: 1px solid #e0a800; background: #fff8e1; border-radius: 8px; padding: 2px 10px; }
.tiny-warning, .tiny-warning * { color: #5c4400 !important; }
#header p { margin: 0; }
#preview img { width: 100%; height: 100%; object-fit: contain; }
#history .grid-container { grid-template-columns: repeat(auto-fill, minmax(150px, 200px)) !important; }
#history .thumbnail-item { aspect-ratio: 16 / 9; }
@media (max-width: 640px) {
  #header h1 { font-size: 1.25rem; margin: 0; }
  #header .details, .tiny-warning .details { display: none; }
  #input-image { height: 220px !important; }
}
"""
# Before a run: bring the output column into view when it is below the fold (on a phone), so the user sees the
# preview, the progress and then the video without scrolling.
SCROLL_TO_RESULT = """() => {
  const target = document.getElementById('output-column');
  if (target && target.getBoundingClientRect().top > window.innerHeight * 0.6) {
    target.scrollIntoView({behavior: 'instant', block: 'start'});
  }
  return [];
}"""


def load_examples(folder: Path = EXAMPLES_DIR) -> list[list[str]]:
    """[[image path, prompt], ...] from the folder's examples.json."""
    entries = json.loads((folder / "examples.json").read_text())
    return [[str(folder / entry["image"]), entry["prompt"]] for entry in entries]


def memory_mode(pipe: LongCatI2V, asked: str = "none") -> str:
    """Where the weights live and how they move, in words: the core's description of the loaded pipeline
    ("cpu, offload none, attention sdpa"), whether the planner chose the mode, and the GPU's memory in use."""
    where = f"{pipe.describe()}, {str(pipe.dit.dtype).removeprefix('torch.')}"
    if asked == "auto":
        where += " (offload picked by the planner for this device)"
    if pipe.device.type == "cuda":
        used = torch.cuda.memory_allocated(pipe.device) / 2**30
        total = torch.cuda.get_device_properties(pipe.device).total_memory / 2**30
        where += f"; {used:.1f} of {total:.0f} GiB in use after loading"
    return where


def header(pipe: LongCatI2V, asked: str = "none") -> str:
    return (
        "# LongCat-Video · image to video\n"
        f"Upload a picture, describe the motion, press **Generate**. <span class='details'>Checkpoint "
        f"`{pipe.checkpoint_dir.name}` · memory: {memory_mode(pipe, asked)}.</span>"
    )


TINY_WARNING = (
    "**Tiny demo checkpoint with random weights: its videos are noise.** <span class='details'>It shows that the "
    "page works. For real results start it with `python app.py --checkpoint /path/to/LongCat-Video`.</span>"
)


def make_component(
    field: FormField, config: DemoConfig, pipe: LongCatI2V, unavailable: str = ""
) -> gr.components.Component:
    """The gradio component for one row of the form's table (``unavailable``: why Refine cannot run, if so)."""
    common = {"label": field.label, "elem_id": field.element_id or f"field-{field.name}"}
    info = field.info or None
    if field.component == "image":
        upload = ImageUpload(type="filepath", sources=["upload", "clipboard"], height=300, **common)
        upload.max_bytes = config.max_image_bytes
        return upload
    if field.component == "textbox":
        main = field.place == "main"
        return gr.Textbox(value=field.default, lines=2 if main else 2, max_lines=None if main else 4,
                          placeholder=info if main else None, info=None if main else info, **common)  # fmt: skip
    if field.component == "radio":
        return gr.Radio(list(field.choices or ()), value=field.default, info=info, **common)
    if field.component == "slider":
        return FormSlider(field.minimum, field.maximum, value=field.default, step=field.step, info=info, **common)
    if field.component == "checkbox":
        if field.setting == "distill" and not pipe.distill_lora_path.is_file():
            return gr.Checkbox(value=False, interactive=False, info=f"needs {pipe.distill_lora_path.name}", **common)
        if field.setting == "refine" and unavailable:
            return gr.Checkbox(value=False, interactive=False, info=unavailable, **common)
        return gr.Checkbox(value=bool(field.default), info=info, **common)
    visible = field.setting not in ("height", "width") or config.resolution == CUSTOM_SIZE
    return gr.Number(value=field.default, precision=0 if field.whole else None, step=field.step or 1, info=info,
                     visible=visible, **common)  # fmt: skip


def build_inputs(
    fields: tuple[FormField, ...], place: str, config: DemoConfig, pipe: LongCatI2V, unavailable: str = ""
) -> dict:
    """The components of the fields placed at ``place``, side by side where they share a row."""
    built = {}
    chosen = [f for f in fields if f.place == place]
    for row, group in groupby(chosen, key=lambda f: f.row):
        members = list(group)
        if row is None:
            built.update({f.name: make_component(f, config, pipe, unavailable) for f in members})
            continue
        with gr.Row():
            built.update({f.name: make_component(f, config, pipe, unavailable) for f in members})
    return built


def build_page(handlers: Handlers, gallery: GalleryHandlers, pipe: LongCatI2V, config: DemoConfig) -> gr.Blocks:
    """Lay out the components and wire their events; the caller configures the queue."""
    fields = form_fields(config)
    more = FollowUps(handlers)
    unavailable = handlers.refine_unavailable()
    theme = gr.themes.Soft(font=SYSTEM_FONTS, font_mono=["ui-monospace", "Consolas", "monospace"])
    every = max(1, min(60, int(config.keep_outputs_s) // 10))  # gradio's copies: as often as the worker sweeps
    with gr.Blocks(title="LongCat-Video image to video", theme=theme, css=CSS, analytics_enabled=False,
                   delete_cache=(every, int(config.keep_outputs_s))) as page:  # fmt: skip
        gr.Markdown(header(pipe, config.offload), elem_id="header")
        if pipe.is_tiny:
            gr.Markdown(TINY_WARNING, elem_classes="tiny-warning", elem_id="tiny-warning")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=320):
                inputs = build_inputs(fields, "main", config, pipe)
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary", elem_id="generate", interactive=False)
                    cancel = gr.Button("Cancel", variant="stop", elem_id="cancel", interactive=False)
                with gr.Accordion("Settings", open=True):
                    inputs.update(build_inputs(fields, "settings", config, pipe, unavailable))
                with gr.Accordion("Extend / long video", open=False):
                    gr.Markdown("**Extend** continues the video shown by one segment with the Prompt above (change "
                                "it or keep it). **Long video** makes the segments one after another from the image, "
                                "each shown as it finishes; Cancel keeps the finished ones.")  # fmt: skip
                    inputs.update(build_inputs(own_fields(config, LongVideoSettings), "settings", config, pipe))
                    with gr.Row():
                        extend = gr.Button("Extend", interactive=False, elem_id="extend")
                        long_video = gr.Button("Long video", interactive=False, elem_id="long-video")
                with gr.Accordion("Refine", open=False):
                    inputs.update(build_inputs(refine_fields(config), "settings", config, pipe))
                    cost = gr.Markdown(unavailable, elem_id="refine-cost")
                    refine = gr.Button("Refine", interactive=False, elem_id="refine")
            with gr.Column(scale=6, min_width=320, elem_id="output-column"):
                status = gr.Markdown("Upload an image and press **Generate**.", elem_id="status")
                preview = gr.Image(label="Live preview: the model's current guess, in rough colours",
                                   interactive=False, format="jpeg", elem_id="preview", height=180)  # fmt: skip
                video = gr.Video(label="Video", format="mp4", interactive=False, autoplay=True, loop=True,
                                 elem_id="output-video")  # fmt: skip
                with gr.Row():
                    seed_used = gr.Number(label="Seed used", value=None, placeholder="after a run", precision=0,
                                          interactive=False, elem_id="seed-used")  # fmt: skip
                    reuse_seed = gr.Button("Use this seed", size="sm", interactive=False, elem_id="reuse-seed")
                with gr.Accordion("First frame check", open=False):
                    with gr.Row():
                        cond_view = gr.Image(label="Input, as the model saw it", interactive=False, format="png")
                        first_frame = gr.Image(label="First generated frame", interactive=False, format="png")
                with gr.Accordion("Settings used", open=False):
                    settings = gr.JSON(label="Settings used", show_label=False, elem_id="settings-used")
        with gr.Group():
            gr.Markdown("### This session's videos\nEvery result stays here with its settings and timing; pick "
                        "one to show it again, or compare two.")  # fmt: skip
            history_view = gr.Gallery(label="History", columns=6, height=180, allow_preview=False,
                                      object_fit="cover", elem_id="history")  # fmt: skip
            with gr.Row(equal_height=True):
                compare_a = gr.Dropdown(label="Compare", choices=[], elem_id="compare-a")
                compare_b = gr.Dropdown(label="with", choices=[], elem_id="compare-b")
                compare = gr.Button("Compare", interactive=False, elem_id="compare", scale=0, min_width=120)
            comparison_text = gr.Markdown(elem_id="comparison-text")
            with gr.Row():
                comparison_video = gr.Video(label="Side by side: A | B | difference", autoplay=True, loop=True,
                                            interactive=False, elem_id="comparison-video")  # fmt: skip
                frame_view = gr.Image(label="One frame: A | B | difference", interactive=False, format="png",
                                      elem_id="comparison-image")  # fmt: skip
            frame_slider = gr.Slider(0, 1, step=1, value=0, label="Frame", visible=False, elem_id="comparison-frame")
        gr.Examples(load_examples(), inputs=[inputs["image"], inputs["prompt"]], cache_examples=False, label="Examples")
        result, entries, comparison, kept_result = gr.State(None), gr.State([]), gr.State(None), gr.State(None)

        buttons, more_buttons = [generate, cancel], [extend, long_video, refine]
        outs = [video, cond_view, first_frame, seed_used, status, settings, preview, result]
        device = {"concurrency_id": "device", "concurrency_limit": config.concurrency, "show_progress": "minimal",
                  "show_progress_on": [status]}  # fmt: skip
        refine_inputs = [inputs[f.name] for f in refine_fields(config)]
        sizes = [inputs[name] for name in ("num_frames", "resolution", "width", "height")]
        cost_inputs = [result, *sizes, *refine_inputs]
        jobs = (
            (generate, handlers.generate_fn(fields, refine_fields(config)),
             [inputs[f.name] for f in fields] + refine_inputs, "generate"),
            (extend, more.extend_fn(), [result] + [inputs[f.name] for f in extend_fields(config)], "extend"),
            (long_video, more.long_video_fn(), [inputs["prompt"]] + [inputs[f.name] for f in long_fields(config)],
             "long_video"),
            (refine, more.refine_fn(), [result, *refine_inputs], "refine"),
        )  # fmt: skip
        runs = []
        for button, fn, fn_inputs, name in jobs:
            start = button.click(handlers.busy, None, buttons, js=SCROLL_TO_RESULT, queue=False, show_api=False)
            start = start.then(more.busy, None, more_buttons, queue=False, show_api=False)
            run = start.then(fn, inputs=fn_inputs, outputs=outs, api_name=name, **device)
            run.then(handlers.idle, inputs["image"], buttons, queue=False, show_api=False)
            run.then(more.idle, [inputs["image"], result], more_buttons, queue=False, show_api=False)
            run.success(lambda: gr.update(interactive=True), None, reuse_seed, queue=False, show_api=False)
            run.success(gallery.add, [result, entries], [entries, history_view, compare_a, compare_b, compare],
                        queue=False, show_api=False)  # fmt: skip
            run.then(more.cost_text, cost_inputs, cost, queue=False, show_api=False)
            runs.append(run)
        stop = cancel.click(handlers.cancel, None, status, cancels=runs, api_name="stop", concurrency_id="control",
                            concurrency_limit=None, show_progress="hidden")  # fmt: skip
        # gradio cancels the event of the job; what the job kept (a long video's finished segments) is shown after
        kept = stop.then(handlers.kept, [video, result], [video, status, result, kept_result], queue=False,
                         show_api=False)  # fmt: skip
        kept.then(gallery.add, [kept_result, entries], [entries, history_view, compare_a, compare_b, compare],
                  queue=False, show_api=False)  # fmt: skip
        stop.then(handlers.idle, inputs["image"], buttons, queue=False, show_api=False)
        stop.then(more.idle, [inputs["image"], result], more_buttons, queue=False, show_api=False)
        for component in cost_inputs[1:]:
            component.change(more.cost_text, cost_inputs, cost, queue=False, show_api=False)
        page.load(more.cost_text, cost_inputs, cost, queue=False, show_api=False)
        inputs["image"].change(more.idle, [inputs["image"], result], more_buttons, queue=False, show_api=False)
        inputs["image"].change(handlers.can_generate, inputs["image"], generate, queue=False, show_api=False)
        inputs["distill"].change(
            handlers.distill_defaults, inputs["distill"], [inputs["steps"], inputs["guidance"]], queue=False,
            api_name="distill_defaults",
        )  # fmt: skip
        for source in (inputs["num_frames"], inputs["fps"]):
            source.change(handlers.frames_info, [inputs["num_frames"], inputs["fps"]], inputs["num_frames"],
                          queue=False, show_api=False)  # fmt: skip
        inputs["resolution"].change(
            handlers.show_custom_size, inputs["resolution"], [inputs["width"], inputs["height"]], queue=False,
            api_name="custom_size",
        )  # fmt: skip
        reuse_seed.click(handlers.reuse_seed, seed_used, inputs["seed"], queue=False, api_name="reuse_seed")
        history_view.select(gallery.show, entries, [video, status, settings], queue=False, show_api=False)
        compare.click(gallery.compare, [entries, compare_a, compare_b],
                      [comparison, comparison_video, frame_slider, frame_view, comparison_text],
                      concurrency_id="compare", concurrency_limit=2, show_api=False)  # fmt: skip
        frame_slider.release(gallery.frame, [comparison, frame_slider], [frame_view, comparison_text],
                             concurrency_id="compare", concurrency_limit=2, show_api=False)  # fmt: skip
    return page
