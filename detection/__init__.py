"""Camera frames to interval counts (YOLO detection, tracking, line/zone counting).

Not built yet: see the "Camera to counts" issue. Nothing here is imported by other packages.
"""
