# The two commands of the README.
.PHONY: demo test bench

demo:  ## set up and run the demo: sandbox API -> ETL -> SQLite -> dashboard
	./scripts/demo.sh

test:  ## set up and run the whole test suite on SQLite and PostgreSQL
	./scripts/test.sh

bench:  ## loader and ETL benchmarks (figures go to docs/BENCHMARKS.md)
	.venv/bin/python bench/bench_loader.py
