"""PortOne API emulator (V1 "I'mport" and V2) for mod_portone_verify tests and demo.

Follows /work/shared/portone-api.md (sections 1, 2 and 5) and PortOne's OpenAPI specs
(portone-io/developers.portone.io @ af926bd2, src/schema/v1.openapi.json and
src/schema/v2.openapi.json: the V2 shapes below are those schemas). Standard library only.

V1 API:  POST /users/getToken, GET /payments/{imp_uid},
         GET /payments/find/{merchant_uid}[/{payment_status}],
         POST|PUT /payments/prepare, GET /payments/prepare/{merchant_uid},
         POST /payments/cancel
V2 API:  GET /payments/{paymentId}, POST /payments/{paymentId}/pre-register,
         POST /payments/{paymentId}/cancel, POST /login/api-secret, POST /token/refresh
Webhooks sent by the emulator: send_v1_webhook() (JSON or form), send_v2_webhook()
         (Standard Webhooks signature, bodies of version 2024-04-25 and 2024-01-01)
Control: /__emu/{payments,v2/payments,prepared,revoke,clock,config,faults,counters,
         webhooks,reset} (no auth)
Browser: GET /__emu/iamport.js and POST /__emu/checkout, a stand-in of PortOne's V1
         JS SDK and checkout window for the demo shop page (checkout.py)

V1 and V2 share the path /payments/{id}. The main port (``url``) decides per request:
V2 when the Authorization scheme is ``PortOne`` (or ``Bearer`` with a token of
/login/api-secret), for /login/api-secret and /token/refresh, and for
POST /payments/{id}/pre-register|cancel; V1 otherwise (so a V2 request without any
Authorization header is answered as V1 there). The second port (``v2_url``) speaks
V2 only. Every request records which API answered it (``api``: "v1" or "v2").

Test-side API (thread-safe): add_payment(s)/patch_payment/get_payment (V1),
add_v2_payment(s)/patch_v2_payment/get_v2_payment (V2), add_prepared/prepared (V1
prepare), v2_pre_registered, send_v1_webhook, send_v2_webhook, sign_webhook (module
function), configure (token_lifetime, imp_key, imp_secret, v2_secret, v2_store_id,
v2_store_ids, v2_store_check, v2_token_lifetime), add_fault (api="v1"|"v2" limits a
rule to one API; kinds as FAULT_KINDS, "lost" = processed but never answered,
"refuse" = PortOne says no and nothing changes: V1 HTTP 200 code 1, V2 a 4xx {"type"}),
set_clock_offset, revoke_tokens, counters, reset.
Facts the sources do not give are marked [uncertain] where they are made up.

Use in-process (``Emulator().start()``) or standalone:
    /usr/bin/python3 tests/portone_emulator --port 8099 [--v2-port 8100] [--seed-demo]
    (or, from tests/: /usr/bin/python3 -m portone_emulator --port 8099 ...)

Files: common.py (constants, envelopes, helpers), v1.py (V1 API), v2.py (V2 API,
Idempotency-Key), webhooks.py (signing and sending webhooks), server.py (HTTP
server, dispatch, faults), emulator.py (the Emulator: lifecycle, state, test-side
API, control API), checkout.py (the browser side: JS SDK and checkout window
stand-ins), __main__.py (the standalone program).
"""

from .common import (DEFAULT_TOKEN_LIFETIME, DEFAULT_V2_TOKEN_LIFETIME, EXTEND_BY,
                     EXTEND_WINDOW, FAULT_KINDS, FIND_PATH, IDEMPOTENCY_TTL, MSG_AUTH_FAILED,
                     MSG_BAD_STATUS, MSG_CANCEL_CHECKSUM, MSG_CANCEL_DONE, MSG_CANCEL_NO_UID,
                     MSG_CANCEL_NONE, MSG_CANCEL_NOT_PAID, MSG_CANCEL_TOO_MUCH, MSG_MISSING,
                     MSG_NO_PAYMENT, MSG_NOT_PREPARED, MSG_PREPARE_DUP, MSG_PREPARE_MISSING,
                     PAYMENT_PATH, PREPARE_PATH, TEST_IMP_KEY, TEST_IMP_SECRET,
                     TEST_V2_MERCHANT_ID, TEST_V2_SECRET, TEST_V2_STORE_ID, TEST_WEBHOOK_SECRET,
                     V1_CTYPE, V1_SORTINGS, V1_STATUSES, V2_ACTION_PATH, V2_CTYPE,
                     V2_FAULT_TYPES, V2_STATUSES, iso_time)
from .emulator import Emulator
from .v1 import payment_response
from .v2 import V2_SHORTCUTS, v2_payment_object
from .webhooks import sign_webhook

__all__ = [
    "DEFAULT_TOKEN_LIFETIME", "DEFAULT_V2_TOKEN_LIFETIME", "EXTEND_BY", "EXTEND_WINDOW",
    "FAULT_KINDS", "FIND_PATH", "IDEMPOTENCY_TTL", "MSG_AUTH_FAILED", "MSG_BAD_STATUS",
    "MSG_CANCEL_CHECKSUM", "MSG_CANCEL_DONE", "MSG_CANCEL_NO_UID", "MSG_CANCEL_NONE",
    "MSG_CANCEL_NOT_PAID", "MSG_CANCEL_TOO_MUCH", "MSG_MISSING", "MSG_NO_PAYMENT",
    "MSG_NOT_PREPARED", "MSG_PREPARE_DUP", "MSG_PREPARE_MISSING", "PAYMENT_PATH",
    "PREPARE_PATH", "TEST_IMP_KEY", "TEST_IMP_SECRET", "TEST_V2_MERCHANT_ID", "TEST_V2_SECRET",
    "TEST_V2_STORE_ID", "TEST_WEBHOOK_SECRET", "V1_CTYPE", "V1_SORTINGS", "V1_STATUSES",
    "V2_ACTION_PATH", "V2_CTYPE", "V2_FAULT_TYPES", "V2_SHORTCUTS", "V2_STATUSES", "Emulator",
    "iso_time", "payment_response", "sign_webhook", "v2_payment_object",
]
