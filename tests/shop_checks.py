"""What the verification tests read back, shared: the answer's form, the
module's rows and events, the shop's order."""
from decimal import Decimal

PAYMENT_COLUMNS = ("imp_uid, merchant_uid, status, outcome, amount, cancel_amount, currency, "
                   "pay_method, paid_at, vbank_num, vbank_name, vbank_date, response")


def json_answer(status, headers, body):
    """Every answer is JSON that is never cached."""
    assert isinstance(body, dict), (status, body)
    assert headers.get("Cache-Control") == "no-store", headers
    assert headers.get("Content-Type", "").startswith("application/json"), headers
    return status, body


def payments(db, with_api=False):
    api = "api, " if with_api else ""
    return db.query("SELECT %s%s FROM portone_payments ORDER BY %simp_uid"
                    % (api, PAYMENT_COLUMNS, api))


def events(db, with_api=False):
    api = "api, " if with_api else ""
    return db.query("SELECT %simp_uid, merchant_uid, outcome FROM portone_events "
                    "ORDER BY %simp_uid, outcome" % (api, api))


def order(db, order_no):
    rows = db.query("SELECT state, paid_imp_uid, updates FROM shop_orders WHERE order_no = ?",
                    (order_no,))
    assert len(rows) == 1, rows
    return rows[0]


def dec(v):
    return None if v is None else Decimal(str(v))
