# Two entry points for a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-unit kafka-start kafka-stop stop prometheus schemas clean

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

# the broker that `make demo` and `make test` leave running
stop: kafka-stop

# Debian's Prometheus scraping the demo's worker (127.0.0.1:6066): the dashboard's numbers without Docker
prometheus:
	deploy/prometheus.sh

schemas: $(STAMP)
	$(BIN)/python -m schemas.generate

clean:
	deploy/kafka.sh reset || true
	rm -rf $(VENV) var
