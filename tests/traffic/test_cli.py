"""The ``greenwave`` command line: help everywhere, exit 2 with one line on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from greenwave.cli.main import build_parser, main
from traffic.scenario_io import load_scenario, save_plan_file

SUBCOMMANDS = [["scenario"], ["scenario", "import"], ["scenario", "show"], ["scenario", "list"], ["plan"],
               ["plan", "check"], ["plan", "export-sumo"]]


@pytest.mark.parametrize("words", SUBCOMMANDS)
def test_help_everywhere(words, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*words, "--help"])
    assert exc.value.code == 0
    assert "usage: greenwave" in capsys.readouterr().out


def test_scenario_show_builtin(capsys):
    assert main(["scenario", "show", "arterial"]) == 0
    out = capsys.readouterr().out
    assert "6 signalised" in out and "plan 'zero' (active): cycle 90 s" in out and "EB_through" in out
    assert "lane group W_I1#1: lanes [1]: W_I1>I1_I2 (s), W_I1>I1_N1 (l)" in out


def test_scenario_list(capsys):
    assert main(["scenario", "list"]) == 0
    assert "grid" in capsys.readouterr().out


def test_plan_check_ok(capsys):
    assert main(["plan", "check", "arterial", "--plan", "greenwave"]) == 0
    assert capsys.readouterr().out.startswith("ok: 6 plan(s) safe (greenwave)")


def test_plan_check_unsafe_file(tmp_path, capsys):
    sc = load_scenario("isolated_x080")
    plan = sc.active_plan("C")
    bad = replace(plan, name="bad", phases=(replace(plan.phases[0], green_s=2.0), *plan.phases[1:]))
    save_plan_file({"C": bad}, tmp_path / "bad.json")
    assert main(["plan", "check", "isolated_x080", "--plan", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert "unsafe plan (4 problems)" in err  # the two crossings walking in that phase starve too
    assert "phase 0 'NS_through': green_s 2 s is below the minimum green 5 s" in err
    assert "crossing 'C:E' (over C_E, E_C, 12.8 m) gets 2 s in phase 0 'NS_through'" in err
    assert "phases sum to 67 s but cycle_s is 90 s" in err


def test_plan_check_rule_option(capsys):
    assert main(["plan", "check", "isolated_x080", "--min-all-red-s", "2.5"]) == 2
    assert "all_red_s 2 s is below the minimum 2.5 s" in capsys.readouterr().err


def test_export_sumo(tmp_path, capsys):
    out = tmp_path / "tls.add.xml"
    assert main(["plan", "export-sumo", "arterial", "--plan", "greenwave", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.count("<tlLogic") == 6 and 'programID="greenwave" offset="22"' in text


def test_a_folder_named_like_a_program_is_not_taken_for_a_plan_file(tmp_path, monkeypatch, capsys):
    # run from a folder holding a subfolder 'greenwave' (the repository root holds the package of that name)
    (tmp_path / "greenwave").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "export-sumo", "arterial", "--plan", "greenwave", "-o", "tls.add.xml"]) == 0
    assert 'programID="greenwave" offset="22"' in (tmp_path / "tls.add.xml").read_text()
    assert main(["simulate", "arterial", "--plan", "greenwave", "--duration-s", "30", "--json"]) == 0


def test_export_refuses_unsafe_plan(tmp_path, capsys):
    sc = load_scenario("isolated_x080")
    plan = sc.active_plan("C")
    bad = replace(plan, name="bad", phases=(replace(plan.phases[0], yellow_s=0.0, green_s=28.0), *plan.phases[1:]))
    save_plan_file({"C": bad}, tmp_path / "bad.json")
    out = tmp_path / "tls.add.xml"
    assert main(["plan", "export-sumo", "isolated_x080", "--plan", str(tmp_path / "bad.json"), "-o", str(out)]) == 2
    assert not out.exists()
    assert "yellow_s 0 s is below the minimum 3 s" in capsys.readouterr().err


def test_import_and_show(ref_sumo, tmp_path, capsys):
    out = tmp_path / "iso.json"
    assert main(["scenario", "import", str(ref_sumo / "isolated.net.xml"), "--routes",
                 str(ref_sumo / "isolated_x050.rou.xml"), "-o", str(out)]) == 0
    assert main(["scenario", "show", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert data["format"] == "greenwave-scenario" and len(data["demand"]["flows"]) == 12


def _run(*args):
    return subprocess.run([sys.executable, "-m", "greenwave", *args], capture_output=True, text=True,
                          timeout=60)


def test_malformed_json_scenario_one_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"name": "x", "network": {"nodes": []}}')
    run = _run("scenario", "show", str(path))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "network.nodes: List should have at least 1 item" in run.stderr


def test_malformed_net_one_line(tmp_path):
    net = tmp_path / "bad.net.xml"
    net.write_text("<net><edge id='a'><lane")
    run = _run("scenario", "import", str(net), "-o", str(tmp_path / "o.json"))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "cannot read SUMO net" in run.stderr
    assert not (tmp_path / "o.json").exists()


def test_bad_arguments_one_line():
    run = _run("plan", "check")
    assert run.returncode == 2 and run.stderr.count("\n") == 1


def test_parser_leaves_room_for_later_commands():
    names = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert {"scenario", "plan"} <= names
