"""Exception types: each names what was wrong and what is allowed."""


class LongCatError(Exception):
    """Base class of every error this package raises on purpose."""


class CheckpointError(LongCatError):
    """A checkpoint directory is missing a file or key, or its config and weights disagree."""


class LoRAError(LongCatError):
    """A LoRA file does not fit the DiT it is applied to."""


class InvalidInputError(LongCatError, ValueError):
    """A generation argument is out of range or of the wrong form."""


class ImageInputError(InvalidInputError):
    """The input image cannot be read, is not an image, is empty or is too large."""


class GenerationCancelled(LongCatError):
    """Raised from a step callback to stop a generation between two denoising steps."""


class ParallelConfigError(LongCatError, ValueError):
    """Sequence-parallel settings that the model or the process group cannot satisfy."""


class OutputPathError(InvalidInputError):
    """An output path the video writer cannot produce (wrong extension, not a file, folder missing or unwritable);
    front ends check it before generation starts."""


class VideoWriteError(LongCatError):
    """Writing a video failed (the encoder's exit status or the written file did not check out); the previous
    file at the target, if any, is untouched."""


class NonFiniteError(LongCatError):
    """A model output holds NaN or infinite values (e.g. broken weights or an overflow in half precision)."""


class MissingDependencyError(LongCatError, ImportError):
    """An opt-in feature needs an optional package that is not installed."""


class QuantizationError(LongCatError, ValueError):
    """A quantization mode the model, its dtype or its device cannot take."""


class VideoInputError(InvalidInputError):
    """The input video cannot be read, is not a video, is empty, too short or too large."""
