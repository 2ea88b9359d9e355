"""Loaded beside mod_md and mod_auth_openidc, which use jansson, whose
json_* functions share names with json-c's. On Debian 12 json-c's and
jansson's symbols are versioned, so both load together: the module's json_*
references are versioned json-c symbols, and a verification and a webhook
are served with mod_md and mod_auth_openidc loaded, in both orders."""
import os
import re
import subprocess

import pytest

MODULES = "/usr/lib/apache2/modules"


@pytest.mark.parametrize("order", ["after", "before"])
def test_verifies_beside_mod_md_and_mod_auth_openidc(pv, make_httpd, order):
    for m in ("mod_md.so", "mod_auth_openidc.so"):
        if not os.path.exists(os.path.join(MODULES, m)):
            pytest.fail("%s is not installed (tests/install-deps.sh installs it)" % m)
    others = ("LoadModule md_module %s/mod_md.so\n"
              "LoadModule auth_openidc_module %s/mod_auth_openidc.so\n" % (MODULES, MODULES))
    h = make_httpd(start=False)
    if order == "before":
        # the jansson modules first: their json_* names enter the namespace first
        text = h.config_text
        h.config_text = lambda: text().replace("LoadModule dbd_module", others + "LoadModule dbd_module", 1)
    else:
        h.extra = others
    h.start()
    pv.db.add_order("o_j", 3000)
    pv.emu.add_payment(imp_uid="imp_j", merchant_uid="o_j", amount=3000, status="paid")
    status, _, body = h.verify("imp_j", "o_j")
    assert (status, body["status"]) == (200, "success"), body
    status, _, body = h.webhook("imp_j", "o_j", form=True)
    assert (status, body["status"]) == (200, "paid"), body
    for pid in h.child_pids():              # they really share a process
        with open("/proc/%d/maps" % pid) as f:
            maps = f.read()
        assert "libjansson" in maps and "mod_portone_verify" in maps


def module_path():
    return os.environ.get("PV_MODULE") or \
        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".libs",
                     "mod_portone_verify.so")


def test_module_exports_one_symbol():
    if os.environ.get("PV_PRELOAD"):
        pytest.skip("the sanitizer build exports every function")
    defined = subprocess.run(["nm", "-D", "--defined-only", module_path()], capture_output=True,
                             text=True, check=True).stdout.split()
    assert [s for s in defined if not s.startswith("0")] == ["D", "portone_verify_module"]


def test_json_references_are_versioned_json_c_symbols():
    module = module_path()
    needed = subprocess.run(["objdump", "-p", module], capture_output=True, text=True,
                            check=True).stdout
    assert re.search(r"NEEDED\s+libjson-c\.so\.5\b", needed), needed
    table = subprocess.run(["objdump", "-T", module], capture_output=True, text=True,
                           check=True).stdout
    refs = [line for line in table.splitlines() if re.search(r"\sjson_\w+$", line)]
    assert refs, table
    # each one undefined here and bound to json-c's version (JSONC_0.14,
    # JSONC_0.15), never to jansson's (libjansson.so.4) or unversioned
    bad = [line for line in refs
           if "*UND*" not in line or not re.search(r"\s\(?JSONC_0\.\d+\)?\s+json_\w+$", line)]
    assert not bad, "\n".join(bad)
