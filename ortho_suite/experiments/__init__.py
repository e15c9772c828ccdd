"""The papers' small-scale experiments, reproduced exactly on CPU (figures, data and a note each).

``ortho-suite experiment NAME --out DIR`` runs one; the ``experiment`` stages of ``dvc.yaml`` run
all of them into ``results/<profile>/figures/<name>/``.
"""
from ..catalog import EXPERIMENTS


def run_experiment(name: str, out_dir, work_dir=None) -> list:
    """Run one experiment and write its figure, data and note into ``out_dir``."""
    from importlib import import_module

    from ..errors import unknown_name

    if name not in EXPERIMENTS:
        raise unknown_name("experiment", name, EXPERIMENTS)
    module = import_module(f"{__name__}.{name}")
    result = module.run()
    if name == "iternorm_mapping" and work_dir is not None:
        result["training"] = module.train_intl(work_dir)
    return module.write(result, out_dir)
