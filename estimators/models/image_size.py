"""A model's input-size rules: its minimum side, and the sizes its ImageNet weights take when those are fixed.

No TensorFlow: the run flow checks these (estimators/models/fit.py) before anything is built or written,
and a builder checks them again for callers that build directly (estimators/models/transfer.py).
"""

from __future__ import annotations

from common.errors import UsageError


def check_image_size(
    name: str, height: int, width: int, min_size: int, imagenet_sizes: tuple[int, ...] | None, imagenet: bool
) -> None:
    """Refuse ``height`` x ``width`` for model ``name`` (``imagenet``: with ImageNet weights) with a usage error."""
    if min(height, width) < min_size:
        raise UsageError("image_size", f"'{name}' needs images of at least {min_size}x{min_size}; got {height}x{width}")
    if imagenet and imagenet_sizes is not None and (height != width or height not in imagenet_sizes):
        allowed = ", ".join(f"{s}x{s}" for s in imagenet_sizes)
        raise UsageError(
            "image_size", f"'{name}' with ImageNet weights takes only {allowed} images; got {height}x{width}"
        )
