# cloud-init-rs build entry points.
#
#   make build   the release executable, $(CARGO_TARGET_DIR)/release/cloud-init;
#                packages install cloud-id, cloud-init-per, the generator and
#                ds-identify as links to it (it runs the program it is named as)
#   make docs    man pages and shell completions from the clap definitions,
#                in $(DOCS_DIR) (man/*.1, completions/)
#   make deb     build and docs, then the Debian package: exactly one
#                target/debian/cloud-init-rs_<version>_<arch>.deb
#   make lintian make deb, then lintian on it (tools/lintian.sh)
#   make rpm     static and docs, then the RPM package for the Fedora/RHEL
#                family: exactly one target/rpm/cloud-init-rs-<v>-<r>.x86_64.rpm
#                (RPM_VARIANT=rhel or fedora picks the cloud.cfg)
#   make apk     static and docs, then the Alpine package (OpenRC scripts):
#                exactly one target/apk/cloud-init-rs-<v>-r<n>.apk
#   make static  one statically linked x86_64 executable (glibc, crt-static),
#                target/static/cloud-init; cloud-id, cloud-init-per,
#                cloud-init-generator and ds-identify are links to it
#                (docs/packaging.md, "Static binary")
#   make test    the test suite (tools/test.sh)
#   make clean   cargo clean and remove target/debian, target/docs, target/static

CARGO ?= cargo
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
DEB_DIR ?= $(CURDIR)/target/debian
RPM_DIR ?= $(CURDIR)/target/rpm
APK_DIR ?= $(CURDIR)/target/apk
# rhel or fedora: the family whose cloud.cfg the RPM ships
RPM_VARIANT ?= rhel
DOCS_DIR ?= $(CURDIR)/target/docs
STATIC_TARGET ?= x86_64-unknown-linux-gnu
STATIC_DIR ?= $(CURDIR)/target/static

.PHONY: all build static docs deb lintian rpm apk test clean

all: build

build:
	$(CARGO) build --release -p ci-cli --bin cloud-init

# The explicit --target keeps RUSTFLAGS off build scripts and proc-macros,
# which the compiler loads and which must stay dynamic. The binary lands in
# $(CARGO_TARGET_DIR)/$(STATIC_TARGET)/release, apart from the dynamic ones of
# `build`. A program interpreter (PT_INTERP) would mean it is not static.
static:
	RUSTFLAGS='-C target-feature=+crt-static' $(CARGO) build --release \
		--target $(STATIC_TARGET) -p ci-cli --bin cloud-init
	mkdir -p "$(STATIC_DIR)"
	cp "$(CARGO_TARGET_DIR)/$(STATIC_TARGET)/release/cloud-init" "$(STATIC_DIR)/cloud-init.new"
	mv "$(STATIC_DIR)/cloud-init.new" "$(STATIC_DIR)/cloud-init"
	@if command -v file >/dev/null; then file "$(STATIC_DIR)/cloud-init"; fi
	@! readelf -l "$(STATIC_DIR)/cloud-init" 2>/dev/null | grep -q 'INTERP' || \
		{ echo "static: $(STATIC_DIR)/cloud-init has a program interpreter" >&2; exit 1; }

# The dev profile: the test suite has built the example already, and a
# release build of it would link the whole library once more with LTO.
docs:
	rm -rf "$(DOCS_DIR)"
	$(CARGO) run --quiet -p ci-cli --example gen-docs -- "$(DOCS_DIR)"

deb: build docs
	sh dist/debian/build-deb.sh --bin-dir "$(CARGO_TARGET_DIR)/release" \
		--docs-dir "$(DOCS_DIR)" --out-dir "$(DEB_DIR)"

# RPM and APK packages carry the static executable: it runs on any glibc the
# family ships (no GLIBC_ symbol versions to meet) and on musl.
rpm: static docs
	sh dist/rpm/build-rpm.sh --bin-dir "$(STATIC_DIR)" --variant "$(RPM_VARIANT)" \
		--docs-dir "$(DOCS_DIR)" --out-dir "$(RPM_DIR)"

apk: static docs
	sh dist/alpine/build-apk.sh --bin-dir "$(STATIC_DIR)" \
		--docs-dir "$(DOCS_DIR)" --out-dir "$(APK_DIR)"

lintian: deb
	sh tools/lintian.sh "$(DEB_DIR)"/cloud-init-rs_*.deb

test:
	bash tools/test.sh

clean:
	$(CARGO) clean
	rm -rf "$(DEB_DIR)" "$(RPM_DIR)" "$(APK_DIR)" "$(DOCS_DIR)" "$(STATIC_DIR)"
