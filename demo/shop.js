/* The front-end's part of a PortOne (V1) payment with mod_portone_verify.
 *
 * The browser is not trusted with money: it only carries ids. The amount
 * comes from the shop's database (step 1), is registered with PortOne by
 * the server (step 2), and what was really paid is checked by the server
 * with PortOne's own answer (step 4). httpd's configuration for the two
 * module URLs:
 *
 *   <Location "/payments/prepare">   SetHandler portone-prepare </Location>
 *   <Location "/payments/complete">  SetHandler portone-verify  </Location>
 */
"use strict";

var order = null;       // the shop's answer: {merchant_uid, name, amount, currency}
var payment = null;     // the checkout's answer: {imp_uid, merchant_uid, ...}

function $(id) { return document.getElementById(id); }

// POSTs |data| as JSON; resolves to {status, body} whatever the status.
function post(url, data) {
    return fetch(url, {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify(data)
    }).then(function (r) {
        return r.json().then(function (body) { return {status: r.status, body: body}; });
    });
}

// Shows an answer in the <pre> |id|; its data-status is what the tests read.
function show(id, status, body) {
    $(id).textContent = (typeof status === "number" ? "HTTP " + status + "\n" : "")
        + JSON.stringify(body, null, 2);
    $(id).dataset.status = status;
}

// 1. The shop's own server creates the order and says what it costs.
$("create").onclick = function () {
    post("orders.cgi", {item: $("item").value, quantity: Number($("quantity").value)})
        .then(function (a) {
            show("order-answer", a.status, a.body);
            if (a.status !== 201)
                return;
            order = a.body;
            $("pay-amount").value = order.amount;
            $("create").disabled = true;
            $("prepare").disabled = $("pay").disabled = false;
        });
};

// 2. portone-prepare reads the order's amount from the database (never from
// this request) and registers it with PortOne before the window opens.
$("prepare").onclick = function () {
    $("prepare").disabled = true;
    post("/payments/prepare", {merchant_uid: order.merchant_uid}).then(function (a) {
        show("prepare-answer", a.status, a.body);     // 200 {"status":"prepared", ...}
    });
};

// 3. PortOne's checkout window; its callback gets the payment's imp_uid, or
// an error_code (the buyer gave up, the card was refused, PortOne refused an
// amount other than the prepared one).
$("pay").onclick = function () {
    $("pay").disabled = true;
    IMP.init("imp00000000");            // your merchant code (가맹점 식별코드)
    IMP.request_pay({
        pg: "html5_inicis",
        pay_method: "card",
        merchant_uid: order.merchant_uid,
        name: order.name,
        amount: Number($("pay-amount").value),
        currency: order.currency
    }, function (rsp) {
        if (rsp.error_code) {
            show("pay-answer", "refused", rsp);
            return;
        }
        payment = rsp;
        show("pay-answer", "paid", rsp);
        $("verify").disabled = false;
    });
};

// 4. portone-verify: the browser names the payment; the module asks PortOne
// for it, compares amount, currency and order with the database, records
// it and answers: 200 "success" (or "vbankIssued"), 400 "forgery", 409 for
// a payment not paid (yet), 5xx to retry later.
$("verify").onclick = function () {
    $("verify").disabled = true;
    post("/payments/complete", {imp_uid: payment.imp_uid, merchant_uid: payment.merchant_uid})
        .then(function (a) { show("verify-answer", a.status, a.body); });
};

$("again").onclick = function () { location.reload(); };
