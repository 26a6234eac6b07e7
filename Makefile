# The two commands of the README's quick start:
#   make quickstart   install into .venv, build the example plugins, run one in the sandbox
#   make test         install into .venv, lint, type-check and run the whole test suite
#   make test-fast    the unit tests alone (seconds): a quick check while you work
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: quickstart test test-fast lint typecheck plugins bench serve infra-tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

plugins: $(STAMP)
	$(BIN)/python examples/plugins/build.py --out build/plugins

quickstart: plugins
	$(BIN)/clawft-registry inspect build/plugins/hello/hello.wasm
	$(BIN)/clawft-registry run build/plugins/hello/hello.wasm --tool greet --input '{"name": "Oslo"}'

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite runs in parallel (pytest-xdist, one process per CPU, at most four): each process
# starts its own servers, so they never share a database, a broker or a bucket. A Redis of your
# own (CLAWFT_TEST_REDIS_URL) is one server for all: then the suite runs in one process.
XDIST := $(if $(CLAWFT_TEST_REDIS_URL),-n 0,-n auto --maxprocesses 4)

test: lint typecheck infra-tools
	$(BIN)/pytest $(XDIST)

# The deployment tests (tests/integration/infra/deployment) check docker-compose.yml with
# Debian's docker-compose (`config` validates against the Compose specification without a
# Docker daemon) and the proxy config with `nginx -t`; the browser tests (tests/integration/web)
# drive Debian's Chromium through chromium-driver: all installed here when missing (as root).
infra-tools:
	@command -v docker-compose >/dev/null && PATH="$$PATH:/usr/sbin" command -v nginx >/dev/null || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends docker-compose nginx-light >/dev/null; }
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends chromium chromium-driver >/dev/null; }

test-fast: $(STAMP)
	$(BIN)/pytest tests/unit $(XDIST)

bench: plugins
	$(BIN)/python bench/host_overhead.py
	$(BIN)/python bench/verify_latency.py
	$(BIN)/python bench/verify_latency.py --plugin notes
	$(BIN)/python bench/verify_latency.py --plugin heavy
	$(BIN)/python bench/registry_download.py
	$(BIN)/python bench/web_pages.py
	$(BIN)/python bench/tuf_sync.py
	$(BIN)/python bench/verify_throughput.py
	$(BIN)/python bench/mixed_load.py

serve: plugins
	$(BIN)/clawft-registry serve --data-dir registry-data
