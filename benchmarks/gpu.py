"""GPU benchmarks: detector throughput, camera streams per device, device memory, simulator runs per hour.

Run from the repository root (with the ``detect`` extra installed)::

    python benchmarks/gpu.py                      # --device auto: CUDA when present, else the CPU parts
    python benchmarks/gpu.py --device cuda        # on an NVIDIA host (exits 2 when CUDA is missing)
    python benchmarks/gpu.py --quick --device cpu # a smoke run of the harness (~1 min on 2 cores)

The shipped detector is an INT8 TFLite file that only LiteRT (CPU) runs. The GPU runs the same
network as an Ultralytics PyTorch checkpoint converted from it (``detection.convert``: the
dequantised TFLite weights in YOLO11n); without the TFLite file or ai-edge-litert, a YOLO11n with
random weights stands in and every row says "random weights (speed only)".

Measured, per model and device:

- throughput (frames/s) by batch size and input size on real 1280x720 frames, one
  ``MultiCameraDetector`` call per batch (``detection.batched``: exports with a fixed batch of 1
  fall back to one frame per call, and the row says so); device memory per configuration
  (``torch.cuda.max_memory_allocated`` on a GPU; the process's resident memory on the CPU);
- end to end on the 720p freeway clip with the project's ``CountingPipeline`` (decode with
  OpenCV, region crop, detect, track, count), split into detection and host time per frame, and
  the number of 30-fps 720p streams one device sustains, derived from those per-frame costs;
- with ``--check-counts`` (default without ``--quick``): the converted model's counts on the
  freeway clip beside the TFLite model's, and their per-frame box agreement;
- runs per hour of ``simulation.runner.simulate`` on a built-in scenario, per core (the
  simulator is CPU code: a GPU does not change it; a sweep scales with cores).

On a host without CUDA (or with ``--device cpu``) every GPU measurement is listed as skipped,
with the reason, in the output and in the JSON (``skipped``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and Path(sys.path[0]).resolve() == REPO / "benchmarks":
    sys.path[0] = str(REPO)  # run as a script: this folder would shadow the project's packages

from detection.config import CameraConfig, make_line  # noqa: E402

SHARED = Path(os.environ.get("GREENWAVE_SHARED", REPO.parent / "shared"))
REAL = SHARED / "data" / "real"
STREAM_FPS = 30.0
FREEWAY_LINE = ((250, 450), (850, 450))  # the freeway clip's count line (MANIFEST.md, tests)


def main(argv: list[str] | None = None) -> int:
    from traffic.errors import TrafficError

    args = parse_args(argv)
    try:
        return run(args)
    except TrafficError as exc:  # a model, clip or scenario that cannot be used: one line, exit 2
        print(f"gpu.py: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("YOLO_OFFLINE", "1")  # read when Ultralytics is first imported: no network checks
    os.environ.setdefault("YOLO_VERBOSE", "False")
    cuda_ok, cuda_why = cuda_status()
    if args.device == "cuda" and not cuda_ok:
        print(f"gpu.py: error: --device cuda, but {cuda_why}", file=sys.stderr)
        return 2
    if args.model is not None and (args.model.suffix != ".pt" or not args.model.is_file()):
        print(f"gpu.py: error: --model {args.model}: expected an existing PyTorch .pt file", file=sys.stderr)
        return 2
    device = "cuda:0" if args.device == "cuda" or (args.device == "auto" and cuda_ok) else "cpu"
    gpu_skip = None if device.startswith("cuda") else ("--device cpu" if args.device == "cpu" else cuda_why)
    from traffic.scenario_io import load_scenario

    scenario = load_scenario(args.scenario)  # a bad name fails here, before minutes of measuring
    q = args.quick
    batches = args.batch_sizes or ([1, 4] if q else [1, 4, 8, 16])
    sizes = args.imgsz or ([320] if q else [320, 640])
    n_frames = args.frames or (8 if q else 48)
    repeats = args.repeats or (1 if q else 3)
    e2e_frames = args.e2e_frames or (30 if q else 450)
    check_counts = (not q) if args.check_counts is None else args.check_counts

    result: dict[str, Any] = {"environment": environment(device), "device_requested": args.device,
                              "device": device, "quick": q, "skipped": []}
    models = prepare_models(args)
    result["models"] = {k: {**v, "path": shown(v["path"])} | (
        {"conversion": {**v["conversion"], "out_path": shown(Path(v["conversion"]["out_path"]))}}
        if "conversion" in v else {}) for k, v in models.items()}
    frames, frames_from = read_frames(args.video, n_frames)
    runs = [(name, device) for name in models if name == "pt"] + \
           ([("tflite", "cpu")] if "tflite" in models else []) + \
           ([("pt", "cpu")] if device.startswith("cuda") and "pt" in models else [])
    if gpu_skip:
        for what in ("GPU throughput by batch size and input size", "GPU memory (torch.cuda.max_memory_allocated)",
                     "30-fps 720p streams per GPU (end to end)"):
            result["skipped"].append({"what": what, "why": gpu_skip})
    result["throughput"] = [row for name, dev in runs
                            for row in sweep(models[name], dev, batches, sizes, frames, frames_from, repeats)]
    add_ratios(result["throughput"])
    result["end_to_end"] = [end_to_end(models[name], dev, args.video, e2e_frames) for name, dev in runs
                            if args.video.is_file()]
    if not args.video.is_file():
        result["skipped"].append({"what": "end to end and streams", "why": f"clip not found: {args.video}"})
    if check_counts:
        result["count_check"] = count_check(models, device, args.video)
    result["simulation"] = sim_runs_per_hour(scenario, args.scenario, args.sim_seeds or (2 if q else 5))
    print_report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str))
    print(f"\nwrote {args.out}")
    return 0


def shown(path: Path) -> str:
    """A path for the results file without this machine's folders: repository-relative or ``../shared/...``."""
    p = path.resolve()
    for root, label in ((REPO, ""), (SHARED.resolve(), "../shared/")):
        if p.is_relative_to(root):
            return label + str(p.relative_to(root))
    return path.name


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                   help="auto: CUDA when torch sees a device, else CPU (GPU parts skipped)")
    p.add_argument("--quick", action="store_true", help="few frames, batch sizes 1 and 4, input 320, no count check")
    p.add_argument("--model", type=Path, default=None,
                   help="a PyTorch .pt to time instead of converting the shipped TFLite model")
    p.add_argument("--tflite", type=Path, default=REAL / "yolo11n_int8.tflite", help="the shipped INT8 detector")
    p.add_argument("--video", type=Path, default=REAL / "freeway_overpass_1280x720_15s.mp4",
                   help="a 1280x720 clip (default: the shared freeway clip, 29.97 fps)")
    p.add_argument("--batch-sizes", type=_int_list, default=None, metavar="1,4,8,16")
    p.add_argument("--imgsz", type=_int_list, default=None, metavar="320,640", help="input sizes (PyTorch models)")
    p.add_argument("--frames", type=_positive, default=None, help="frames per throughput pass (default 48, quick 8)")
    p.add_argument("--repeats", type=_positive, default=None, help="timed passes per configuration, median (default 3)")
    p.add_argument("--e2e-frames", type=_positive, default=None, help="clip frames end to end (default 450)")
    p.add_argument("--check-counts", action=argparse.BooleanOptionalAction, default=None,
                   help="count the freeway clip with the TFLite and the converted model (default: on unless --quick)")
    p.add_argument("--scenario", default="arterial", help="built-in scenario (or path) timed for runs per hour")
    p.add_argument("--sim-seeds", type=_positive, default=None, help="seeds timed (default 5, quick 2)")
    p.add_argument("--cache", type=Path, default=REPO / "benchmarks" / ".cache", help="where the converted .pt goes")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "gpu.json")
    return p.parse_args(argv)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer")
    return value


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected integers separated by commas") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: values must be >= 1")
    return values


def cuda_status() -> tuple[bool, str]:
    """(True, device name) when torch sees a CUDA device, else (False, why not)."""
    try:
        import torch
    except ImportError:
        return False, "torch is not installed (pip install -e '.[detect]')"
    if not torch.cuda.is_available():
        return False, (f"no CUDA device: torch.cuda.is_available() is False (torch {torch.__version__}, "
                       f"built with CUDA {torch.version.cuda or 'none'})")
    return True, torch.cuda.get_device_name(0)


def environment(device: str) -> dict[str, Any]:
    """Device name, driver, CUDA and library versions ("none" where absent), cores and load."""
    import torch

    env: dict[str, Any] = {"device_name": cpu_name(), "driver": "none", "cuda": "none", "torch": torch.__version__,
                           "torch_built_with_cuda": torch.version.cuda or "none",
                           "ultralytics": _version("ultralytics"), "ai_edge_litert": _version("ai_edge_litert"),
                           "opencv": _version("cv2"), "python": platform.python_version(), "cpus": os.cpu_count(),
                           "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        env.update(device_name=props.name, gpu_memory_gb=round(props.total_memory / 2**30, 1),
                   cuda=torch.version.cuda or "none", compute_capability=f"{props.major}.{props.minor}",
                   driver=nvidia_driver(), cudnn=str(torch.backends.cudnn.version()), host_cpu=cpu_name())
    return env


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def nvidia_driver() -> str:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return "none (nvidia-smi not found)"
    out = subprocess.run([exe, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True,
                         text=True, check=False)
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else "none"


def _version(module: str) -> str:
    try:
        mod = __import__(module)
    except ImportError:
        return "none"
    if module == "ai_edge_litert":
        from importlib.metadata import version

        return version("ai-edge-litert")
    return str(getattr(mod, "__version__", "unknown"))


def prepare_models(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """``pt``: the given .pt, or the TFLite model converted, or random weights; ``tflite`` when present."""
    models: dict[str, dict[str, Any]] = {}
    have_tflite = args.tflite.is_file() and _version("ai_edge_litert") != "none"
    if args.model is not None:
        models["pt"] = {"path": args.model, "weights": f"as given ({args.model.name})"}
    elif have_tflite:
        from detection.convert import convert_tflite

        report = convert_tflite(args.tflite, args.cache / "yolo11n_from_tflite.pt")
        models["pt"] = {"path": Path(report.out_path), "weights": f"dequantised from {args.tflite.name}",
                        "conversion": report.to_dict()}
    else:
        models["pt"] = {"path": random_weights_model(args.cache / "yolo11n_random.pt"),
                        "weights": "random weights (speed only)",
                        "why": f"no {args.tflite} or no ai-edge-litert to convert it"}
    if have_tflite:
        models["tflite"] = {"path": args.tflite, "weights": "INT8 TFLite (LiteRT, CPU only)"}
    return models


def random_weights_model(path: Path) -> Path:
    """YOLO11n built from Ultralytics' yaml with random weights: same architecture and cost, no detections."""
    import torch
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils import YAML

    names = YAML.load(Path(__import__("ultralytics").__file__).parent / "cfg" / "datasets" / "coco.yaml")["names"]
    model = DetectionModel("yolo11n.yaml", nc=len(names), verbose=False).eval()
    model.names = dict(names)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "train_args": {"imgsz": 640, "task": "detect"}}, path)
    return path


def read_frames(video: Path, n: int) -> tuple[list[np.ndarray], str]:
    """``n`` frames of the clip (repeated if short), or seeded noise frames of 1280x720 without it."""
    import cv2

    frames: list[np.ndarray] = []
    cap = cv2.VideoCapture(str(video))
    while len(frames) < n:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    if frames:
        return [frames[i % len(frames)] for i in range(n)], f"{video.name} ({frames[0].shape[1]}x{frames[0].shape[0]})"
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (720, 1280, 3), np.uint8) for _ in range(n)], "synthetic noise 1280x720"


def memory_mb(device: str) -> tuple[str, float]:
    """Peak CUDA memory allocated by tensors since the last reset, or this process's resident memory now."""
    if device.startswith("cuda"):
        import torch

        return "cuda_max_allocated", torch.cuda.max_memory_allocated() / 2**20
    with open("/proc/self/statm") as f:
        return "process_rss", int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def sweep(model: dict[str, Any], device: str, batches: list[int], sizes: list[int], frames: list[np.ndarray],
          frames_from: str, repeats: int) -> list[dict[str, Any]]:
    """Frames/s (median of ``repeats`` passes over ``frames``) and memory per input size and batch size.

    Exports run at their own fixed input size only.
    """
    from detection.batched import MultiCameraDetector

    path = model["path"]
    rows = []
    for imgsz in (sizes if path.suffix == ".pt" else [640]):
        for b in batches:
            _reset_cuda_peak(device)
            det = MultiCameraDetector(path, b, device=device, imgsz_px=imgsz)
            det.detect(frames[:det.batch_size])  # warm-up: first-call allocations, cuDNN autotuning
            load = os.getloadavg()[0]
            walls = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                for i in range(0, len(frames), b):
                    det.detect(frames[i:i + b])
                walls.append(time.perf_counter() - t0)
            wall = statistics.median(walls)
            kind, mb = memory_mb(device)
            rows.append({"model": path.name, "weights": model["weights"], "device": device, "imgsz_px": imgsz,
                         "network_input": network_input(path, imgsz, frames[0].shape[:2]),
                         "batch": b, "batch_used": det.batch_size, "calls": det.calls_for(len(frames)),
                         "frames": len(frames), "frames_from": frames_from, "repeats": repeats,
                         "frames_per_s": round(len(frames) / wall, 2),
                         "frames_per_s_runs": [round(len(frames) / w, 2) for w in walls],
                         "ms_per_frame": round(1000 * wall / len(frames), 2),
                         "memory_kind": kind, "memory_mb": round(mb, 1), "note": det.note,
                         "loadavg_1min": round(load, 2)})
            del det
    return rows


def network_input(path: Path, imgsz: int, frame_hw: tuple[int, ...]) -> str:
    """``WxH`` the network sees: PyTorch models letterbox to a stride-32 rectangle, exports to their square."""
    if path.suffix != ".pt":
        return f"{imgsz}x{imgsz}"
    h, w = frame_hw
    r = imgsz / max(h, w)
    return f"{math.ceil(round(w * r) / 32) * 32}x{math.ceil(round(h * r) / 32) * 32}"


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Each row's frames/s over the TFLite model's at batch 1 in the same run (shared machines: compare ratios)."""
    base = next((r["frames_per_s"] for r in rows if r["model"].endswith(".tflite") and r["batch"] == 1), None)
    for r in rows:
        r["vs_tflite_batch1"] = round(r["frames_per_s"] / base, 2) if base else None


def _reset_cuda_peak(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def end_to_end(model: dict[str, Any], device: str, video: Path, max_frames: int) -> dict[str, Any]:
    """The counting pipeline on the clip at stride 1: per-frame detection and host time, streams per device.

    Streams: on a GPU, detection runs on the device and decode + tracking + counting on the host's cores,
    one stream per core at a time, so ``min(GPU-bound, host-bound)``; on the CPU everything shares the cores
    (LiteRT and torch use all of them), so one process's real-time factor is the number of streams.
    """
    from detection.batched import MultiCameraDetector
    from detection.model_agreement import count_clip

    camera = CameraConfig("freeway", (make_line("south", *FREEWAY_LINE),))
    path = model["path"]
    _reset_cuda_peak(device)
    det = MultiCameraDetector(path, 8, device=device)
    load = os.getloadavg()[0]
    run = count_clip(det, video, camera, stride=1, max_frames=max_frames)
    total_ms = 1000 * run.wall_s / run.frames
    detect_ms = 1000 * run.detect_s / run.frames
    host_ms = total_ms - detect_ms
    kind, mb = memory_mb(device)
    row: dict[str, Any] = {"model": path.name, "weights": model["weights"], "device": device, "clip": video.name,
                           "frames": run.frames, "batch_per_call": det.batch_size,
                           "total_ms_per_frame": round(total_ms, 2),
                           "detect_ms_per_frame": round(detect_ms, 2), "host_ms_per_frame": round(host_ms, 2),
                           "realtime_factor": round(1000 / total_ms / STREAM_FPS, 3),
                           "memory_kind": kind, "memory_mb": round(mb, 1), "loadavg_1min": round(load, 2)}
    row.update(streams_sustained(device.startswith("cuda"), detect_ms, host_ms, os.cpu_count() or 1))
    return row


def streams_sustained(gpu: bool, detect_ms: float, host_ms: float, cores: int) -> dict[str, Any]:
    """30-fps streams one device keeps up with, from per-frame detection and host (decode, track, count) costs.

    GPU: detection on the device, the host work of each stream on one core, so the smaller of
    ``1000 / (30 detect_ms)`` and ``cores * 1000 / (30 host_ms)``. CPU: detection already uses every
    core, so everything is serial: ``1000 / (30 (detect_ms + host_ms))``.
    """
    per_stream_s = STREAM_FPS / 1000
    if gpu:
        gpu_bound, host_bound = 1 / (per_stream_s * detect_ms), cores / (per_stream_s * host_ms)
        exact = min(gpu_bound, host_bound)
        return {"streams": math.floor(exact), "streams_exact": round(exact, 2),
                "streams_gpu_bound": round(gpu_bound, 2), "streams_host_bound": round(host_bound, 2),
                "streams_how": "floor(min(1000/(30*detect_ms), cores*1000/(30*host_ms))) from the measured costs"}
    exact = 1 / (per_stream_s * (detect_ms + host_ms))
    return {"streams": math.floor(exact), "streams_exact": round(exact, 2),
            "streams_how": "floor(1000/(30*(detect_ms+host_ms))): detection uses every core, all serial"}


def count_check(models: dict[str, dict[str, Any]], device: str, video: Path) -> dict[str, Any]:
    """The freeway clip counted with the TFLite model (CPU) and the PyTorch model (``device``), side by side."""
    if "tflite" not in models or not video.is_file() or models["pt"]["weights"].startswith("random"):
        return {"skipped": True, "why": "needs the TFLite model, ai-edge-litert, the clip and the converted model"}
    from detection.detector import YoloDetector
    from detection.model_agreement import agreement, count_clip

    camera = CameraConfig("freeway", (make_line("south", *FREEWAY_LINE),))
    ref = count_clip(YoloDetector(models["tflite"]["path"]), video, camera)
    conv = count_clip(YoloDetector(models["pt"]["path"], device=device), video, camera)
    return {"clip": video.name, "stride": 1, "tflite_cpu": ref.counts, f"converted_{device}": conv.counts,
            "counts_equal": ref.counts == conv.counts,
            "agreement": agreement(ref.detections, conv.detections).to_dict()}


def sim_runs_per_hour(sc: Any, scenario: str, seeds: int) -> dict[str, Any]:
    """Wall time of ``simulate`` (one seeded run of the whole scenario ``sc``) on one core, as runs per hour."""
    from simulation.runner import simulate

    simulate(sc, 1)  # warm-up (imports, Numba caches)
    walls = [simulate(sc, s).wall_s for s in range(1, seeds + 1)]
    per_core = 3600 / statistics.median(walls)
    cores = os.cpu_count() or 1
    return {"scenario": scenario, "simulated_s": sc.end_s - sc.begin_s, "seeds": seeds,
            "wall_s_median": round(statistics.median(walls), 4), "runs_per_hour_per_core": round(per_core),
            f"runs_per_hour_{cores}_cores_estimate": round(per_core * cores),
            "note": "CPU code (SimPy); independent runs scale with cores, a GPU does not change it",
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def print_report(r: dict[str, Any]) -> None:
    env = r["environment"]
    print(f"device {r['device']} ({env['device_name']}); driver {env['driver']}, CUDA {env['cuda']}, torch "
          f"{env['torch']}, ultralytics {env['ultralytics']}, ai-edge-litert {env['ai_edge_litert']}")
    for name, m in r["models"].items():
        conv = m.get("conversion")
        extra = (f"; conversion: {conv['convs_loaded']}/{conv['convs_in_tflite']} convs, max score diff "
                 f"{conv['max_score_diff']:.3f} vs LiteRT on the probe") if conv else ""
        print(f"model {name}: {m['path']} - weights {m['weights']}{extra}")
    print("\n| model | weights | device | imgsz (network input) | batch (used) | frames/s | vs TFLite b1 | ms/frame "
          "| memory MB | note |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for t in r["throughput"]:
        print(f"| {t['model']} | {t['weights']} | {t['device']} | {t['imgsz_px']} ({t['network_input']}) "
              f"| {t['batch']} ({t['batch_used']}) | {t['frames_per_s']} | {t['vs_tflite_batch1'] or '-'} "
              f"| {t['ms_per_frame']} | {t['memory_mb']} ({t['memory_kind']}) | {t['note'] or ''} |")
    if r["end_to_end"]:
        print("\nend to end, 720p clip at stride 1 (decode, crop, detect, track, count):")
        print("| model | device | frames | total ms/frame | detect ms | host ms | real-time factor | 30-fps streams |")
        print("|---|---|---|---|---|---|---|---|")
        for e in r["end_to_end"]:
            print(f"| {e['model']} | {e['device']} | {e['frames']} | {e['total_ms_per_frame']} | "
                  f"{e['detect_ms_per_frame']} | {e['host_ms_per_frame']} | {e['realtime_factor']}x | {e['streams']} |")
    if "count_check" in r:
        c = r["count_check"]
        if c.get("skipped"):
            print(f"\ncount check skipped: {c['why']}")
        else:
            a = c["agreement"]
            print(f"\ncount check on {c['clip']}: counts equal: {c['counts_equal']}; boxes (conf >= "
                  f"{a['confidence_min']}, IoU >= {a['iou_min']}, same class) matched {a['matched_of_a']:.1%} of "
                  f"TFLite's, {a['matched_of_b']:.1%} of the converted model's")
            for k in ("tflite_cpu", *[k for k in c if k.startswith("converted_")]):
                print(f"  {k}: {c[k]}")
    s = r["simulation"]
    print(f"\nsimulator: {s['scenario']} ({s['simulated_s']:.0f} s simulated) {s['wall_s_median']} s per run -> "
          f"{s['runs_per_hour_per_core']} runs/hour per core ({s['note']})")
    for sk in r["skipped"]:
        print(f"skipped: {sk['what']}: {sk['why']}")


if __name__ == "__main__":
    sys.exit(main())
