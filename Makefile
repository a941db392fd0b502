# The two commands a newcomer needs:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test soak bench build clean test-arm64

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip setuptools wheel 'Cython>=3.0' 'numpy>=1.26'
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# Rebuild the compiled core whenever rig/signal/_core.pyx changed (no-op otherwise).
build: $(VENV)/.installed
	$(PY) setup.py -q build_ext --inplace

demo: build
	$(VENV)/bin/rig demo --with-history

# Everything but the long soak runs, on every core (pytest-xdist; one file stays on one worker).
test: build
	$(PY) -m pytest -q -n auto --dist loadfile --durations=20 -m "not soak"

# The soak runs: 50 kill -9 cycles of the recording process, 20 s of sustained load, ...; then,
# alone on the machine (its plate runs in real time), the clinic-morning browser walk on
# `rig demo --with-history` (about 9 minutes; screenshots in test-artifacts/acceptance).
ACCEPTANCE := tests/system/test_acceptance.py
soak: build
	$(PY) -m pytest -q -n auto --dist loadfile --durations=5 -m soak --ignore=$(ACCEPTANCE)
	$(PY) -m pytest -q --durations=1 -m soak $(ACCEPTANCE)

# ARM64 proof (the Pi's Debian 12 arm64): build the core and run the non-GUI tests in a Debian 12
# arm64 root under qemu-user-static (as root; slow, so not in .ci/run; see docs/reliability.md).
test-arm64:
	bash .ci/test-arm64.sh

bench: build
	$(PY) -m bench

clean:
	rm -rf build rig/signal/_core.c rig/signal/_core*.so
