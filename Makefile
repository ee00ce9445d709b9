# Two commands for a new user (see README.md):
#   make demo   set everything up and run the job on the bundled sample documents
#   make test   set up what the tests need and run them (CI runs exactly this)
VENV ?= .venv
OUT ?= out/demo
PYTEST_ARGS ?=

.PHONY: demo test setup setup-test bench clean

setup:
	scripts/setup.sh run

setup-test:
	scripts/setup.sh test

demo: setup
	$(VENV)/bin/paperbeam run --input paperbeam/samples/documents --output $(OUT)
	@echo "Records: $(OUT)/records-*.jsonl   dead letters: $(OUT)/dead_letters-*.jsonl   summary: $(OUT)/summary.json"

test: setup-test
	PAPERBEAM_TEST_PG_DSN="$$(scripts/postgres.sh)" $(VENV)/bin/python -m pytest -q $(PYTEST_ARGS) tests

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache
