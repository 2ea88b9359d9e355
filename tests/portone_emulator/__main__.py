"""The emulator as a program:

    /usr/bin/python3 tests/portone_emulator --port 8099 [--v2-port 8100] [--seed-demo]
    cd tests && /usr/bin/python3 -m portone_emulator --port 8099 ...
"""
import argparse
import os
import signal
import sys
import threading

if not __package__:                     # run by path: import the package from tests/
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    sys.path.insert(0, os.path.dirname(_here))

from portone_emulator import (TEST_IMP_KEY, TEST_IMP_SECRET, TEST_V2_SECRET,  # noqa: E402
                              Emulator)


def main(argv=None):
    ap = argparse.ArgumentParser(description="PortOne V1 and V2 API emulator")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8099)
    ap.add_argument("--v2-port", type=int, default=0, help="the V2-only port (0: any free one)")
    ap.add_argument("--imp-key", default=TEST_IMP_KEY)
    ap.add_argument("--imp-secret", default=TEST_IMP_SECRET)
    ap.add_argument("--v2-secret", default=TEST_V2_SECRET)
    ap.add_argument("--seed-demo", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    emu = Emulator(args.host, args.port, args.imp_key, args.imp_secret, verbose=args.verbose,
                   v2_secret=args.v2_secret, v2_port=args.v2_port)
    if args.seed_demo:
        emu.add_payment(imp_uid="imp_demo_0001", merchant_uid="order_demo_0001",
                        amount=10000, status="paid", currency="KRW")
        emu.add_v2_payment(paymentId="payment-demo-0001", status="PAID", total=10000,
                           currency="KRW")
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    emu.start()
    print("portone-emulator listening on %s" % emu.url, flush=True)
    print("portone-emulator V2 only on %s" % emu.v2_url, flush=True)
    while not done.wait(1):
        pass
    emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
