"""Camera-to-counts benchmark on the shared real clips: counts beside the reference, speed, sliced cost.

Run from the repository root (with the ``detect`` extra installed)::

    python benchmarks/detection.py                      # every clip, 3 repeats, JSON to out/benchmarks/
    python benchmarks/detection.py --repeats 1 --clips freeway_overpass_1280x720_15s.mp4
    python benchmarks/detection.py --stride-check      # counts at strides 1-4, event by event, every clip
    python benchmarks/detection.py --motorbike-options # detector options on the motorbike clip vs its manual count
    (these two write benchmarks/results/detection_strides.json and detection_motorbikes.json)

For each clip it counts on the reference pipeline's line at stride 1 and at the automatic stride,
printing IN/OUT beside the reference counts (not ground truth), wall ms per source frame (decode +
detect + track + count, median of the repeats) and the real-time factor. On the freeway clip it
matches the IN events one to one against the manual ground truth. It then measures the sliced
mode on the motorbike clip's frame 250. GPU figures are only measured where CUDA is present.
``--event-frames DIR`` writes an annotated PNG crop around every count event, for checking by eye.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and Path(sys.path[0]).resolve() == REPO / "benchmarks":
    # run as a script, this file's folder heads sys.path and its name would shadow the package
    sys.path[0] = str(REPO)

from detection.config import CameraConfig, make_line  # noqa: E402
from detection.counting import Direction  # noqa: E402
from detection.pipeline import CountingPipeline, PipelineSettings, auto_stride, build_counters  # noqa: E402
from detection.sources import VideoFileSource  # noqa: E402

CLIPS = ["freeway_overpass_1280x720_15s.mp4", "intersection_eu_640x480_20s.mp4",
         "asia_arterial_motorbikes_1024x576_20s.mp4", "istanbul_highway_cctv_320x240_20s.wmv",
         "motorway_cctv_eu_320x240_20s.mp4"]
GT_TOLERANCE_FRAMES = 15


def main(argv: list[str] | None = None) -> int:
    shared = Path(os.environ.get("GREENWAVE_SHARED", REPO.parent / "shared"))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--real", type=Path, default=shared / "data" / "real", help="folder of the shared real clips")
    p.add_argument("--model", type=Path, default=None, help="model (default: the shared yolo11n_int8.tflite)")
    p.add_argument("--repeats", type=int, default=3, help="runs per clip and stride; medians are reported")
    p.add_argument("--clips", nargs="+", default=CLIPS, help="clip file names")
    p.add_argument("--out", type=Path, default=REPO / "out" / "benchmarks" / "detection.json")
    p.add_argument("--event-frames", type=Path, default=None, metavar="DIR",
                   help="write an annotated PNG crop around each count event (auto stride run)")
    p.add_argument("--stride-check", action="store_true",
                   help="only: record each clip's detections once (cached), replay tracking and counting at "
                        "strides 1-4 and compare every stride's events with stride 1's")
    p.add_argument("--motorbike-options", action="store_true",
                   help="only: detector options on the motorbike clip against its manual count, per stride")
    p.add_argument("--trackers", default="motion,bytetrack", help="trackers compared by --stride-check")
    args = p.parse_args(argv)
    model = args.model or args.real / "yolo11n_int8.tflite"
    if not model.is_file():
        print(f"model not found: {model} (set GREENWAVE_SHARED or --real)", file=sys.stderr)
        return 2
    if args.stride_check or args.motorbike_options:
        from benchmarks._detection_strides import motorbike_options, stride_check

        out = REPO / "benchmarks" / "results" / ("detection_strides.json" if args.stride_check
                                                 else "detection_motorbikes.json")
        doc = (stride_check(args.real, model, args.clips, args.trackers.split(",")) if args.stride_check
               else motorbike_options(args.real, model))
        doc["machine"] = machine()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=1))
        print(f"\nwrote {out}")
        return 0

    from detection.detector import YoloDetector

    reference = json.loads((args.real / "reference_counts_yolo11n_int8.json").read_text())["clips"]
    detector = YoloDetector(model)
    result: dict[str, Any] = {"machine": machine(), "model": model.name, "repeats": args.repeats, "clips": {}}
    for name in args.clips:
        result["clips"][name] = bench_clip(args.real / name, reference[name], detector, args.repeats,
                                           args.event_frames)
        print_clip(name, result["clips"][name])
    result["sliced"] = bench_sliced(args.real / "asia_arterial_motorbikes_1024x576_20s.mp4", detector)
    result["gpu"] = gpu_note()
    print_summary(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.out}")
    return 0


def machine() -> dict[str, Any]:
    import platform

    return {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "loadavg_start": [round(x, 2) for x in os.getloadavg()]}


def camera_for(ref: dict[str, Any]) -> CameraConfig:
    (x1, y1), (x2, y2) = ref["count_line_xy"]
    return CameraConfig("bench", (make_line("line", (x1, y1), (x2, y2)),))


def bench_clip(path: Path, ref: dict[str, Any], detector: Any, repeats: int, event_dir: Path | None) -> dict:
    camera = camera_for(ref)
    stride_auto = auto_stride(VideoFileSource(path), detector, camera)
    out: dict[str, Any] = {"line": ref["count_line_xy"], "auto_stride": stride_auto,
                           "reference": {"in": ref["object_counter"]["in"], "out": ref["object_counter"]["out"],
                                         "by_class": ref["object_counter"]["classwise"]}}
    for label, stride in (("stride1", 1), ("auto", stride_auto)):
        runs = []
        for _ in range(repeats):
            load = os.getloadavg()[0]
            run = CountingPipeline(camera, detector, PipelineSettings(stride=stride)).run(VideoFileSource(path))
            runs.append((run, load))
        run = runs[0][0]
        (total,) = run.line_totals(camera)
        counts = {(t.in_count, t.out_count) for t in (r.line_totals(camera)[0] for r, _ in runs)}
        out[label] = {
            "stride": stride, "frames": run.frames_read, "fps": run.fps,
            "in": total.in_count, "out": total.out_count, "by_class": total.by_class,
            "counts_same_every_repeat": len(counts) == 1,
            "ms_per_frame_median": round(statistics.median(r.ms_per_frame for r, _ in runs), 1),
            "ms_per_frame_runs": [round(r.ms_per_frame, 1) for r, _ in runs],
            "realtime_factor_median": round(statistics.median(r.realtime_factor for r, _ in runs), 2),
            "loadavg_1min_at_start": [round(x, 2) for _, x in runs],
            "health": run.health.to_dict(),
            "events": [[e.frame_index, str(e.direction), e.vehicle_class, e.track_id] for e in run.events],
        }
    if path.name.startswith("freeway"):
        for label in ("stride1", "auto"):
            frames = [f for f, d, _, _ in out[label]["events"] if d == str(Direction.IN)]
            out[label]["ground_truth"] = match_ground_truth(frames, path.with_name(
                "freeway_overpass_1280x720_15s.manual_gt.csv"))
    if event_dir is not None:
        write_event_crops(path, camera, detector, stride_auto, event_dir / path.stem)
    return out


def match_ground_truth(frames: list[int], gt_csv: Path) -> dict[str, Any]:
    """One-to-one match of IN events to the manual crossing windows; frames off per matched pair."""
    from scipy.optimize import linear_sum_assignment

    with gt_csv.open() as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    windows = [tuple(int(v) for v in r["cross_frame_window"].split("-")) for r in rows]
    cost = np.array([[max(0, a - f, f - b) for (a, b) in windows] for f in frames], float).reshape(len(frames), -1)
    r, c = linear_sum_assignment(cost)
    ok = cost[r, c] <= GT_TOLERANCE_FRAMES
    return {"gt": len(windows), "events": len(frames), "matched_within_tolerance": int(ok.sum()),
            "max_frames_outside_window": int(cost[r, c].max()) if len(r) else None,
            "unmatched_gt": [windows[i] for i in sorted(set(range(len(windows))) - set(c[ok].tolist()))]}


def bench_sliced(path: Path, detector: Any) -> dict[str, Any]:
    """Motorcycles found on frame 250 and ms per frame: whole frame, the pipeline's region crop, sliced."""
    import cv2

    from detection.region import RegionDetector
    from detection.slicing import SlicedDetector

    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 250)
    _, frame = cap.read()
    cap.release()
    camera = CameraConfig("asia", (make_line("line", (320, 430), (740, 430)),))
    variants = {"whole_frame_640": detector, "region_crop": RegionDetector(detector, camera),
                "sliced_320_whole_frame": SlicedDetector(detector, tile_px=320),
                "sliced_320_region": RegionDetector(SlicedDetector(detector, tile_px=320), camera)}
    out = {}
    for name, det in variants.items():
        times = []
        for _ in range(5):
            t = time.perf_counter()
            found = det.detect([frame])[0]
            times.append(1000 * (time.perf_counter() - t))
        keep = found.confidence >= 0.25
        names = np.array(found.class_names())[keep]
        out[name] = {"motorcycles_conf_ge_0.25": int(np.sum(names == "motorcycle")),
                     "cars_conf_ge_0.25": int(np.sum(names == "car")),
                     "ms_per_frame_median": round(statistics.median(times[1:]), 1)}
    return out


def gpu_note() -> dict[str, Any]:
    try:
        import torch

        if torch.cuda.is_available():
            return {"skipped": True, "why": "CUDA present but GPU figures are not part of this script yet "
                    f"({torch.cuda.get_device_name(0)})"}
    except ImportError:
        pass
    return {"skipped": True, "why": "no CUDA device on this host (torch.cuda.is_available() is False); the "
            "TFLite INT8 model runs on the CPU through LiteRT/XNNPACK in any case"}


def write_event_crops(path: Path, camera: CameraConfig, detector: Any, stride: int, folder: Path) -> None:
    """An annotated crop (600 x 300 px around the event) of the frame of each count event."""
    import cv2

    from detection.annotate import draw_overlay
    from detection.tracking import VehicleTracker

    folder.mkdir(parents=True, exist_ok=True)
    pipe = CountingPipeline(camera, detector, PipelineSettings(stride=stride))
    src = VideoFileSource(path)
    tracker = VehicleTracker(frame_rate_hz=src.fps / stride)
    counters = build_counters(camera)
    for frame in src.frames(stride):
        tracks = tracker.update(pipe.detector.detect([frame.image])[0], frame.image)
        for c in counters:
            for e in c.update(tracks, frame.index, frame.timestamp_s):
                i = int(np.flatnonzero(tracks.track_id == e.track_id)[0])
                x = int(tracks.xyxy_px[i, [0, 2]].mean())
                y = int(tracks.xyxy_px[i, [1, 3]].mean())
                img = draw_overlay(frame.image, tracks, camera, {})
                h, w = img.shape[:2]
                x0, y0 = max(0, min(w - 600, x - 300)), max(0, min(h - 300, y - 150))
                crop = img[y0:y0 + 300, x0:x0 + 600]
                cv2.imwrite(str(folder / f"f{frame.index:04d}_{e.direction}_id{e.track_id}.png"), crop)


def print_clip(name: str, r: dict[str, Any]) -> None:
    ref = r["reference"]
    print(f"\n{name}: line {r['line']}, auto stride {r['auto_stride']}; reference IN/OUT {ref['in']}/{ref['out']}")
    for label in ("stride1", "auto"):
        x = r[label]
        gt = x.get("ground_truth")
        gt_text = f", GT {gt['matched_within_tolerance']}/{gt['gt']} matched" if gt else ""
        print(f"  {label:8s} stride {x['stride']}: IN/OUT {x['in']}/{x['out']} {x['by_class']}  "
              f"{x['ms_per_frame_median']} ms/frame ({x['realtime_factor_median']}x real time){gt_text}")


def print_summary(result: dict[str, Any]) -> None:
    print("\n| clip | frames | fps | reference IN/OUT | ours IN/OUT (stride 1) | ms/frame stride 1 | RT stride 1 "
          "| auto stride | ours IN/OUT (auto) | ms/frame auto | RT auto |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in result["clips"].items():
        a, b, ref = r["stride1"], r["auto"], r["reference"]
        print(f"| {name} | {a['frames']} | {a['fps']:.2f} | {ref['in']}/{ref['out']} | {a['in']}/{a['out']} | "
              f"{a['ms_per_frame_median']} | {a['realtime_factor_median']}x | {b['stride']} | {b['in']}/{b['out']} | "
              f"{b['ms_per_frame_median']} | {b['realtime_factor_median']}x |")
    print("\nsliced mode, asia frame 250 (conf >= 0.25):")
    for name, s in result["sliced"].items():
        print(f"  {name:24s} motorcycles {s['motorcycles_conf_ge_0.25']:2d}, cars {s['cars_conf_ge_0.25']:2d}, "
              f"{s['ms_per_frame_median']} ms/frame")
    print(f"\nGPU: skipped: {result['gpu']['why']}")
    print(f"load average at start {result['machine']['loadavg_start']}, end {[round(x, 2) for x in os.getloadavg()]}")


if __name__ == "__main__":
    sys.exit(main())
