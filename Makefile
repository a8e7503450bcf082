# cryptochat: the chat (Python), the VM lab and the virtio-cryptodev device (C).
# `make demo` and `make test` work on a fresh machine: each installs what it needs.

# The interpreter that makes .venv/ (any Python 3.11 with venv; Debian's python3 works).
PYTHON ?= python3
export PYTHON

.PHONY: help demo test
help:
	@echo "make demo      install, build the lab, run the two-VM chat demo"
	@echo "make demo-local  the chat demo on loopback only (no VMs)"
	@echo "make test      install, then run every test (lint, unit, VM)"
	@echo "make lab       build QEMU with our device and the guest module"
	@echo "make test-vm   the VM tests alone (PROFILE=debian12|debian13)"
	@echo "make test-matrix  every VM test on both lab profiles"
	@echo "make shell     a guest with the device and the module loaded"
	@echo "make bench     the chat benchmark (channel, relay vs plain TCP and TLS 1.3) and the load harness (1 vs 3 servers on Redis)"
	@echo "make load      the load harness alone: 10, 100 and 1,000 members, 1 vs 3 servers on Redis"
	@echo "make bench-vm  the device and engine benchmarks in a guest, and the plot"
	@echo "make fuzz      the device and driver fuzzers and the full-ring soak, long runs"
	@echo "make fuzz-asan the device's qtest suites and the lifecycle fuzzer on QEMU built with ASan, long"
	@echo "make clean     remove .venv/ and build/ (the lab cache stays)"

include mk/python.mk
include mk/lab.mk

demo: demo-vms

test: lint test-py test-vm test-vm-debian13 test-asan
