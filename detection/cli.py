"""``greenwave count``: vehicle counts from a video file or a live stream."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from detection.errors import CameraConfigError
from greenwave.cli.common import int_in, output_file, positive_float, require_extra

if TYPE_CHECKING:
    from detection.config import CameraConfig

# detection.detector.DEFAULT_MODEL, written out so that building the parser does not import numpy (a test checks
# that they agree)
DEFAULT_MODEL = "yolo11n.pt"
LINE_BAND_MARGIN_FRAC = 0.15
"""--slice-lines: the band around the count lines, in frame heights each side (benchmarks/detection.py)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "count", help="count vehicles crossing lines in a video file or live stream (YOLO + tracking)",
        description="Detect vehicles (bicycle, car, motorcycle, bus, truck) with an Ultralytics YOLO model, track "
                    "them (motion-predicted association, or Ultralytics' ByteTrack/BoT-SORT) and count each track at "
                    "most once per line, on its path: IN when it crosses "
                    "from the left of the line's A->B direction to its right as seen in the image (a "
                    "left-to-right horizontal line counts downward motion as IN), OUT the other way. Only "
                    "counts, boxes and class labels are produced; no frame is stored unless --annotate is given.",
        epilog="Live sources reconnect with exponential back-off when they drop; stop them with Ctrl-C. "
               "Models load offline when the file exists locally.")
    p.add_argument("source", metavar="VIDEO_OR_URL",
                   help="a video file OpenCV decodes (mp4, avi, wmv, ...), an rtsp:// or http(s):// URL, "
                        "or a webcam index such as 0")
    lines = p.add_mutually_exclusive_group(required=True)
    lines.add_argument("--config", metavar="CAMERA.json",
                       help="camera config (JSON or YAML): count lines and zones mapped to movements/approaches")
    lines.add_argument("--line", action="append", metavar="x1,y1,x2,y2",
                       help="a count line from (x1,y1) to (x2,y2) in pixels; repeat for more lines "
                            "(named line1, line2, ...)")
    p.add_argument("--model", default=DEFAULT_MODEL, metavar="PATH",
                   help="any model Ultralytics loads (.pt, .onnx, .tflite, ...); default %(default)s, which "
                        "Ultralytics downloads on first use (without internet, pass a local file)")
    p.add_argument("--stride", default="auto", metavar="N",
                   help="process every N-th frame; 'auto' (default) picks the smallest stride that keeps up "
                        "with the source's frame rate on this machine, never fewer than 7 processed frames/s "
                        "(the rate at which counts were checked); --json says which stride and why")
    slicing = p.add_mutually_exclusive_group()
    slicing.add_argument("--sliced", action="store_true",
                   help="sliced (tiled) inference for small, dense vehicles such as motorbike swarms "
                        "(several times slower per frame)")
    slicing.add_argument("--slice-lines", action="store_true",
                   help="tiled inference on a band around the count lines only (15 %% of the frame height each "
                        "side, tiles of --tile-px, no whole-frame pass): small two-wheelers at the lines, at a "
                        "fraction of --sliced's cost")
    p.add_argument("--tile-px", type=int_in(32, 8192), default=320,
                   help="tile size for --sliced (32..8192, default %(default)s)")
    p.add_argument("--tracker", choices=("motion", "bytetrack", "botsort"), default="motion",
                   help="tracker: 'motion' (motion-predicted association whose counts do not depend on the "
                        "stride) or Ultralytics' bytetrack/botsort (default %(default)s)")
    p.add_argument("--interval-s", type=positive_float(86_400.0), default=None, metavar="S",
                   help="also report counts per interval of S seconds of stream time, as flows (veh/h, PCU/h)")
    p.add_argument("--max-frames", type=int_in(1, 2**62), default=None, metavar="N",
                   help="stop after N source frames")
    p.add_argument("--annotate", metavar="OUT.mp4", type=output_file(), default=None,
                   help="write an annotated video (boxes, track ids, lines, counts) of the processed frames")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_count)


def camera_from_args(args: argparse.Namespace) -> CameraConfig:
    from detection.config import CameraConfig, load_camera_config, parse_line_arg

    if args.config:
        return load_camera_config(args.config)
    return CameraConfig("cli", tuple(parse_line_arg(text, i + 1) for i, text in enumerate(args.line)))


def _stride(args: argparse.Namespace) -> int | None:
    if args.stride == "auto":
        return None
    try:
        value = int(args.stride)
    except ValueError:
        value = 0
    if value < 1:
        raise CameraConfigError(f"--stride {args.stride!r}: expected a positive integer or 'auto'")
    return value


def _count(args: argparse.Namespace) -> int:
    require_extra("count", "detect", "ultralytics", "cv2")
    from tqdm import tqdm

    from detection.annotate import AnnotatedVideoWriter
    from detection.detector import YoloDetector
    from detection.pipeline import CountingPipeline, PipelineSettings, auto_stride_choice
    from detection.slicing import SlicedDetector
    from detection.sources import VideoFileSource, open_source
    from detection.stride import fixed_stride

    camera = camera_from_args(args)
    stride = _stride(args)
    source = open_source(args.source)
    detector: Any = YoloDetector(args.model)
    margin = 0.3
    if args.sliced:
        detector = SlicedDetector(detector, tile_px=args.tile_px)
    elif args.slice_lines:
        detector, margin = SlicedDetector(detector, tile_px=args.tile_px, full_frame=False), LINE_BAND_MARGIN_FRAC
    choice = fixed_stride(source.fps, stride) if stride is not None else \
        auto_stride_choice(source, detector, camera, margin)
    stride = choice.stride
    settings = PipelineSettings(stride=stride, tracker=args.tracker, interval_s=args.interval_s,
                                max_frames=args.max_frames, region_margin_frac=margin)
    writer = None
    if args.annotate:
        size = source.frame_size_px if isinstance(source, VideoFileSource) else None
        if size is None:
            raise CameraConfigError("--annotate needs a video file source (frame size unknown for live streams)")
        writer = AnnotatedVideoWriter(args.annotate, source.fps / stride, size)
    total = getattr(source, "declared_frames", None) or None
    with tqdm(total=total, unit="frame", file=sys.stderr, desc=source.name, dynamic_ncols=True) as bar, \
            _stop_on_interrupt() as stop:
        def on_frame(n: int) -> None:
            bar.update(n - bar.n)

        try:
            run = CountingPipeline(camera, detector, settings).run(source, on_frame, writer, should_stop=stop)
        finally:
            if writer is not None:
                writer.close()
    if run.truncated:
        print(f"greenwave: warning: {source.name}: decoding stopped after {run.frames_read} of "
              f"{getattr(source, 'declared_frames', '?')} frames (truncated file?)", file=sys.stderr)
    result = run_to_dict(run, camera, choice.to_dict())
    print(json.dumps(result, indent=1) if args.json else _text(result))
    return 0


@contextmanager
def _stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """While active, Ctrl-C sets a flag so a live run ends cleanly with its counts (not a traceback)."""
    flag = {"stop": False}

    def handler(signum: int, frame: object) -> None:
        flag["stop"] = True

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: leave Ctrl-C alone
        yield lambda: False
        return
    try:
        yield lambda: flag["stop"]
    finally:
        signal.signal(signal.SIGINT, previous)


def run_to_dict(run: Any, camera: CameraConfig, stride_choice: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``--json`` document (``stride_choice``: ``StrideChoice.to_dict()``, which stride and why)."""
    out: dict[str, Any] = {
        "video": run.source, "frames": run.frames_read, "frames_processed": run.frames_processed,
        "fps": round(run.fps, 3), "stride": run.stride, **({"stride_choice": stride_choice} if stride_choice else {}),
        "wall_s": round(run.wall_s, 3),
        "ms_per_frame": round(run.ms_per_frame, 2), "realtime_factor": round(run.realtime_factor, 3),
        "lines": [t.to_dict() for t in run.line_totals(camera)],
        "health": run.health.to_dict(),
    }
    if run.zone_totals:
        out["zones"] = [{"name": k, "count": sum(v.values()), "by_class": v} for k, v in run.zone_totals.items()]
    if run.intervals:
        out["intervals"] = [{"start_s": round(c.start_s, 3), "duration_s": round(c.duration_s, 3),
                             "health": str(c.health), "counts": {k: dict(v) for k, v in c.counts.items()},
                             "flow_veh_h": {k: round(c.flow_veh_h(k), 1) for k in c.counts},
                             "flow_pcu_h": {k: round(c.flow_pcu_h(k), 1) for k in c.counts}}
                            for c in run.intervals]
    return out


def _text(result: dict[str, Any]) -> str:
    rows = [f"{result['video']}: {result['frames']} frames at {result['fps']} fps, stride {result['stride']}, "
            f"{result['ms_per_frame']} ms/frame ({result['realtime_factor']}x real time), "
            f"camera health {result['health']['state']}"]
    for line in result["lines"]:
        classes = ", ".join(f"{c} {v['in']}/{v['out']}" for c, v in sorted(line["by_class"].items()))
        rows.append(f"  {line['name']}: in {line['in']}, out {line['out']}" + (f" ({classes})" if classes else ""))
    for zone in result.get("zones", []):
        rows.append(f"  zone {zone['name']}: {zone['count']}")
    for iv in result.get("intervals", []):
        flows = ", ".join(f"{k} {v:.0f} veh/h ({iv['flow_pcu_h'][k]:.0f} PCU/h)" for k, v in iv["flow_veh_h"].items())
        rows.append(f"  [{iv['start_s']:.0f} s +{iv['duration_s']:.0f} s, {iv['health']}] {flows}")
    return "\n".join(rows)
