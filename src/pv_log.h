/* The tag that starts every line this module writes to the error log, as
 * httpd's APLOGNO() starts its own with "AHnnnnn: ":
 *
 *     ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, PVLOGNO(0102) "...", ...);
 *
 * writes "PV0102: ...". Each tag is used once and listed, with what the
 * admin should do about it, in docs/log-tags.md (tests/test_docs.py
 * checks both). A new line takes the next free number of its range:
 * 00xx start-up and configuration, 01xx requests and their outcomes, 02xx
 * PortOne calls, 03xx the database. A number, once released, is never
 * reused for another meaning. */
#ifndef PV_LOG_H
#define PV_LOG_H

#define PVLOGNO(n) "PV" #n ": "

#endif
