/* Strict JSON (RFC 8259), the module's only JSON code: it reads PortOne's
 * answers and the request bodies, and writes the answers and the getToken
 * body. One pass checks a whole body without allocating anything (and can
 * find the top-level object's keys on the way); values are then found as
 * spans of the body, and only the strings that are read are unescaped (into
 * a pool). It replaced json-c, which allocated every key, value and hash
 * table of a ~2 KB answer with malloc.
 *
 * What it accepts, against json-c's JSON_TOKENER_STRICT:
 * - stricter: no single-quoted strings, NaN, Infinity or "1." (json-c takes
 *   them); numbers keep their exact text (json-c clamps integers beyond 64
 *   bits to the nearest limit);
 * - the same: raw bytes 0x01-0x1F and any bytes >= 0x80 inside strings, any
 *   \uXXXX (an unpaired surrogate reads as U+FFFD), the last of duplicate
 *   keys, at most PV_JSON_DEPTH levels of nesting. */
#ifndef PV_JSON_H
#define PV_JSON_H

#include <apr_pools.h>
#include <stddef.h>

typedef enum {
    PV_JSON_NONE,           /* absent */
    PV_JSON_NULL,
    PV_JSON_FALSE,
    PV_JSON_TRUE,
    PV_JSON_INT,            /* a number without fraction or exponent */
    PV_JSON_NUMBER,         /* any other number */
    PV_JSON_STRING,
    PV_JSON_ARRAY,
    PV_JSON_OBJECT
} pv_json_type;

/* A value: its type and its text in the body, quotes and brackets included. */
typedef struct {
    pv_json_type type;
    const char *at;
    size_t len;
} pv_json_t;

/* Checks that |body| is one JSON value with only whitespace around it and
 * at most |depth| levels of nesting (a top-level object is one). 0 and the
 * value in |*root| when it is; -1 otherwise. */
int pv_json_parse(const char *body, size_t len, int depth, pv_json_t *root);

#define PV_JSON_KEYS_MAX 32

/* Looks up |n| (at most PV_JSON_KEYS_MAX) keys in object |obj| (a value
 * pv_json_parse accepted) in one pass: out[i] is the value of keys[i], the last one when the key repeats
 * (as json-c keeps the last), or of type PV_JSON_NONE. */
void pv_json_members(const pv_json_t *obj, const char *const *keys, int n,
                     pv_json_t *out);

/* Whether object |obj| (a value pv_json_parse accepted) has a key twice,
 * keys compared unescaped ("a" and "\u0061" are the same). */
int pv_json_duplicate_keys(apr_pool_t *pool, const pv_json_t *obj);

/* How many members of object |obj| (a value pv_json_parse accepted) have
 * the key |key|, keys compared unescaped. */
int pv_json_key_count(const pv_json_t *obj, const char *key);

/* pv_json_parse, and pv_json_members on the top-level value in the same
 * pass: out[i] is the value of keys[i] when the body is an object. On
 * failure (-1) every out[i] is of type PV_JSON_NONE. */
int pv_json_parse_object(const char *body, size_t len, int depth,
                         const char *const *keys, int n, pv_json_t *root,
                         pv_json_t *out);

/* A string value unescaped into |pool| and NUL-terminated; |*len| is its
 * length, which counts any NUL that \u0000 put inside. NULL when |v| is not
 * a string. */
const char *pv_json_string(apr_pool_t *pool, const pv_json_t *v, size_t *len);

/* An integer value that fits in 64 bits: 0 and |*out|; -1 otherwise. */
int pv_json_int64(const pv_json_t *v, long long *out);

/* ------------------------------------------------------------- writing */

/* A member of an object pv_json_object writes: |value| as a JSON string,
 * or with |raw| as JSON text written as it is (a number). */
typedef struct {
    const char *key;
    const char *value;
    int raw;
} pv_json_out_t;

/* {"key":"value",...} in |pool|: the |n| members in order, those whose
 * value is NULL left out. Strings are escaped as json-c writes them
 * (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE): \" \\ \b \f
 * \n \r \t, other bytes below 0x20 as \u00xx, every other byte as it is.
 * |*len| is the text's length. */
char *pv_json_object(apr_pool_t *pool, const pv_json_out_t *m, int n,
                     size_t *len);

#endif
