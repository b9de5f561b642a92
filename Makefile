# emocli: two commands set everything up on a fresh machine (see README):
#   make demo   creates .venv, installs emocli with its bundled offline models, runs it on examples
#   make test   lint + the test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU build by default (a plain "torch" pulls a multi-GB CUDA build on Linux).
# On a GPU server: make install TORCH="torch"
TORCH ?= torch==2.13.0
# The shipped example (assets/README.md): a talking portrait saying happy, surprised, annoyed and
# sad lines. `make demo VIDEO=talk.mp4` annotates your own video instead; INPUT=talk.wav also
# transcribes an audio file.
VIDEO ?= assets/example.mp4
INPUT ?=
PYTEST_ARGS ?=

.PHONY: install demo test lint format clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev,ray]"
	touch $@

install: $(BIN)/.installed

demo: install
	@mkdir -p out
	@if [ -n "$(INPUT)" ]; then \
		$(BIN)/emocli transcribe "$(INPUT)" -o out/transcript.json --output-format all; fi
	$(BIN)/emocli annotate "$(VIDEO)" -o out/annotated.mp4 --output-format all
	@echo "Open out/annotated.html in a browser: the video with its transcript and emotion timeline."

lint: install
	$(BIN)/ruff check emocli tests benchmarks
	$(BIN)/ruff format --check emocli tests benchmarks

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

format: install
	$(BIN)/ruff format emocli tests benchmarks
	$(BIN)/ruff check --fix emocli tests benchmarks

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache *.egg-info
