"""Environment fix-up that must run before transformers/diffusers are imported.

PyPI's torchvision 0.28 is a CUDA build. Next to the CPU torch our machines install, merely having it
installed makes ``import torchvision`` fail ("operator torchvision::nms does not exist"), and
transformers imports torchvision when it is present, which breaks ``PreTrainedModel`` and with it
diffusers' VAE. The eval metrics (lpips) need torchvision's pure-Python parts, so we declare the two
op schemas torchvision registers at import time; only its nms ops stay unusable, and we never call them.
"""

import importlib.util

import torch


def _declare_torchvision_ops() -> None:
    if importlib.util.find_spec("torchvision") is None:
        return
    if torch._C._dispatch_has_kernel_for_dispatch_key("torchvision::nms", "CPU"):
        return
    try:
        torch.ops.torchvision.nms  # noqa: B018 - attribute lookup tells whether the schema exists
        return
    except (AttributeError, RuntimeError):
        pass
    lib = torch.library.Library("torchvision", "FRAGMENT")  # noqa: TOR901
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIBS.append(lib)


_LIBS: list = []  # keeps the Library objects alive; dropping them unregisters the schemas
_declare_torchvision_ops()
