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
	@if [ -f "$(INPUT)" ]; then \
		$(BIN)/emocli transcribe "$(INPUT)" -o out/transcript.json --output-format all; \
	else echo "No example audio at $(INPUT) (set EMOCLI_DATA or INPUT): transcribe skipped."; fi
	@if [ -f "$(VIDEO)" ]; then \
		$(BIN)/emocli annotate "$(VIDEO)" -o out/annotated.mp4 --output-format all; \
	else \
		echo "No example video at $(VIDEO) (set EMOCLI_DATA or VIDEO): annotating a generated test clip."; \
		$(BIN)/python -c "$$MAKE_EXAMPLE" out/example.mp4 && \
		$(BIN)/emocli annotate out/example.mp4 -o out/annotated.mp4 --output-format all; \
	fi

# A 4-second test pattern with a tone, made with the bundled ffmpeg (no speech, no face: the
# annotated copy says so on every frame).
define MAKE_EXAMPLE
import subprocess, sys, imageio_ffmpeg
subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y",
    "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=4",
    "-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-shortest", sys.argv[1]], check=True)
endef
export MAKE_EXAMPLE

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
