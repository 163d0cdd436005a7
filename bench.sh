#!/usr/bin/env bash
# Benchmarks. Usage:
#   ./bench.sh compare [FILE ...]    nacz vs gzip/bzip2/xz/zstd (default: corpora/alice29.txt)
#   ./bench.sh ablation [WINDOW]     predictor ablation (bits/byte per component, predictor
#                                    time, skip fraction) on alice29, asyoulik, the first
#                                    64 KiB of lcet10 and plrabn12, fields.c pasted twice,
#                                    and two held-out texts that are not in the corpus
#   ./bench.sh layout [WINDOW]       LLM alone and all predictors on alice29, the first 64 KiB
#                                    of lcet10 and asyoulik and the GPL-3 text, each as it is
#                                    and with the line-layout folds the codec chooses
#   ./bench.sh throughput [FILE ...] one table: nacz vs gzip/bzip2/xz/zstd (bits/byte, KB/s,
#                                    peak RSS), --workers 1 vs 2 identity, the model's raw
#                                    batched forward rate on the same shards and nacz's
#                                    fraction of it; plot in bench/throughput.png
#                                    (default: corpora/alice29.txt; needs '.[bench]' to plot)
#   ./bench.sh windows [FILE[:N]]    LLM alone and all predictors at windows 2048/4096/8192,
#                                    one stream each (default: corpora/alice29.txt)
#   ./bench.sh load                  N nacz runs together, and nacz beside busy loops
#                                    (bench/load.py; grammar.lsp)
#   ./bench.sh frontier TEXT ...     the speed/ratio sweep of bench/frontier.py on 8 KB cuts,
#                                    rows kept in bench/frontier.jsonl (needs '.[bench]')
#   ./bench.sh batch                 one llama_decode by tokens per call and position
#   ./bench.sh predictors [CHECKOUT] the predictors' own time per token (no model); with
#                                    CHECKOUT (a directory whose nacz/ holds another
#                                    version, coder/ and formats/ copied in), alternating
#                                    runs of both
#   ./bench.sh ray [TEXT]            Ray start-up, 1 and 2 actors vs --workers 1, and a
#                                    simulated two-node cluster (needs '.[ray]')
#   ./bench.sh structured [N]        paq8px -8L (where one exists: --paq8px, $PAQ8PX or PATH),
#                                    xz -9e and nacz on the machine's structured texts (log,
#                                    XML, JSON, CSV, HTML, Python, Korean, Japanese) and the
#                                    Canterbury texts, first N bytes each (default 8192)
#   ./bench.sh blocks TEXT [SIZES]   how --block-size trades ratio for parallelism on TEXT
#                                    (bench/block_size.py; default sizes 64K,256K,1M,8M;
#                                    about an hour per megabyte per size each way on 2 cores)
#   ./bench.sh struct DIR            the structure contexts' ablation (bench/struct_ablation.py)
#                                    on 16 KiB of the same structured texts and alice29.txt:
#                                    caches the model's logits in DIR (about 13 GB), then
#                                    codes every configuration from the cache
#   ./bench.sh texts DIR [BYTES]     cut the diverse set and texts gathered from this machine
#                                    (bench/texts.py: XML, Korean, Greek, Arabic, a text PDF,
#                                    CSV, C, Python, a log, base64, a hex dump) into DIR
#   ./bench.sh router DIR            the router's estimate vs the real cost on those texts
#                                    (bench/ROUTER.md; about 45 minutes of model time)
#   ./bench.sh peers DIR             nacz (default, -1) vs xz, zstd, PPMd, zpaq on the
#                                    Canterbury files and those texts (bench/PEERS.md)
# Corpus files come from: python corpora/fetch.py
set -euo pipefail
cd "$(dirname "$0")"
what="${1:-compare}"; shift || true
C=corpora
case "$what" in
  compare) python bench/compare.py "${@:-$C/alice29.txt}" ;;
  ablation)
    held_out=()
    # Text that is not in the Canterbury corpus (defaults must hold for text in general):
    # the GPL-3 licence text and Python's own argparse.py, where the machine has them.
    [ -f /usr/share/common-licenses/GPL-3 ] && held_out+=(/usr/share/common-licenses/GPL-3)
    argparse_py="$(python -c 'import argparse; print(argparse.__file__)')"
    [ -f "$argparse_py" ] && held_out+=("$argparse_py:65536")
    python bench/ablation.py --window "${1:-2048}" \
      "$C/alice29.txt" "$C/asyoulik.txt" "$C/lcet10.txt:65536" "$C/plrabn12.txt:65536" \
      "twice:$C/fields.c:11150" "${held_out[@]}" ;;
  layout)
    # Each input as it is and with the line-layout folds the codec chooses (nacz.layout).
    gpl=/usr/share/common-licenses/GPL-3
    ins=("$C/alice29.txt" "$C/lcet10.txt:65536" "$C/asyoulik.txt:65536")
    [ -f "$gpl" ] && ins+=("$gpl")
    specs=()
    for i in "${ins[@]}"; do specs+=("$i" "fold:$i"); done
    python bench/ablation.py --window "${1:-2048}" --configs "llm;+apm (all)" "${specs[@]}" ;;
  throughput) python bench/throughput.py --png bench/throughput.png "${@:-$C/alice29.txt}" ;;
  windows)
    for w in 2048 4096 8192; do
      python bench/ablation.py --window "$w" --configs "llm;+apm (all)" "${1:-$C/alice29.txt}"
    done ;;
  load) python bench/load.py --n 2,4 --hogs 1,2 --markdown ;;
  frontier) python bench/frontier.py --bytes 8192 --jsonl bench/frontier.jsonl \
              --png bench/frontier.png "$@" ;;
  predictors)
    for round in 1 2 3; do
      python bench/predictor_time.py --json
      if [ -n "${1:-}" ]; then (cd /tmp && PYTHONPATH="$1" python "$OLDPWD/bench/predictor_time.py" --json); fi
    done ;;
  batch) python bench/batch_cost.py ;;
  ray) python bench/ray_bench.py "${1:-$C/alice29.txt}" ;;
  blocks) python bench/block_size.py "${1:?usage: $0 blocks TEXT [SIZES]}" \
            --blocks "${2:-64K,256K,1M,8M}" --verify ;;
  structured) python bench/structured.py --bytes "${1:-8192}" --canterbury ;;
  struct)
    dir="${1:?usage: $0 struct DIR}"
    specs=$(python -c 'import sys; sys.path.insert(0, "bench"); import structured
for n, p in structured.default_texts()[:7]:
    print(f"{n}={p}:16384") if p else None')
    # shellcheck disable=SC2086
    python bench/struct_ablation.py cache "$dir" $specs "alice29=$C/alice29.txt:16384"
    python bench/struct_ablation.py run "$dir" ;;
  texts) python bench/texts.py "${1:?usage: $0 texts DIR [BYTES]}" --bytes "${2:-16384}" ;;
  router)
    # the router's estimate against the real cost (--model-gate 0 files made into DIR/actual)
    dir="${1:?usage: $0 router DIR}"
    python bench/texts.py "$dir/texts" && \
      python bench/router.py --actual "$dir/actual" --jsonl "$dir/router.jsonl" "$dir"/texts/* ;;
  peers)
    # nacz (default, -1) against xz, zstd, PPMd and zpaq on the Canterbury files and DIR's texts
    dir="${1:?usage: $0 peers DIR}"
    python bench/texts.py "$dir/texts" && \
      python bench/peers.py --jsonl "$dir/peers.jsonl" --tools nacz,nacz-1,xz-9e,zstd-19,ppmd16,zpaq-m5 \
        $C/kennedy.xls $C/ptt5 $C/sum $C/alice29.txt:8192 $C/asyoulik.txt:8192 $C/cp.html:8192 \
        $C/fields.c:8192 $C/grammar.lsp:8192 $C/lcet10.txt:8192 $C/plrabn12.txt:8192 \
        $C/xargs.1:8192 "$dir"/texts/* ;;
  *) echo "usage: $0 compare|throughput|ablation|layout|windows|load|frontier|batch|ray|blocks|structured|struct|texts|router|peers [...]" >&2
     exit 2 ;;
esac
