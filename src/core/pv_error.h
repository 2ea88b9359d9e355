/* The module's error codes: one table maps each to its HTTP status and the
 * "code" of the JSON error answer (contract section 5). */
#ifndef PV_ERROR_H
#define PV_ERROR_H

typedef enum {
    PV_OK = 0,
    PV_E_INVALID_REQUEST,
    PV_E_UNSUPPORTED_MEDIA_TYPE,
    PV_E_PAYLOAD_TOO_LARGE,
    PV_E_METHOD_NOT_ALLOWED,
    PV_E_PAYMENT_NOT_FOUND,
    PV_E_ORDER_NOT_FOUND,
    PV_E_UPSTREAM_AUTH_FAILED,
    PV_E_UPSTREAM_ERROR,
    PV_E_UPSTREAM_TIMEOUT,
    PV_E_DATABASE_UNAVAILABLE,
    PV_E_NOT_CONFIGURED,
    PV_E_INVALID_SIGNATURE,     /* a V2 webhook whose signature fails */
    PV_E_COUNT
} pv_err;

typedef struct {
    const char *code;       /* "invalid_request" */
    int status_code;        /* 400 */
    const char *message;    /* default human text */
} pv_err_info;

const pv_err_info *pv_err_lookup(pv_err e);

#endif
