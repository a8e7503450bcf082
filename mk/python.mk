# The Python package: install, lint, unit tests, local demo, benchmarks.

.PHONY: install lint test-py demo-local bench
install:
	$(PYTHON) -m pip install -q --disable-pip-version-check -e '.[test]'

lint: install lint-kernel
	$(PYTHON) -m ruff check cryptochat tests benchmarks virtio/lab
	$(PYTHON) -m mypy --strict cryptochat
	$(PYTHON) -m mypy --strict virtio/lab/*.py benchmarks/*.py

test-py: install
	$(PYTHON) -m pytest -q tests --ignore=tests/vm

demo-local: install
	$(PYTHON) -m cryptochat.demo

bench: install
	$(PYTHON) benchmarks/chat_bench.py
