"""Interval counts of a video clip for the demo (``greenwave demo --video CLIP --camera-config CAMERA``).

Runs ``detection``'s counting pipeline (YOLO + tracking; needs the ``detect`` extra) over the clip
with the camera's count lines, whose keys must name movements of the camera's intersection.
"""

from __future__ import annotations

from greenwave.demo.runs import CameraFeed
from traffic.errors import ModelError
from traffic.scenario import Scenario


def feed_from_video(video: str, camera_config: str, scenario: Scenario, model: str,
                    interval_s: float = 60.0) -> CameraFeed:
    """Count the clip and return its interval counts as the feed of the camera's intersection.

    Raises:
        ModelError: the camera names no intersection of ``scenario``, none of its count keys is a
            movement there, or the clip is shorter than one interval.
    """
    from detection.config import load_camera_config
    from detection.detector import YoloDetector
    from detection.pipeline import CountingPipeline, PipelineSettings, auto_stride
    from detection.sources import open_source

    camera = load_camera_config(camera_config)
    inter = scenario.intersections.get(camera.intersection or "")
    if inter is None:
        raise ModelError(f"camera {camera.camera_id!r}: its intersection ({camera.intersection!r}) is not a signal of "
                         f"{scenario.name!r} ({', '.join(scenario.intersections)})")
    source = open_source(video)
    detector = YoloDetector(model)
    settings = PipelineSettings(stride=auto_stride(source, detector, camera), interval_s=interval_s)
    run = CountingPipeline(camera, detector, settings).run(source)
    keys = {k for c in run.intervals for k in c.counts}
    if run.intervals and not keys & set(inter.movements):
        raise ModelError(f"camera {camera.camera_id!r}: its count keys {sorted(keys)[:5]} name no movement of "
                         f"{inter.id} ({', '.join(sorted(inter.movements)[:6])}, ...)")
    return CameraFeed(inter.id, tuple(run.intervals))
