"""Loaded beside mod_md and mod_auth_openidc, which use jansson: httpd loads
modules into one global namespace, where jansson defines json_* functions
(json-c has functions of the same names). The module uses no JSON library
(pv_json.c), so all three work."""
import os

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


def test_module_exports_one_symbol_and_needs_no_json_symbol():
    module = os.environ.get("PV_MODULE") or \
        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".libs",
                     "mod_portone_verify.so")
    if os.environ.get("PV_PRELOAD"):
        pytest.skip("the sanitizer build exports every function")
    import subprocess
    defined = subprocess.run(["nm", "-D", "--defined-only", module], capture_output=True,
                             text=True, check=True).stdout.split()
    assert [s for s in defined if not s.startswith("0")] == ["D", "portone_verify_module"]
    undefined = subprocess.run(["nm", "-D", "--undefined-only", module], capture_output=True,
                               text=True, check=True).stdout
    # no json_* name is looked up in httpd's global namespace, where
    # jansson's functions of those names may be
    assert "json_" not in undefined
