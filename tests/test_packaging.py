"""The built wheel ships every package and the bundled configs (``configs/`` as
``dianjax.configs``)."""

import importlib.metadata
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _can_build_in_place() -> bool:
    try:  # pyproject.toml needs setuptools>=77; a fresh venv has an older one, so build
        # isolated then
        return int(importlib.metadata.version("setuptools").split(".")[0]) >= 77
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.mark.slow
def test_wheel_ships_every_package_and_the_bundled_configs(tmp_path):
    source = tmp_path / "src"  # a copy: an in-tree build would leave build/ behind, and reuse it
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("dianjax", "sim", "configs"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    isolation = ["--no-build-isolation"] if _can_build_in_place() else []
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation,
                    "-w", str(tmp_path), str(source)], check=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("dianjax-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    configs = sorted(p.name for p in (ROOT / "configs").glob("*.py"))
    assert {"quickstart.py", "cifar10.py", "train_derived.py"} <= set(configs)
    assert [name for name in configs if f"dianjax/configs/{name}" not in names] == []
    packages = [p.parent.relative_to(ROOT).as_posix() for top in ("dianjax", "sim")
                for p in (ROOT / top).rglob("__init__.py")]
    assert [pkg for pkg in packages if f"{pkg}/__init__.py" not in names] == []
