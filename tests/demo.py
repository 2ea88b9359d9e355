"""`make run`: the module for real, on 127.0.0.1.

httpd (Debian's apache2) with the built module and SQLite; PortOne is the
project's emulator unless PORTONE_API_KEY and PORTONE_API_SECRET are set, in
which case the real API (https://api.iamport.kr) is used. With the emulator,
httpd also serves the demo shop page (demo/: create an order, prepare, pay
in the emulator's checkout stand-in, verify). Prints its address and a curl
that verifies a sample payment, then serves until Ctrl-C."""
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import MODULES, ROOT, Httpd, SqliteDB, _chown_tree  # noqa: E402
from portone_emulator import Emulator  # noqa: E402

PORT = int(os.environ.get("PORT", "8080"))
DEMO_DIR = os.environ.get("PV_DEMO_DIR", "/var/tmp/portone-verify-demo")


def shop_config(directory, db, emulator_url):
    """The demo shop's part of httpd.conf: demo/ (copied into |directory|,
    readable by httpd's user) at /demo/ with its orders CGI writing to |db|
    (SQLite), portone-prepare at /payments/prepare (portone-verify is at
    /payments/complete in every harness config), and the emulator's stand-in
    of PortOne's SDK and checkout window at /emulator/."""
    site = os.path.join(directory, "demo")
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "demo"), site)
    _chown_tree(site)
    return f"""
LoadModule alias_module {MODULES}/mod_alias.so
LoadModule mime_module {MODULES}/mod_mime.so
LoadModule dir_module {MODULES}/mod_dir.so
LoadModule env_module {MODULES}/mod_env.so
LoadModule cgid_module {MODULES}/mod_cgid.so
LoadModule proxy_module {MODULES}/mod_proxy.so
LoadModule proxy_http_module {MODULES}/mod_proxy_http.so
TypesConfig /etc/mime.types
RedirectMatch "^/$" "/demo/"
Alias "/demo/" "{site}/"
<Directory "{site}">
    Require all granted
    Options +ExecCGI
    AddHandler cgi-script .cgi
    DirectoryIndex index.html
    SetEnv SHOP_DB "{db.path}"
</Directory>
<Location "/payments/prepare">
    SetHandler portone-prepare
</Location>
# PortOne's browser side (https://cdn.iamport.kr/v1/iamport.js and its
# checkout window), played by the emulator
ProxyPass "/emulator/iamport.js" "{emulator_url}/__emu/iamport.js"
ProxyPass "/emulator/checkout" "{emulator_url}/__emu/checkout"
"""


def main():
    key, secret = os.environ.get("PORTONE_API_KEY"), os.environ.get("PORTONE_API_SECRET")
    emu = None
    if key and secret:
        api, directives = "https://api.iamport.kr", {"PortOneAPIKey": key, "PortOneAPISecret": secret}
        print("PortOne: the real API with your keys")
    else:
        emu = Emulator(port=int(os.environ.get("EMULATOR_PORT", "8099"))).start()
        emu.add_payment(imp_uid="imp_demo_0001", merchant_uid="order_demo_0001",
                        amount=10000, status="paid", currency="KRW")
        api, directives = emu.url, {}
        print("PortOne: the emulator at %s (set PORTONE_API_KEY and PORTONE_API_SECRET "
              "for the real API)" % emu.url)
    directives.update({"PortOneTimeout": "30", "PortOneConnectTimeout": "5"})

    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    os.makedirs(DEMO_DIR)
    os.chmod(DEMO_DIR, 0o755)
    db = SqliteDB(DEMO_DIR)
    db.add_order("order_demo_0001", 10000)
    httpd = Httpd(DEMO_DIR, db, api, port=PORT, directives=directives,
                  extra=shop_config(DEMO_DIR, db, emu.url) if emu else "")
    httpd.start()
    print("""
httpd with mod_portone_verify listens on %(url)s
%(shop)s  config:     %(conf)s
  error log:  %(err)s
  database:   %(db)s (shop_orders holds order_demo_0001, 10000 KRW)

Verify the sample payment:

  curl -s -X POST %(url)s/payments/complete -H 'Content-Type: application/json' \\
       -d '{"imp_uid":"imp_demo_0001","merchant_uid":"order_demo_0001"}'

and see what was recorded:

  sqlite3 %(db)s 'SELECT imp_uid, outcome FROM portone_payments; SELECT * FROM portone_events;'

Ctrl-C stops httpd%(emu)s.""" % {"url": httpd.url, "conf": httpd.conf_path, "err": httpd.error_log,
                                  "db": db.path, "emu": " and the emulator" if emu else "",
                                  "shop": ("  shop page:  %s/demo/ (order, prepare, pay, verify)\n"
                                           % httpd.url) if emu else ""}, flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    try:
        while not stop and httpd.proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    httpd.stop()
    if emu:
        emu.stop()


if __name__ == "__main__":
    main()
