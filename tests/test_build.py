"""The build says clearly what is missing: `make` (through `make check-libs`)
and config.m4 (inside httpd's source tree) name the library that is missing
or older than the module needs, the version found and the Debian package
that brings it. config.m4 is run by autoconf with httpd's macros stood in
for (APACHE_MODULE runs its configuration block, APR_ADDTO appends), and a
pkg-config that reports an old libcurl."""
import os
import shutil
import subprocess
import textwrap

import pytest

from harness import ROOT, make_tempdir


def make(*args):
    return subprocess.run(["make", "-s", "--no-print-directory", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_make_checks_the_libraries_of_this_machine():
    r = make("check-libs")
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr


def test_make_names_a_missing_and_an_old_library():
    r = make("check-libs", "PV_REQUIRES=libcurl:99.1:libcurl4-openssl-dev "
             "json-c:0.15:libjson-c-dev pv-no-such-lib:1.0:libpv-no-such-dev")
    assert r.returncode != 0
    found = subprocess.run(["pkg-config", "--modversion", "libcurl"], capture_output=True,
                           text=True).stdout.strip()
    assert ("mod_portone_verify needs libcurl 99.1 or newer; this one is %s "
            "(Debian: libcurl4-openssl-dev)" % found) in r.stdout
    assert ("mod_portone_verify needs pv-no-such-lib 1.0 or newer; pkg-config finds none "
            "(Debian: apt-get install libpv-no-such-dev)") in r.stdout
    assert "json-c" not in r.stdout            # the one that is there says nothing


FAKE_PKG_CONFIG = """#!/bin/sh
# pkg-config, except that libcurl is 7.80
case "$*" in
    *--modversion*libcurl*) echo 7.80 ;;
    *--atleast-version=*libcurl*) exit 1 ;;
    *) exec pkg-config "$@" ;;
esac
"""

CONFIGURE_AC = """AC_INIT([pv-config-m4], [1])
AC_DEFUN([APACHE_MODPATH_INIT], [])
AC_DEFUN([APACHE_MODPATH_FINISH], [])
AC_DEFUN([APR_ADDTO], [$1="[$]$1 $2"])
AC_DEFUN([APACHE_MODULE], [$6])
m4_include([modules/portone_verify/config.m4])
echo "objects: $portone_verify_objs"
echo "enabled: $enable_portone_verify"
echo "CPPFLAGS: $CPPFLAGS"
echo "LDADD: $MOD_PORTONE_VERIFY_LDADD"
"""


@pytest.fixture(scope="module")
def configure():
    if not shutil.which("autoconf"):
        pytest.fail("autoconf is missing (tests/install-deps.sh installs it)")
    d = make_tempdir("pv-config-m4-")
    mod = os.path.join(d, "modules", "portone_verify")
    os.makedirs(mod)
    for f in ("config.m4", "sources.mk"):
        shutil.copy(os.path.join(ROOT, f), mod)
    with open(os.path.join(d, "configure.ac"), "w") as f:
        f.write(CONFIGURE_AC)
    fake = os.path.join(d, "old-curl-pkg-config")
    with open(fake, "w") as f:
        f.write(FAKE_PKG_CONFIG)
    os.chmod(fake, 0o755)
    r = subprocess.run(["autoconf"], cwd=d, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr

    def run(**env):
        return subprocess.run(["sh", "./configure"], cwd=d, capture_output=True, text=True,
                              timeout=120, env=dict(os.environ, **env))
    run.fake = fake
    return run


def test_config_m4_finds_the_libraries_and_the_sources(configure):
    r = configure(enable_portone_verify="shared")
    assert r.returncode == 0, r.stdout + r.stderr
    for lib in ("libcurl", "libpq", "sqlite3", "json-c", "libcrypto"):
        assert "checking for %s >= " % lib in r.stdout
    with open(os.path.join(ROOT, "sources.mk")) as f:
        code = "\n".join(l.split("#", 1)[0] for l in f)
    sources = [w[:-2] + ".lo" for w in code.split() if w.endswith(".c")]
    objects = r.stdout.split("objects: ", 1)[1].split("\n", 1)[0].split()
    assert objects == sources
    assert "enabled: shared" in r.stdout
    ldadd = r.stdout.split("LDADD: ", 1)[1].split("\n", 1)[0].split()
    assert {"-lcurl", "-lpq", "-lsqlite3", "-ljson-c", "-lcrypto"} <= set(ldadd), ldadd
    assert "-I/usr/include/postgresql" in r.stdout.split("CPPFLAGS: ", 1)[1].split("\n", 1)[0]


def test_config_m4_stops_on_an_old_library_asked_for(configure):
    r = configure(enable_portone_verify="shared", PKGCONFIG=configure.fake)
    assert r.returncode != 0
    assert ("error: mod_portone_verify needs libcurl 7.85 or newer; this one is 7.80 "
            "(Debian: libcurl4-openssl-dev), or configure without --enable-portone-verify") in r.stderr


def test_config_m4_leaves_the_module_out_of_reallyall(configure):
    r = configure(enable_portone_verify="reallyall", PKGCONFIG=configure.fake)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "WARNING: mod_portone_verify needs libcurl 7.85 or newer" in r.stderr
    assert "enabled: no" in r.stdout
    assert "LDADD: \n" in r.stdout or r.stdout.split("LDADD:", 1)[1].split("\n", 1)[0].strip() == ""
