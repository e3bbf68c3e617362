"""Stride invariance and the motorbike clip, for ``benchmarks/detection.py --stride-check / --motorbike-options``.

The detector's boxes on frame k are the same at every stride that processes frame k, so each clip's
detections are recorded once at stride 1 (cached under ``benchmarks/.cache/``, keyed by clip, model
and detector option) and tracking and counting are replayed at strides 1-4 (``detection.replay``).
Events of two runs, or of a run and a manual count, are matched one to one by crossing time and
position along the line (``detection.event_matching``). Delete ``benchmarks/.cache/`` to record again
(after a change to the detector or the region crop; tracking and counting changes need no new recording).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from detection.config import CameraConfig, make_line
from detection.counting import CountEvent
from detection.event_matching import CrossingEvent, MatchResult, match_events, read_manual_ground_truth
from detection.replay import RecordedClip, record_clip, replay_counts

CACHE = Path(__file__).resolve().parent / ".cache"
STRIDES = (1, 2, 3, 4)
STRIDE_TOLERANCE_S, STRIDE_TOLERANCE_PX = 0.25, 30.0  # one run against another (same detections)
GT_TOLERANCE_S, GT_TOLERANCE_PX = 0.4, 50.0  # against the manual count (frame +-3, hand-placed box centre)
MOTORBIKES = "asia_arterial_motorbikes_1024x576_20s.mp4"


def camera_of(real: Path, clip: str) -> CameraConfig:
    ref = json.loads((real / "reference_counts_yolo11n_int8.json").read_text())["clips"][clip]
    (x1, y1), (x2, y2) = ref["count_line_xy"]
    return CameraConfig("bench", (make_line("line", (x1, y1), (x2, y2)),))


def recorded(real: Path, clip: str, model: Path, option: str, build: Callable[[], Any]) -> tuple[RecordedClip, dict]:
    """The clip's detections with this detector option, from the cache or recorded now (and timed)."""
    path = CACHE / f"{Path(clip).stem}.{model.stem}.{option}.npz"
    meta_path = path.with_suffix(".json")
    if path.is_file() and meta_path.is_file():
        return RecordedClip.load(path), json.loads(meta_path.read_text())
    detector = build()
    load = os.getloadavg()[0]
    t = time.perf_counter()
    rec = record_clip(real / clip, detector)
    wall_s = time.perf_counter() - t
    meta = {"detect_ms_per_frame": round(1000 * wall_s / max(1, len(rec)), 1), "loadavg_1min_at_start": round(load, 2)}
    CACHE.mkdir(exist_ok=True)
    rec.save(path)
    meta_path.write_text(json.dumps(meta))
    return rec, meta


def crossing(e: CountEvent) -> CrossingEvent:
    at_s = e.crossing_s if e.crossing_s is not None else e.timestamp_s
    x = e.crossing_px[0] if e.crossing_px is not None else 0.0
    return CrossingEvent(at_s, x, str(e.direction), e.vehicle_class)


def _compare(base: list[CrossingEvent], other: list[CrossingEvent], m: MatchResult) -> dict[str, Any]:
    return {"matched": len(m.pairs), "missing": len(m.missed()), "extra": len(m.extra()),
            "class_differs": sum(base[a].vehicle_class != other[b].vehicle_class for a, b in m.pairs)}


def stride_check(real: Path, model: Path, clips: list[str], trackers: list[str]) -> dict[str, Any]:
    """Every clip, every tracker: counts at strides 1-4 and their events against stride 1's."""
    from detection.detector import YoloDetector
    from detection.region import RegionDetector

    detector: list[Any] = []

    def build_for(camera: CameraConfig) -> Callable[[], Any]:
        def build() -> Any:
            if not detector:
                detector.append(YoloDetector(model))
            return RegionDetector(detector[0], camera)
        return build

    out: dict[str, Any] = {"tolerance_s": STRIDE_TOLERANCE_S, "tolerance_px": STRIDE_TOLERANCE_PX, "clips": {}}
    print("\n| clip | tracker | stride | IN/OUT | events equal to stride 1 | missing | extra | class differs |")
    print("|---|---|---|---|---|---|---|---|")
    for clip in clips:
        camera = camera_of(real, clip)
        rec, meta = recorded(real, clip, model, "region", build_for(camera))
        out["clips"][clip] = {"fps": rec.fps, "frames": len(rec), "record": meta, "trackers": {}}
        for tracker in trackers:
            rows = []
            base: list[CrossingEvent] = []
            for stride in STRIDES:
                events = [crossing(e) for e in replay_counts(rec, camera, stride, tracker=tracker)]
                base = base or events
                m = match_events(base, events, STRIDE_TOLERANCE_S, STRIDE_TOLERANCE_PX)
                row = {"stride": stride, "processed_fps": round(rec.fps / stride, 2),
                       "in": sum(e.direction == "in" for e in events), "out": sum(e.direction == "out" for e in events),
                       **_compare(base, events, m), "equal": len(m.pairs) == len(base) == len(events)}
                rows.append(row)
                print(f"| {clip} | {tracker} | {stride} | {row['in']}/{row['out']} | "
                      f"{'yes' if row['equal'] else 'no'} ({row['matched']}/{len(base)}) | {row['missing']} | "
                      f"{row['extra']} | {row['class_differs']} |", flush=True)
            out["clips"][clip]["trackers"][tracker] = rows
    return out


def motorbike_options(real: Path, model: Path, tracker: str = "motion") -> dict[str, Any]:
    """Detector options on the motorbike clip: per-class counts, event precision/recall, cost, per stride."""
    from detection.detector import YoloDetector
    from detection.region import RegionDetector
    from detection.slicing import SlicedDetector

    camera = camera_of(real, MOTORBIKES)
    truth = read_manual_ground_truth(real / MOTORBIKES.replace(".mp4", ".manual_gt.csv"), 25.0)
    base: list[Any] = []

    def det() -> Any:
        if not base:
            base.append(YoloDetector(model))
        return base[0]

    options: dict[str, tuple[str, Callable[[], Any]]] = {
        "region": ("crop around the line, 30 % of the frame height margin (the default)",
                   lambda: RegionDetector(det(), camera)),
        "band010": ("crop around the line, 10 % margin (a band ~116 px high)",
                    lambda: RegionDetector(det(), camera, margin_frac=0.10)),
        "band015_tiles320": ("15 % band cut into 320-px tiles (2 tiles, each enlarged 2x)",
                             lambda: RegionDetector(SlicedDetector(det(), tile_px=320, full_frame=False), camera,
                                                    margin_frac=0.15)),
        "band015_tiles256": ("15 % band cut into 256-px tiles (3 tiles, each enlarged 2.5x)",
                             lambda: RegionDetector(SlicedDetector(det(), tile_px=256, full_frame=False), camera,
                                                    margin_frac=0.15)),
        "band015_tiles320_full": ("2 tiles of 320 px plus the whole 15 % band (3 calls)",
                                  lambda: RegionDetector(SlicedDetector(det(), tile_px=320, full_frame=True), camera,
                                                         margin_frac=0.15)),
    }
    truth_by_class = Counter(e.vehicle_class for e in truth)
    out: dict[str, Any] = {"truth": dict(truth_by_class), "tolerance_s": GT_TOLERANCE_S,
                           "tolerance_px": GT_TOLERANCE_PX, "tracker": tracker, "options": {}}
    print(f"\nmanual count: {dict(truth_by_class)}; events matched within {GT_TOLERANCE_S} s and "
          f"{GT_TOLERANCE_PX:g} px along the line")
    print("| option | detect ms/frame (load) | stride | car | motorcycle | other | precision | recall |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (what, build) in options.items():
        rec, meta = recorded(real, MOTORBIKES, model, name, build)
        rows = []
        for stride in STRIDES:
            events = [crossing(e) for e in replay_counts(rec, camera, stride, tracker=tracker)]
            m = match_events(truth, events, GT_TOLERANCE_S, GT_TOLERANCE_PX)
            by = Counter(e.vehicle_class for e in events if e.direction == "in")
            row = {"stride": stride, "car": by["car"], "motorcycle": by["motorcycle"],
                   "other": len(events) - by["car"] - by["motorcycle"], "precision": round(m.precision, 3),
                   "recall": round(m.recall, 3), "class_agrees": sum(truth[a].vehicle_class == events[b].vehicle_class
                                                                     for a, b in m.pairs)}
            rows.append(row)
            print(f"| {name} | {meta['detect_ms_per_frame']} ({meta['loadavg_1min_at_start']}) | {stride} | "
                  f"{row['car']} | {row['motorcycle']} | {row['other']} | {row['precision']:.2f} | "
                  f"{row['recall']:.2f} |", flush=True)
        out["options"][name] = {"what": what, "record": meta, "strides": rows}
    return out
