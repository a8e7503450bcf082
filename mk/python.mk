# The Python package in the project's virtualenv (.venv/): install, lint, unit
# tests, local demo, benchmarks. Every target runs .venv/bin/python; PYTHON only
# makes the venv (scripts/venv.sh).

VENV := .venv
VPY := $(VENV)/bin/python

.PHONY: install install-test install-bench install-lab test-deps lint test-py demo-local bench load clean
install:
	./scripts/venv.sh

install-lab:
	./scripts/venv.sh lab

install-bench:
	./scripts/venv.sh bench,lab

# make test type-checks the benchmarks (matplotlib) and the lab harness too.
install-test:
	./scripts/venv.sh test,bench,lab

# redis-server, which the cluster tests and benchmark start on a loopback port of their own.
test-deps:
	./scripts/install-test-deps.sh

lint: install-test lint-kernel
	$(VPY) -m ruff check cryptochat tests benchmarks virtio/lab demo
	$(VPY) -m mypy --strict cryptochat
	$(VPY) -m mypy --strict virtio/lab/*.py benchmarks/*.py demo/*.py

test-py: install-test test-deps
	$(VPY) -m pytest -q tests --ignore=tests/vm

demo-local: install
	$(VPY) demo/conductor.py

bench: install-bench test-deps
	$(VPY) benchmarks/chat_bench.py
	$(VPY) benchmarks/load_bench.py

# The load harness alone (10, 100 and 1,000 members on loopback, then 100 members on one server and on
# three servers on one Redis; about three minutes).
load: install-bench test-deps
	$(VPY) benchmarks/load_bench.py

# The lab cache (~/.cache/cryptochat) stays: it is keyed by its inputs.
clean:
	rm -rf $(VENV) build
