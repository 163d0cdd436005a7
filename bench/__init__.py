"""nacz benchmarks: python -m bench VERB (see bench/__main__.py and bench/common.py)."""
