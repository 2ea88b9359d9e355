"""The documentation matches the code and its readers: every directive of the
command table is in docs/directives.md (in the form of httpd's manual, and
in its summary table) and conf/portone_verify.conf, and none that is not;
log tags are the module's own, unique, and each has a row in the
troubleshooting table of docs/operations.md; README.md is the admin's short
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


def code_log_tags():
    sources = ["mod_portone_verify.c"] + [
        os.path.relpath(os.path.join(d, f), ROOT)
        for d, _, files in os.walk(os.path.join(ROOT, "src")) for f in files if f.endswith(".c")]
    tags = []
    for f in sources:
        src = read(f)
        assert "APLOGNO(" not in src, "%s uses httpd's AH numbers" % f
        tags += re.findall(r'"(PV\d{3,4}) ', src)
    # every ap_log_* call carries a tag
    for f in sources:
        for call in re.findall(r"ap_log_r?error\([^;]*?;", read(f), re.S):
            assert re.search(r'"PV\d{3,4} ', call), call
    return tags


def test_log_tags_are_our_own_unique_and_each_has_a_row_saying_what_to_do():
    tags = code_log_tags()
    assert tags and len(tags) == len(set(tags)), sorted(tags)
    ops = read("docs", "operations.md")
    table = ops.split("## Troubleshooting, by log tag", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (PV\d{3,4}) \| ([^|]+) \| ([^|]+) \| (.+) \|$", table, re.M)
    documented = [r[0] for r in rows]
    assert len(documented) == len(set(documented)), "a tag has two rows"
    assert set(documented) == set(tags), ("missing rows", set(tags) - set(documented),
                                          "rows of no tag", set(documented) - set(tags))
    assert documented == sorted(documented, key=lambda t: int(t[2:])), "rows out of order"
    for tag, level, meaning, todo in rows:
        assert level.strip() and meaning.strip() and todo.strip(), tag


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
