# Two entry points: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The torch build that installs here (a local wheel); override for other machines.
TORCH_SPEC ?= torch==2.14.1 torchaudio==2.11.0 torchvision==0.29.1
STAMP := $(VENV)/.videolang-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system demo test test-fast bench clean-sample

setup: system $(STAMP)

# System tools the project shells out to: ffmpeg (sample media), espeak-ng (narration), java (METEOR),
# chromium (the viewer's browser tests drive it through Playwright: no browser download).
system:
	@missing=""; \
	command -v ffmpeg >/dev/null || missing="$$missing ffmpeg"; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; } \
	    > /tmp/videolang-apt.log 2>&1 || { cat /tmp/videolang-apt.log; exit 1; }; \
	fi

# Installation output goes to $(VENV)/install.log and is shown only when something fails.
$(STAMP): pyproject.toml
	@echo "setting up $(VENV) (log: $(VENV)/install.log)"
	@free=$$(df -Pk . | awk 'NR==2 {print int($$4 / 1048576)}'); \
	if [ -n "$$free" ] && [ "$$free" -lt 9 ]; then \
	  echo "warning: $$free GB free on this disk; the environment takes about 8 GB (PyTorch with its CUDA libraries)"; fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@( $(BIN)/python -m pip install --upgrade pip && \
	   $(BIN)/python -m pip install $(TORCH_SPEC) && \
	   $(BIN)/python -m pip install -e '.[test,whisper-base]' ) > $(VENV)/install.log 2>&1 \
	  || { cat $(VENV)/install.log; echo "setup failed: see $(VENV)/install.log"; exit 1; }
	@touch $(STAMP)

demo: setup
	$(BIN)/python -m pipelines.demo

# pytest-xdist over TEST_WORKERS processes; tests that share a trained fixture stay on one worker (loadgroup),
# artefacts every worker needs are built once per run (tests/fixtures/shared.py).
TEST_WORKERS ?= 2
test: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

test-fast: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup -m "not slow"

# Every benchmark runs; the ones whose goal was missed are listed at the end (exit 1).
bench: setup
	@missed=""; for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || missed="$$missed $$b"; done; \
	if [ -n "$$missed" ]; then echo "goal missed or failed:$$missed"; exit 1; fi
