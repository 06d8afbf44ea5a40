"""The form as one table of fields: name, component, default, bounds and help for every input on the page.

The rows come from the core's settings types (every demo-visible field of ``I2VSettings``, and for Extend, long
videos and Refine those of ``ContinuationSettings``, ``LongVideoSettings`` and ``RefineSettings``), dressed by ``LOOKS``
(label, component, placement, the operator's caps from ``DemoConfig``). The same table builds the page
(``layout``), parses a submitted form (``request``) and gives the tests their defaults, so a new setting shows
up on the page without editing the demo; ``LOOKS`` only makes it look better.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from longcat_i2v import defaults
from longcat_i2v.options import FieldSpec, Settings, specs_for
from longcat_i2v.settings import I2VSettings

from .config import MAX_SEED, DemoConfig

COMPONENTS = ("image", "textbox", "radio", "number", "slider", "checkbox")


@dataclass(frozen=True)
class FormField:
    """One input of the form. ``setting`` is the settings field it fills (None for the image)."""

    name: str  # the form's and the API's name for it
    setting: str | None
    component: str
    label: str
    default: Any = None
    info: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] | None = None
    place: str = "settings"  # "main": under the image; "settings": in the settings panel
    row: str | None = None  # fields with the same row name sit side by side
    to_setting: Callable[[Any], Any] | None = None  # the form's value → the setting's value
    element_id: str | None = None
    whole: bool = False  # an integer setting: the component offers whole numbers only


def frames_help(num_frames: int, fps: int) -> str:
    """The frame count's explanation, with the clip's length at the chosen frame rate."""
    return f"4k+1 frames (5, 9, 13, …); {num_frames} frames at {fps} fps play for {num_frames / fps:.1f} s."


def _skip_to_mode(checked: Any) -> Any:
    return checked if not isinstance(checked, bool) else ("skip" if checked else "full")


# How each setting looks on the page; bounds here are the operator's caps (DemoConfig), the rules are the core's.
LOOKS: dict[str, Callable[[DemoConfig], dict[str, Any]]] = {
    "prompt": lambda c: {"component": "textbox", "label": "Prompt", "place": "main", "default": "",
                         "info": "Describe what should move and how…"},
    "negative_prompt": lambda c: {"label": "Negative prompt", "info": "Used only with guidance above 1."},
    "resolution": lambda c: {"component": "radio", "label": "Resolution", "default": c.resolution,
                             "choices": c.resolution_choices,
                             "info": "480p/720p pick the size closest to the image's aspect ratio; custom sets it "
                                     "exactly."},
    "width": lambda c: {"component": "number", "label": "Width", "default": c.width, "step": 16, "row": "size",
                        "minimum": c.min_side, "maximum": c.max_side},
    "height": lambda c: {"component": "number", "label": "Height", "default": c.height, "step": 16, "row": "size",
                         "minimum": c.min_side, "maximum": c.max_side},
    "num_frames": lambda c: {"component": "slider", "label": "Number of frames", "default": c.num_frames,
                             "minimum": c.min_frames, "maximum": c.max_frames, "step": 4,
                             "info": frames_help(c.num_frames, c.fps)},
    "steps": lambda c: {"component": "slider", "label": "Steps", "default": c.steps, "minimum": 1,
                        "maximum": c.max_steps, "step": 1, "row": "sampler",
                        "info": f"Denoising steps; the time grows with them (the model's default: {defaults.STEPS})."},
    "guidance": lambda c: {"component": "slider", "label": "Guidance", "default": 4.0, "minimum": 0.0,
                           "maximum": c.max_guidance, "step": 0.5, "row": "sampler",
                           "info": "How closely the video follows the prompt (classifier-free guidance); 1 or less "
                                   "turns it off, which halves the time per step."},
    "seed": lambda c: {"component": "number", "label": "Seed", "default": -1,
                       "info": "-1 or empty: random. The same seed and settings give the same video.",
                       "row": "seed", "minimum": 0, "maximum": MAX_SEED},
    "fps": lambda c: {"component": "slider", "label": "FPS", "default": c.fps, "minimum": 1, "maximum": c.max_fps,
                      "step": 1, "row": "seed", "info": "Frame rate of the mp4: how long it plays, not what is made."},
    "distill": lambda c: {"component": "checkbox", "label": "Distill (16 steps, guidance 1.0)", "row": "toggles",
                          "info": "The distilled LoRA: 16 unguided steps instead of 50 guided ones, about 6× fewer "
                                  "model passes."},
    "refine": lambda c: {"component": "checkbox", "label": "Refine to 720p", "row": "toggles",
                         "info": "Then refine the video with the refinement LoRA (the Refine settings below; the "
                                 "cost is stated there)."},
    "num_cond_frames": lambda c: {"component": "slider", "label": "Conditioning frames", "default": c.cond_frames,
                                  "minimum": 1, "maximum": c.max_frames - 4, "step": 4,
                                  "info": "The last frames of the video that each new segment continues (4k+1)."},
    "segments": lambda c: {"component": "number", "label": "Segments", "default": None, "minimum": 1,
                           "maximum": c.max_segments, "step": 1,
                           "info": f"Segments of the long video, the first one included (at most {c.max_segments}); "
                                   "empty: one per line of the prompts."},
    "kv_cache": lambda c: {"label": "Cache the conditioning frames",
                           "info": "Compute their keys and values once (the original's default; faster)."},
    "refine_steps": lambda c: {"component": "slider", "label": "Refine steps", "minimum": 1, "maximum": c.max_steps,
                               "step": 1, "row": "refine"},
    "refine_t_thresh": lambda c: {"component": "slider", "label": "Refine strength (t_thresh)", "minimum": 0.05,
                                  "maximum": 1.0, "step": 0.05, "row": "refine"},
    "refine_height": lambda c: {"component": "number", "label": "Refined height", "default": c.refine_height,
                                "step": 64, "row": "refine-size", "minimum": defaults.SIZE_MULTIPLE,
                                "maximum": c.max_side},
    "refine_width": lambda c: {"component": "number", "label": "Refined width", "default": c.refine_width,
                               "step": 64, "row": "refine-size", "minimum": defaults.SIZE_MULTIPLE,
                                "maximum": c.max_side},
    "refine_seed": lambda c: {"component": "number", "label": "Refine seed", "default": -1, "minimum": 0,
                              "maximum": MAX_SEED, "info": "-1 or empty: after Generate the same generator carries "
                                                           "on (the original demo's); alone a random seed."},
    "cond_rope": lambda c: {"name": "skip_cond_rope", "component": "checkbox", "default": False,
                            "label": "Skip RoPE on the conditioning frame", "row": "toggles",
                            "to_setting": _skip_to_mode,
                            "info": "An experiment: the input frame's tokens get no position encoding (RoPE). The "
                                    "model was trained with it; compare both in the history."},
}  # fmt: skip

# List settings (a tuple field) whose key names a single value in the main form (LongVideoSettings' prompt): how
# they look, and their name beside the main form.
LIST_LOOKS: dict[str, Callable[[DemoConfig], dict[str, Any]]] = {
    "prompt": lambda c: {"label": "Prompt of each segment", "default": "",
                         "info": "One prompt per line, one line per segment; empty: the Prompt above for every "
                                 "segment."},
}  # fmt: skip
LIST_NAMES = {"prompt": "prompts"}

IMAGE = FormField("image", None, "image", "Input image", place="main", element_id="input-image")


def _component(spec: FieldSpec) -> str:
    if spec.type is bool:
        return "checkbox"
    if spec.option.choices:
        return "radio"
    return "number" if spec.type in (int, float) else "textbox"


def _lines(text: Any) -> Any:
    """A textbox holding one entry per line → the list setting (blank lines dropped)."""
    return tuple(line.strip() for line in text.splitlines() if line.strip()) if isinstance(text, str) else text


TRI_STATE = {"auto": None, "on": True, "off": False}


def _tri_state(choice: Any) -> Any:
    return TRI_STATE.get(choice, choice)


def _plain(spec: FieldSpec) -> dict[str, Any]:
    """A setting nobody dressed yet: the component its type suggests, its help as the explanation. A list of
    text (e.g. one prompt per segment) is a textbox with one entry per line; an optional switch (None: the
    setting decides) a radio of auto/on/off."""
    label = spec.key.replace("_", " ").capitalize()
    if spec.type is bool and spec.optional:
        default = next(k for k, v in TRI_STATE.items() if v is spec.initial)
        return {"component": "radio", "label": label, "info": spec.option.help, "default": default,
                "choices": tuple(TRI_STATE), "to_setting": _tri_state}  # fmt: skip
    if spec.type is tuple:
        return {
            "component": "textbox",
            "label": label,
            "info": f"{spec.option.help} (one per line)",
            "default": "\n".join(spec.initial),
            "to_setting": _lines,
        }
    return {
        "component": _component(spec),
        "label": label,
        "info": spec.option.help,
        "default": spec.initial,
        "choices": spec.option.choices,
        "minimum": spec.option.minimum,
        "maximum": spec.option.maximum,
    }


def _look(spec: FieldSpec, config: DemoConfig) -> dict[str, Any]:
    looks = LIST_LOOKS if spec.type is tuple else LOOKS
    return {**_plain(spec), **(looks[spec.key](config) if spec.key in looks else {})}


def form_fields(config: DemoConfig, cls: type[Settings] = I2VSettings) -> tuple[FormField, ...]:
    """The image, then one field per demo-visible setting of ``cls``: the dressed ones in ``LOOKS``' order, then
    any others."""
    order = list(LOOKS)
    specs = sorted(specs_for(cls, "demo"), key=lambda s: order.index(s.key) if s.key in order else len(order))
    rows = [IMAGE]
    for spec in specs:
        look = _look(spec, config)
        rows.append(FormField(name=look.pop("name", spec.key), setting=spec.name, whole=spec.type is int, **look))
    return tuple(rows)


def fields_beside(config: DemoConfig, cls: type[Settings], base: type[Settings] = I2VSettings) -> tuple[FormField, ...]:
    """The table of ``cls`` for a page whose main form is ``base``'s: a list field whose name the main form uses
    for a single value is renamed (``prompts``), so both sit on the page."""
    shared = {f.name for f in form_fields(config, base)}
    return tuple(dataclasses.replace(f, name=LIST_NAMES[f.name]) if f.name in shared and f.to_setting is _lines
                 else f for f in form_fields(config, cls))  # fmt: skip


def own_fields(config: DemoConfig, cls: type[Settings], base: type[Settings] = I2VSettings) -> tuple[FormField, ...]:
    """The fields of ``cls`` that the main form of ``base`` lacks: what the page adds for ``cls``."""
    shared = {f.name for f in form_fields(config, base)}
    return tuple(f for f in fields_beside(config, cls, base) if f.name not in shared)


def defaults_of(fields: tuple[FormField, ...]) -> dict[str, Any]:
    """What the form holds before anyone touches it (the tests start from this)."""
    return {f.name: f.default for f in fields if f.setting is not None}
