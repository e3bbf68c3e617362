"""The automatic stride says which stride and why, and never goes below the checked processing rate."""

from __future__ import annotations

import pytest

from detection.stride import MIN_PROCESSED_FPS, decide_stride, fixed_stride, max_checked_stride


@pytest.mark.parametrize(("fps", "expected"), [(30.0, 4), (29.97, 4), (25.0, 3), (15.0, 2), (10.0, 1), (5.0, 1)])
def test_largest_checked_stride_keeps_the_checked_rate(fps, expected):
    assert max_checked_stride(fps) == expected
    assert expected == 1 or fps / expected >= MIN_PROCESSED_FPS


@pytest.mark.parametrize("fps", [15.0, 25.0, 29.97, 30.0, 60.0])
@pytest.mark.parametrize("detect_ms", [1.0, 40.0, 120.0, 500.0, 5000.0])
def test_auto_never_goes_below_the_checked_rate(fps, detect_ms):
    choice = decide_stride(fps, detect_ms, decode_ms=2.0)
    assert choice.processed_fps >= MIN_PROCESSED_FPS and choice.stride <= choice.max_stride
    assert choice.mode == "auto" and choice.reason


def test_reasons():
    assert "every frame" in decide_stride(30.0, 5.0, 1.0).reason
    fits = decide_stride(30.0, 40.0, 1.0)
    assert fits.stride == 2 and "smallest stride that keeps up" in fits.reason
    slow = decide_stride(30.0, 1000.0, 1.0)
    assert slow.stride == 4 and "slower than real time" in slow.reason
    doc = slow.to_dict()
    assert doc["stride"] == 4 and doc["max_stride_checked"] == 4 and doc["min_processed_fps_checked"] == 7.0
    assert doc["detect_ms"] == 1000.0 and doc["processed_fps"] == 7.5


def test_a_fixed_stride_below_the_checked_rate_is_flagged():
    assert fixed_stride(30.0, 4).reason == "set by --stride"
    assert "below the 7 at which counts were checked" in fixed_stride(30.0, 6).reason
