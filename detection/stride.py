"""Automatic frame stride: process every n-th frame so the pipeline keeps up with the camera."""

from __future__ import annotations

import math


def choose_stride(fps: float, detect_ms: float, decode_ms: float, overhead_ms: float = 3.0,
                  headroom: float = 0.8, min_processed_fps: float = 7.0) -> int:
    """Smallest stride at which decoding every frame and detecting every ``stride``-th fits real time.

    Per source frame the pipeline spends ``decode_ms + (detect_ms + overhead_ms) / stride``; that must
    stay under ``headroom * 1000 / fps``. The stride never drops the processed rate below
    ``min_processed_fps`` (trackers lose fast vehicles when frames are too far apart; the freeway
    ground truth holds up to stride 4 at 30 fps, 7.5 processed frames/s), so a machine that is too
    slow even then gets that largest stride and runs slower than real time.

    Args:
        fps: source frame rate.
        detect_ms: detector time per processed frame.
        decode_ms: decode (grab) time per source frame.
        overhead_ms: tracking, counting and health per processed frame.
    """
    if fps <= 0 or detect_ms < 0 or decode_ms < 0:
        raise ValueError(f"fps (={fps}) must be > 0 and costs (={detect_ms}, {decode_ms}) >= 0")
    max_stride = max(1, math.floor(fps / min_processed_fps))
    budget_ms = headroom * 1000.0 / fps - decode_ms
    if budget_ms <= 0:
        return max_stride
    return max(1, min(max_stride, math.ceil((detect_ms + overhead_ms) / budget_ms - 1e-9)))
