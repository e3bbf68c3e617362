"""Every subcommand of ``greenwave``: a bad input prints one line on stderr and exits 2, with no traceback,
before any work starts, and leaves the working folder exactly as it was (no file created or changed)."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from greenwave.cli.main import main

REPO = Path(__file__).resolve().parents[2]
STRONG_PASSWORD = "k7-Lantern-quay-41"


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under ``folder``."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def changes(before: dict[str, bytes | None], after: dict[str, bytes | None]) -> list[str]:
    """What differs between two snapshots, by name: created, removed, changed."""
    return ([f"created {n}" for n in sorted(after.keys() - before.keys())]
            + [f"removed {n}" for n in sorted(before.keys() - after.keys())]
            + [f"changed {n}" for n in sorted(before.keys() & after.keys()) if before[n] != after[n]])


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder, plus a file and a folder that rows aim outputs at."""
    (tmp_path / "existing.txt").write_text("keep me\n", encoding="utf-8")
    (tmp_path / "adir").mkdir()
    (tmp_path / "run.sumocfg").write_text("<configuration/>\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GREENWAVE_DB", raising=False)
    return tmp_path


class WorkStarted(AssertionError):
    """A row got past the argument checks into the real work."""


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry points of the expensive work fail at once, so a row that is not refused up front fails fast
    instead of simulating, serving or counting."""
    import distributed
    import uvicorn

    import detection.fleet
    import detection.pipeline
    import greenwave.demo.core
    import signal_control.optimize
    import simulation.runner
    import simulation.sumo_control
    import simulation.sweep

    def refuse(*args: object, **kwargs: object) -> None:
        raise WorkStarted("the command started its work instead of refusing the input")

    for module, name in ((uvicorn, "run"), (simulation.runner, "simulate"), (simulation.runner, "simulate_seeds"),
                         (greenwave.demo.core, "run_demo"), (signal_control.optimize, "optimize"),
                         (simulation.sumo_control, "run_config_seeds"), (simulation.sweep, "run_sweep"),
                         (detection.fleet, "run_fleet"), (detection.pipeline, "CountingPipeline"),
                         (distributed, "LocalCluster"), (distributed, "Client")):
        monkeypatch.setattr(module, name, refuse)


# (id, argv, a part of the one line on stderr[, stdin])
ROWS = [
    # scenario import / show / list
    ("scenario-import-o-missing-folder", ["scenario", "import", "x.net.xml", "-o", "nodir/s.json"],
     "folder 'nodir' does not exist"),
    ("scenario-import-o-onto-folder", ["scenario", "import", "x.net.xml", "-o", "adir"], "is a folder"),
    ("scenario-import-begin-nan", ["scenario", "import", "x.net.xml", "-o", "s.json", "--begin-s", "nan"],
     "--begin-s must be"),
    ("scenario-show-missing", ["scenario", "show", "nosuch.json"], "nosuch"),
    ("scenario-list-extra-arg", ["scenario", "list", "extra"], "unrecognized arguments"),
    # plan check / export-sumo
    ("plan-check-min-green-nan", ["plan", "check", "arterial", "--min-green-s", "nan"], "--min-green-s must be"),
    ("plan-check-max-cycle-0", ["plan", "check", "arterial", "--max-cycle-s", "0"], "--max-cycle-s must be > 0"),
    ("plan-check-missing-plan-file", ["plan", "check", "arterial", "--plan", "nosuch.json"], "nosuch.json"),
    ("plan-export-o-missing-folder", ["plan", "export-sumo", "arterial", "-o", "nodir/tls.add.xml"],
     "folder 'nodir' does not exist"),
    ("plan-export-o-onto-folder", ["plan", "export-sumo", "arterial", "-o", "adir"], "is a folder"),
    # optimize
    ("optimize-cycle-0", ["optimize", "arterial", "--cycle-s", "0"], "--cycle-s must be > 0 and <= 300"),
    ("optimize-cycle-nan", ["optimize", "arterial", "--cycle-s", "nan"], "--cycle-s must be"),
    ("optimize-cycle-above-max", ["optimize", "arterial", "--cycle-s", "301"], "--cycle-s must be"),
    ("optimize-cycle-with-webster", ["optimize", "arterial", "--method", "webster", "--cycle-s", "90"],
     "--cycle-s is not used"),
    ("optimize-out-missing-folder", ["optimize", "arterial", "--out", "nodir/p.json"], "does not exist"),
    ("optimize-out-onto-folder", ["optimize", "arterial", "--out", "adir"], "is a folder"),
    ("optimize-plot-not-png", ["optimize", "arterial", "--plot", "p.jpg"], "expected a .png"),
    ("optimize-weights-nan", ["optimize", "arterial", "--weights", "1,nan"], "--weights must be"),
    # simulate
    ("simulate-duration-nan", ["simulate", "arterial", "--duration-s", "nan"], "--duration-s must be > 0"),
    ("simulate-duration-inf", ["simulate", "arterial", "--duration-s", "inf"], "--duration-s must be > 0"),
    ("simulate-duration-8-days", ["simulate", "arterial", "--duration-s", str(8 * 86400)], "<= 604800"),
    ("simulate-jobs-10000", ["simulate", "arterial", "--seeds", "2", "--jobs", "10000"], "--jobs must be >= 1"),
    ("simulate-seeds-unbounded", ["simulate", "arterial", "--seeds", "1000000"], "--seeds must be >= 1 and <= 1000"),
    ("simulate-seed-negative", ["simulate", "arterial", "--seed", "-1"], "--seed must be >= 0"),
    ("simulate-queue-interval-nan", ["simulate", "arterial", "--queue-interval-s", "nan"], "--queue-interval-s"),
    ("simulate-control-step-inf", ["simulate", "arterial", "--controller", "max-pressure", "--control-step-s",
                                   "inf"], "--control-step-s must be > 0"),
    # sweep
    ("sweep-seeds-unbounded", ["sweep", "arterial", "--seeds", "1000000"], "--seeds must be"),
    ("sweep-workers-10000", ["sweep", "arterial", "--workers", "10000"], "--workers must be"),
    ("sweep-duration-inf", ["sweep", "arterial", "--duration-s", "inf"], "--duration-s must be > 0"),
    ("sweep-plot-missing-folder", ["sweep", "arterial", "--plot", "nodir/p.png"], "does not exist"),
    # sumo-control
    ("sumo-control-jobs-10000", ["sumo-control", "x.sumocfg", "--jobs", "10000"], "--jobs must be"),
    ("sumo-control-seeds-unbounded", ["sumo-control", "x.sumocfg", "--seeds", "5000"], "--seeds must be"),
    ("sumo-control-tripinfo-onto-folder", ["sumo-control", "x.sumocfg", "--tripinfo", "adir"], "is a folder"),
    ("sumo-control-missing-config", ["sumo-control", "x.sumocfg"], "not found"),
    # demo
    ("demo-out-onto-existing-file", ["demo", "--out", "existing.txt"], "exists and is not a folder"),
    ("demo-out-under-a-file", ["demo", "--out", "existing.txt/report"], "is not a folder"),
    ("demo-duration-nan", ["demo", "--duration-s", "nan"], "--duration-s must be > 0"),
    ("demo-duration-inf", ["demo", "--duration-s", "inf"], "--duration-s must be > 0"),
    ("demo-hours-inf", ["demo", "--hours", "inf"], "--hours must be > 0"),
    ("demo-jobs-10000", ["demo", "--jobs", "10000"], "--jobs must be"),
    ("demo-seeds-unbounded", ["demo", "--seeds", "100000"], "--seeds must be"),
    # count, count-cameras
    ("count-annotate-missing-folder", ["count", "clip.mp4", "--line", "0,0,9,9", "--annotate", "nodir/a.mp4"],
     "does not exist"),
    ("count-interval-nan", ["count", "clip.mp4", "--line", "0,0,9,9", "--interval-s", "nan"], "--interval-s"),
    ("count-tile-0", ["count", "clip.mp4", "--line", "0,0,9,9", "--sliced", "--tile-px", "0"], "--tile-px"),
    ("count-max-frames-0", ["count", "clip.mp4", "--line", "0,0,9,9", "--max-frames", "0"], "--max-frames"),
    ("count-cameras-workers-10000", ["count-cameras", "c.json", "--api", "http://a", "--workers", "10000"],
     "--workers must be"),
    # serve
    ("serve-port-70000", ["serve", "--port", "70000"], "--port must be >= 1 and <= 65535"),
    ("serve-port-0", ["serve", "--port", "0"], "--port must be"),
    ("serve-rate-limit-0", ["serve", "--rate-limit", "0"], "--rate-limit must be >= 1"),
    ("serve-rate-limit-nan", ["serve", "--rate-limit", "nan"], "--rate-limit must be"),
    ("serve-job-workers-10000", ["serve", "--job-workers", "10000"], "--job-workers must be"),
    ("serve-clock-skew-negative", ["serve", "--max-clock-skew-s", "-1"], "--max-clock-skew-s must be >= 0"),
    ("serve-interval-age-inf", ["serve", "--max-interval-age-s", "inf"], "--max-interval-age-s must be"),
    ("serve-db-not-a-url", ["serve", "--db", "notaurl"], "is not a database URL"),
    ("serve-db-missing-folder", ["serve", "--db", "sqlite:///nodir/g.db"], "'nodir', which does not exist"),
    ("serve-db-onto-folder", ["serve", "--db", "sqlite:///adir"], "not a database file"),
    ("serve-db-unsupported", ["serve", "--db", "mysql://u@h/db"], "'mysql', which is not supported"),
    # users, cameras
    ("users-create-db-not-a-url", ["users", "create", "ops", "--role", "admin", "--password-stdin", "--db",
                                   "notaurl"], "is not a database URL", STRONG_PASSWORD + "\n"),
    ("users-create-empty-name", ["users", "create", "", "--role", "admin", "--password-stdin", "--db",
                                 "sqlite:///g.db"], "user name", STRONG_PASSWORD + "\n"),
    ("users-create-weak-admin-password", ["users", "create", "ops", "--role", "admin", "--password-stdin", "--db",
                                          "sqlite:///g.db"], "password", "password\n"),
    ("users-list-db-not-a-url", ["users", "list", "--db", "notaurl"], "is not a database URL"),
    ("users-disable-db-missing-folder", ["users", "disable", "ops", "--db", "sqlite:///nodir/g.db"],
     "does not exist"),
    ("users-enable-db-unsupported", ["users", "enable", "ops", "--db", "mysql://u@h/db"], "not supported"),
    ("users-delete-db-onto-folder", ["users", "delete", "ops", "--db", "sqlite:///adir"], "not a database file"),
    ("users-set-role-db-not-a-url", ["users", "set-role", "ops", "--role", "viewer", "--db", "notaurl"],
     "is not a database URL"),
    ("users-passwd-weak-password", ["users", "passwd", "ops", "--password-stdin", "--db", "sqlite:///g.db"],
     "password", "password\n"),
    ("users-sessions-db-not-a-url", ["users", "sessions", "--db", "notaurl"], "is not a database URL"),
    ("cameras-create-db-missing-folder", ["cameras", "create", "cam-1", "--intersection", "I1", "--db",
                                          "sqlite:///nodir/g.db"], "does not exist"),
    ("cameras-list-db-not-a-url", ["cameras", "list", "--db", "notaurl"], "is not a database URL"),
    ("cameras-revoke-db-missing-folder", ["cameras", "revoke", "cam-1", "--db", "sqlite:///nodir/g.db"],
     "does not exist"),
    ("cameras-rotate-db-not-a-url", ["cameras", "rotate", "cam-1", "--db", "notaurl"], "is not a database URL"),
]


def run_in_process(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                   stdin: str = "") -> tuple[int | str | None, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        code: int | str | None = main(argv)
    except SystemExit as exc:  # argparse's own errors (unknown option, bad choice)
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code: int | str | None, out: str, err: str, message: str) -> None:
    assert code == 2, f"exit status {code!r}; stderr: {err!r}"
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.endswith("\n"), f"not one line: {err!r}"
    assert message in err, err
    assert out == "", f"nothing on stdout for a refused input: {out!r}"


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(row, workdir, no_work, capsys, monkeypatch):
    _, argv, message, *stdin = row
    before = snapshot(workdir)
    code, out, err = run_in_process(argv, capsys, monkeypatch, *stdin)
    assert_refused(code, out, err, message)
    assert not changes(before, snapshot(workdir)), "the working folder changed"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next((dict(a.choices) for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})


def _leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    subs = _subparsers(parser)
    if not subs:
        return {prefix}
    return set().union(*(_leaf_commands(sub, (*prefix, name)) for name, sub in subs.items()))


def _command_of(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[str, ...]:
    words: tuple[str, ...] = ()
    for word in argv:
        subs = _subparsers(parser)
        if word not in subs:
            break
        words, parser = (*words, word), subs[word]
    return words


def test_the_table_covers_every_subcommand():
    from greenwave.cli.main import build_parser

    parser = build_parser()
    covered = {_command_of(parser, argv) for _, argv, *_ in ROWS}
    missing = sorted(" ".join(words) for words in _leaf_commands(parser) - covered)
    assert not missing, f"no bad-input row for: {', '.join(missing)}"


def test_a_bad_database_in_the_environment_is_refused_before_anything_connects(workdir, no_work, capsys,
                                                                                 monkeypatch):
    monkeypatch.setenv("GREENWAVE_DB", "sqlite:///nodir/g.db")
    before = snapshot(workdir)
    for argv in (["serve"], ["users", "list"], ["cameras", "list"]):
        code, out, err = run_in_process(argv, capsys, monkeypatch)
        assert_refused(code, out, err, "'nodir', which does not exist")
    assert not changes(before, snapshot(workdir))


# --- a missing optional extra or driver: one line naming what to install ------------------------

@pytest.mark.parametrize(("argv", "modules", "message"), [
    (["count", "clip.mp4", "--line", "0,0,9,9"], ("ultralytics",), "pip install 'greenwave[detect]'"),
    (["count", "clip.mp4", "--line", "0,0,9,9"], ("cv2",), "pip install 'greenwave[detect]'"),
    (["count-cameras", "c.json", "--api", "http://a"], ("ultralytics", "cv2"), "pip install 'greenwave[detect]'"),
    (["demo", "--video", "clip.mp4", "--camera-config", "cam.json"], ("ultralytics",),
     "pip install 'greenwave[detect]'"),
    (["sumo-control", "run.sumocfg"], ("libsumo",), "pip install 'greenwave[sumo]'"),
    (["serve", "--db", "postgresql+psycopg://ops:s3cret@db.example/greenwave"], ("psycopg",),
     "driver 'psycopg', which is not installed: pip install 'psycopg[binary]'"),
], ids=["count-no-ultralytics", "count-no-opencv", "count-cameras-no-detect", "demo-video-no-detect",
        "sumo-control-no-libsumo", "serve-postgres-no-driver"])
def test_missing_extra_is_one_line_naming_it(argv, modules, message, workdir, no_work, capsys, monkeypatch):
    for name in modules:  # as if not installed: importing it fails and find_spec finds nothing
        monkeypatch.setitem(sys.modules, name, None)
    before = snapshot(workdir)
    code, out, err = run_in_process(argv, capsys, monkeypatch)
    assert_refused(code, out, err, message)
    assert "s3cret" not in err, "a password in a URL is never printed"
    assert not changes(before, snapshot(workdir))


# --- the real console script: no traceback, nothing written ------------------------------------

@pytest.mark.parametrize(("argv", "message"), [
    (["simulate", "arterial", "--duration-s", "nan"], "--duration-s must be > 0"),
    (["scenario", "import", "x.net.xml", "-o", "adir"], "is a folder"),
    (["plan", "export-sumo", "arterial", "-o", "nodir/tls.add.xml"], "does not exist"),
    (["demo", "--out", "existing.txt"], "exists and is not a folder"),
    (["serve", "--port", "70000"], "--port must be >= 1 and <= 65535"),
    (["serve", "--db", "notaurl"], "is not a database URL"),
])
def test_bad_input_through_a_real_process(argv, message, workdir):
    before = snapshot(workdir)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("GREENWAVE_DB", None)
    run = subprocess.run([sys.executable, "-m", "greenwave.cli.main", *argv], cwd=workdir, env=env,
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert_refused(run.returncode, run.stdout, run.stderr, message)
    assert not changes(before, snapshot(workdir))


# --- the atomic write behind every scenario and plan file -----------------------------------------

def test_atomic_write_onto_a_folder_leaves_no_temporary_file(tmp_path):
    from traffic.atomic_write import write_text_atomic

    (tmp_path / "out.json").mkdir()
    with pytest.raises(IsADirectoryError):
        write_text_atomic(tmp_path / "out.json", "{}")
    assert snapshot(tmp_path) == {"out.json": None}


def test_atomic_write_failing_midway_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    from traffic import atomic_write

    target = tmp_path / "plan.json"
    target.write_text("old\n", encoding="utf-8")

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_write.os, "replace", fail)
    with pytest.raises(OSError, match="No space left"):
        atomic_write.write_text_atomic(target, "new\n")
    assert snapshot(tmp_path) == {"plan.json": b"old\n"}


def test_save_plan_file_onto_a_folder_leaves_no_stray_tmp(tmp_path):
    from traffic.scenario_io import load_scenario, save_plan_file

    scenario = load_scenario("isolated_x050")
    (tmp_path / "plans.json").mkdir()
    with pytest.raises(IsADirectoryError):
        save_plan_file(scenario.active_plan_set(), tmp_path / "plans.json")
    assert snapshot(tmp_path) == {"plans.json": None}


def test_atomic_write_replaces_and_keeps_the_file_mode(tmp_path):
    from traffic.atomic_write import write_text_atomic

    target = tmp_path / "s.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    write_text_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "new" and (target.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_a_write_that_fails_midway_is_one_line_and_leaves_nothing(workdir, capsys, monkeypatch):
    """A full disk while the export is written: one line naming the file, no partial file, no stray temporary."""
    from traffic import atomic_write

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(atomic_write.os, "replace", disk_full)
    before = snapshot(workdir)
    code, out, err = run_in_process(["plan", "export-sumo", "arterial", "-o", "tls.add.xml"], capsys, monkeypatch)
    assert_refused(code, out, err, "tls.add.xml: No space left on device")
    assert not changes(before, snapshot(workdir))
