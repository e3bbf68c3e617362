"""Camera frames to interval counts: YOLO detection, tracking, line/zone counting, camera health.

Modules, one concept each: ``sources`` (files and live streams), ``detector`` (Ultralytics YOLO),
``region`` and ``slicing`` (where and how finely to look), ``tracking`` and ``stitching``
(persistent ids), ``line_counter`` and ``zone_counter`` (``Counter`` strategies), ``health``,
``aggregation`` (``IntervalCounts``), ``pipeline`` (wires them), ``cli`` (``greenwave count``);
``convert`` (the TFLite detector as a PyTorch checkpoint, for GPUs), ``batched`` (several cameras'
frames per inference call), ``model_agreement`` (comparing two detectors' boxes and counts);
``fleet_config``, ``fleet``, ``push``, ``fleet_cli`` (many cameras on Dask, ``greenwave count-cameras``).
Ultralytics, torch and OpenCV are imported inside functions only, so importing this package is cheap.
"""
