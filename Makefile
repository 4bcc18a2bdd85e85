# kestrel: `make run` trains the default job, `make test` runs the test suite.
# Both prepare what they need first: the virtual environment from the lock
# file and, for Bazel, Debian's bazel-bootstrap and bazel-rules-java.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kestrel-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RUN_DIR ?= runs/digits
ARGS ?=

.PHONY: setup run test test-unit lint format browser-setup bazel-setup bazel-test bazel-check clean

setup: $(STAMP)

$(STAMP): requirements.lock
	@$(PYTHON) -c 'import sys; assert (3, 9) <= sys.version_info[:2] <= (3, 11), "kestrel needs Python 3.9-3.11 (TensorFlow 2.15); found " + sys.version.split()[0]'
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $(STAMP)

run: setup
	$(PY) -m scripts.train --model_dir=$(RUN_DIR) --overwrite_model_dir $(ARGS)

# The suite runs once, over TEST_WORKERS pytest-xdist processes; a test file stays on one worker
# (--dist loadfile), so its module fixtures (the every-flag harness, generated data) are built once.
TEST_WORKERS ?= 2
test: setup browser-setup
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(ARGS)

# The unit layer alone (tests/unit/<package>/: in-process, no child process, no browser): the quick
# check while editing one package. `make test` runs it too, once, with the rest.
test-unit: setup
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile tests/unit $(ARGS)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# tests/e2e/test_serve.py drives the serving page in headless chromium through chromedriver.
browser-setup:
	@[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium chromium-driver; }

bazel-setup: setup
	@command -v bazel >/dev/null && [ -d /usr/share/bazel/rules/java ] || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q bazel-bootstrap bazel-rules-java; }

# The venv's interpreter comes first on PATH; .bazelrc passes PATH to tests.
bazel-test: bazel-setup
	PATH="$(abspath $(VENV))/bin:$$PATH" bazel test //... $(ARGS)

# CI's Bazel step: every target builds, every py_binary starts through its launcher, and one
# representative test per package runs through Bazel's own runner; the suite runs once, under
# pytest (make test).
BAZEL_TESTS := //tests/e2e:test_binaries_start //tests:test_build_files //tests/e2e:test_flags \
	//tests/e2e:test_digits_dataset //tests/unit/estimators/engines:test_checkpoints //tests/e2e:test_launch \
	//input_fns/datasets/digits:digits_dataset_builder_test
bazel-check: bazel-setup
	PATH="$(abspath $(VENV))/bin:$$PATH" bazel build //... $(ARGS)
	PATH="$(abspath $(VENV))/bin:$$PATH" bazel test $(BAZEL_TESTS) $(ARGS)

clean:
	rm -rf runs
	-bazel clean 2>/dev/null
