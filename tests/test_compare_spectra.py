"""`ortho-suite compare-spectra`: each --runs folder may be an evaluation folder or a pretraining
work dir (its evaluation found where `evaluate` or the DVC pipeline writes it), and a work dir
without a known evaluation is refused in one line naming where it looked and what to pass."""
from __future__ import annotations

import json

from PIL import Image

from ortho_suite.cli import main

SPECTRA = {"representation": [1.0, 0.5, 0.01], "embedding": [1.0, 0.2],
           "weight/layer1.1.conv2.weight": [1.0, 0.3], "weight/layer2.1.conv2.weight": [1.0, 0.1]}


def _evaluation(folder, scale=1.0):
    folder.mkdir(parents=True)
    spectra = {k: [v * scale if i else v for i, v in enumerate(s)] for k, s in SPECTRA.items()}
    (folder / "spectra.json").write_text(json.dumps({"normalized_eigenvalues": spectra}))


def _work_dir(folder):
    folder.mkdir(parents=True)
    (folder / "config.py").write_text("model = dict()\n")
    (folder / "summary.json").write_text(json.dumps({"status": "finished"}))


def test_work_dirs_and_evaluation_folders_are_both_accepted(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _work_dir(tmp_path / "work_dirs/smoke/run_none")  # DVC layout: results/smoke/runs/run_none
    _evaluation(tmp_path / "results/smoke/runs/run_none")
    _work_dir(tmp_path / "try")  # `evaluate --work-dir try` without --out: try/eval
    _evaluation(tmp_path / "try/eval", scale=0.5)
    _evaluation(tmp_path / "elsewhere", scale=0.2)  # an evaluation folder given directly
    code = main(["compare-spectra", "--runs", "none=work_dirs/smoke/run_none", "so=try",
                 f"srip={tmp_path / 'elsewhere'}", "--out", "cmp"])
    out = capsys.readouterr()
    assert code == 0, out.err
    written = sorted(p.name for p in (tmp_path / "cmp").iterdir())
    assert written == ["spectra_embedding.png", "spectra_representation.png",
                       "spectra_weight_layer1_1_conv2_weight.png",
                       "spectra_weight_layer2_1_conv2_weight.png"]
    with Image.open(tmp_path / "cmp/spectra_representation.png") as image:
        assert image.format == "PNG" and image.size[0] > 100


def test_work_dir_without_evaluation_names_where_it_looked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _work_dir(tmp_path / "work_dirs/smoke/run_so")
    _evaluation(tmp_path / "ok")
    code = main(["compare-spectra", "--runs", "none=ok", "so=work_dirs/smoke/run_so",
                 "--out", "cmp"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    for looked in ("work_dirs/smoke/run_so/spectra.json", "work_dirs/smoke/run_so/eval/spectra.json",
                   str(tmp_path / "results/smoke/runs/run_so/spectra.json")):
        assert looked in err, err
    assert "so=work_dirs/smoke/run_so" in err and "ortho-suite evaluate --work-dir" in err
    assert "--out" in err  # what to pass instead: the evaluation folder
    assert not (tmp_path / "cmp").exists(), "nothing is written when one run cannot be read"


def test_missing_and_damaged_folders_exit_2(tmp_path, capsys):
    _evaluation(tmp_path / "ok")
    code = main(["compare-spectra", "--runs", f"a={tmp_path / 'ok'}", f"b={tmp_path / 'nosuch'}",
                 "--out", str(tmp_path / "cmp")])
    err = capsys.readouterr().err
    assert code == 2 and "no such folder" in err and err.count("\n") == 1
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/spectra.json").write_text("{truncated")
    code = main(["compare-spectra", "--runs", f"a={tmp_path / 'ok'}", f"b={tmp_path / 'bad'}",
                 "--out", str(tmp_path / "cmp")])
    err = capsys.readouterr().err
    assert code == 2 and "damaged" in err and err.count("\n") == 1
    assert not (tmp_path / "cmp").exists()
