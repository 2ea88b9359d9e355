"""The Debian package: built with dpkg-buildpackage, installed into the
machine's apache2, enabled with a2enmod (which pulls in mod_dbd), checked by
apache2ctl configtest, used from the system's module path to verify a
payment, and removed cleanly."""
import glob
import os
import shutil
import subprocess

import pytest

from harness import ROOT, Httpd, SqliteDB, make_tempdir

PKG = "libapache2-mod-portone-verify"
SYSTEM_MODULE = "/usr/lib/apache2/modules/mod_portone_verify.so"


def run(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=900, **kw)


@pytest.fixture
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
    for path in ("./usr/lib/apache2/modules/mod_portone_verify.so",
                 "./etc/apache2/mods-available/portone_verify.load",
                 "./etc/apache2/mods-available/portone_verify.conf",
                 "./usr/share/doc/%s/README.md" % PKG,
                 "./usr/share/doc/%s/schema-sqlite3.sql" % PKG,
                 "./usr/share/doc/%s/schema-pgsql.sql" % PKG):
        assert path in contents, path

    r = run("dpkg", "-i", built_package)
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.path.exists(SYSTEM_MODULE)
    r = run("a2enmod", "portone_verify")
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.path.exists("/etc/apache2/mods-enabled/portone_verify.load")
    assert os.path.exists("/etc/apache2/mods-enabled/dbd.load"), "a2enmod did not pull in dbd"
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
