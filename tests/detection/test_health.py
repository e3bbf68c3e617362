"""Camera health on synthetic frames: frozen, black, uniform, lost, low confidence, and OK."""

from __future__ import annotations

import numpy as np
import pytest

from detection.health import HealthMonitor, HealthThresholds
from traffic.counts import Health


def noisy(rng, shape=(240, 320, 3)):
    base = np.tile(np.linspace(40, 200, shape[1], dtype=np.float32), (shape[0], 1))[..., None]
    return np.clip(base + rng.normal(0, 8, shape), 0, 255).astype(np.uint8)


def feed(monitor, frames, fps=10.0, conf=None):
    return [monitor.update(f, i / fps, conf) for i, f in enumerate(frames)]


def test_live_noisy_frames_are_ok():
    rng = np.random.default_rng(1)
    states = feed(HealthMonitor(), [noisy(rng) for _ in range(40)])
    assert set(states) == {Health.OK}


def test_frozen_after_two_seconds_of_identical_frames():
    rng = np.random.default_rng(2)
    frame = noisy(rng)
    states = feed(HealthMonitor(HealthThresholds(frozen_after_s=2.0)), [frame] * 40, fps=10.0)
    assert states[:20] == [Health.OK] * 20, "identical for less than 2 s is still fine"
    assert states[21:] == [Health.FROZEN] * 19
    monitor = HealthMonitor()
    feed(monitor, [frame] * 40)
    assert monitor.update(noisy(rng), 5.0) is Health.OK, "a new image ends the freeze"


@pytest.mark.parametrize(("rule", "frame"), [
    ("black frame", np.zeros((240, 320, 3), np.uint8)),
    ("uniform grey 'no signal' card", np.full((240, 320, 3), 128, np.uint8)),
    ("near-black with sensor noise", np.random.default_rng(3).integers(0, 3, (240, 320, 3)).astype(np.uint8)),
])
def test_blank_frames(rule, frame):
    assert HealthMonitor().update(frame, 0.0) is Health.BLANK, rule


def test_lost_then_recovered():
    rng = np.random.default_rng(4)
    monitor = HealthMonitor()
    monitor.update(noisy(rng), 0.0)
    assert monitor.mark_lost(0.1) is Health.LOST
    assert monitor.update(noisy(rng), 3.0) is Health.OK
    report = monitor.report()
    assert report.lost_events == 1 and report.frames_by_state == {"ok": 2, "lost": 1}


def test_low_confidence_needs_enough_boxes_and_a_low_mean():
    rng = np.random.default_rng(5)
    th = HealthThresholds(min_confidence=0.3, min_boxes=30)
    low = HealthMonitor(th)
    states = feed(low, [noisy(rng) for _ in range(20)], conf=np.full(3, 0.15, np.float32))
    assert states[5] is Health.OK and states[-1] is Health.LOW_CONFIDENCE, "after 30 boxes averaging 0.15"
    good = HealthMonitor(th)
    assert feed(good, [noisy(rng) for _ in range(20)], conf=np.full(3, 0.6, np.float32))[-1] is Health.OK
    empty_road = HealthMonitor(th)
    assert feed(empty_road, [noisy(rng) for _ in range(20)], conf=np.zeros(0, np.float32))[-1] is Health.OK
