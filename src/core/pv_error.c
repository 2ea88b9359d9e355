#include "pv_error.h"

static const pv_err_info table[PV_E_COUNT] = {
    [PV_OK]                       = {"ok", 200, "ok"},
    [PV_E_INVALID_REQUEST]        = {"invalid_request", 400, "the request body is not valid"},
    [PV_E_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type", 415, "unsupported Content-Type"},
    [PV_E_PAYLOAD_TOO_LARGE]      = {"payload_too_large", 413, "the request body is larger than 64 KiB"},
    [PV_E_METHOD_NOT_ALLOWED]     = {"method_not_allowed", 405, "only POST is allowed"},
    [PV_E_PAYMENT_NOT_FOUND]      = {"payment_not_found", 404, "PortOne has no payment with this imp_uid"},
    [PV_E_ORDER_NOT_FOUND]        = {"order_not_found", 404, "no order matches the payment's merchant_uid"},
    [PV_E_UPSTREAM_AUTH_FAILED]   = {"upstream_auth_failed", 502, "PortOne refused the API credentials"},
    [PV_E_UPSTREAM_ERROR]         = {"upstream_error", 502, "PortOne did not answer as documented"},
    [PV_E_UPSTREAM_TIMEOUT]       = {"upstream_timeout", 504, "PortOne did not answer in time"},
    [PV_E_DATABASE_UNAVAILABLE]   = {"database_unavailable", 503, "the database is not available"},
    [PV_E_NOT_CONFIGURED]         = {"not_configured", 500, "the module is not configured for this server"},
    [PV_E_INVALID_SIGNATURE]      = {"invalid_signature", 401, "the webhook signature is not valid"},
};

const pv_err_info *pv_err_lookup(pv_err e)
{
    return (e >= 0 && e < PV_E_COUNT) ? &table[e] : &table[PV_E_UPSTREAM_ERROR];
}
