"""The documentation matches the code and its readers: every directive of the
command table is in docs/directives.md (in the form of httpd's manual, and
in its summary table) and conf/portone_verify.conf, and none that is not;
every log line has its own PVnnnn tag (PVLOGNO), listed with its level and
what to do in docs/log-tags.md, and the docs name no other; README.md is the admin's short
way in, in the order an admin needs it, and links every document."""
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
    assert len(code) == 19, code
    reference = read("docs", "directives.md")
    docs = set(re.findall(r"^## (PortOne\w+)$", reference, re.M))
    assert docs == code
    conf = set(re.findall(r"^# (PortOne\w+) ", read("conf", "portone_verify.conf"), re.M))
    assert conf == code
    summary = set(re.findall(r"^\| `(PortOne\w+)", reference, re.M))
    assert summary == code
    # and every directive used in a config line of the docs exists
    for text in (reference, read("conf", "portone_verify.conf"), read("README.md"),
                 read("docs", "v2.md")):
        used = set(re.findall(r"^\s*#?\s*(PortOne[A-Z]\w+)[ \t]+\S", text, re.M))
        assert used and used <= code, used - code


def test_directives_in_the_form_of_httpds_manual():
    """Each directive's section starts with httpd's table: Description,
    Syntax (starting with its name), Default, Context, Module."""
    sections = re.split(r"^## ", read("docs", "directives.md"), flags=re.M)
    seen = 0
    for sec in sections:
        name = sec.split("\n", 1)[0].strip()
        if not re.fullmatch(r"PortOne\w+", name):
            continue
        seen += 1
        rows = re.findall(r"^\| (\w+) \| (.+) \|$", sec, re.M)
        assert [k for k, _ in rows[:5]] == ["Description", "Syntax", "Default", "Context", "Module"], name
        fields = dict(rows[:5])
        assert fields["Syntax"].startswith("`%s" % name), name
        assert fields["Module"] == "mod_portone_verify", name
        assert all(v.strip() for v in fields.values()), name
    assert seen == len(code_directives())


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


def test_readme_is_short_and_in_the_admins_order():
    readme = read("README.md")
    lines = readme.splitlines()
    assert len(lines) <= 300, len(lines)
    headings = re.findall(r"^## (.+)$", readme, re.M)
    assert headings[:3] == ["Install on a server", "Try it and test it from a clone",
                            "Documentation"], headings
    # what it does: at most five lines of prose before the first section
    intro = readme.split("\n## ", 1)[0].splitlines()[1:]
    assert 1 <= len([l for l in intro if l.strip()]) <= 5, intro
    install = readme.split("## Install on a server", 1)[1].split("\n## ", 1)[0]
    steps = ["apt install ./libapache2-mod-portone-verify_", "a2enmod portone_verify",
             '<Location "/payments/complete">', "apachectl configtest",
             "systemctl reload apache2", "curl -s -X POST"]
    at = [install.find(s) for s in steps]
    assert -1 not in at and at == sorted(at), list(zip(steps, at))
    trying = readme.split("## Try it and test it from a clone", 1)[1].split("\n## ", 1)[0]
    assert "make run" in trying and "make test" in trying


def test_readme_links_every_document_and_only_existing_ones():
    readme = read("README.md")
    linked = set(re.findall(r"`(docs/[\w.-]+\.md)`", readme))
    present = {"docs/" + f for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md")}
    assert linked == present, (linked - present, present - linked)
    for f in ("LICENSE", "CHANGES", "conf/portone_verify.conf"):
        assert "`%s`" % f in readme and os.path.exists(os.path.join(ROOT, f)), f


def test_readme_and_the_package_agree_on_enabling():
    """The package enables the module on installation (dh_apache2's postinst,
    from the `mod` lines of debian/*.apache2): README says so."""
    helper = read("debian", "libapache2-mod-portone-verify.apache2")
    assert re.search(r"^mod conf/portone_verify\.load$", helper, re.M)
    readme = " ".join(read("README.md").replace("**", "").split())
    assert "It enables the module and mod_dbd on installation" in readme
