"""Collapse diagnostics of one evaluated run: the spectra (float64) of every conv/linear weight of
the backbone, of each hidden feature, the representation and the embedding, and their plots.

Hidden features are the stages' global-average pooled outputs on the spectral batch (the OR paper
does not say how it reduces feature maps, and flattened maps are too wide to diagonalize; a ViT's
hidden features are its CLS token after each block, ``feature_stages`` of models/vit.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from .. import plots
from .. import spectra as spectral
from ..regularizers import regularized_weights, so_penalty


def _scalars(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "normalized_eigenvalues"}


def spectral_diagnostics(backbone, test: dict):
    """(normalized eigenvalues by name, scalar diagnostics by name, log singular values of the
    representation and embedding, the backbone's (name, weight) pairs). Names: ``weight/<layer>``,
    ``hidden/stageK``, ``representation``, ``embedding``. ``test``: cached test features."""
    spectra, scalars = {}, {}
    weights = regularized_weights(backbone)
    for name, weight in tqdm(weights, desc="weight spectra", unit="layer", file=sys.stderr,
                             mininterval=2.0):
        w = spectral.weight_as_samples(weight.detach().double().cpu())
        s = spectral.spectrum_summary(w)
        spectra[f"weight/{name}"] = s["normalized_eigenvalues"]
        scalars[f"weight/{name}"] = {**_scalars(s), "so_penalty": float(so_penalty(weight.detach().double()))}
    features = {**{f"hidden/{k}": v for k, v in test["hidden"].items()},
                "representation": test["hidden"][f"stage{len(test['hidden'])}"]}
    if test.get("embedding") is not None:
        features["embedding"] = test["embedding"]
    for name, x in features.items():
        s = spectral.spectrum_summary(x)
        spectra[name] = s["normalized_eigenvalues"]
        scalars[name] = _scalars(s)
    log_spectra = {name: spectral.embedding_log_spectrum(features[name]).tolist()
                   for name in ("representation", "embedding") if name in features}
    return spectra, scalars, log_spectra, weights


def write_plots(plot_dir: Path, spectra: dict, log_spectra: dict, weights) -> None:
    """The figures of one run (OR paper, Figs. 3-5 conventions; DirectCLR's log spectrum)."""
    weight_names = [name for name, _ in weights]
    chosen = plots.last_conv_of_each_stage(weight_names)
    plots.plot_eigenspectra({plots.stage_of(n): spectra[f"weight/{n}"] for n in chosen},
                            "weights: last conv of each stage", plot_dir / "weight_spectra.png")
    plots.plot_eigenspectra({k.split("/")[-1]: v for k, v in spectra.items()
                             if not k.startswith("weight/")},
                            "features (first test batch)", plot_dir / "feature_spectra.png")
    if chosen:
        last = dict(weights)[chosen[-1]]
        plots.plot_filter_correlation(last.detach().cpu().numpy(), f"|corr| of {chosen[-1]} filters",
                                      plot_dir / "filter_correlation.png")
    plots.plot_log_spectrum(log_spectra, "log singular values (L2-normalized)",
                            plot_dir / "log_spectrum.png")
