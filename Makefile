# The two commands: `make run` and `make test`. Everything else is for developers.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PY := .venv/bin/python
# onnxruntime 1.32 sends usage telemetry to Microsoft from every process that runs a model (the
# embedding, sentiment, VAD and TTS models); nothing of ours may leave the machine unasked.
export ORT_DISABLE_TELEMETRY := 1

.PHONY: help install run test bench gen check-gen lint clean eval-sentiment train-sentiment frontend-build browser sealed-network

help:
	@echo "make run        install what is needed and run the whole platform on http://localhost:8000"
	@echo "make test       install what is needed and run every test"
	@echo "make bench      measure (prints figures)"
	@echo "make eval-sentiment   the sentiment model's figures on held-out customer tweets and TweetEval, and its latency"
	@echo "make train-sentiment  retrain the sentiment model (installs torch, CPU build, for training only)"
	@echo "make gen        regenerate proto/schema, the subject table, the gateway's OpenAPI and the app's TypeScript types; make check-gen fails when stale"
	@echo "make lint       ruff"

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

install: $(if $(findstring .tools,$(UV)),.tools/bin/uv) frontend/node_modules/.package-lock.json
	$(UV) sync --frozen --all-packages --quiet

# Reinstalled only when the lock file changes. Playwright drives Debian's Chromium: no browser download.
frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

frontend-build: install
	cd frontend && npm run build --silent

# The end-to-end browser tests need Debian's chromium (root installs it; CI runs as root).
browser:
	@test -x /usr/bin/chromium || (apt-get install -y -q chromium >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null))

run: frontend-build
	$(PY) -m embedded_stack

# Voice tests carry WebRTC, which cannot stay on loopback: every test runs in a network namespace of
# its own that nothing can leave (tests/sealed_network; it fails the run if something tried).
sealed-network:
	@command -v nft >/dev/null || (apt-get install -y -q nftables >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null && apt-get install -y -q nftables >/dev/null))

test: check-gen lint frontend-build browser sealed-network
	tests/sealed_network bash -c '$(PY) -m pytest && cd frontend && npx vitest run && npx playwright test'

eval-sentiment: install
	$(PY) -m sentiment.training_eval

# Fine-tunes and exports the shipped model (~10 min on 2 idle cores) from the data in services/sentiment/training/data;
# needs the training dependency group (torch's CPU build from this machine's disk; `make install` drops it again).
train-sentiment: install
	$(UV) sync --frozen --all-packages --group training --quiet
	$(PY) services/sentiment/training/train_sentiment.py

# In the sealed namespace too: the voice benchmarks carry WebRTC. Figures also go to bench/results/.
bench: install sealed-network
	tests/sealed_network bash -c '$(PY) tests/bench/bench_bus.py && $(PY) -m tests.bench.bench_calls && \
	  $(PY) -m tests.bench.bench_analytics && $(PY) -m tests.bench.speech_wer && $(PY) -m tests.bench.bench_voice && \
	  $(PY) -m tests.bench.bench_load'

gen: install
	$(PY) -m contracts.schema_gen
	$(PY) -m gateway.openapi_dump
	cd frontend && npm run gen:types --silent

check-gen: install
	$(PY) -m contracts.schema_gen --check
	$(PY) -m gateway.openapi_dump --check
	cd frontend && npm run check:types --silent

lint: install
	$(PY) -m ruff check .
	cd frontend && npm run lint

clean:
	rm -rf .venv .tools .pytest_cache .ruff_cache frontend/node_modules frontend/dist frontend/test-results test-artifacts
