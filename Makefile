# emocli: two commands set everything up on a fresh machine (see README):
#   make demo   creates .venv, installs emocli with its bundled offline models, runs it on examples
#   make test   lint + the test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU build by default (a plain "torch" pulls a multi-GB CUDA build on Linux).
# On a GPU server: make install TORCH="torch"
TORCH ?= torch==2.13.0
EMOCLI_DATA ?= ../shared/data
INPUT ?= $(EMOCLI_DATA)/speech/jfk.flac
VIDEO ?= $(EMOCLI_DATA)/clips/face_2.mp4
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
	$(BIN)/emocli transcribe "$(INPUT)" -o out/transcript.json --output-format all
	$(BIN)/emocli annotate "$(VIDEO)" -o out/annotated.mp4 --output-format all

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
