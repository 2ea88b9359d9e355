# mod_portone_verify: `make` builds the module with apxs, `make install`
# installs it, `make test` installs what is missing and runs every test,
# `make run` starts a demo (httpd + SQLite + the PortOne emulator).

APXS    ?= $(shell command -v apxs || command -v apxs2 || echo /usr/bin/apxs)
PYTHON  ?= /usr/bin/python3
CC      ?= cc

include sources.mk

HEADERS     = $(wildcard src/*.h src/core/*.h src/store/*.h)
WARN        = -Wall -Wextra
EXTRA_CFLAGS ?= -O2

APR_CFLAGS := $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null) \
              $(shell apu-1-config --includes 2>/dev/null)
APR_LIBS   := $(shell apr-1-config --link-ld --libs 2>/dev/null) \
              $(shell apu-1-config --link-ld --libs 2>/dev/null)

.PHONY: all install clean test unit store-test run deps bench bench-callgrind bench-compare asan asan-test leakcheck fuzz fuzz-quick

all: .libs/mod_portone_verify.so

# libpq's header directory (Debian: /usr/include/postgresql)
PQ_CFLAGS := -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)

.libs/mod_portone_verify.so: $(PV_SRCS) $(HEADERS) sources.mk
	$(APXS) -c -Wc,-Wall -Wc,-Wextra $(addprefix -Wc,,$(EXTRA_CFLAGS)) $(PQ_CFLAGS) \
	    $(PV_INCLUDES) -Wl,-export-symbols-regex -Wl,'^portone_verify_module$$' \
	    $(PV_LIBS) $(PV_SRCS)

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

clean:
	rm -rf .libs *.la *.lo *.slo *.o tests/unit/run_unit tests/store/run_store build
	for d in src src/core src/store; do rm -rf $$d/.libs $$d/*.lo $$d/*.slo $$d/*.o; done
