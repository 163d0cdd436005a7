#!/usr/bin/env bash
# Benchmarks: an alias of `python -m bench VERB [ARGS]` (run from the repository root).
# The verbs and what each runs: python -m bench --help. Results: bench/results/.
# Corpus files come from: python corpora/fetch.py
set -euo pipefail
cd "$(dirname "$0")"
exec "${PYTHON:-python}" -m bench "${@:-compare}"
