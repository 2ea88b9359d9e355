"""The fixtures' error-log checks (tests/conftest.py): which lines fail a
test, what a declaration allows, and that each check sees exactly the part
written since the last one, across restarts and on the session's server."""
import re

import pytest

from conftest import LogWatch, unexpected_log_lines
from harness import Httpd, SqliteDB, make_tempdir
from portone_emulator import TEST_IMP_SECRET

T = "[Sun Dec 06 20:47:58.679558 2026] "


def line(module, level, text):
    return T + "[%s:%s] [pid 1:tid 2] %s" % (module, level, text)


def bad(text, *patterns):
    return unexpected_log_lines(text, [re.compile(p) for p in patterns])


def test_levels_that_fail():
    for level in ("warn", "error", "crit", "alert", "emerg"):
        assert bad(line("portone_verify", level, "PV0999: x")), level
    for level in ("notice", "info", "debug", "trace1"):
        assert not bad(line("portone_verify", level, "PV0999: x")), level
    # other modules (core, mod_dbd, the MPM...) from error up
    for module in ("core", "dbd", "mpm_event", ""):
        assert bad(line(module, "error", "AH00000: x")), module
        assert not bad(line(module, "warn", "AH00000: x")), module
    # the MPM's capacity notes are about the harness's small configuration
    assert not bad(line("mpm_event", "error", "AH10159: server is within MinSpareThreads of "
                        "MaxRequestWorkers, consider raising the MaxRequestWorkers setting"))


def test_crashes_fail_at_any_level_and_anywhere():
    for text in (line("core", "notice", "AH00052: child pid 7 exit signal Segmentation fault (11)"),
                 line("mpm_event", "notice", "AH00051: child pid 7 exit signal Aborted (6), "
                      "possible coredump in /tmp"),
                 "==12==ERROR: AddressSanitizer: heap-use-after-free on address 0x1",
                 "src/core/pv_json.c:10:5: runtime error: signed integer overflow",
                 "free(): double free detected in tcache 2"):
        assert bad(text) == [text], text


def test_a_declaration_allows_its_lines_only():
    warn = line("portone_verify", "warn", "PV0102: portone-verify imp_uid=a merchant_uid=b "
                "outcome=forgery (recorded): amount differs from the order")
    err = line("portone_verify", "error", "PV0101: portone-verify imp_uid=a merchant_uid=b: "
               "upstream_timeout: no answer")
    text = warn + "\n" + err + "\n"
    assert bad(text) == [warn, err]
    assert bad(text, r"PV0101: .*upstream_timeout") == [warn]
    assert bad(text, r"PV0101: .*upstream_timeout", r"PV0102: .*outcome=forgery") == []


def test_a_message_of_several_lines_is_one_entry():
    entry = line("portone_verify", "error", "PV0004: PortOneOrderQuery: the SQL does not prepare")
    text = entry + "\nLINE 1: SELEKT\n        ^\n"
    assert bad(text) == [text.rstrip("\n")]
    assert bad(text, r"PV0004: PortOneOrderQuery") == []


def test_a_crash_after_an_expected_line_still_fails():
    entry = line("portone_verify", "error", "PV0101: portone-verify imp_uid=a merchant_uid=b: "
                 "upstream_error: x")
    asan = "==12==ERROR: AddressSanitizer: SEGV on unknown address"
    assert bad(entry + "\n" + asan + "\n", r"PV0101: ") == [asan]


def test_the_secret_can_never_be_declared():
    text = line("portone_verify", "debug", "body imp_secret=" + TEST_IMP_SECRET)
    assert len(bad(text, ".*", re.escape(TEST_IMP_SECRET))) == 1


class FakeHttpd:
    """What LogWatch.check uses of a harness.Httpd."""

    def __init__(self, text="", running=True):
        self.text, self.dir, self.expected_log = text, "/tmp/fake", []
        self.proc = type("P", (), {"poll": lambda self: None})() if running else None

    def log_text(self):
        return self.text


def test_each_check_sees_what_was_written_since_the_last_one():
    h = FakeHttpd(line("portone_verify", "error", "PV0101: first") + "\n")
    with pytest.raises(AssertionError, match="PV0101: first"):
        LogWatch().check([h])
    LogWatch().check([h])                   # reported once, not again
    h.text += line("portone_verify", "warn", "PV0300: half a li")    # being written
    LogWatch().check([h])                   # a running httpd's last line waits
    h.text += "ne\n"
    with pytest.raises(AssertionError, match="PV0300: half a line"):
        LogWatch().check([h])
    h.text += line("portone_verify", "warn", "PV0300: again") + "\n"
    LogWatch([r"PV0300: again"]).check([h])
    h.expected_log.append(r"PV0300: by this httpd")
    h.text += line("portone_verify", "warn", "PV0300: by this httpd") + "\n"
    LogWatch().check([h])


@pytest.mark.expect_log(r"PV0006: PortOneAPIKey is required where PortOne verification is configured")
def test_a_restarted_httpd_keeps_the_log_of_its_earlier_runs():
    d = make_tempdir("pv-logcheck-")
    h = Httpd(d, SqliteDB(d), "http://127.0.0.1:9", directives={"PortOneAPIKey": None})
    assert h in Httpd.instances             # the autouse log_watch checks it after the test
    for _ in range(2):
        code, out = h.start(expect_fail=True)
        assert code != 0 and "PV0006" in out
    assert len(re.findall(r"PV0006: PortOneAPIKey", h.log_text())) >= 2
    assert "PV0006: PortOneAPIKey" in h.earlier_log
    with pytest.raises(AssertionError, match="PV0006: PortOneAPIKey"):
        LogWatch().check([h])
    h.log_checked = 0
    LogWatch([r"PV0006: PortOneAPIKey is required"]).check([h])
    h.log_checked = 0                       # for the autouse check, under the marker
    h.stop()


def test_the_session_server_is_checked_for_each_test_part(pv, log_watch):
    pv.db.add_order("o_lc", 1000)
    pv.emu.add_payment(imp_uid="imp_lc", merchant_uid="o_lc", amount=10, status="paid")
    assert pv.httpd.verify("imp_lc", "o_lc")[0] == 400
    with pytest.raises(AssertionError, match=r"PV0102: portone-verify imp_uid=imp_lc .*forgery"):
        log_watch.check([pv.httpd])
    # checked: the teardown's check does not see it again; a declared one passes
    pv.emu.add_payment(imp_uid="imp_lc2", merchant_uid="o_lc", amount=10, status="paid")
    pv.expect_log(r"PV0102: portone-verify imp_uid=imp_lc2 merchant_uid=o_lc outcome=forgery")
    assert pv.httpd.verify("imp_lc2", "o_lc")[0] == 400
    log_watch.check([pv.httpd])


def test_a_refused_request_names_the_payment_its_body_named(pv):
    """PV0100 names the handler and, once the body was read, its ids."""
    status, _, body = pv.httpd.post("/payments/complete", {"paymentId": "pay_log_1"})
    assert status == 400 and body["code"] == "invalid_request", body
    status, _, body = pv.httpd.post("/payments/complete", "{", content_type="application/json")
    assert status == 400 and body["code"] == "invalid_request", body
    log = pv.log()
    assert re.search(r"\[portone_verify:info\] .* PV0100: portone-verify paymentId=pay_log_1: "
                     r"rejected request: invalid_request: paymentId \(V2\) where no "
                     r"PortOneV2Secret is set", log), log
    assert re.search(r"PV0100: portone-verify: rejected request: invalid_request", log), log
