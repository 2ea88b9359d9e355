"""The Debian package. Without root and without installing anything: the
version is the same in src/core/pv_version.h, debian/changelog, CHANGES and
README; the minimum versions of the libraries are the same in the Makefile,
config.m4 and debian/control; the DBD drivers are the admin's choice; the
licence is Apache-2.0 everywhere. As root (what `make test` runs): built with
dpkg-buildpackage, clean under lintian, installed into the machine's apache2,
enabled by its own postinst (with mod_dbd: README says so), checked by
apache2ctl configtest, used from the system's module path to verify a
payment, and removed cleanly. (`make package-test` runs the autopkgtest of
debian/tests in the system's apache2 as well.)"""
import glob
import os
import re
import shutil
import subprocess

import pytest

from harness import ROOT, Httpd, SqliteDB, make_tempdir

PKG = "libapache2-mod-portone-verify"
SYSTEM_MODULE = "/usr/lib/apache2/modules/mod_portone_verify.so"


def run(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=900, **kw)


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def the_version():
    return re.search(r'^#define PV_VERSION "([^"]+)"$', read("src", "core", "pv_version.h"), re.M).group(1)


def test_one_version_everywhere():
    version = the_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    changelog = read("debian", "changelog").splitlines()[0]
    assert re.match(r"^%s \((.+)\) " % PKG, changelog).group(1) == version, changelog
    assert re.search(r"^Changes with mod_portone_verify (\S+)$", read("CHANGES"), re.M).group(1) == version
    readme = read("README.md")
    for shown in re.findall(r"%s_(\d[^_ ]*)_amd64\.deb" % PKG, readme) + \
            re.findall(r"mod_portone_verify/(\d[\w.]*)", readme):
        assert shown == version, "README shows version %s" % shown


def makefile_minimums():
    spec = re.search(r"^PV_REQUIRES = (.*?)(?<!\\)$", read("Makefile"), re.M | re.S).group(1)
    return {lib: (minimum, deb) for lib, minimum, deb in
            (w.split(":") for w in spec.replace("\\", " ").split())}


def test_minimum_library_versions_agree():
    """The Makefile's check, config.m4's and the package's build dependencies
    ask for the same minimum of each library."""
    make = makefile_minimums()
    assert {"libcurl", "libpq", "sqlite3", "json-c", "libcrypto"} <= set(make), make
    m4 = dict(re.findall(r"PV_CHECK_PKG\(\[([\w-]+)\], \[([\d.]+)\]", read("config.m4")))
    control = read("debian", "control")
    build_deps = control.split("Build-Depends:", 1)[1].split("\n\n", 1)[0]
    for lib, (minimum, deb) in make.items():
        if lib != "apr-util-1":                   # httpd's tree brings its own apr-util
            assert m4.get(lib) == minimum, (lib, m4.get(lib), minimum)
        m = re.search(r"\b%s(?: \(>= ([\d.]+)\))?" % re.escape(deb), build_deps)
        assert m, "%s is not a build dependency" % deb
        if lib != "apr-util-1":
            assert m.group(1) == minimum, (deb, m.group(1), minimum)


def test_control_maintainer_and_database_drivers():
    control = read("debian", "control")
    maintainer = re.search(r"^Maintainer: (.+)$", control, re.M).group(1)
    assert re.fullmatch(r"[^<>]+ <[\w.+-]+@[\w-]+(\.[\w-]+)+>", maintainer), maintainer
    assert "localhost" not in maintainer and "example" not in maintainer
    binary = control.split("\nPackage: %s\n" % PKG, 1)[1]
    depends = re.search(r"^Depends: (.+)$", binary, re.M).group(1)
    assert "dbd" not in depends, depends               # the driver is the admin's choice
    recommends = re.search(r"^Recommends: (.+)$", binary, re.M).group(1)
    assert set(re.findall(r"libaprutil1-dbd-\w+", recommends)) == \
        {"libaprutil1-dbd-sqlite3", "libaprutil1-dbd-pgsql", "libaprutil1-dbd-mysql"}


def test_licence_is_apache_2_0_everywhere():
    with open("/usr/share/common-licenses/Apache-2.0", encoding="utf-8") as f:
        assert read("LICENSE") == f.read()
    copyright_ = read("debian", "copyright")
    assert copyright_.startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/")
    assert re.findall(r"^License: (\S+)$", copyright_, re.M) == ["Apache-2.0", "Apache-2.0"]


@pytest.fixture(scope="module")
def built_package():
    if os.geteuid() != 0:
        pytest.skip("installing a package needs root")
    if os.environ.get("PV_PRELOAD"):
        pytest.skip("the package holds the regular build; the main run tests it")
    if not shutil.which("dpkg-buildpackage") or not os.path.exists("/usr/share/perl5/Debian/Debhelper/Sequence/apache2.pm"):
        pytest.fail("debhelper and dh-apache2 are missing (tests/install-deps.sh installs them)")
    work = make_tempdir("pv-deb-")
    src = os.path.join(work, "mod-portone-verify")
    files = [f for f in run("git", "ls-files", "--cached", "--others", "--exclude-standard",
                            cwd=ROOT).stdout.split() if os.path.isfile(os.path.join(ROOT, f))]
    for f in files:
        os.makedirs(os.path.dirname(os.path.join(src, f)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(src, f))
    r = run("dpkg-buildpackage", "-us", "-uc", "-b", cwd=src)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    debs = glob.glob(os.path.join(work, PKG + "_*.deb"))
    assert len(debs) == 1, os.listdir(work)
    yield debs[0]
    run("dpkg", "--purge", PKG)


def test_package_installs_enables_serves_and_removes(built_package, emulator):
    contents = run("dpkg-deb", "-c", built_package).stdout
    share = "./usr/share/%s/" % PKG
    for path in ["./usr/lib/apache2/modules/mod_portone_verify.so",
                 "./etc/apache2/mods-available/portone_verify.load",
                 "./etc/apache2/mods-available/portone_verify.conf",
                 "./usr/share/doc/%s/README.md.gz" % PKG,
                 "./usr/share/doc/%s/CHANGES" % PKG,
                 "./usr/share/doc/%s/changelog.gz" % PKG,
                 "./usr/share/doc/%s/operations.md.gz" % PKG,
                 "./usr/share/doc/%s/directives.md.gz" % PKG] + \
            [share + "%s-%s.sql" % (kind, db) for kind in ("schema", "upgrade")
             for db in ("sqlite3", "pgsql", "mysql")]:
        assert re.search(r" %s(\.gz)?$" % re.escape(path), contents, re.M), path
    fields = run("dpkg-deb", "-f", built_package, "Version", "Maintainer").stdout
    assert "Version: %s\n" % the_version() in fields, fields

    run("dpkg", "--purge", PKG)                     # what an earlier run may have left
    assert not os.path.exists("/etc/apache2/mods-enabled/portone_verify.load")
    r = run("dpkg", "-i", built_package)
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.path.exists(SYSTEM_MODULE)
    # the package's postinst enabled it, with mod_dbd, as README says
    assert os.path.exists("/etc/apache2/mods-enabled/portone_verify.load"), r.stdout + r.stderr
    assert os.path.exists("/etc/apache2/mods-enabled/dbd.load"), "dbd was not enabled"
    assert "/etc/apache2/mods-available/portone_verify.conf" in \
        run("dpkg-query", "-W", "-f=${Conffiles}", PKG).stdout
    r = run("a2enmod", "portone_verify")
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.path.exists("/etc/apache2/mods-enabled/portone_verify.load")
    r = run("apache2ctl", "configtest")
    assert r.returncode == 0 and "Syntax OK" in r.stdout + r.stderr, r.stdout + r.stderr

    # a verification through the module at the system's module path
    emulator.reset()
    d = make_tempdir("pv-deb-httpd-")
    db = SqliteDB(d)
    db.add_order("o_pkg", 15000)
    emulator.add_payment(imp_uid="imp_pkg", merchant_uid="o_pkg", amount=15000, status="paid")
    h = Httpd(d, db, emulator.url, module=SYSTEM_MODULE).start()
    try:
        status, _, body = h.verify("imp_pkg", "o_pkg")
        assert (status, body["status"]) == (200, "success"), body
    finally:
        h.stop()
    assert db.query("SELECT outcome FROM portone_payments") == [{"outcome": "paid"}]

    r = run("a2dismod", "portone_verify")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run("dpkg", "--purge", PKG)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not os.path.exists(SYSTEM_MODULE)
    assert not os.path.exists("/etc/apache2/mods-enabled/portone_verify.load")
    assert not os.path.exists("/etc/apache2/mods-available/portone_verify.conf")


def test_lintian_finds_no_error_and_no_warning(built_package):
    if not shutil.which("lintian"):
        pytest.skip("lintian is not installed (make package-deps installs it)")
    changes = glob.glob(os.path.join(os.path.dirname(built_package), "*.changes"))
    r = run("lintian", "--fail-on", "error,warning", *changes)
    problems = [l for l in r.stdout.splitlines() if re.match(r"[EW]: ", l)]
    assert r.returncode == 0 and not problems, r.stdout + r.stderr
