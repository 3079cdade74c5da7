"""Installing the package adds no import name a user's project could plausibly have: it installs
`huskyvoice_sandbox` and `huskyvoice_contract_kit`. A project with its own `sandbox.py` and
`contract_tests/` runs pytest with the plugin active and uses the fixtures."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PROJECT_TEST = '''
import sandbox          # the project's own module, not ours
import contract_tests   # likewise

def test_the_projects_own_modules_are_imported():
    assert sandbox.MINE and contract_tests.MINE

def test_the_plugin_is_active(huskyvoice):
    assert huskyvoice.get_appointment("appt_a1b2c3d4e5").status == 200
'''


def test_a_project_with_its_own_sandbox_and_contract_tests_runs_with_the_plugin(tmp_path: Path) -> None:
    (tmp_path / "sandbox.py").write_text("MINE = True\n\n")
    (tmp_path / "contract_tests").mkdir()
    (tmp_path / "contract_tests" / "__init__.py").write_text("MINE = True\n")
    (tmp_path / "test_project.py").write_text(PROJECT_TEST)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout


def test_the_wheel_installs_only_namespaced_import_names(tmp_path: Path, request) -> None:
    """The wheel built from the checkout (skipped without one)."""
    root = Path(request.config.rootpath)
    if not (root / "pyproject.toml").is_file():
        pytest.skip("not run from a checkout")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(root)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("*.whl"))
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"huskyvoice_sandbox", "huskyvoice_contract_kit"}
