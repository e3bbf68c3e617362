"""Many cameras in one worker process, with and without batched inference (``greenwave count-cameras``).

Run from the repository root (with the ``detect`` extra installed)::

    python benchmarks/fleet_batching.py                 # 4 cameras of the freeway clip, --device auto
    python benchmarks/fleet_batching.py --cameras 8 --frames 150 --device cuda

What a ``count-cameras`` worker process does with N cameras, timed three ways on the same frames:

- ``own``: every camera has a detector of its own (N model loads) and calls it with its own frames,
  8 per call: ``count-cameras`` without batching;
- ``batched (file)``: one shared ``MultiCameraDetector`` behind a ``BatchingFront``; each camera
  passes up to a batch of its frames per call (what ``count-cameras --batch-size`` does for files);
- ``batched (live)``: the same, each camera passing one frame at a time, so calls fill with frames
  of several cameras (what it does for live streams).

The cameras watch the freeway clip through count lines 10 px apart (different region crops of one
size, so their frames may share a call). Every camera runs the project's ``CountingPipeline``
(decode, region crop, detect, track, count) in its own thread, all at once, as Dask worker threads
run them; Dask itself adds nothing per frame and is left out. Model loads and a warm-up call are
not timed. Each camera's count events (line, direction, class, frame, track id) in every pass
are compared with its events in the first pass without batching.

The model is the shipped TFLite detector converted to PyTorch (``detection.convert``; cached in
``benchmarks/.cache``): the TFLite export cannot batch. Prints a table and writes JSON
(default ``benchmarks/results/fleet_batching.json``); modes run alternately ``--repeats`` times and
the fastest pass counts (the machine may be shared). Without CUDA it measures the CPU only and says
that no GPU figure was measured.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and Path(sys.path[0]).resolve() == REPO / "benchmarks":
    sys.path[0] = str(REPO)  # run as a script: this folder would shadow the project's packages

from benchmarks.gpu import REAL, cpu_name, cuda_status, shown  # noqa: E402
from detection.batching import BatchingFront, BatchSettings  # noqa: E402
from detection.config import CameraConfig, make_line  # noqa: E402

MODES = ("own", "batched (file)", "batched (live)")
FREEWAY_LINE = ((250, 450), (850, 450))


def main(argv: list[str] | None = None) -> int:
    from traffic.errors import TrafficError

    args = parse_args(argv)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    cuda_ok, cuda_why = cuda_status()
    if args.device == "cuda" and not cuda_ok:
        print(f"fleet_batching.py: error: --device cuda, but {cuda_why}", file=sys.stderr)
        return 2
    device = "cuda:0" if cuda_ok and args.device != "cpu" else "cpu"
    try:
        result = run(args, device, cuda_why if not cuda_ok else None)
    except TrafficError as exc:
        print(f"fleet_batching.py: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print_report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": "python benchmarks/fleet_batching.py " + " ".join(argv or sys.argv[1:]),
                                    **result}, indent=1))
    print(f"\nwrote {shown(args.out)}")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cameras", type=int, default=4, help="cameras in the worker process (default 4)")
    p.add_argument("--frames", type=int, default=90, help="source frames per camera (default 90, 3 s of the clip)")
    p.add_argument("--stride", type=int, default=1, help="process every stride-th frame (default 1)")
    p.add_argument("--batch-size", type=int, default=8, help="frames per call of the shared detector (default 8)")
    p.add_argument("--max-wait-ms", type=float, default=20.0, help="longest wait to fill a batch (default 20)")
    p.add_argument("--repeats", type=int, default=2, help="passes per mode, alternating; the fastest counts")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    p.add_argument("--torch-threads", type=int, default=None,
                   help="torch CPU threads, set after the warm-up in every mode (default: Ultralytics' choice, "
                        "CPU cores - 1)")
    p.add_argument("--video", type=Path, default=REAL / "freeway_overpass_1280x720_15s.mp4")
    p.add_argument("--tflite", type=Path, default=REAL / "yolo11n_int8.tflite", help="converted to .pt once")
    p.add_argument("--cache", type=Path, default=REPO / "benchmarks" / ".cache")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "fleet_batching.json")
    args = p.parse_args(argv)
    if args.torch_threads is not None and args.torch_threads < 1:
        p.error("--torch-threads must be >= 1")
    for name in ("cameras", "frames", "stride", "batch_size", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    try:
        BatchSettings(args.batch_size, args.max_wait_ms)
    except ValueError as exc:
        p.error(str(exc))
    return args


def run(args: argparse.Namespace, device: str, no_gpu_why: str | None) -> dict[str, Any]:
    import torch

    from detection.convert import convert_tflite

    load_start = [round(x, 2) for x in os.getloadavg()]
    pt = Path(convert_tflite(args.tflite, args.cache / "yolo11n_from_tflite.pt").out_path)
    cameras = [CameraConfig(f"cam-{k}", (make_line("south", (FREEWAY_LINE[0][0] + 10 * k, FREEWAY_LINE[0][1]),
                                                   (FREEWAY_LINE[1][0] + 10 * k, FREEWAY_LINE[1][1])),))
               for k in range(args.cameras)]
    settings = BatchSettings(args.batch_size, args.max_wait_ms)
    passes: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    for rep in range(args.repeats):
        for mode in MODES:
            r = run_mode(mode, pt, cameras, args, settings, device)
            print(f"  pass {rep + 1} {mode:15s} {r['frames_per_s']:7.1f} frames/s", file=sys.stderr)
            passes[mode].append(r)
    best = {m: min(rs, key=lambda r: r["wall_s"]) for m, rs in passes.items()}
    base = best["own"]
    rows = []
    for mode in MODES:
        r = dict(best[mode])
        events = r.pop("events")
        # every pass of every mode (batch compositions differ from pass to pass) against own's first pass
        r["counts_equal_to_own"] = all(p["events"] == passes["own"][0]["events"] for p in passes[mode])
        r["vehicles_per_camera"] = [len(e) for e in events]
        r["speedup_vs_own"] = round(r["frames_per_s"] / base["frames_per_s"], 2)
        r["all_passes_frames_per_s"] = [p["frames_per_s"] for p in passes[mode]]
        rows.append(r)
    return {"environment": {"device": device, "device_name": torch.cuda.get_device_name(0) if device != "cpu"
                            else cpu_name(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                            "cpus": os.cpu_count(), "loadavg_start": load_start,
                            "loadavg_end": [round(x, 2) for x in os.getloadavg()]},
            "gpu": "measured" if device != "cpu" else f"NOT MEASURED: {no_gpu_why or 'run with --device cpu'}",
            "model": f"{shown(args.tflite)} converted to PyTorch ({pt.name})", "video": shown(args.video),
            "torch_threads_set": args.torch_threads,
            "cameras": args.cameras, "frames_per_camera": args.frames, "stride": args.stride,
            "batch": {"size": settings.size, "max_wait_ms": settings.max_wait_ms}, "rows": rows}


def run_mode(mode: str, pt: Path, cameras: list[CameraConfig], args: argparse.Namespace, settings: BatchSettings,
             device: str) -> dict[str, Any]:
    """All cameras at once, each in its own thread; wall time from start to the last camera's end."""
    from detection.batched import MultiCameraDetector
    from detection.detector import YoloDetector

    warm = [_first_crop(args.video, cam) for cam in cameras]
    front = None
    if mode == "own":
        detectors: list[Any] = [YoloDetector(pt, device=device) for _ in cameras]
        for det, crop in zip(detectors, warm, strict=True):
            det.detect([crop])
        loads = len(cameras)
    else:
        shared = MultiCameraDetector(pt, settings.size, device=device)
        shared.detect(warm[:1])
        front = BatchingFront(shared, settings)
        per_call = 1 if mode == "batched (live)" else None
        detectors = [front.client(cam.camera_id, per_call) for cam in cameras]
        loads = 1
    if args.torch_threads is not None:  # Ultralytics sets cores - 1 when a predictor is set up (the warm-up)
        import torch

        torch.set_num_threads(args.torch_threads)
    events: list[list[tuple[Any, ...]]] = [[] for _ in cameras]
    processed = [0] * len(cameras)
    errors: list[BaseException] = []

    def camera(k: int) -> None:
        try:
            run = _pipeline(cameras[k], detectors[k], args).run(_source(args.video))
            events[k] = [(e.counter, str(e.direction), e.vehicle_class, e.frame_index, e.track_id)
                         for e in run.events]
            processed[k] = run.frames_processed
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=camera, args=(k,)) for k in range(len(cameras))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall_s = time.perf_counter() - t0
    if front is not None:
        front.close()
    if errors:
        raise errors[0]
    stats = front.stats() if front is not None else None
    frames = sum(processed)
    return {"mode": mode, "model_loads": loads, "frames": frames, "wall_s": round(wall_s, 2),
            "frames_per_s": round(frames / wall_s, 1),
            "per_camera_frames_per_s": round(frames / wall_s / len(cameras), 1),
            "calls": stats.calls if stats else None,
            "frames_per_call": round(stats.frames_per_call, 2) if stats else None,
            "mixed_calls": stats.mixed_calls if stats else None, "events": events}


def _pipeline(camera: CameraConfig, detector: Any, args: argparse.Namespace) -> Any:
    from detection.pipeline import CountingPipeline, PipelineSettings

    return CountingPipeline(camera, detector, PipelineSettings(stride=args.stride, max_frames=args.frames))


def _source(video: Path) -> Any:
    from detection.sources import VideoFileSource

    return VideoFileSource(video)


def _first_crop(video: Path, camera: CameraConfig) -> Any:
    from detection.region import auto_region
    from detection.sources import Frame

    frame = next(f for f in _source(video).frames() if isinstance(f, Frame))
    h, w = frame.image.shape[:2]
    x1, y1, x2, y2 = auto_region(camera, (w, h))
    return frame.image[y1:y2, x1:x2]


def print_report(r: dict[str, Any]) -> None:
    env = r["environment"]
    print(f"\n{r['cameras']} cameras x {r['frames_per_camera']} frames of {r['video']} (stride {r['stride']}), "
          f"{r['model']}, on {env['device']} ({env['device_name']}, torch {env['torch']}, "
          f"{env['torch_threads']} torch threads, {env['cpus']} CPUs, 1-min load {env['loadavg_start'][0]} at start, "
          f"{env['loadavg_end'][0]} at end)")
    print(f"batch: up to {r['batch']['size']} frames per call, max wait {r['batch']['max_wait_ms']:g} ms; "
          f"GPU: {r['gpu']}\n")
    head = (f"{'mode':16s} {'loads':>5s} {'frames':>6s} {'wall s':>7s} {'frames/s':>9s} {'per cam':>8s} "
            f"{'x own':>6s} {'calls':>6s} {'fr/call':>7s} {'mixed':>6s}  counts = own")
    print(head)
    print("-" * len(head))
    def cell(row: dict[str, Any], key: str, width: int) -> str:
        return f"{'-' if row[key] is None else row[key]!s:>{width}s}"

    for row in r["rows"]:
        print(f"{row['mode']:16s} {row['model_loads']:5d} {row['frames']:6d} {row['wall_s']:7.2f} "
              f"{row['frames_per_s']:9.1f} {row['per_camera_frames_per_s']:8.1f} {row['speedup_vs_own']:6.2f} "
              f"{cell(row, 'calls', 6)} {cell(row, 'frames_per_call', 7)} {cell(row, 'mixed_calls', 6)}  "
              f"{'yes' if row['counts_equal_to_own'] else 'NO'} {row['vehicles_per_camera']}")


if __name__ == "__main__":
    sys.exit(main())
