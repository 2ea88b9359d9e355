"""The documentation matches the code: every directive of the command table
is in docs/directives.md, conf/portone_verify.conf and README.md, and none
that is not; log tags are the module's own and unique."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def code_directives():
    src = read("src", "pv_config.c")
    return set(re.findall(r'AP_INIT_\w+\("(\w+)"', src))


def test_every_directive_is_documented_and_none_other():
    code = code_directives()
    assert len(code) == 18, code
    docs = set(re.findall(r"^## (PortOne\w+)$", read("docs", "directives.md"), re.M))
    assert docs == code
    conf = set(re.findall(r"^# (PortOne\w+) ", read("conf", "portone_verify.conf"), re.M))
    assert conf == code
    readme = set(re.findall(r"^\| `(PortOne\w+)", read("README.md"), re.M))
    assert readme == code
    # and every directive used in a config line of the docs exists
    for text in (read("docs", "directives.md"), read("conf", "portone_verify.conf"), read("README.md")):
        used = set(re.findall(r"^\s*#?\s*(PortOne[A-Z]\w+)[ \t]+\S", text, re.M))
        assert used and used <= code, used - code


def test_log_tags_are_our_own_and_unique():
    sources = ["mod_portone_verify.c"] + [
        os.path.relpath(os.path.join(d, f), ROOT)
        for d, _, files in os.walk(os.path.join(ROOT, "src")) for f in files if f.endswith(".c")]
    tags = []
    for f in sources:
        src = read(f)
        assert "APLOGNO(" not in src, "%s uses httpd's AH numbers" % f
        tags += re.findall(r'"(PV\d{3}) ', src)
    assert tags and len(tags) == len(set(tags)), sorted(tags)
    # every ap_log_* call carries a tag
    for f in sources:
        for call in re.findall(r"ap_log_r?error\([^;]*?;", read(f), re.S):
            assert re.search(r'"PV\d{3} ', call), call
    # the README's log table covers them
    readme = read("README.md")
    for t in tags:
        n = int(t[2:])
        assert t in readme or any(lo <= n <= hi for lo, hi in
                                  ((int(a), int(b)) for a, b in re.findall(r"PV(\d{3})-PV(\d{3})", readme))), t
