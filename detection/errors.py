"""Errors a user of the detector can cause; all are ``TrafficError`` so the CLI prints one line, exit 2."""

from __future__ import annotations

from traffic.errors import TrafficError


class DetectionError(TrafficError):
    """Base class for user-facing errors of the camera-to-counts pipeline."""


class VideoSourceError(DetectionError):
    """A video file or stream cannot be opened or decoded."""


class CameraConfigError(DetectionError):
    """A camera configuration (count lines, zones, their mapping to movements) is malformed."""


class ModelLoadError(DetectionError):
    """The detector model cannot be found or loaded."""
