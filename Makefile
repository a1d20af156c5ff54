# tsadbench: `make help` lists the targets.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# One stamp per checkout: a virtual environment shared by several clones (CI keeps one per
# pyproject.toml hash) still gets this checkout installed in editable mode.
STAMP := $(VENV)/.installed-$(shell printf '%s' "$(CURDIR)" | cksum | cut -d' ' -f1)
ARGS ?=

.DEFAULT_GOAL := help
REFS ?= .venv-refs
.PHONY: help install run test test-full test-slow lint format suite baseline tolerances reproductions reproductions-run leaderboard leaderboard-run bench bench-refs bench-orion goldens clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create the virtual environment (VENV=.venv) and install tsadbench + dev tools

run: $(STAMP) ## Install if needed, then `tsadbench run $(ARGS)` (default detector on synthetic)
	$(BIN)/tsadbench run $(ARGS)

test: $(STAMP) ## Install if needed, then the fast test suite (no slow / gpu tests)
	$(BIN)/python -m pytest -q

test-full: $(STAMP) ## All tests, slow ones included (gpu ones need a GPU)
	$(BIN)/python -m pytest -q -m "not gpu"

test-slow: $(STAMP) ## Only the tests marked slow (what `make test` leaves out; `.ci/run` runs both)
	$(BIN)/python -m pytest -q -m "slow and not gpu"

# mypy sees detectors/ and metrics/ inside tsadbench/, as they are installed: build/mypy holds
# links that put them there, and mypy runs on that tree (strict, all three packages)
lint: $(STAMP) ## ruff (lint + format check) and mypy --strict over tsadbench, detectors, metrics
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf build/mypy && mkdir -p build/mypy/tsadbench
	for f in tsadbench/*; do case $$f in *__pycache__) ;; *) ln -s ../../../$$f build/mypy/tsadbench/;; esac; done
	ln -s ../../../detectors build/mypy/tsadbench/detectors
	ln -s ../../../metrics build/mypy/tsadbench/metrics
	cd build/mypy && $(abspath $(BIN))/mypy --config-file ../../pyproject.toml

# the CI suite needs the real data: TSADBENCH_DATA=../shared/data (`.ci/run` sets it)
# a fresh folder for the records and for the frozen-network cache: nothing earlier is reused
suite: $(STAMP) ## The CI suite in a fresh folder, `leaderboard check` against the baseline, then the gate's damage tests on it
	dir=$$(mktemp -d -t tsadbench-ci-XXXX) && \
	TSADBENCH_CACHE=$$dir/.cache $(BIN)/tsadbench run suite=ci results_dir=$$dir && \
	$(BIN)/tsadbench leaderboard check $$dir --baseline leaderboard/baseline.json && \
	TSADBENCH_GATE_RESULTS=$$dir $(BIN)/python -m pytest -q tests/e2e/test_gate.py

# three runs of the suite that should agree: the baseline's run, threads=2, the submitit
# launcher; each with a fresh cache. submitit's local launcher starts every job of a sweep at
# once (no n_jobs): one detector (four jobs) at a time keeps the memory of a 2-core machine.
tolerances: $(STAMP) ## Measure the gate's per-metric tolerances from 3 runs of the CI suite; rewrite the baseline
	a=$$(mktemp -d -t tsadbench-ci-XXXX) && b=$$(mktemp -d -t tsadbench-ci-XXXX) && \
	c=$$(mktemp -d -t tsadbench-ci-XXXX) && \
	TSADBENCH_CACHE=$$a/.cache $(BIN)/tsadbench run suite=ci results_dir=$$a && \
	TSADBENCH_CACHE=$$b/.cache $(BIN)/tsadbench run suite=ci results_dir=$$b threads=2 && \
	for d in $$($(BIN)/python -c "from tsadbench.registry import list_detectors as l; print(*l())"); do \
	  TSADBENCH_CACHE=$$c/.cache $(BIN)/tsadbench run suite=ci results_dir=$$c detector=$$d \
	    hydra/launcher=submitit_local || exit 1; \
	done && \
	$(BIN)/tsadbench leaderboard update $$a --baseline leaderboard/baseline.json \
	  --noise $$b --noise $$c --noise-note "threads=2; submitit_local launcher; fresh caches"

baseline: $(STAMP) ## Run the CI suite and rewrite leaderboard/baseline.json (commit it with the change)
	dir=$$(mktemp -d -t tsadbench-ci-XXXX) && \
	TSADBENCH_CACHE=$$dir/.cache $(BIN)/tsadbench run suite=ci results_dir=$$dir && \
	$(BIN)/tsadbench leaderboard update $$dir --baseline leaderboard/baseline.json

reproductions: $(STAMP) ## Regenerate docs/reproductions.md from the run records in docs/reproductions/records/
	$(BIN)/python -m tsadbench.report.reproductions render

# the reproduction runs a 2-core machine can make (hours; TSADBENCH_DATA must hold the data):
# the Anomaly Transformer at the cpu setting on MSL and at the paper's on SMD, TadGAN on
# NAB AdExchange (Orion's setting) and the MSL signals at 10 epochs, OracleAD and its
# AutoEncoder baseline on 5 SMD machines reduced; then their records go into
# docs/reproductions/records/ and the page is regenerated. A GPU machine runs the full suites
# instead (conf/suite/paper_*.yaml say how).
REPRO ?= results/reproductions
SMD5 := "dataset.entities=[machine-1-2,machine-1-3,machine-2-1,machine-3-2,machine-3-3]"
SMD5_REDUCED := 'reduced="stride 5, 10 epochs, seed 0, 5 of the 23 machines here (paper: stride 1, 80 epochs, 5 seeds, 28 machines)"'
NASA_REDUCED := 'reduced="10 epochs (Orion: 70); the signals that finished (runs column)"'
reproductions-run: $(STAMP) ## Run the reproduction suites at their CPU settings (hours), collect the records, regenerate the page
	for d in anomaly_transformer random; do \
	  $(BIN)/tsadbench run suite=paper_anomaly_transformer_cpu detector=$$d dataset=msl_concat \
	    results_dir=$(REPRO) && \
	  $(BIN)/tsadbench run suite=paper_anomaly_transformer detector=$$d dataset=smd_concat \
	    results_dir=$(REPRO) || exit 1; \
	done
	$(BIN)/tsadbench run suite=paper_tadgan_nab +suite/paper_tadgan_nab/family=adex \
	  results_dir=$(REPRO)
	$(BIN)/tsadbench run suite=paper_tadgan_nab +suite/paper_tadgan_nab/family=adex \
	  detector=random '~detector.error' '~detector.comb' results_dir=$(REPRO)
	$(BIN)/tsadbench run suite=paper_oraclead_smd seed=0 $(SMD5) detector.stride=5 \
	  detector.n_epochs=10 $(SMD5_REDUCED) results_dir=$(REPRO)
	$(BIN)/tsadbench run suite=paper_oraclead_smd detector=random seed=0 $(SMD5) $(SMD5_REDUCED) \
	  results_dir=$(REPRO)
	$(BIN)/tsadbench run suite=paper_tadgan_nasa dataset=msl detector=random $(NASA_REDUCED) \
	  results_dir=$(REPRO)
	$(BIN)/tsadbench run suite=paper_tadgan_nasa dataset=msl detector.n_epochs=10 $(NASA_REDUCED) \
	  results_dir=$(REPRO)
	$(BIN)/python -m tsadbench.report.reproductions collect $(REPRO)
	$(BIN)/python -m tsadbench.report.reproductions render

leaderboard: $(STAMP) ## Regenerate docs/leaderboard.md (and its CD diagram) from the run records in docs/leaderboard/records.jsonl.gz
	$(BIN)/python -m tsadbench.report.board render

# the board's runs (about 40 minutes on 2 cores; TSADBENCH_DATA must hold the data): every registered
# detector on SMD, MSL, SMAP and NAB at conf/suite/leaderboard.yaml's settings. A run already in
# BOARD is kept (an interrupted sweep resumes); its records replace docs/leaderboard/records.jsonl.gz.
BOARD ?= results/leaderboard
leaderboard-run: $(STAMP) ## Run the board's suite (about 40 minutes), collect its records, regenerate docs/leaderboard.md
	$(BIN)/tsadbench run suite=leaderboard results_dir=$(BOARD)
	$(BIN)/python -m tsadbench.report.board collect $(BOARD)
	$(BIN)/python -m tsadbench.report.board render

format: $(STAMP) ## Apply ruff's formatting and import order
	$(BIN)/ruff check --fix --select I .
	$(BIN)/ruff format .

bench: $(STAMP) $(REFS)/.installed ## Benchmarks: detectors (time, memory) and metrics vs the references
	$(BIN)/python bench/detectors.py
	$(BIN)/python bench/datasets.py
	$(BIN)/python bench/metrics.py --refs-python $(REFS)/bin/python

$(REFS)/.installed: bench/refs-requirements.txt
	test -x $(REFS)/bin/python || $(PYTHON) -m venv $(REFS)
	sed -n '1,/^# --no-deps/p' bench/refs-requirements.txt | grep -v '^#' > $(REFS)/deps.txt
	sed -n '/^# --no-deps/,$$p' bench/refs-requirements.txt | grep -v '^#' > $(REFS)/nodeps.txt
	$(REFS)/bin/python -m pip install --quiet -r $(REFS)/deps.txt
	$(REFS)/bin/python -m pip install --quiet --no-deps -r $(REFS)/nodeps.txt
	touch $@

bench-refs: $(REFS)/.installed ## Build the reference metric packages' own environment (REFS=.venv-refs)

ORION ?= .venv-orion

$(ORION)/.installed: bench/orion-requirements.txt
	test -x $(ORION)/bin/python || $(PYTHON) -m venv $(ORION)
	$(ORION)/bin/python -m pip install --quiet -r bench/orion-requirements.txt
	touch $@

bench-orion: $(STAMP) $(ORION)/.installed ## TadGAN beside Orion's own (Orion in its own environment, ORION=.venv-orion)
	$(BIN)/python bench/detectors.py --vs-orion $(ORION)/bin/python

goldens: $(REFS)/.installed ## Regenerate tests/golden/reference.json with the reference packages
	$(REFS)/bin/python bench/make_goldens.py

clean: ## Remove caches (not the virtual environment, not results/)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis
