"""Environment fix-up that must run before transformers/diffusers are imported.

PyPI's torchvision 0.28 is a CUDA build. Next to the CPU torch our machines install, its compiled ops
cannot load, and ``import torchvision`` then fails ("operator torchvision::nms does not exist");
transformers imports torchvision whenever it is installed, which breaks ``PreTrainedModel`` and with it
diffusers' VAE. The eval metrics (lpips) need torchvision's pure-Python parts, so when its compiled ops
do not load we declare the two op schemas it registers at import; its nms ops stay unusable, and
nothing here calls them. A torchvision whose ops load is left alone.
"""

import importlib.util
from pathlib import Path

import torch

_LIBS: list = []  # keeps the Library objects alive; dropping them unregisters the schemas


def _torchvision_ops_load(package_dir: Path) -> bool:
    libs = sorted(package_dir.glob("_C*.so")) + sorted(package_dir.glob("_C*.pyd"))
    try:
        for lib in libs:
            torch.ops.load_library(str(lib))
    except (OSError, RuntimeError):
        return False
    return bool(libs)


def _declare_torchvision_ops() -> None:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return
    if _torchvision_ops_load(Path(next(iter(spec.submodule_search_locations)))):
        return
    lib = torch.library.Library("torchvision", "FRAGMENT")  # noqa: TOR901
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIBS.append(lib)


_declare_torchvision_ops()


def _hide_incompatible_torchao() -> None:
    """diffusers 0.35.1 imports torchao's old tensor classes when torchao is installed; with a torchao that moved
    them (0.14 and newer) its fallback path hits a NameError and every diffusers model import fails. We quantize
    our DiT with torchao directly (``quant``), never through diffusers, so diffusers is told torchao is absent
    when those classes are missing. A torchao that has them is left alone."""
    if importlib.util.find_spec("torchao") is None:
        return
    try:
        from torchao.dtypes import NF4Tensor  # noqa: F401
    except ImportError:
        from diffusers.utils import import_utils

        import_utils._torchao_available = False


_hide_incompatible_torchao()
