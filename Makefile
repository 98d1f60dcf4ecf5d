# Two entry points for a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-unit stop prometheus kafka-start kafka-stop schemas docs clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "needs $(PY)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	deploy/demo.sh

test: $(STAMP)
	$(BIN)/python -m pytest -ra

test-unit: $(STAMP)
	$(BIN)/python -m pytest -ra -m "not kafka"

kafka-start:
	deploy/kafka.sh start

kafka-stop:
	deploy/kafka.sh stop

# The local broker keeps running after `make demo` and `make test`: this stops it.
stop: kafka-stop

# Debian's Prometheus scraping the demo's worker (127.0.0.1:6066): the dashboard's numbers without Docker
prometheus:
	deploy/prometheus.sh

schemas: $(STAMP)
	$(BIN)/python -m schemas.generate

# docs/contract.md, docs/rules.md, docs/configuration.md from the code (a test fails when they drift)
docs: schemas
	$(BIN)/python -m service.docs

clean:
	deploy/kafka.sh reset || true
	rm -rf $(VENV) var
