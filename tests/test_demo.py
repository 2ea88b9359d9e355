"""The demo shop page (demo/, served by `make run`) in a real browser:
Debian's chromium, headless, driven by selenium. Clicks through a genuine
payment, a forged amount that verification catches, and a forged amount
that PortOne's checkout refuses because the order was prepared; reads the
answers from the page and checks the database and what PortOne was asked.
SQLite only, as `make run`."""
import importlib.util
import json
import shutil

import pytest

from demo import shop_config
from harness import Httpd, SqliteDB, make_tempdir

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER and importlib.util.find_spec("selenium")),
    reason="needs Debian's chromium, chromium-driver and python3-selenium "
           "(tests/install-deps.sh installs them)")

FORGERY_LOG = (r"PV0102: portone-verify imp_uid=imp_\d{12} merchant_uid=order_[0-9a-f]{16} "
               r"outcome=forgery \(recorded\): amount differs from the order "
               r"\(PortOne: 100 KRW, the order: 10000 KRW\)")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--user-data-dir=" + make_tempdir("pv-chromium-")):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def shop(emulator):
    """httpd with the demo's configuration, its own SQLite database."""
    emulator.reset()
    d = make_tempdir("pv-demo-")
    db = SqliteDB(d)
    h = Httpd(d, db, emulator.url, extra=shop_config(d, db, emulator.url)).start()
    yield h
    h.stop()


class Page:
    """The demo page, as a buyer clicks through it."""

    def __init__(self, browser, url):
        self.b = browser
        browser.get(url + "/demo/")

    def el(self, id_):
        from selenium.webdriver.common.by import By
        return self.b.find_element(By.ID, id_)

    def click(self, id_):
        assert self.el(id_).is_enabled(), "%s is disabled" % id_
        self.el(id_).click()

    def answer(self, id_):
        """(data-status, JSON shown) of the <pre> |id_|, once it shows one."""
        from selenium.webdriver.support.ui import WebDriverWait
        WebDriverWait(self.b, 30).until(lambda b: self.el(id_).get_attribute("data-status"))
        text = self.el(id_).text
        body = text.split("\n", 1)[1] if text.startswith("HTTP ") else text
        return self.el(id_).get_attribute("data-status"), json.loads(body)

    def create_order(self, item="tshirt", quantity=1):
        from selenium.webdriver.support.ui import Select
        Select(self.el("item")).select_by_value(item)
        self.el("quantity").clear()
        self.el("quantity").send_keys(str(quantity))
        self.click("create")
        status, order = self.answer("order-answer")
        assert status == "201", order
        return order

    def pay(self, amount=None):
        if amount is not None:          # the buyer edits the page
            self.el("pay-amount").clear()
            self.el("pay-amount").send_keys(str(amount))
        self.click("pay")
        return self.answer("pay-answer")


def test_a_genuine_payment(browser, shop, emulator):
    page = Page(browser, shop.url)
    order = page.create_order("tshirt", 2)
    assert order["amount"] == 20000 and order["currency"] == "KRW"
    assert shop.db.query("SELECT total_price, state FROM shop_orders WHERE order_no = ?",
                         (order["merchant_uid"],)) == [{"total_price": "20000", "state": "new"}]

    page.click("prepare")
    assert page.answer("prepare-answer") == ("200", {
        "status": "prepared", "merchant_uid": order["merchant_uid"], "amount": 20000,
        "currency": "KRW"})
    assert emulator.prepared(order["merchant_uid"])["amount"] == 20000

    assert page.el("pay-amount").get_attribute("value") == "20000"
    status, paid = page.pay()
    assert status == "paid" and paid["merchant_uid"] == order["merchant_uid"], paid
    assert page.el("verify").is_enabled()

    page.click("verify")
    assert page.answer("verify-answer") == ("200", {
        "status": "success", "message": "일반 결제 성공", "imp_uid": paid["imp_uid"],
        "merchant_uid": order["merchant_uid"]})
    assert shop.db.query("SELECT state, paid_imp_uid FROM shop_orders WHERE order_no = ?",
                         (order["merchant_uid"],)) == [{"state": "paid",
                                                         "paid_imp_uid": paid["imp_uid"]}]
    assert shop.db.query("SELECT imp_uid, outcome FROM portone_payments") == [
        {"imp_uid": paid["imp_uid"], "outcome": "paid"}]


@pytest.mark.expect_log(FORGERY_LOG)
def test_a_forged_amount_is_caught_by_verification(browser, shop, emulator):
    page = Page(browser, shop.url)
    order = page.create_order("tshirt", 1)      # 10000 KRW, not prepared
    status, paid = page.pay(100)                # the buyer pays 100
    assert status == "paid" and paid["paid_amount"] == 100, paid
    page.click("verify")
    assert page.answer("verify-answer") == ("400", {
        "status": "forgery", "message": "위조된 결제시도", "imp_uid": paid["imp_uid"],
        "merchant_uid": order["merchant_uid"]})
    assert shop.db.query("SELECT state FROM shop_orders WHERE order_no = ?",
                         (order["merchant_uid"],)) == [{"state": "new"}]
    assert shop.db.query("SELECT outcome, amount FROM portone_payments") == [
        {"outcome": "forgery", "amount": 100}]


def test_a_forged_amount_of_a_prepared_order_is_refused_by_the_checkout(browser, shop, emulator):
    page = Page(browser, shop.url)
    order = page.create_order("tshirt", 1)
    page.click("prepare")
    assert page.answer("prepare-answer")[0] == "200"
    status, refused = page.pay(100)
    assert status == "refused" and refused["error_code"], refused
    assert not page.el("verify").is_enabled()
    assert emulator.prepared(order["merchant_uid"])["amount"] == 10000
    assert not [r for r in emulator.counters()["requests"] if r["path"].startswith("/payments/imp_")]
    assert shop.db.query("SELECT COUNT(*) AS n FROM portone_payments") == [{"n": 0}]
