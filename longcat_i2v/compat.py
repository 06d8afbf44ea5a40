"""Environment fix-ups that must run before torchvision (which transformers and diffusers import) and diffusers'
torchao quantizer are imported.

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


def _hide_incompatible_torchao() -> None:
    """diffusers 0.35.1 imports torchao's old tensor classes when torchao is installed; with a torchao that moved
    them (0.14 and newer) its fallback path hits a NameError and every diffusers model import fails. We quantize
    our DiT with torchao directly, never through diffusers, so diffusers is told torchao is absent when those
    classes are missing. A torchao that has them is left alone."""
    import_utils = sys.modules.get("diffusers.utils.import_utils")
    if import_utils is None or importlib.util.find_spec("torchao") is None:
        return
    try:
        from torchao.dtypes import NF4Tensor  # noqa: F401
    except ImportError:
        setattr(import_utils, "_torchao_available", False)  # noqa: B010 - a module global of diffusers


# module about to be looked for -> the fix-up that must run before it is imported
_FIXES = {"torchvision": _declare_torchvision_ops, "diffusers.quantizers.torchao": _hide_incompatible_torchao}


class _BeforeImport(importlib.abc.MetaPathFinder):
    """Runs each fix-up once, the first time anything looks for its module (an import or a find_spec)."""

    def find_spec(self, name, path=None, target=None):
        fix = _FIXES.pop(name, None)
        if fix is not None:
            if not _FIXES:
                sys.meta_path.remove(self)
            fix()
        return None  # the normal finders do the import


if not any(isinstance(f, _BeforeImport) for f in sys.meta_path):
    if "torchvision" in sys.modules:
        _FIXES.pop("torchvision")
    sys.meta_path.insert(0, _BeforeImport())
