"""Run the shipped INT8 TFLite detector on a GPU: its weights, dequantised, in Ultralytics' PyTorch model.

The shipped ``yolo11n_int8.tflite`` is a dynamic-range INT8 export of YOLO11n: convolution weights are
int8 with one scale per output channel (zero point 0), biases and activations are float32. LiteRT
runs it on the CPU only. ``convert_tflite`` rebuilds the same network in PyTorch from Ultralytics'
architecture file (``yolo11n.yaml``, no download) and loads the TFLite weights into it, dequantised
(``scale[c] * q``), so the very same network runs wherever PyTorch does (CUDA included) and batches.
What remains different is LiteRT's own arithmetic: its hybrid kernels round each conv's input to
int8 on the fly, which moves class scores by up to ~0.3 at a few anchors (its XNNPACK and reference
kernels differ from each other by up to 0.17 on the same file).

Which TFLite convolution is which PyTorch one is decided by the data, not by names or order (the
TFLite op order is a different topological order of the same graph): both networks see the same
probe image, LiteRT keeps every intermediate tensor, and a hook on each PyTorch ``Conv2d``, in the
order PyTorch runs them, gives it the weights of the TFLite convolution whose kernel shape and
stride fit and whose input equals the PyTorch input (relative L2 error below ``MATCH_MAX_REL_ERR``),
then lets PyTorch go on from LiteRT's tensor so rounding differences do not pile up. Two
convolutions reading the same tensor with the same shape (cv1/cv2 of a C3k block) are told apart
by op order, and any wrong guess shows as a failed match further on. The converted network's
outputs are then compared with LiteRT's on the probe (``ConversionReport``).

Layouts: TFLite ``CONV_2D`` filters are OHWI, ``DEPTHWISE_CONV_2D`` filters 1HWO; PyTorch wants
OIHW. Each Ultralytics ``Conv`` keeps its BatchNorm, set to the identity plus the TFLite bias
(mean 0, var + eps exactly 1), so the checkpoint has the official layout and Ultralytics' own
fusion at load time gives back the TFLite weights and biases bit for bit (checked on the CPU; a
GPU's rsqrt may differ from 1 by one float32 ulp at most).

CLI: ``python -m detection.convert yolo11n_int8.tflite -o yolo11n_from_tflite.pt``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from detection.errors import ModelLoadError

MATCH_MAX_REL_ERR = 0.25
"""Largest relative L2 error between a PyTorch conv input and its TFLite twin (LiteRT quantises
activations to int8 on the fly in its hybrid kernels, so the two drift apart by a few per cent)."""

MAX_SCORE_DIFF = 0.5
"""Largest class-score difference from LiteRT on the probe image that a conversion may show (LiteRT's
XNNPACK and reference kernels differ by up to 0.17 on the same file; a mis-wired network by ~1)."""

_CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")


@dataclass(frozen=True)
class TfliteConv:
    """One TFLite convolution: tensor indices and its dequantised weights in PyTorch layout.

    Attributes:
        op_index: position of the op in the TFLite graph.
        input_index, output_index: tensor indices of its input and output (NHWC).
        weight_oihw: ``(O, I/groups, kH, kW)`` float32 weights.
        bias: ``(O,)`` float32 bias.
        groups: 1, or the channel count for depthwise convolutions.
    """

    op_index: int
    input_index: int
    output_index: int
    weight_oihw: NDArray[np.float32]
    bias: NDArray[np.float32]
    groups: int


@dataclass(frozen=True)
class ConversionReport:
    """What ``convert_tflite`` did and how close the result is to LiteRT on the probe image.

    Attributes:
        out_path: the written checkpoint.
        convs_loaded: PyTorch convolutions given TFLite weights (the DFL's fixed conv excluded).
        convs_in_tflite: convolutions with learned weights in the TFLite graph.
        worst_match_rel_err: worst relative error between a PyTorch conv input and its TFLite twin.
        closest_rival_rel_err: smallest error of any other candidate input of the right shape (the margin).
        max_score_diff: largest absolute difference of any class score (0..1) over the 8400 anchors.
        max_box_diff_px: largest difference of a box coordinate among anchors scoring >= 0.25.
        source_sha256: hash of the TFLite file.
    """

    out_path: str
    convs_loaded: int
    convs_in_tflite: int
    worst_match_rel_err: float
    closest_rival_rel_err: float
    max_score_diff: float
    max_box_diff_px: float
    source_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tflite_metadata(path: str | Path) -> dict[str, Any]:
    """The Ultralytics metadata (``names``, ``imgsz``, ``task``, ...) appended to an exported TFLite file."""
    try:
        with zipfile.ZipFile(path) as z:
            return dict(json.loads(z.read(z.namelist()[0])))
    except (zipfile.BadZipFile, IndexError, KeyError, json.JSONDecodeError):
        raise ModelLoadError(f"{path}: no Ultralytics metadata in this TFLite file (not an Ultralytics export?)") \
            from None


def dequantize_filter(q: NDArray[Any], scales: NDArray[np.float32], zero_points: NDArray[np.int32],
                      axis: int) -> NDArray[np.float32]:
    """``scale[c] * (q - zero_point[c])`` along ``axis`` (per-channel), or with one scale for the tensor."""
    if q.dtype == np.float32 or scales.size == 0:
        return q.astype(np.float32)
    shape = [1] * q.ndim
    shape[axis] = -1
    s = scales.reshape(shape) if scales.size > 1 else scales.reshape(())
    z = zero_points.reshape(shape) if zero_points.size > 1 else zero_points.reshape(())
    return ((q.astype(np.float32) - z.astype(np.float32)) * s).astype(np.float32)


def filter_to_oihw(w: NDArray[np.float32], depthwise: bool) -> tuple[NDArray[np.float32], int]:
    """TFLite filter to PyTorch layout: OHWI -> OIHW; depthwise 1HWO -> (O, 1, H, W). Returns (weights, groups)."""
    if depthwise:
        return np.ascontiguousarray(w[0].transpose(2, 0, 1)[:, None]), w.shape[3]
    return np.ascontiguousarray(w.transpose(0, 3, 1, 2)), 1


class TfliteGraph:
    """A TFLite model opened with LiteRT's reference kernels, keeping every intermediate tensor.

    The op list comes from the interpreter's ``_get_ops_details`` (LiteRT has no public one).
    """

    def __init__(self, path: str | Path) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError:
            raise ModelLoadError("reading a TFLite model needs ai-edge-litert (pip install ai-edge-litert)") \
                from None
        try:
            self.interpreter = Interpreter(
                model_path=str(path), experimental_preserve_all_tensors=True,
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"{path}: not a TFLite model LiteRT can open ({' '.join(str(exc).split())[:200]})") \
                from None
        self.tensors = {t["index"]: t for t in self.interpreter.get_tensor_details()}
        (self.input,) = self.interpreter.get_input_details()
        self.outputs = self.interpreter.get_output_details()

    def convolutions(self) -> list[TfliteConv]:
        """Every CONV_2D / DEPTHWISE_CONV_2D with a bias, in graph order, weights dequantised."""
        out = []
        for op in self.interpreter._get_ops_details():  # the public API has no op list
            if op["op_name"] not in _CONV_OPS or len(op["inputs"]) < 3 or op["inputs"][2] < 0:
                continue
            x, w, b = (int(i) for i in op["inputs"][:3])
            if self.tensors[x]["dtype"] != np.float32 or self.tensors[b]["dtype"] != np.float32:
                raise ModelLoadError("only TFLite models with float activations convert (float or dynamic-range "
                                     "INT8 weights); this one quantises its activations too")
            q = self.tensors[w]["quantization_parameters"]
            depthwise = op["op_name"] == "DEPTHWISE_CONV_2D"
            wf = dequantize_filter(self.interpreter.get_tensor(w), q["scales"], q["zero_points"],
                                   int(q["quantized_dimension"]))
            weight, groups = filter_to_oihw(wf, depthwise)
            if not depthwise:  # a grouped CONV_2D has fewer filter input channels than its input has
                groups = int(self.tensors[x]["shape"][3]) // weight.shape[1]
            out.append(TfliteConv(int(op["index"]), x, int(op["outputs"][0]), weight,
                                  self.interpreter.get_tensor(b).astype(np.float32), groups))
        return out

    def run(self, image_nhwc: NDArray[np.float32]) -> NDArray[np.float32]:
        """Invoke on one ``(1, H, W, 3)`` RGB image in [0, 1]; returns the first output."""
        self.interpreter.set_tensor(self.input["index"], image_nhwc)
        self.interpreter.invoke()
        return np.asarray(self.interpreter.get_tensor(self.outputs[0]["index"]))

    def tensor_nchw(self, index: int) -> NDArray[np.float32]:
        """An intermediate tensor of the last ``run``, NHWC -> NCHW."""
        return np.ascontiguousarray(self.interpreter.get_tensor(index).transpose(0, 3, 1, 2))


def probe_image(size_px: int) -> NDArray[np.float32]:
    """A ``(1, size, size, 3)`` RGB probe in [0, 1]: Ultralytics' bus.jpg letterboxed, else seeded noise."""
    import cv2
    from ultralytics.utils import ASSETS

    img = cv2.imread(str(ASSETS / "bus.jpg"))
    if img is None:
        rng = np.random.default_rng(0)
        return rng.random((1, size_px, size_px, 3), dtype=np.float32)
    h, w = img.shape[:2]
    r = size_px / max(h, w)
    resized = cv2.resize(img, (round(w * r), round(h * r)), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((size_px, size_px, 3), 114, np.uint8)
    top, left = (size_px - resized.shape[0]) // 2, (size_px - resized.shape[1]) // 2
    canvas[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return (canvas[None, :, :, ::-1] / 255.0).astype(np.float32)


class _Matcher:
    """Forward pre-hook for every PyTorch ``Conv2d``: find its TFLite twin by input, load its weights."""

    def __init__(self, graph: TfliteGraph, convs: list[TfliteConv]) -> None:
        self.graph, self.free, self.total = graph, list(convs), len(convs)
        self.loaded: list[tuple[str, int, float]] = []  # (torch name, tflite op, rel. error)
        self._inputs: dict[int, NDArray[np.float32]] = {}
        self.closest_rival = np.inf  # smallest error of a candidate with another input: the matching's margin

    def tflite_input(self, index: int) -> NDArray[np.float32]:
        if index not in self._inputs:
            self._inputs[index] = self.graph.tensor_nchw(index)
        return self._inputs[index]

    def match(self, name: str, module: Any, x: NDArray[np.float32]) -> tuple[float, TfliteConv, NDArray[np.float32]]:
        """The free TFLite conv of the module's shape whose input is closest to ``x``: (error, conv, its input).

        Raises:
            ModelLoadError: no candidate's input is within ``MATCH_MAX_REL_ERR``, or two different inputs are.
        """
        pad = tuple(int(p) for p in module.padding)
        padded = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
        scored: list[tuple[float, int, int]] = []  # (error, op index, position in free)
        for k, c in enumerate(self.free):
            if c.weight_oihw.shape != tuple(module.weight.shape) or c.groups != module.groups:
                continue
            if tuple(self.graph.tensors[c.output_index]["shape"][1:3]) != _out_hw(module, x.shape[2:]):
                continue
            t = self.tflite_input(c.input_index)
            ref = x if t.shape == x.shape else padded if t.shape == padded.shape else None
            if ref is not None:
                scored.append((float(np.linalg.norm(t - ref) / max(float(np.linalg.norm(ref)), 1e-12)), c.op_index, k))
        scored.sort()  # equal errors (two convs reading one tensor: C3k's cv1 and cv2) keep op order
        if not scored or scored[0][0] > MATCH_MAX_REL_ERR:
            found = "no candidate of that shape" if not scored else f"closest input off by {scored[0][0]:.0%}"
            raise ModelLoadError(f"TFLite model does not fit the architecture at {name} "
                                 f"(weights {tuple(module.weight.shape)}): {found}")
        err, _, k = scored[0]
        c = self.free[k]
        rival = min((e for e, _, j in scored[1:] if self.free[j].input_index != c.input_index), default=np.inf)
        if rival <= MATCH_MAX_REL_ERR:
            raise ModelLoadError(f"TFLite model is ambiguous at {name}: two different inputs match "
                                 f"({err:.0%} and {rival:.0%})")
        self.closest_rival = min(self.closest_rival, rival)
        self.free.pop(k)
        return err, c, self.tflite_input(c.input_index)

    def hook(self, name: str, bn: Any) -> Any:
        import torch

        def pre(module: Any, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
            x = inputs[0].detach().cpu().numpy()
            err, c, t = self.match(name, module, x)
            with torch.no_grad():
                module.weight.copy_(torch.from_numpy(c.weight_oihw))
                if bn is not None:
                    _set_identity_bn(bn, c.bias)
                else:
                    module.bias.copy_(torch.from_numpy(c.bias))
            self.loaded.append((name, c.op_index, err))
            # go on from LiteRT's own tensor, so that its on-the-fly int8 rounding does not pile up
            # layer after layer and blur the next matches
            if t.shape != x.shape:
                (ph, pw) = (int(p) for p in module.padding)
                t = t[:, :, ph:t.shape[2] - ph, pw:t.shape[3] - pw]
            return (torch.from_numpy(np.ascontiguousarray(t)).to(inputs[0].dtype),)

        return pre


def _out_hw(conv: Any, in_hw: tuple[int, ...]) -> tuple[int, int]:
    return tuple((int(n) + 2 * p - d * (k - 1) - 1) // s + 1
                 for n, p, d, k, s in zip(in_hw, conv.padding, conv.dilation, conv.kernel_size, conv.stride,
                                          strict=True))


def _set_identity_bn(bn: Any, bias: NDArray[np.float32]) -> None:
    """BatchNorm that adds ``bias`` and nothing else: weight 1, mean 0, var + eps == 1 exactly in float32.

    Ultralytics folds it into the conv at load time (``w * rsqrt(var + eps)``), which then leaves the
    TFLite weights and bias bit for bit as they are.
    """
    import torch

    bn.weight.fill_(1.0)
    bn.bias.copy_(torch.from_numpy(bias))
    bn.running_mean.zero_()
    var = torch.full((bn.num_features,), 1.0 - bn.eps, dtype=torch.float32)
    for _ in range(8):  # float32(1 - eps) + eps may round to one ulp off 1: step towards it
        total = var + bn.eps
        if bool((total == 1.0).all()):
            break
        var = torch.nextafter(var, torch.where(total > 1.0, torch.zeros(()), torch.ones(())))
    else:
        raise ModelLoadError(f"cannot build an identity BatchNorm with eps={bn.eps}")
    bn.running_var.copy_(var)


def convert_tflite(tflite_path: str | Path, out_path: str | Path,
                   architecture: str = "yolo11n.yaml") -> ConversionReport:
    """Write an Ultralytics ``.pt`` checkpoint holding the TFLite model's network with its dequantised weights.

    Args:
        tflite_path: an Ultralytics TFLite detection export (metadata with ``names``).
        out_path: the checkpoint to write (``.pt``); it loads with ``YOLO(out_path)``.
        architecture: the Ultralytics model yaml the export was made from (its scale letter counts).

    Raises:
        ModelLoadError: the file is missing or not a detection export, its graph does not fit the
            architecture, or the converted network's outputs are far from LiteRT's.
    """
    src, out = Path(tflite_path), Path(out_path)
    if out.suffix != ".pt":
        raise ModelLoadError(f"{out}: the checkpoint must end in .pt (Ultralytics picks the backend by suffix)")
    if not src.is_file():
        raise ModelLoadError(f"TFLite model not found: {src}")
    meta = tflite_metadata(src)
    if meta.get("task", "detect") != "detect" or not isinstance(meta.get("names"), dict):
        raise ModelLoadError(f"{src}: not a detection export (task {meta.get('task')!r}, no class names)")
    names = {int(k): str(v) for k, v in meta["names"].items()}
    graph = TfliteGraph(src)
    model = _build(architecture, len(names))
    image = probe_image(int(graph.input["shape"][1]))
    reference = graph.run(image)
    matcher = _load_weights(model, graph, image)
    pred = _forward(model, image)
    score_diff, box_diff = _compare_outputs(reference, pred, image.shape[1], len(names))
    if score_diff > MAX_SCORE_DIFF:
        raise ModelLoadError(f"{src}: converted network disagrees with LiteRT (class score off by {score_diff:.2f})")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    _save(model, out, names, architecture, image.shape[1], {"file": src.name, "sha256": digest,
                                                            "license": meta.get("license", "")})
    return ConversionReport(str(out), len(matcher.loaded), matcher.total, max(e for _, _, e in matcher.loaded),
                            float(matcher.closest_rival), score_diff, box_diff, digest)


def _build(architecture: str, nc: int) -> Any:
    from ultralytics.nn.tasks import DetectionModel

    try:
        return DetectionModel(architecture, ch=3, nc=nc, verbose=False).eval()
    except Exception as exc:  # Ultralytics raises several types for a yaml it cannot find or parse
        raise ModelLoadError(f"cannot build architecture {architecture!r}: {' '.join(str(exc).split())[:200]}") \
            from None


def _load_weights(model: Any, graph: TfliteGraph, image: NDArray[np.float32]) -> _Matcher:
    """One forward pass with a matching hook on every learned ``Conv2d``; every conv on both sides must pair up."""
    import torch
    from ultralytics.nn.modules import Conv

    dfl = model.model[-1].dfl.conv  # fixed weights (0..15), not learned: left as built
    matcher = _Matcher(graph, [c for c in graph.convolutions() if c.weight_oihw.shape != tuple(dfl.weight.shape)])
    bn_of = {id(m.conv): m.bn for m in model.modules() if isinstance(m, Conv)}
    hooks = [m.register_forward_pre_hook(matcher.hook(n, bn_of.get(id(m))))
             for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d) and m is not dfl]
    try:
        _forward(model, image)
    finally:
        for h in hooks:
            h.remove()
    if len(matcher.loaded) != len(hooks) or matcher.free:
        raise ModelLoadError(f"TFLite model does not fit the architecture: {len(matcher.loaded)} of {len(hooks)} "
                             f"convolutions matched, {len(matcher.free)} TFLite convolutions left over")
    return matcher


def _forward(model: Any, image_nhwc: NDArray[np.float32]) -> NDArray[np.float32]:
    """The model's ``(1, 4 + nc, anchors)`` output (boxes in pixels) for a ``(1, H, W, 3)`` image."""
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(image_nhwc.transpose(0, 3, 1, 2).copy()))[0].numpy()


def _save(model: Any, out: Path, names: dict[int, str], architecture: str, size_px: int,
          source: dict[str, str]) -> None:
    """An Ultralytics-style checkpoint (``model`` in float32; ``train_args`` give task and input size)."""
    import datetime

    import torch

    model.names = names
    args = {"imgsz": size_px, "task": "detect", "model": architecture}
    model.args = dict(args)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model, "train_args": args, "date": datetime.datetime.now(datetime.UTC).isoformat(),
                "version": _ultralytics_version(), "license": source.get("license", ""),
                "docs": "detection.convert: weights dequantised from a TFLite export", "converted_from": source}, out)


def _compare_outputs(tfl: NDArray[np.float32], pt: NDArray[np.float32], size_px: int,
                     nc: int) -> tuple[float, float]:
    """Max class-score difference over all anchors; max box difference (px) where either scores >= 0.25."""
    boxes_t = tfl[0, :4] * (size_px if tfl[0, :4].max() <= 2.0 else 1.0)  # exports normalise boxes to [0, 1]
    scores_t, scores_p = tfl[0, 4:4 + nc], pt[0, 4:4 + nc]
    confident = np.maximum(scores_t.max(0), scores_p.max(0)) >= 0.25
    box_diff = float(np.abs(boxes_t[:, confident] - pt[0, :4][:, confident]).max()) if confident.any() else 0.0
    return float(np.abs(scores_t - scores_p).max()), box_diff


def _ultralytics_version() -> str:
    from ultralytics import __version__

    return str(__version__)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m detection.convert", description=__doc__.split("\n\n")[0])
    p.add_argument("tflite", metavar="TFLITE", help="an Ultralytics TFLite detection export (e.g. yolo11n_int8.tflite)")
    p.add_argument("-o", "--out", required=True, metavar="OUT.pt", help="checkpoint to write")
    p.add_argument("--architecture", default="yolo11n.yaml", help="Ultralytics model yaml (default %(default)s)")
    args = p.parse_args(argv)
    try:
        report = convert_tflite(args.tflite, args.out, args.architecture)
    except (ModelLoadError, OSError) as exc:
        print(f"{p.prog}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
