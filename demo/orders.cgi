#!/usr/bin/python3
"""The demo shop's own server side (a CGI, to keep it plain): creates an
order in the shop's table shop_orders and answers it as JSON.

The amount is computed here, from the shop's prices, never taken from the
browser: it is what portone-prepare registers with PortOne and what
portone-verify compares PortOne's payment with (PortOneOrderQuery reads
it). The database is the file of $SHOP_DB (SetEnv in httpd's config)."""
import json
import os
import secrets
import sqlite3
import sys

PRICES = {"tshirt": ("T-shirt", 10000), "mug": ("Mug", 8000), "sticker": ("Sticker", 1500)}


def answer(status, body):
    sys.stdout.write("Status: %s\r\nContent-Type: application/json; charset=utf-8\r\n"
                     "Cache-Control: no-store\r\n\r\n" % status)
    sys.stdout.write(json.dumps(body, ensure_ascii=False))


def main():
    if os.environ.get("REQUEST_METHOD") != "POST":
        return answer("405 Method Not Allowed", {"error": "POST an order"})
    try:
        n = int(os.environ.get("CONTENT_LENGTH") or 0)
        want = json.loads(sys.stdin.read(min(n, 4096)) or "null")
        name, price = PRICES[want["item"]]
        quantity = int(want.get("quantity", 1))
        if not 1 <= quantity <= 10:
            raise ValueError("quantity")
    except (ValueError, KeyError, TypeError):
        return answer("400 Bad Request", {"error": "item (%s) and quantity (1-10)"
                                          % ", ".join(PRICES)})
    order = {"merchant_uid": "order_" + secrets.token_hex(8), "name": "%s x %d" % (name, quantity),
             "amount": price * quantity, "currency": "KRW"}
    con = sqlite3.connect(os.environ["SHOP_DB"], timeout=30)
    with con:
        con.execute("INSERT INTO shop_orders (order_no, total_price, currency) VALUES (?, ?, ?)",
                    (order["merchant_uid"], str(order["amount"]), order["currency"]))
    con.close()
    answer("201 Created", order)


main()
