# The two commands of the README: `make run` and `make test`. Each installs what is
# missing (a .venv from pyproject.toml) and then runs. libsndfile and FFmpeg come inside
# the soundfile and av wheels; `make test` also installs Debian's chromium (as root).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export EARMARK_HOME ?= $(CURDIR)/.state
export PIP_DISABLE_PIP_VERSION_CHECK := 1
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install extras run test lint bench clean chromium vectors

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -e ".[dev]"
	@$(MAKE) --no-print-directory extras
	@rm -f $(VENV)/.installed-*
	@touch $@

# The optional PyTorch extras (semantic.v1, resemblyzer) only with a CPU build of torch:
# already installed, or a local wheel. Never let pip resolve torch from the index (CUDA, GBs).
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-2.13.0+cpu-*.whl))
extras:
	@if $(BIN)/python -c "import torch" 2>/dev/null || \
	    { test -n "$(TORCH_WHEEL)" && $(BIN)/pip install --quiet "$(TORCH_WHEEL)"; }; then \
	  $(BIN)/pip install --quiet -e ".[dev,semantic,voice]" && \
	  $(BIN)/pip install --quiet --no-deps resemblyzer==0.1.4; \
	else \
	  echo "earmark: optional extras skipped (no CPU build of torch 2.13.0 here). To add them:"; \
	  echo "  $(BIN)/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"; \
	  echo "  make extras"; \
	fi

run: install
	$(BIN)/earmark run --archive samples/archive --warehouse $(EARMARK_HOME)/warehouse

# The shipped rubrics' lines as vectors (rubrics/meaning-vectors.npz): after editing them.
vectors: install
	$(BIN)/python -m flows.seed_vectors

lint: install
	$(BIN)/ruff check pipeline models flows review tests bench
	$(BIN)/ruff format --check pipeline models flows review tests bench
	$(BIN)/mypy

# The review app's browser tests drive Debian's Chromium (never a downloaded browser).
chromium:
	@test -x /usr/bin/chromium || ( $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq --no-install-recommends chromium ) || \
	  { echo "earmark: install Chromium for the browser tests: apt-get install chromium"; exit 1; }

# Exact ASR output depends on the instruction set CTranslate2 picks for the CPU at hand
# (CT2_FORCE_CPU_ISA), so the tests that assert on what the real model heard (marker `slow`,
# less the orchestration tests, whose outcome does not depend on the words) run again under
# the other settings this CPU can run: a test that holds only on one of them fails here.
ISAS := GENERIC $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && echo AVX2)
NOT_ASR_EXACT := --ignore=tests/flows/test_dask.py --ignore=tests/flows/test_schedule.py \
                 --ignore=tests/flows/test_crash_resume.py --ignore=tests/flows/test_no_orphans.py \
                 --ignore=tests/flows/test_incremental.py --ignore=tests/flows/test_faults.py

test: install lint chromium
	$(BIN)/pytest
	@for isa in $(ISAS); do \
	  echo "earmark: the real-ASR tests again with CT2_FORCE_CPU_ISA=$$isa"; \
	  CT2_FORCE_CPU_ISA=$$isa $(BIN)/pytest -m slow -q -p no:cacheprovider $(NOT_ASR_EXACT) || exit 1; \
	done

bench: install
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(EARMARK_HOME)/warehouse .pytest_cache .mypy_cache .ruff_cache
