# Hospeda — the two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system
UV := $(PYTHON) -m uv

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast bench lint format contracts deploy migration audit-verify clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}'

install: ## Install everything the project needs (uv, Python packages, Debian's Chromium for the browser tests)
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --frozen --quiet
	@deploy/dev/install-browser.sh

run: install ## Start the whole platform locally on http://localhost:8000 (Ctrl-C stops it)
	@$(UV) run --frozen python -m hospeda.devstack run

test: install ## Run the whole test suite against real servers
	@$(UV) run --frozen pytest

bench: install ## Measure throughput and latency (figures in bench/results/)
	@$(UV) run --frozen python -m bench $(ONLY)

lint: install ## Ruff, and mypy strict on libs/
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy libs/contracts/src libs/runtime/src libs/ops/src

format: install ## Format the code
	@$(UV) run --frozen ruff format .
	@$(UV) run --frozen ruff check --fix .

contracts: install ## Regenerate the published JSON Schemas, AsyncAPI and OpenAPI (refuses breaking changes)
	@$(UV) run --frozen python -m hospeda.contracts.schema write
	@$(UV) run --frozen python -m hospeda.gateway.openapi write

deploy: install ## Regenerate deploy/'s derived files (topics, ACLs, roles, manifests, env template)
	@$(UV) run --frozen python -m hospeda.devstack.deploy write

audit-verify: install ## Check the audit log (hashes, chains, signed checkpoints): make audit-verify [COMPANY=id]
	@$(UV) run --frozen python -m hospeda.audit verify $(if $(COMPANY),--company $(COMPANY))

migration: install ## New migration: make migration PACKAGE=hospeda.billing MSG="add invoices"
	@$(UV) run --frozen python -m hospeda.runtime.migrate revision $(PACKAGE) -m "$(MSG)"

clean: ## Forget local state (.hospeda/: SQLite files, logs)
	rm -rf .hospeda
