"""`make run`: the module for real, on 127.0.0.1.

httpd (Debian's apache2) with the built module and SQLite; PortOne is the
project's emulator unless PORTONE_API_KEY and PORTONE_API_SECRET are set, in
which case the real API (https://api.iamport.kr) is used. Prints a curl that
verifies a sample payment, then serves until Ctrl-C."""
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Httpd, SqliteDB  # noqa: E402
from portone_emulator import Emulator  # noqa: E402

PORT = int(os.environ.get("PORT", "8080"))
DEMO_DIR = os.environ.get("PV_DEMO_DIR", "/var/tmp/portone-verify-demo")


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
    httpd = Httpd(DEMO_DIR, db, api, port=PORT, directives=directives)
    httpd.start()
    print("""
httpd with mod_portone_verify listens on %(url)s
  config:     %(conf)s
  error log:  %(err)s
  database:   %(db)s (shop_orders holds order_demo_0001, 10000 KRW)

Verify the sample payment:

  curl -s -X POST %(url)s/payments/complete -H 'Content-Type: application/json' \\
       -d '{"imp_uid":"imp_demo_0001","merchant_uid":"order_demo_0001"}'

and see what was recorded:

  sqlite3 %(db)s 'SELECT imp_uid, outcome FROM portone_payments; SELECT * FROM portone_events;'

Ctrl-C stops httpd%(emu)s.""" % {"url": httpd.url, "conf": httpd.conf_path, "err": httpd.error_log,
                                  "db": db.path, "emu": " and the emulator" if emu else ""}, flush=True)
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
