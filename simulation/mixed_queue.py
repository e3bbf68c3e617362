"""Width budget of a lane for mixed traffic: storage, discharge and filtering by vehicle class.

Plain-number kernels (no simulator objects); ``simulation.lanes`` turns them into per-lane tables.

A lane of width ``W`` holds a vehicle class of width ``w`` and lateral gap ``g`` (SUMO's ``minGapLat``)
in ``columns = floor((W + g) / (w + g))`` files side by side (at least one): a 0.7-m motorbike with a
0.3-m gap queues three abreast in a 3.5-m lane, a car or a bus one per lane.

- **Storage**: a vehicle takes ``jam_spacing / columns`` metres of the lane's length, counted in car
  slots of ``JAM_SPACING_M`` (7.5 m): a SUMO passenger car is exactly one slot, as before.
- **Discharge**: the saturation headway of one file is a reaction part that does not depend on the
  vehicle plus a move-up part, the time to cover one jam spacing ``s`` from rest at the vehicle's
  acceleration ``a`` (``sqrt(2 s / a)``), scaled so that a car (7.5 m, 2.6 m/s^2) keeps exactly the
  movement's headway ``h``: ``h_c = reaction_s + (h - reaction_s) * sqrt((s_c / a_c) / (7.5 / 2.6))``.
  The files of a lane discharge side by side: a vehicle uses ``h_c / columns`` of the lane's time (its
  "time share" of the car headway).
- **Filtering**: a narrow vehicle may pass a standing vehicle in the same lane when the strip beside it,
  ``W - w_wide - g``, is at least ``w + g`` wide (a motorbike beside a car in a 3.2-m or wider lane); the
  strip beside a standing vehicle holds ``files in the strip x floor(its jam spacing / the narrow one's)``
  narrow vehicles (two 2.9-m motorbikes beside a 7.5-m car).
"""

from __future__ import annotations

import math

import numpy as np

from traffic.network import JAM_SPACING_M


def columns(lane_width_m: float, width_m: float, gap_lat_m: float) -> int:
    """Files of vehicles of ``width_m`` (lateral gap ``gap_lat_m``) side by side in one lane (>= 1)."""
    return max(1, math.floor((lane_width_m + gap_lat_m) / (width_m + gap_lat_m) + 1e-9))


CAR_ACCEL_M_S2 = 2.6
"""Acceleration of the car the movement headways describe (SUMO's passenger car)."""


def headway_factor(jam_spacing_m: float, accel_m_s2: float, car_headway_s: float, reaction_s: float) -> float:
    """One file's saturation headway for a vehicle of ``jam_spacing_m`` and ``accel_m_s2``, as a multiple
    of a car's ``car_headway_s`` (1 for a 7.5-m, 2.6-m/s^2 car)."""
    if car_headway_s <= reaction_s:
        raise ValueError(f"car headway (={car_headway_s} s) must exceed the reaction part (={reaction_s} s)")
    move_up = math.sqrt((jam_spacing_m / accel_m_s2) / (JAM_SPACING_M / CAR_ACCEL_M_S2))
    return (reaction_s + (car_headway_s - reaction_s) * move_up) / car_headway_s


def lane_tables(lane_width_m: float, width_m: np.ndarray, gap_lat_m: np.ndarray, jam_spacing_m: np.ndarray,
                accel_m_s2: np.ndarray, car_headway_s: float, reaction_s: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per vehicle kind in one lane: (storage in car slots, time share of the car headway, files abreast).

    ``width_m``, ``gap_lat_m``, ``jam_spacing_m``, ``accel_m_s2``: one entry per kind (vehicle type)."""
    cols = np.array([columns(lane_width_m, w, g) for w, g in zip(width_m, gap_lat_m, strict=True)], dtype=np.int64)
    space = jam_spacing_m / JAM_SPACING_M / cols
    factor = np.array([headway_factor(s, a, car_headway_s, reaction_s)
                       for s, a in zip(jam_spacing_m, accel_m_s2, strict=True)])
    return space, factor / cols, cols


def strip_room(lane_width_m: float, width_m: np.ndarray, gap_lat_m: np.ndarray, jam_spacing_m: np.ndarray
               ) -> np.ndarray:
    """``out[i, j]``: vehicles of kind ``j`` that can stand beside one standing vehicle of kind ``i`` in the
    lane (0: kind ``j`` cannot filter past ``i``).

    Only a vehicle that queues several abreast filters, only past a wider one, and only where the strip
    beside it (``lane width - its width - gap``) takes at least one file of the filterer."""
    n = len(width_m)
    out = np.zeros((n, n), dtype=np.int64)
    for j in range(n):
        if columns(lane_width_m, width_m[j], gap_lat_m[j]) < 2:
            continue
        for i in range(n):
            side = lane_width_m - width_m[i] - gap_lat_m[j]
            if width_m[i] <= width_m[j] or side < width_m[j]:
                continue
            files = math.floor((side + gap_lat_m[j]) / (width_m[j] + gap_lat_m[j]) + 1e-9)
            out[i, j] = files * max(1, math.floor(jam_spacing_m[i] / jam_spacing_m[j] + 1e-9))
    return out


def filter_order(kinds: np.ndarray, filters: np.ndarray, room: np.ndarray, width_m: np.ndarray) -> np.ndarray:
    """Discharge order of a standing queue after narrow vehicles filter (indices into the queue).

    ``kinds[k]``: kind of the ``k``-th standing vehicle (front first); ``filters[k]``: it came while the
    queue stood and may filter; ``room[i, j]`` as ``strip_room``; ``width_m`` per kind. Each filterer, in
    arrival order, rides up to the frontmost vehicle ahead of it whose strip still has room for its kind,
    passing vehicles no wider than itself, and leaves just before it; a wider vehicle without room beside
    it stops the filterer there; one that finds no room keeps its place."""
    n = len(kinds)
    used = np.zeros(n, dtype=np.int64)
    before = np.full(n, -1, dtype=np.int64)  # the queue index a filterer now leaves just before
    for k in range(n):
        if not filters[k]:
            continue
        j = kinds[k]
        best = -1
        for w in range(k - 1, -1, -1):
            if before[w] != -1:
                continue  # a filterer that moved up: beside another vehicle
            i = kinds[w]
            if room[i, j] == 0:
                if width_m[i] > width_m[j]:
                    break  # no room beside it: it cannot pass
                continue
            if used[w] < room[i, j]:
                best = w
        if best >= 0:
            used[best] += 1
            before[k] = best
    order: list[int] = []
    pending: dict[int, list[int]] = {}
    for k in range(n):
        if before[k] != -1:
            pending.setdefault(int(before[k]), []).append(k)
    for k in range(n):
        if before[k] == -1:
            order += pending.get(k, [])
            order.append(k)
    return np.array(order, dtype=np.int64)
