#!/usr/bin/env bash
# Benchmarks. Usage:
#   ./bench.sh compare [FILE ...]   nacz vs gzip/bzip2/xz/zstd (default: corpora/alice29.txt)
#   ./bench.sh windows [FILE]       pure-model bits/byte and tokens/s at windows 2048/4096/8192
# Corpus files come from: python corpora/fetch.py
set -euo pipefail
cd "$(dirname "$0")"
what="${1:-compare}"; shift || true
case "$what" in
  compare) python bench/compare.py "${@:-corpora/alice29.txt}" ;;
  windows) python bench/window_table.py "${1:-corpora/alice29.txt}" 2048 4096 8192 ;;
  *) echo "usage: $0 compare|windows [FILE ...]" >&2; exit 2 ;;
esac
