# cloud-init-rs build entry points.
#
#   make build   release binaries (cloud-init, cloud-id, cloud-init-per,
#                cloud-init-generator) in $(CARGO_TARGET_DIR)/release
#   make docs    man pages and shell completions from the clap definitions,
#                in $(DOCS_DIR) (man/*.1, completions/)
#   make deb     build and docs, then the Debian package: exactly one
#                target/debian/cloud-init-rs_<version>_<arch>.deb
#   make lintian make deb, then lintian on it (tools/lintian.sh)
#   make test    the test suite (tools/test.sh)
#   make clean   cargo clean and remove target/debian

CARGO ?= cargo
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
DEB_DIR ?= $(CURDIR)/target/debian
DOCS_DIR ?= $(CURDIR)/target/docs
BINS := cloud-init cloud-id cloud-init-per cloud-init-generator

.PHONY: all build docs deb lintian test clean

all: build

build:
	$(CARGO) build --release -p ci-cli $(addprefix --bin ,$(BINS))

# Release profile too, so the example reuses the dependencies `build` compiled.
docs:
	rm -rf "$(DOCS_DIR)"
	$(CARGO) run --release --quiet -p ci-cli --example gen-docs -- "$(DOCS_DIR)"

deb: build docs
	sh dist/debian/build-deb.sh --bin-dir "$(CARGO_TARGET_DIR)/release" \
		--docs-dir "$(DOCS_DIR)" --out-dir "$(DEB_DIR)"

lintian: deb
	sh tools/lintian.sh "$(DEB_DIR)"/cloud-init-rs_*.deb

test:
	bash tools/test.sh

clean:
	$(CARGO) clean
	rm -rf "$(DEB_DIR)" "$(DOCS_DIR)"
