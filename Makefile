# The two commands: `make run` and `make test`. Everything else is for developers.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PY := .venv/bin/python

.PHONY: help install run test bench gen check-gen lint clean eval-sentiment train-sentiment

help:
	@echo "make run        install what is needed and run the whole platform on http://localhost:8000"
	@echo "make test       install what is needed and run every test"
	@echo "make bench      measure (prints figures)"
	@echo "make eval-sentiment   the sentiment model's held-out accuracy, macro-F1 and latency"
	@echo "make gen        regenerate proto/schema and the subject table; make check-gen fails when stale"
	@echo "make lint       ruff"

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

install: $(if $(findstring .tools,$(UV)),.tools/bin/uv)
	$(UV) sync --frozen --all-packages --quiet

run: install
	$(PY) -m embedded_stack

test: install check-gen lint
	$(PY) -m pytest

eval-sentiment: install
	$(PY) -m sentiment.training_eval

# Retrains the shipped head (minutes: it embeds 14k tweets); needs the training dependency group.
train-sentiment: install
	$(UV) sync --frozen --all-packages --group training --quiet
	$(PY) services/sentiment/training/train_head.py

bench: install
	$(PY) tests/bench/bench_bus.py
	$(PY) -m tests.bench.bench_calls
	$(PY) -m tests.bench.bench_analytics

gen: install
	$(PY) -m contracts.schema_gen

check-gen: install
	$(PY) -m contracts.schema_gen --check

lint: install
	$(PY) -m ruff check .

clean:
	rm -rf .venv .tools .pytest_cache .ruff_cache
