/* JSON through json-c, the module's only JSON library (Debian's
 * libjson-c-dev, 0.16): a thin layer that parses strictly, ties a parsed
 * value to a pool, gives a number's exact text, and writes the module's
 * answers. No JSON is tokenized or escaped here; callers read members with
 * json-c's own calls (json_object_object_get_ex, json_object_get_type).
 *
 * What json-c's strict mode (JSON_TOKENER_STRICT) reads that RFC 8259 does
 * not, and what follows from it:
 * - NaN, Infinity and -Infinity as numbers: pv_json_number_text refuses
 *   them (json-c keeps no token for them);
 * - "1.", "1.e5", "00", "-01": read at their plain decimal value (the text
 *   of a fraction is kept as written, an integer's is its value);
 * - single-quoted keys, and bytes 0x01-0x1F raw inside strings;
 * - a key is a C string: "a\u0000b" is the key "a";
 * - of duplicate keys, the last (no json-c call tells that a key repeated).
 * The depth limit counts nested objects and arrays (see pv_json_parse). */
#ifndef PV_JSON_H
#define PV_JSON_H

#include <apr_pools.h>
#include <stddef.h>

struct json_object;

/* Reads |body| (|len| bytes, not NUL-terminated) as one JSON value with only
 * whitespace around it: strict, valid UTF-8 (pv_json_utf8_valid), no NUL
 * byte, at most |depth| levels of nested objects and arrays (a top-level
 * object is one; json-c counts values, so it is given |depth| + 1 and takes
 * an empty object or array one level deeper too). 0 and the value in |*root| (NULL for JSON
 * null), released by a cleanup of |pool|: strings read from it live as long
 * as |pool|. -1 when refused. */
int pv_json_parse(apr_pool_t *pool, const char *body, size_t len, int depth,
                  struct json_object **root);

/* 1 when the |len| bytes at |s| are valid UTF-8: no overlong form, no
 * surrogate, nothing above U+10FFFF; else 0. */
int pv_json_utf8_valid(const char *s, size_t len);

/* A string value and its length (a \u0000 inside is counted); NULL when |v|
 * is not a string. */
const char *pv_json_string(struct json_object *v, size_t *len);

/* An integer value: 0 and |*out|; -1 when |v| is not an integer, or is one
 * json-c 0.16 may have saturated (see pv_json_number_text). */
int pv_json_int64(struct json_object *v, long long *out);

/* The exact text of a number, in |pool| or json-c's (as long as |v|): a
 * number with a fraction or an exponent as it was written (json-c keeps the
 * token of a number it parsed as a double), an integer in decimal (json-c
 * keeps it as int64 or uint64). NULL when |v| is not a number, is NaN or
 * +-Infinity, or is an integer equal to INT64_MIN, INT64_MAX or UINT64_MAX:
 * json-c 0.16 saturates an integer beyond 64 bits to one of those and loses
 * its text, so such a value cannot be told from the real one and is not
 * taken (for PortOne's answers: not the documented answer). */
const char *pv_json_number_text(apr_pool_t *pool, struct json_object *v);

/* |v| written by json-c (JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE), copied into |pool|. */
const char *pv_json_text(apr_pool_t *pool, struct json_object *v);

/* ------------------------------------------------------------- writing */

/* A member of an object pv_json_object writes: |value| as a JSON string,
 * or with |raw| as JSON text written as it is (a number). */
typedef struct {
    const char *key;
    const char *value;
    int raw;
} pv_json_out_t;

/* {"key":"value",...} in |pool|, written by json-c: the |n| members in
 * order, those whose value is NULL left out, plain, '/' not escaped
 * (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE: \" \\ \b \f \n
 * \r \t, other bytes below 0x20 as \u00xx, every other byte as it is).
 * |*len| is the text's length. Should json-c run out of memory: "" and 0. */
char *pv_json_object(apr_pool_t *pool, const pv_json_out_t *m, int n,
                     size_t *len);

#endif
