"""The documentation matches the code: every directive of the command table
is in docs/directives.md, conf/portone_verify.conf and README.md, and none
that is not; every log line has its own tag, listed in docs/log-tags.md."""
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


LEVELS = {"EMERG": "emerg", "ALERT": "alert", "CRIT": "crit", "ERR": "error",
          "WARNING": "warn", "NOTICE": "notice", "INFO": "info", "DEBUG": "debug"}


def module_sources():
    return ["mod_portone_verify.c"] + sorted(
        os.path.relpath(os.path.join(d, f), ROOT)
        for d, _, files in os.walk(os.path.join(ROOT, "src")) for f in files
        if f.endswith(".c"))


def log_calls(path):
    """The argument text of every ap_log_*error* call of a source file (up
    to its closing parenthesis, string literals skipped over)."""
    src, calls = read(path), []
    for m in re.finditer(r"\bap_log_\w*error\w*\s*\(", src):
        i, depth, quote = m.end(), 1, None
        while depth:
            c = src[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = None
            elif c in "\"'":
                quote = c
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            i += 1
        calls.append(src[m.end():i - 1])
    return calls


def code_log_tags():
    """{tag: set of levels} of the sources; fails on a call without exactly
    one PVLOGNO(nnnn) at the start of its format, or a tag used twice."""
    tags = {}
    for f in module_sources():
        src = read(f)
        assert "APLOGNO(" not in src, "%s uses httpd's AH numbers" % f
        # a tag written by hand would escape the checks below
        assert not re.search(r'"PV\d', src), "%s writes a tag without PVLOGNO()" % f
        for call in log_calls(f):
            found = re.findall(r"PVLOGNO\((\d+)\)", call)
            assert len(found) == 1 and re.search(r",\s*PVLOGNO\(\d{4}\)\s*\"", call), \
                "%s: a log line without its PVLOGNO(nnnn) tag first: %s" % (f, call)
            tag = "PV" + found[0]
            assert tag not in tags, "%s: %s is used twice" % (f, tag)
            tags[tag] = {LEVELS[x] for x in re.findall(r"\bAPLOG_([A-Z]+)\b", call)
                         if x in LEVELS}
            assert tags[tag], call
    return tags


def test_every_log_line_has_a_unique_tag_listed_in_docs_log_tags():
    tags = code_log_tags()
    assert len(tags) >= 25, sorted(tags)
    assert read("src", "pv_log.h").count('#define PVLOGNO(n) "PV" #n ": "') == 1
    # docs/log-tags.md: "| PVnnnn | level[, level] | meaning | what to do |"
    rows = re.findall(r"^\| (PV\d{4}) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$",
                      read("docs", "log-tags.md"), re.M)
    documented = {}
    for tag, levels, meaning, action in rows:
        assert tag not in documented, "%s is listed twice" % tag
        assert meaning.strip() and action.strip(), tag
        documented[tag] = {x.strip() for x in levels.split(",")}
    assert sorted(documented) == sorted(tags), (
        "undocumented: %s; documented but gone: %s"
        % (sorted(set(tags) - set(documented)), sorted(set(documented) - set(tags))))
    for tag, levels in tags.items():
        assert documented[tag] == levels, "%s: the code logs at %s, the table says %s" % (
            tag, sorted(levels), sorted(documented[tag]))


def test_the_docs_name_only_tags_that_exist():
    tags = code_log_tags()
    texts = {"README.md": read("README.md")}
    for d in ("docs", "conf"):
        for f in sorted(os.listdir(os.path.join(ROOT, d))):
            texts[os.path.join(d, f)] = read(d, f)
    for name, text in texts.items():
        for t in re.findall(r"\bPV\d+\b", text):
            assert t in tags, "%s names %s, which the module does not log" % (name, t)
