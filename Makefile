# mod_portone_verify: `make` builds the module with apxs (no root needed),
# `make install` installs it, `make test` installs what is missing and runs
# every test, `make run` starts a demo (httpd + SQLite + the PortOne
# emulator), `make package` builds the Debian package and `make
# package-test` runs its autopkgtest. Only `make run`, `make test`, `make
# deps`, `make package-deps` and `make package-test` install packages (with
# apt-get, as root or with sudo), and they list them before they do.

APXS    ?= $(shell command -v apxs || command -v apxs2 || echo /usr/bin/apxs)
PYTHON  ?= /usr/bin/python3
CC      ?= cc

include sources.mk

HEADERS     = $(wildcard src/*.h src/core/*.h src/store/*.h)
WARN        = -Wall -Wextra
EXTRA_CFLAGS ?= -O2
EXTRA_LDFLAGS ?=
comma := ,

# the one version, src/core/pv_version.h (`make version` prints it)
VERSION := $(shell sed -n 's/^\#define PV_VERSION "\(.*\)"/\1/p' src/core/pv_version.h)

# The libraries and the oldest version each must be, as pkg-config names
# them, with the Debian package that brings them:
#   libcurl 7.85  CURLOPT_PROTOCOLS_STR
#   libpq 14      the pipeline mode (PQenterPipelineMode)
#   sqlite3 3.20  sqlite3_prepare_v3
#   json-c 0.15   json_tokener_get_parse_end
#   libcrypto     HMAC, CRYPTO_memcmp (OpenSSL 1.1.1 or newer)
# config.m4 checks the same list when the module is built in httpd's tree.
PV_REQUIRES = libcurl:7.85:libcurl4-openssl-dev libpq:14:libpq-dev \
              sqlite3:3.20:libsqlite3-dev json-c:0.15:libjson-c-dev \
              libcrypto:1.1.1:libssl-dev apr-util-1:1.6:libaprutil1-dev

APR_CFLAGS := $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null) \
              $(shell apu-1-config --includes 2>/dev/null)
APR_LIBS   := $(shell apr-1-config --link-ld --libs 2>/dev/null) \
              $(shell apu-1-config --link-ld --libs 2>/dev/null)

.PHONY: all install clean test unit store-test run deps bench bench-callgrind bench-compare asan asan-test leakcheck fuzz fuzz-quick \
        check-libs version package package-deps package-test

all: .libs/mod_portone_verify.so

version:
	@echo $(VERSION)

# Says which library is missing or too old, and which package brings it,
# before the compiler would fail on a header or a symbol.
check-libs:
	@command -v pkg-config >/dev/null || { echo "pkg-config is missing (Debian: apt-get install pkg-config)"; exit 1; }
	@command -v $(APXS) >/dev/null || { echo "apxs is missing (Debian: apt-get install apache2-dev)"; exit 1; }
	@fail=0; for spec in $(PV_REQUIRES); do \
	    lib=$${spec%%:*}; rest=$${spec#*:}; min=$${rest%%:*}; deb=$${rest#*:}; \
	    if ! pkg-config --exists $$lib; then \
	        echo "mod_portone_verify needs $$lib $$min or newer; pkg-config finds none (Debian: apt-get install $$deb)"; fail=1; \
	    elif ! pkg-config --atleast-version=$$min $$lib; then \
	        echo "mod_portone_verify needs $$lib $$min or newer; this one is $$(pkg-config --modversion $$lib) (Debian: $$deb)"; fail=1; \
	    fi; done; exit $$fail

# libpq's header directory (Debian: /usr/include/postgresql)
PQ_CFLAGS := -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)

.libs/mod_portone_verify.so: $(PV_SRCS) $(HEADERS) sources.mk | check-libs
	$(APXS) -c -Wc,-Wall -Wc,-Wextra $(addprefix -Wc$(comma),$(EXTRA_CFLAGS)) $(PQ_CFLAGS) \
	    $(PV_INCLUDES) -Wl,-export-symbols-regex -Wl,'^portone_verify_module$$' \
	    $(addprefix -Wl$(comma),$(EXTRA_LDFLAGS)) $(PV_LIBS) $(PV_SRCS)

install: all
	$(APXS) -i -n portone_verify mod_portone_verify.la

# C unit tests of the core, built with no httpd include path (the core
# reads and writes JSON with json-c); pv_client only against loopback
# sockets that never answer (which one it dials). The store is linked for
# pv_pipeline, which calls it; test_pipeline runs it on an in-memory SQLite
# database (apr_dbd's sqlite3 driver and conf/schema-sqlite3.sql).
tests/unit/run_unit: tests/unit/*.c tests/unit/*.h $(PV_CORE_SRCS) $(PV_STORE_SRCS) $(HEADERS) sources.mk
	$(CC) $(WARN) -g -O1 -Isrc/core -Isrc/store $(APR_CFLAGS) $(PQ_CFLAGS) -o $@ \
	    tests/unit/*.c $(PV_CORE_SRCS) $(PV_STORE_SRCS) $(APR_LIBS) $(PV_LIBS)

unit: tests/unit/run_unit
	tests/unit/run_unit

# C tests of the store (src/store) without httpd, on a real SQLite file
# through apr_dbd (the native back-end and the generic one); on PostgreSQL
# too when PV_TEST_PGSQL holds a libpq DSN, on MySQL/MariaDB when
# PV_TEST_MYSQL holds apr_dbd_mysql's parameters (tests/test_store_unit.py
# sets both to the suite's own servers). Each test gets fresh tables.
tests/store/run_store: tests/store/*.c tests/store/*.h tests/unit/main.c tests/unit/check.h \
                       $(PV_CORE_SRCS) $(PV_STORE_SRCS) $(HEADERS) sources.mk
	$(CC) $(WARN) -g -O1 -pthread -Itests/unit -Isrc/core -Isrc/store $(APR_CFLAGS) \
	    $(PQ_CFLAGS) -DPV_SOURCE_DIR='"$(CURDIR)"' -o $@ tests/store/*.c tests/unit/main.c \
	    $(PV_CORE_SRCS) $(PV_STORE_SRCS) $(APR_LIBS) $(PV_LIBS) -ljson-c

store-test: tests/store/run_store
	tests/store/run_store

# The module with AddressSanitizer and UndefinedBehaviorSanitizer, for the
# integration suite (httpd is not instrumented: the ASan runtime is preloaded).
ASAN_SO = build/asan/mod_portone_verify.so
APXS_CFLAGS = $(shell $(APXS) -q CFLAGS 2>/dev/null) -I$(shell $(APXS) -q INCLUDEDIR 2>/dev/null)
asan: $(ASAN_SO)
$(ASAN_SO): $(PV_SRCS) $(HEADERS) sources.mk
	mkdir -p build/asan
	$(CC) $(WARN) -g -O1 -fPIC -shared -fno-omit-frame-pointer \
	    -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	    $(APXS_CFLAGS) $(APR_CFLAGS) $(PQ_CFLAGS) $(PV_INCLUDES) -o $@ $(PV_SRCS) $(PV_LIBS)

asan-test: asan
	PV_MODULE=$(CURDIR)/$(ASAN_SO) PV_PRELOAD=$$($(CC) -print-file-name=libasan.so) \
	    $(PYTHON) -m pytest tests -q -p no:cacheprovider

# valgrind memcheck on httpd -X through a few hundred verifications of
# every outcome; fails on definitely-lost blocks from the module.
leakcheck: all
	$(PYTHON) tests/leakcheck.py

# libFuzzer harnesses of the pure layer (clang + libclang-rt): fuzz/run.sh.
# `make test` runs each for 20 s; this runs them longer.
FUZZ_SECONDS ?= 300
fuzz:
	sh fuzz/run.sh $(FUZZ_SECONDS)

fuzz-quick:
	sh fuzz/run.sh 20

deps:
	sh tests/install-deps.sh

test: deps
	sh tests/run-all.sh

run: deps all
	sh tests/demo.sh

bench: deps all
	sh bench/run.sh

# Instructions per request under callgrind (httpd -X; bench/callgrind.py):
# exact where requests/s on a shared machine are noisy. PV_CG_MODULE=other.so
bench-callgrind: deps all
	mkdir -p bench/build
	$(CC) -O2 -pthread -Wall -Wextra -o bench/build/standin bench/standin.c
	$(PYTHON) bench/callgrind.py

# A/B comparison of module builds, interleaved in one run (bench/compare.py):
#   make bench-compare VARIANTS="old=/tmp/old/mod_portone_verify.so new=.libs/mod_portone_verify.so"
VARIANTS ?=
bench-compare: deps
	mkdir -p bench/build
	$(CC) -O2 -pthread -Wall -Wextra -o bench/build/standin bench/standin.c
	$(PYTHON) bench/compare.py bench/build/standin $(VARIANTS)

# The Debian package, built from a copy of the tree (what git would commit)
# in build/package, so that nothing lands beside the tree or in debian/;
# then lintian, which fails it on an error or a warning. Needs the build
# dependencies of debian/control (`make package-deps` installs them, as
# root). No root otherwise.
PKG_DIR = build/package
PKG_SRC = $(PKG_DIR)/libapache2-mod-portone-verify-$(VERSION)
package:
	rm -rf $(PKG_DIR) && mkdir -p $(PKG_SRC)
	tar -c --exclude=./build --exclude=./.git --exclude-vcs-ignores -f - . | tar -x -C $(PKG_SRC)
	$(MAKE) -C $(PKG_SRC) clean >/dev/null
	cd $(PKG_SRC) && dpkg-buildpackage -b -us -uc
	@if command -v lintian >/dev/null; then \
	    echo "== lintian"; lintian --info --fail-on error,warning $(PKG_DIR)/*.changes && echo "lintian: no error, no warning"; \
	else echo "lintian is not installed: not checked (make package-deps)"; fi

# Installs (as root, saying what first) the build dependencies, lintian and
# autopkgtest.
package-deps:
	sh tests/install-deps.sh --package

# The package built, then its autopkgtest (debian/tests) run on this
# machine (autopkgtest's null testbed): it installs the .deb into the
# system's apache2 and verifies a payment against the emulator. Needs root;
# purges the package again unless it was installed before.
package-test: package-deps package
	sh tests/package-test.sh $(PKG_DIR)

clean:
	rm -rf .libs *.la *.lo *.slo *.o tests/unit/run_unit tests/store/run_store build
	for d in src src/core src/store; do rm -rf $$d/.libs $$d/*.lo $$d/*.slo $$d/*.o; done
