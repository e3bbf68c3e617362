"""Automatic frame stride: process every n-th frame so the pipeline keeps up with the camera.

The stride never drops the processed rate below ``MIN_PROCESSED_FPS``: the lowest rate at which the
counts were checked to equal the stride-1 counts event by event (``benchmarks/detection.py``, every
shared clip at strides 1-4: 30 fps at stride 4 is 7.5 processed frames/s). A machine too slow even
at that stride gets it anyway and runs slower than real time, rather than counting less reliably.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MIN_PROCESSED_FPS = 7.0
"""Lowest processed frame rate at which counts were verified to match stride 1 (the accuracy check)."""


@dataclass(frozen=True)
class StrideChoice:
    """The stride a run uses, and why.

    Attributes:
        stride: process every ``stride``-th frame.
        mode: ``"auto"`` (measured here) or ``"fixed"`` (given by the user).
        reason: one sentence saying why this stride.
        max_stride: the largest stride the accuracy check allows at this frame rate.
        processed_fps: source fps / stride.
        detect_ms, decode_ms: the measured costs an automatic choice was based on (None when fixed).
    """

    stride: int
    mode: str
    reason: str
    max_stride: int
    processed_fps: float
    detect_ms: float | None = None
    decode_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stride": self.stride, "mode": self.mode, "reason": self.reason,
                               "max_stride_checked": self.max_stride, "processed_fps": round(self.processed_fps, 3),
                               "min_processed_fps_checked": MIN_PROCESSED_FPS}
        if self.detect_ms is not None:
            out["detect_ms"] = round(self.detect_ms, 2)
        if self.decode_ms is not None:
            out["decode_ms"] = round(self.decode_ms, 2)
        return out


def max_checked_stride(fps: float, min_processed_fps: float = MIN_PROCESSED_FPS) -> int:
    """Largest stride that keeps at least ``min_processed_fps`` processed frames per second (at least 1)."""
    return max(1, math.floor(fps / min_processed_fps + 1e-9))


def decide_stride(fps: float, detect_ms: float, decode_ms: float, overhead_ms: float = 3.0,
                  headroom: float = 0.8, min_processed_fps: float = MIN_PROCESSED_FPS) -> StrideChoice:
    """Smallest stride at which decoding every frame and detecting every ``stride``-th fits real time.

    Per source frame the pipeline spends ``decode_ms + (detect_ms + overhead_ms) / stride``; that must
    stay under ``headroom * 1000 / fps``. The stride is capped at ``max_checked_stride(fps)``.

    Args:
        fps: source frame rate.
        detect_ms: detector time per processed frame.
        decode_ms: decode (grab) time per source frame.
        overhead_ms: tracking, counting and health per processed frame.
    """
    if fps <= 0 or detect_ms < 0 or decode_ms < 0:
        raise ValueError(f"fps (={fps}) must be > 0 and costs (={detect_ms}, {decode_ms}) >= 0")
    cap = max_checked_stride(fps, min_processed_fps)
    budget_ms = headroom * 1000.0 / fps - decode_ms
    needed = math.inf if budget_ms <= 0 else math.ceil((detect_ms + overhead_ms) / budget_ms - 1e-9)
    stride = max(1, min(cap, int(needed) if math.isfinite(needed) else cap))
    costs = f"detect {detect_ms:.1f} ms per processed frame, decode {decode_ms:.1f} ms per frame at {fps:g} fps"
    if needed > cap:
        reason = (f"too slow to keep up at any checked stride ({costs}): using stride {cap}, the largest that keeps "
                  f">= {min_processed_fps:g} processed frames/s, so counts stay as checked; slower than real time")
    elif stride == 1:
        reason = f"keeps up with the source at every frame ({costs})"
    else:
        reason = (f"smallest stride that keeps up with the source ({costs}); the accuracy check allows up to "
                  f"stride {cap} (>= {min_processed_fps:g} processed frames/s)")
    return StrideChoice(stride, "auto", reason, cap, fps / stride, detect_ms, decode_ms)


def fixed_stride(fps: float, stride: int, min_processed_fps: float = MIN_PROCESSED_FPS) -> StrideChoice:
    """A stride the user set; the reason says when it goes below the checked processing rate."""
    cap = max_checked_stride(fps, min_processed_fps)
    reason = "set by --stride"
    if stride > cap:
        reason += (f"; WARNING: {fps / stride:.2f} processed frames/s is below the {min_processed_fps:g} at which "
                   f"counts were checked (largest checked stride at {fps:g} fps: {cap})")
    return StrideChoice(stride, "fixed", reason, cap, fps / stride)


def choose_stride(fps: float, detect_ms: float, decode_ms: float, overhead_ms: float = 3.0,
                  headroom: float = 0.8, min_processed_fps: float = MIN_PROCESSED_FPS) -> int:
    """The stride of ``decide_stride`` (see there)."""
    return decide_stride(fps, detect_ms, decode_ms, overhead_ms, headroom, min_processed_fps).stride
