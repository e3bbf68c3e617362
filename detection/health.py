"""Camera health from the frames and detections themselves: frozen, blank, lost, low confidence.

A controller should only trust counts from a camera whose state is ``Health.OK``.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from traffic.counts import Health

_THUMB_PX = (64, 36)


@dataclass(frozen=True)
class HealthThresholds:
    """When a camera stops being trusted.

    Attributes:
        blank_std: grey-level standard deviation (0-255) under which a frame is uniform (black, white,
            a lens cap, a "no signal" card).
        frozen_diff: mean absolute grey-level difference between consecutive thumbnails under which
            two frames count as identical (decoded streams always carry some noise).
        frozen_after_s: how long frames must stay identical to report FROZEN.
        confidence_window_s: window over which track confidences are averaged.
        min_confidence: mean track confidence under which the camera reports LOW_CONFIDENCE.
        min_boxes: boxes needed in the window before confidence is judged (an empty road is not bad).
    """

    blank_std: float = 4.0
    frozen_diff: float = 0.05
    frozen_after_s: float = 2.0
    confidence_window_s: float = 30.0
    min_confidence: float = 0.3
    min_boxes: int = 30


def thumbnail(image: NDArray[np.uint8]) -> NDArray[np.float32]:
    """A small grey version of a BGR or grey frame, ``(36, 64)`` float32, for cheap checks."""
    import cv2

    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, _THUMB_PX, interpolation=cv2.INTER_AREA).astype(np.float32)


@dataclass(frozen=True)
class HealthReport:
    """The state now and how many processed frames were in each state."""

    state: Health
    frames_by_state: dict[str, int] = field(default_factory=dict)
    mean_track_confidence: float | None = None
    lost_events: int = 0

    def to_dict(self) -> dict[str, object]:
        conf = None if self.mean_track_confidence is None else round(self.mean_track_confidence, 3)
        return {"state": str(self.state), "frames_by_state": dict(self.frames_by_state),
                "mean_track_confidence": conf, "lost_events": self.lost_events}


class HealthMonitor:
    """Follows one camera frame by frame and says whether its counts can be trusted."""

    def __init__(self, thresholds: HealthThresholds | None = None) -> None:
        self.thresholds = thresholds or HealthThresholds()
        self.state = Health.UNKNOWN
        self._previous: NDArray[np.float32] | None = None
        self._same_since_s: float | None = None
        self._window: deque[tuple[float, float, int]] = deque()  # (timestamp_s, sum of confidences, boxes)
        self._window_sum = 0.0
        self._window_boxes = 0
        self._total_sum = 0.0
        self._total_boxes = 0
        self._tally: Tally[str] = Tally()
        self._lost_events = 0

    def update(self, image: NDArray[np.uint8], timestamp_s: float,
               track_confidence: NDArray[np.float32] | None = None) -> Health:
        """Judge one processed frame (and the confidences of its tracked boxes); return the state."""
        th = self.thresholds
        thumb = thumbnail(image)
        self._add_confidences(timestamp_s, track_confidence)
        if float(thumb.std()) < th.blank_std:
            state = Health.BLANK
        elif self._is_frozen(thumb, timestamp_s):
            state = Health.FROZEN
        elif self._low_confidence():
            state = Health.LOW_CONFIDENCE
        else:
            state = Health.OK
        self._previous = thumb
        return self._set(state)

    def mark_lost(self, timestamp_s: float) -> Health:
        """The stream stopped delivering frames."""
        self._previous, self._same_since_s = None, None
        self._lost_events += 1
        return self._set(Health.LOST)

    def report(self) -> HealthReport:
        mean = self._total_sum / self._total_boxes if self._total_boxes else None
        return HealthReport(self.state, dict(self._tally), mean, self._lost_events)

    def _set(self, state: Health) -> Health:
        self.state = state
        self._tally[str(state)] += 1
        return state

    def _is_frozen(self, thumb: NDArray[np.float32], timestamp_s: float) -> bool:
        if self._previous is None or float(np.abs(thumb - self._previous).mean()) >= self.thresholds.frozen_diff:
            self._same_since_s = None
            return False
        if self._same_since_s is None:
            self._same_since_s = timestamp_s
        return timestamp_s - self._same_since_s >= self.thresholds.frozen_after_s

    def _add_confidences(self, timestamp_s: float, conf: NDArray[np.float32] | None) -> None:
        if conf is not None and len(conf):
            s, n = float(np.sum(conf)), len(conf)
            self._window.append((timestamp_s, s, n))
            self._window_sum += s
            self._window_boxes += n
            self._total_sum += s
            self._total_boxes += n
        while self._window and timestamp_s - self._window[0][0] > self.thresholds.confidence_window_s:
            _, s_old, n_old = self._window.popleft()
            self._window_sum -= s_old
            self._window_boxes -= n_old

    def _low_confidence(self) -> bool:
        n = self._window_boxes
        return n >= self.thresholds.min_boxes and self._window_sum / n < self.thresholds.min_confidence
