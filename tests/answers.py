"""Checks of the module's JSON answers, shared by the suites."""


def assert_error(resp, http_status, code):
    status, headers, body = resp
    assert status == http_status, (status, body)
    assert isinstance(body, dict), body
    assert body.get("status") == "error" and body.get("code") == code, body
    assert isinstance(body.get("message"), str) and body["message"], body
    assert headers.get("Cache-Control") == "no-store", headers
    return body
