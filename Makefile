# songmatch — the two commands are `make demo` and `make test`; everything else is a step of them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

include scripts/versions.env

# PG_MAJOR=15|17 picks the server every target works on (scripts/pg-env.sh): its pg_config (the
# distribution's, or the private build of scripts/setup-pg-source.sh), its port 543NN, its cluster
# (target/pg for 15, target/pgNN otherwise) and its cargo features and build directory.
PG_MAJOR    ?= $(PG_MAJOR_DEFAULT)
ifeq ($(strip $(PG_CONFIG)),)
override PG_CONFIG := $(shell PG_MAJOR=$(PG_MAJOR) PG_CONFIG= bash scripts/pg-env.sh PG_CONFIG)
endif
PG_OS_USER  ?= postgres
PG_PORT     ?= 543$(PG_MAJOR)
BUNDLE      ?= default
CARGO       ?= cargo
PYTHON      ?= python3
export PG_MAJOR PG_CONFIG PG_OS_USER PG_PORT
comma := ,
ALL_MAJORS  := $(subst $(comma), ,$(PG_MAJORS))
ifeq ($(PG_MAJOR),$(PG_MAJOR_DEFAULT))
PGRX_FEATURES :=
else
# another major builds without the default pg15 feature, in its own cargo target directory (so the
# two builds do not undo each other)
PGRX_FEATURES := --no-default-features --features pg$(PG_MAJOR)
export CARGO_TARGET_DIR := $(CURDIR)/target/cargo-pg$(PG_MAJOR)
endif

ROOT        := $(CURDIR)
PGBIN        = $(shell $(PG_CONFIG) --bindir)
PKGLIBDIR    = $(shell $(PG_CONFIG) --pkglibdir)
SHAREDIR     = $(shell $(PG_CONFIG) --sharedir)
ORT_DIR      = $(PKGLIBDIR)/songmatch
MODEL_DIR    = $(SHAREDIR)/songmatch/models
DSN          = $(shell scripts/db.sh dsn)
PSQL         = $(PGBIN)/psql "$(DSN)" -X -v ON_ERROR_STOP=1


.PHONY: test-quality bench-citus package test-package test-major pg-server help setup system pgvector cargo-pgrx pgrx-init onnxruntime models install-models \
        build install db-start db-stop dsn psql demo test test-core test-pg test-regress test-tools \
        bench clean-db install-fixtures test-client eval ranker-venv lint

help:
	@echo "songmatch: match songs to playlists inside PostgreSQL"
	@echo "  make demo        set up what is missing, start the server, load the demo, show matches"
	@echo "  make test        set up what is missing, then run every test tier"
	@echo "  make setup       system packages, pgvector, cargo-pgrx, libonnxruntime, default models"
	@echo "  make install     build and install the extension (release) into $(PG_CONFIG)'s dirs"
	@echo "  make models BUNDLE=default|production|fixture   fetch and verify a model bundle"
	@echo "  make db-start | db-stop | psql | dsn           the local cluster (port $(PG_PORT))"

# ---------------------------------------------------------------------------------------------
# setup: idempotent; a second run only reports that everything is present
# ---------------------------------------------------------------------------------------------
setup: system pg-server pgvector cargo-pgrx pgrx-init onnxruntime install-models

system:
	@bash scripts/setup-system.sh

# the server itself when the distribution has no package of PG_MAJOR (PostgreSQL 17 on Debian 12)
pg-server: system
	@bash scripts/setup-pg-source.sh

pgvector: system pg-server
	@bash scripts/setup-pgvector.sh

cargo-pgrx:
	@if $(CARGO) pgrx --version 2>/dev/null | grep -q " $(CARGO_PGRX_VERSION)$$"; then \
	    echo "==> cargo-pgrx $(CARGO_PGRX_VERSION) present"; \
	else \
	    echo "==> installing cargo-pgrx $(CARGO_PGRX_VERSION) (takes several minutes)"; \
	    $(CARGO) install cargo-pgrx --version $(CARGO_PGRX_VERSION) --locked; \
	fi

# `cargo pgrx init` rewrites its whole config: it is given every major whose server is installed
pgrx-init: cargo-pgrx system pg-server
	@if grep -qs '^pg$(PG_MAJOR) = "$(PG_CONFIG)"' $${PGRX_HOME:-$$HOME/.pgrx}/config.toml; then \
	    echo "==> pgrx knows pg$(PG_MAJOR) at $(PG_CONFIG)"; \
	else \
	    args=(); for m in $(ALL_MAJORS); do \
	        c="$$(PG_MAJOR=$$m PG_CONFIG= bash scripts/pg-env.sh PG_CONFIG)"; \
	        if [[ $$m == $(PG_MAJOR) ]]; then c="$(PG_CONFIG)"; fi; \
	        if [[ -x "$$c" ]]; then args+=(--pg$$m "$$c"); fi; \
	    done; \
	    $(CARGO) pgrx init "$${args[@]}"; \
	fi

onnxruntime: system
	@bash scripts/fetch-onnxruntime.sh "$(ORT_DIR)"

models:
ifeq ($(BUNDLE),fixture)
	@$(MAKE) --no-print-directory install-fixtures
else
	@$(PYTHON) models/fetch.py --bundle $(BUNDLE) --dest target/models --cache target/cache
endif

# Installs the fetched bundle where the server reads it (songmatch.model_dir's default).
install-models: system models
	@mkdir -p "$(MODEL_DIR)"
	@if ! diff -rq target/models "$(MODEL_DIR)" >/dev/null 2>&1; then \
	    cp -r target/models/. "$(MODEL_DIR)/"; \
	    find "$(MODEL_DIR)" -type d -exec chmod 0755 {} +; \
	    find "$(MODEL_DIR)" -type f -exec chmod 0644 {} +; \
	    echo "==> models installed in $(MODEL_DIR)"; \
	else \
	    echo "==> models in $(MODEL_DIR) are current"; \
	fi

# The committed fixture bundle (tiny random-weight models of the production architectures),
# installed beside the real models for the tests: $(SHAREDIR)/songmatch/fixtures.
FIXTURE_DIR  = $(SHAREDIR)/songmatch/fixtures
install-fixtures: system
	@rm -rf "$(FIXTURE_DIR).new" && mkdir -p "$(FIXTURE_DIR).new/bundles"
	@for d in models/fixtures/fixture-*/; do cp -r "$$d" "$(FIXTURE_DIR).new/"; done
	@cp models/fixtures/bundle.json "$(FIXTURE_DIR).new/bundles/fixture.json"
	@find "$(FIXTURE_DIR).new" -type d -exec chmod 0755 {} + && find "$(FIXTURE_DIR).new" -type f -exec chmod 0644 {} +
	@rm -rf "$(FIXTURE_DIR)" && mv "$(FIXTURE_DIR).new" "$(FIXTURE_DIR)"
	@echo "==> fixture models installed in $(FIXTURE_DIR)"

# ---------------------------------------------------------------------------------------------
# build, install, local server
# ---------------------------------------------------------------------------------------------
build: pgrx-init
	$(CARGO) build --release $(PGRX_FEATURES)

# The library is unlinked first: cargo-pgrx copies over the old file in place, which would crash
# backends that have it mapped; unlinked, they keep the old inode and new backends load the new one.
# The frozen install scripts of earlier releases (sql/releases/) are installed too, so that a
# database can be created at an old version and upgraded (pgrx-tests/client/test_upgrade.sh).
install: setup
	rm -f "$(PKGLIBDIR)/songmatch.so"
	$(CARGO) pgrx install --release --pg-config $(PG_CONFIG) $(PGRX_FEATURES)
	install -m 0644 sql/releases/songmatch--*.sql "$(SHAREDIR)/extension/"

db-start: system
	@scripts/db.sh start

db-stop:
	@scripts/db.sh stop

dsn:
	@scripts/db.sh dsn

psql: db-start
	@$(PGBIN)/psql "$(DSN)"

# ---------------------------------------------------------------------------------------------
# the two commands
# ---------------------------------------------------------------------------------------------
demo: install db-start
	@$(PSQL) -q -c "set songmatch.allow_drop = on" -c "drop extension if exists songmatch cascade" -c "create extension songmatch cascade"
	@$(PSQL) -q -f sql/demo/catalogue.sql
	@$(PSQL) -f sql/demo/show.sql

# A client test that skips fails the run unless SONGMATCH_ALLOW_SKIP names it (pgrx-tests/client/run.sh);
# the summary names the skips that were allowed, so a green line never hides an untested tier.
CLIENT_SKIPS = target/client-tests-allowed-skips
# The default major runs every tier; each other major of PG_MAJORS (17) runs test-major: its
# pg_tests, the regress suite and the client tests of MAJOR_CLIENT_TESTS. Then each major's
# package is built and installed from the package alone (test-package).
OTHER_MAJORS = $(filter-out $(PG_MAJOR_DEFAULT),$(ALL_MAJORS))
MAJOR_CLIENT_TESTS = security extensions_schema upgrade service refresh
test: setup test-core test-tools test-pg test-regress test-client test-quality
	@for m in $(OTHER_MAJORS); do \
	    echo "==> PostgreSQL $$m: pg_test, regress, client tests ($(MAJOR_CLIENT_TESTS))"; \
	    $(MAKE) --no-print-directory PG_MAJOR=$$m PG_CONFIG= PG_PORT=543$$m test-major || exit 1; \
	done
	@for m in $(ALL_MAJORS); do \
	    echo "==> PostgreSQL $$m: make package, then the install test from the package alone"; \
	    $(MAKE) --no-print-directory PG_MAJOR=$$m PG_CONFIG= PG_PORT=543$$m test-package || exit 1; \
	done
	@skips="$$(cat $(CLIENT_SKIPS) 2>/dev/null)"; \
	tiers="core, tools, pg_test, regress, client, quality on PostgreSQL $(PG_MAJOR_DEFAULT); pg_test, regress, client ($(MAJOR_CLIENT_TESTS)) on $(OTHER_MAJORS); package install on $(ALL_MAJORS)"; \
	if [ -n "$$skips" ]; then \
	    echo "make test: all tiers passed ($$tiers) EXCEPT the skipped tests: $$skips (allowed by SONGMATCH_ALLOW_SKIP)"; \
	else \
	    echo "make test: all tiers passed ($$tiers), no test skipped"; \
	fi

# another major's tiers (make test runs it for each of OTHER_MAJORS)
test-major: setup test-pg test-regress
	@$(MAKE) --no-print-directory test-client CLIENT_TESTS="$(MAJOR_CLIENT_TESTS)" CLIENT_SKIPS=$(CLIENT_SKIPS).pg$(PG_MAJOR)
	@if [ -s $(CLIENT_SKIPS).pg$(PG_MAJOR) ]; then cat $(CLIENT_SKIPS).pg$(PG_MAJOR) >> $(CLIENT_SKIPS); fi

# formatting (rustfmt.toml) and clippy with warnings as errors; .ci/run runs it after make test
lint: pgrx-init
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace -- -D warnings

# tier 1: the pure Rust core (crates/songmatch-core: no pgrx, no PostgreSQL), plain #[test]
test-core:
	$(CARGO) test -p songmatch-core

# tier 1b: the Python tooling (model fetcher) on local data, and the evaluation protocol of eval/cv.py
# (folds, what a fold trains on, the leakage guards) in the ranker venv
test-tools: ranker-venv
	$(PYTHON) -m unittest discover -s models/reference -p 'test_*.py'
	PYTHONDONTWRITEBYTECODE=1 $(RANKER_VENV)/bin/python -m unittest discover -s eval -p 'test_*.py'

# tier 2: #[pg_test] functions inside a throw-away server that pgrx runs as $(PG_OS_USER)
test-pg: setup install-fixtures
	rm -f "$(PKGLIBDIR)/songmatch.so"
	$(CARGO) pgrx test pg$(PG_MAJOR) $(PGRX_FEATURES) --runas $(PG_OS_USER) --pgdata "$$(scripts/db.sh testdir)"

# tier 3: SQL-level tests (pg_regress) against the Makefile's server with the release build
test-regress: install db-start
	@bash pgrx-tests/run.sh

HOLDOUT    ?= 0.2
NEGATIVES  ?= 100
MIN_TRACKS ?= 10
SEED       ?= 42
K          ?= 10
# offline evaluation on a Spotify-songs CSV (eval/README.md); last line: one JSON object
eval: install db-start ranker-venv
	@test -n "$(DATA)" || { echo "usage: make eval DATA=path/to/spotify_songs.csv.gz" >&2; exit 1; }
	@bash eval/run.sh --data "$(DATA)" --holdout $(HOLDOUT) --negatives $(NEGATIVES) --min-tracks $(MIN_TRACKS) --seed $(SEED) --k $(K)

# The learned ranker's training environment (models/ranker/requirements.txt, exact versions):
# train_ranker's client test and models/ranker/train.py use it.
RANKER_VENV = target/venv-ranker
ranker-venv:
	@if $(RANKER_VENV)/bin/python -c 'import lightgbm, onnxmltools, onnxruntime' 2>/dev/null; then \
	    echo "==> $(RANKER_VENV) present"; \
	else \
	    echo "==> creating $(RANKER_VENV) (models/ranker/requirements.txt)"; \
	    $(PYTHON) -m venv $(RANKER_VENV) && $(RANKER_VENV)/bin/pip install -q -r models/ranker/requirements.txt; \
	fi

# tier 4: client tests of procedures that COMMIT: kill/crash and resume, concurrent runners,
# poison items, staleness (the crash test kill -9s a backend: the server restarts itself)
test-client: install db-start install-fixtures ranker-venv
	@mkdir -p target && rm -f $(CLIENT_SKIPS)
	@SONGMATCH_DSN_BASE="host=127.0.0.1 port=$(PG_PORT) user=postgres" SONGMATCH_SKIP_REPORT=$(CLIENT_SKIPS) \
	    bash pgrx-tests/client/run.sh $(CLIENT_TESTS)

# tier 5: the ranking-quality floor (eval/floor.sh): a pinned subset of the dev playlists through
# make eval's path; fails when NDCG@10 falls more than 0.02 below eval/floor.json's figure
test-quality: install db-start
	@SONGMATCH_SKIP_REPORT=$(CLIENT_SKIPS) bash eval/floor.sh

# songmatch vs raw onnxruntime vs an HTTP JSON service (embedding throughput), first-call latency,
# backend memory, stage-1 latency at 1k/10k/100k candidates, cached calls, HNSW retrieval at 100k,
# and one user's liked songs end to end vs the seed's design (bench/run.sh). Prints a table and,
# as its last line, one JSON object. Goals are information, never a failure.
bench: install db-start install-fixtures
	@bash bench/run.sh

# songmatch on Citus: delegation's overhead and throughput with 1 and 2 workers (a throw-away cluster)
bench-citus: install
	@bash bench/citus_bench.sh

# ---------------------------------------------------------------------------------------------
# packages (packaging/): per major, under target/package/
# ---------------------------------------------------------------------------------------------
# postgresql-NN-songmatch_<ver>_amd64.deb and .tar.gz (with install.sh), built on this machine
package: setup
	@PGRX_FEATURES="$(PGRX_FEATURES)" bash packaging/build.sh

# install the package alone into a fresh cluster and use it, remove it, then reinstall the source
# build (packaging/test-install.sh); the local cluster of this major is stopped first
test-package: package
	@scripts/db.sh stop
	@rc=0; bash packaging/test-install.sh || rc=$$?; \
	$(MAKE) --no-print-directory install install-fixtures >/dev/null || rc=1; exit $$rc

clean-db: db-stop
	rm -rf "$$(scripts/db.sh dir)"/data
