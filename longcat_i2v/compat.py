"""Environment fix-up that must run before torchvision is imported (transformers and diffusers import it).

PyPI's torchvision 0.28 is a CUDA build. Next to the CPU torch our machines install, its compiled ops
cannot load, and ``import torchvision`` then fails ("operator torchvision::nms does not exist");
transformers imports torchvision whenever it is installed, which breaks ``PreTrainedModel`` and with it
diffusers' VAE. The eval metrics (lpips) need torchvision's pure-Python parts, so when its compiled ops
do not load we declare the two op schemas it registers at import; its nms ops stay unusable, and
nothing here calls them. A torchvision whose ops load is left alone.

Importing this module costs nothing: it arms an import hook that does the work (and imports torch) when
torchvision is first looked for, so ``import longcat_i2v`` stays fast for code that never needs torch
(``python -m eval.run --help``).
"""

import importlib.abc
import importlib.util
import sys
from pathlib import Path

_LIBS: list = []  # keeps the Library objects alive; dropping them unregisters the schemas


def _torchvision_ops_load(package_dir: Path) -> bool:
    import torch

    libs = sorted(package_dir.glob("_C*.so")) + sorted(package_dir.glob("_C*.pyd"))
    try:
        for lib in libs:
            torch.ops.load_library(str(lib))
    except (OSError, RuntimeError):
        return False
    return bool(libs)


def _declare_torchvision_ops() -> None:
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return
    if _torchvision_ops_load(Path(next(iter(spec.submodule_search_locations)))):
        return
    lib = torch.library.Library("torchvision", "FRAGMENT")  # noqa: TOR901
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIBS.append(lib)


class _BeforeTorchvision(importlib.abc.MetaPathFinder):
    """Runs the fix-up once, the first time anything looks for torchvision (an import or a find_spec)."""

    def find_spec(self, name, path=None, target=None):
        if name == "torchvision":
            sys.meta_path.remove(self)
            _declare_torchvision_ops()
        return None  # the normal finders do the import


if "torchvision" not in sys.modules and not any(isinstance(f, _BeforeTorchvision) for f in sys.meta_path):
    sys.meta_path.insert(0, _BeforeTorchvision())
