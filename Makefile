# cloud-init-rs build entry points.
#
#   make build   release binaries (cloud-init, cloud-id, cloud-init-per,
#                cloud-init-generator) in $(CARGO_TARGET_DIR)/release
#   make deb     build, then the Debian package: exactly one
#                target/debian/cloud-init-rs_<version>_<arch>.deb
#   make test    the test suite (tools/test.sh)
#   make clean   cargo clean and remove target/debian

CARGO ?= cargo
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
DEB_DIR ?= $(CURDIR)/target/debian
BINS := cloud-init cloud-id cloud-init-per cloud-init-generator

.PHONY: all build deb test clean

all: build

build:
	$(CARGO) build --release -p ci-cli $(addprefix --bin ,$(BINS))

deb: build
	sh dist/debian/build-deb.sh --bin-dir "$(CARGO_TARGET_DIR)/release" --out-dir "$(DEB_DIR)"

test:
	bash tools/test.sh

clean:
	$(CARGO) clean
	rm -rf "$(DEB_DIR)"
