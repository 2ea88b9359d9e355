#include "pv_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ checking */

/* Keys looked up in an object, and where their values go. */
typedef struct key_set key_set_t;

/* A member with key [k, k + klen) (escapes as they are) and value
 * [v, v + vlen): its value goes to the keys it matches. */
static void key_set_found(const key_set_t *ks, const char *k, size_t klen,
                          const char *v, size_t vlen);

typedef struct {
    const char *p, *end;
    int depth, max;
    const key_set_t *top;       /* the top-level object's keys, or NULL */
} scan_t;

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

static int hex_digit(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The four hex digits at |p| (there are four bytes), or -1. */
static long hex4(const char *p)
{
    long v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);

        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* The bytes a string's scan stops at: its end, an escape, NUL. */
static const unsigned char string_stop[256] = {
    [0] = 1, ['"'] = 1, ['\\'] = 1
};

/* A string; s->p is on its opening quote. */
static int scan_string(scan_t *s)
{
    const char *p = s->p + 1, *end = s->end;

    while (p < end) {
        char c;

        while (p < end && !string_stop[(unsigned char)*p])
            p++;
        if (p >= end)
            break;
        c = *p;
        if (c == '"') {
            s->p = p + 1;
            return 0;
        }
        if (c == '\0')
            return -1;
        if (end - p < 2)
            return -1;
        if (p[1] == 'u') {
            if (end - p < 6 || hex4(p + 2) < 0)
                return -1;
            p += 6;
        }
        else if (p[1] != '\0' && strchr("\"\\/bfnrt", p[1])) {
            p += 2;
        }
        else {
            return -1;
        }
    }
    return -1;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(scan_t *s)
{
    const char *p = s->p, *end = s->end;

    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (p < end && *p >= '1' && *p <= '9')
        while (p < end && is_digit(*p))
            p++;
    else
        return -1;
    if (p < end && *p == '.') {
        if (++p >= end || !is_digit(*p))
            return -1;
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return -1;
        while (p < end && is_digit(*p))
            p++;
    }
    s->p = p;
    return 0;
}

static int scan_literal(scan_t *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n))
        return -1;
    s->p += n;
    return 0;
}

static int scan_value(scan_t *s);

/* An object or an array; s->p is on its opening bracket. */
static int scan_container(scan_t *s, char close)
{
    if (++s->depth > s->max)
        return -1;
    s->p = skip_ws(s->p + 1, s->end);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return 0;
    }
    for (;;) {
        const char *k = NULL, *kend = NULL, *v;

        if (close == '}') {
            s->p = skip_ws(s->p, s->end);
            k = s->p + 1;
            if (s->p >= s->end || *s->p != '"' || scan_string(s))
                return -1;
            kend = s->p - 1;
            s->p = skip_ws(s->p, s->end);
            if (s->p >= s->end || *s->p != ':')
                return -1;
            s->p++;
        }
        v = s->p = skip_ws(s->p, s->end);
        if (scan_value(s))
            return -1;
        if (k && s->top && s->depth == 1)
            key_set_found(s->top, k, (size_t)(kend - k), v, (size_t)(s->p - v));
        s->p = skip_ws(s->p, s->end);
        if (s->p >= s->end)
            return -1;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p != close)
            return -1;
        s->p++;
        s->depth--;
        return 0;
    }
}

/* Any value; s->p is on its first byte (its callers skip the whitespace
 * before it). Its type is read off its text when needed (type_at), not
 * here. */
static int scan_value(scan_t *s)
{
    if (s->p >= s->end)
        return -1;
    switch (*s->p) {
    case '{': return scan_container(s, '}');
    case '[': return scan_container(s, ']');
    case '"': return scan_string(s);
    case 't': return scan_literal(s, "true", 4);
    case 'f': return scan_literal(s, "false", 5);
    case 'n': return scan_literal(s, "null", 4);
    default: return scan_number(s);
    }
}

static pv_json_type type_at(const char *p, size_t len);

static int parse(const char *body, size_t len, int depth, pv_json_t *root,
                 const key_set_t *top)
{
    scan_t s;

    if (!body)
        return -1;
    s.end = body + len;
    s.p = skip_ws(body, s.end);
    s.depth = 0;
    s.max = depth;
    s.top = top;
    root->at = s.p;
    if (scan_value(&s) || skip_ws(s.p, s.end) != s.end)
        return -1;
    root->len = (size_t)(s.p - root->at);
    root->type = type_at(root->at, root->len);
    return 0;
}

int pv_json_parse(const char *body, size_t len, int depth, pv_json_t *root)
{
    return parse(body, len, depth, root, NULL);
}

/* ------------------------------------------- reading checked values */

/* After the string whose opening quote is at |p| (checked text): the first
 * quote after it that an even number of backslashes precedes. */
static const char *skip_string(const char *p, const char *end)
{
    const char *start = ++p;

    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        size_t bs = 0;

        if (!q)
            return end;
        while (q - bs > start && q[-1 - (long)bs] == '\\')
            bs++;
        if (bs % 2 == 0)
            return q + 1;
        p = q + 1;
    }
    return end;
}

/* The bytes after a number or a literal (checked text). */
static const unsigned char scalar_end[256] = {
    [','] = 1, ['}'] = 1, [']'] = 1, [' '] = 1, ['\t'] = 1, ['\r'] = 1, ['\n'] = 1
};

/* The bytes that matter when skipping a container (checked text). */
static const unsigned char container_stop[256] = {
    ['"'] = 1, ['{'] = 1, ['}'] = 1, ['['] = 1, [']'] = 1
};

/* After the value at |p| (checked text). */
static const char *skip_value(const char *p, const char *end)
{
    int depth = 0;

    if (*p == '"')
        return skip_string(p, end);
    if (*p != '{' && *p != '[') {           /* a number or a literal */
        while (p < end && !scalar_end[(unsigned char)*p])
            p++;
        return p;
    }
    for (; p < end; p++) {
        while (p < end && !container_stop[(unsigned char)*p])
            p++;
        if (p >= end)
            break;
        if (*p == '"')
            p = skip_string(p, end) - 1;
        else if (*p == '{' || *p == '[')
            depth++;
        else if (--depth == 0)
            return p + 1;
    }
    return p;
}

/* The type of the checked value whose text is [p, p + len). */
static pv_json_type type_at(const char *p, size_t len)
{
    switch (*p) {
    case '{': return PV_JSON_OBJECT;
    case '[': return PV_JSON_ARRAY;
    case '"': return PV_JSON_STRING;
    case 't': return PV_JSON_TRUE;
    case 'f': return PV_JSON_FALSE;
    case 'n': return PV_JSON_NULL;
    default:
        return memchr(p, '.', len) || memchr(p, 'e', len) || memchr(p, 'E', len)
               ? PV_JSON_NUMBER : PV_JSON_INT;
    }
}

static void put_utf8(char **o, unsigned long cp)
{
    unsigned char *u = (unsigned char *)*o;

    if (cp < 0x80) {
        *u++ = (unsigned char)cp;
    }
    else if (cp < 0x800) {
        *u++ = (unsigned char)(0xC0 | (cp >> 6));
        *u++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    else if (cp < 0x10000) {
        *u++ = (unsigned char)(0xE0 | (cp >> 12));
        *u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *u++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    else {
        *u++ = (unsigned char)(0xF0 | (cp >> 18));
        *u++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        *u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *u++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    *o = (char *)u;
}

/* One character of the checked string content at |p| (before |end|),
 * unescaped into |out| (at most 4 bytes, their number in |*n|); returns the
 * position after it. */
static const char *unescape_one(const char *p, const char *end, char *out,
                                size_t *n)
{
    char *o = out;
    long cp;

    if (*p != '\\') {
        *out = *p;
        *n = 1;
        return p + 1;
    }
    if (p[1] != 'u') {
        switch (p[1]) {
        case 'b': *out = '\b'; break;
        case 'f': *out = '\f'; break;
        case 'n': *out = '\n'; break;
        case 'r': *out = '\r'; break;
        case 't': *out = '\t'; break;
        default: *out = p[1]; break;        /* " \ / */
        }
        *n = 1;
        return p + 2;
    }
    cp = hex4(p + 2);
    p += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\'
        && p[1] == 'u') {
        long lo = hex4(p + 2);

        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xFFFD;                        /* an unpaired surrogate */
    put_utf8(&o, (unsigned long)cp);
    *n = (size_t)(o - out);
    return p;
}

/* The checked string content [p, end) unescaped into |out|, which has room
 * for end - p bytes (unescaping never lengthens); the length written. */
static size_t unescape(const char *p, const char *end, char *out)
{
    size_t len = 0, n;

    while (p < end) {
        p = unescape_one(p, end, out + len, &n);
        len += n;
    }
    return len;
}

/* Whether the checked key [k, kend) (without quotes), which has escapes,
 * unescapes to |key|. */
static int escaped_key_is(const char *k, const char *kend, const char *key,
                          size_t klen)
{
    size_t n, done = 0;
    char c[4];

    while (k < kend) {
        k = unescape_one(k, kend, c, &n);
        if (done + n > klen || memcmp(key + done, c, n))
            return 0;
        done += n;
    }
    return done == klen;
}

/* The member of a checked object at |*p| (after its opening brace or the
 * comma before): its key [*k, *k + *klen) without quotes, escapes as they
 * are, and its value [*v, *v + *vlen); |*p| moves past it. 0 at the closing
 * brace. */
static inline int next_member(const char **p, const char *end, const char **k,
                       size_t *klen, const char **v, size_t *vlen)
{
    const char *q = skip_ws(*p, end);

    if (q >= end || *q != '"')
        return 0;
    *k = q + 1;
    q = skip_string(q, end);
    *klen = (size_t)(q - 1 - *k);
    q = skip_ws(q, end) + 1;                /* past the colon */
    *v = q = skip_ws(q, end);
    q = skip_value(q, end);
    *vlen = (size_t)(q - *v);
    q = skip_ws(q, end);
    if (q < end && *q == ',')
        q++;
    *p = q;
    return 1;
}

/* Keys up to this length are looked up by length (a bit per key). */
#define SHORT_KEY 31

struct key_set {
    const char *const *keys;
    int n;
    pv_json_t *out;
    size_t klens[PV_JSON_KEYS_MAX];
    uint32_t by_len[SHORT_KEY + 1];     /* the keys of each length */
    uint32_t long_keys;
};

/* out[0 .. n - 1] set to PV_JSON_NONE; more than PV_JSON_KEYS_MAX keys
 * are not looked up (none is found). */
static void key_set_init(key_set_t *ks, const char *const *keys, int n,
                         pv_json_t *out)
{
    int i;

    for (i = 0; i < n; i++) {
        out[i].type = PV_JSON_NONE;
        out[i].at = NULL;
        out[i].len = 0;
    }
    ks->keys = keys;
    ks->n = n > PV_JSON_KEYS_MAX ? 0 : n;
    ks->out = out;
    ks->long_keys = 0;
    memset(ks->by_len, 0, sizeof(ks->by_len));
    for (i = 0; i < ks->n; i++) {
        ks->klens[i] = strlen(keys[i]);
        if (ks->klens[i] <= SHORT_KEY)
            ks->by_len[ks->klens[i]] |= (uint32_t)1 << i;
        else
            ks->long_keys |= (uint32_t)1 << i;
    }
}

static void key_set_found(const key_set_t *ks, const char *k, size_t klen,
                          const char *v, size_t vlen)
{
    uint32_t match = 0;
    int i;

    if (memchr(k, '\\', klen)) {          /* escaped: unescape to compare */
        for (i = 0; i < ks->n; i++)
            if (escaped_key_is(k, k + klen, ks->keys[i], ks->klens[i]))
                match |= (uint32_t)1 << i;
    }
    else {                                  /* plain: the keys of its length */
        uint32_t same = klen <= SHORT_KEY ? ks->by_len[klen] : ks->long_keys;

        for (i = 0; same; i++, same >>= 1)
            if ((same & 1) && ks->klens[i] == klen
                && (!klen || k[0] == ks->keys[i][0])
                && !memcmp(k, ks->keys[i], klen))
                match |= (uint32_t)1 << i;
    }
    for (i = 0; match; i++, match >>= 1) {
        if (match & 1) {                    /* the last of duplicates wins */
            ks->out[i].at = v;
            ks->out[i].len = vlen;
            ks->out[i].type = type_at(v, vlen);
        }
    }
}

void pv_json_members(const pv_json_t *obj, const char *const *keys, int n,
                     pv_json_t *out)
{
    const char *p, *end, *k, *v;
    size_t klen, vlen;
    key_set_t ks;

    key_set_init(&ks, keys, n, out);
    if (!ks.n || !obj || obj->type != PV_JSON_OBJECT)
        return;
    p = obj->at + 1;
    end = obj->at + obj->len;
    while (next_member(&p, end, &k, &klen, &v, &vlen))
        key_set_found(&ks, k, klen, v, vlen);
}

int pv_json_parse_object(const char *body, size_t len, int depth,
                         const char *const *keys, int n, pv_json_t *root,
                         pv_json_t *out)
{
    key_set_t ks;

    key_set_init(&ks, keys, n, out);
    if (parse(body, len, depth, root, &ks)) {
        key_set_init(&ks, keys, n, out);    /* nothing of a refused body */
        return -1;
    }
    return 0;
}

/* A key of an object: its text in the body, or unescaped in a pool. */
typedef struct {
    const char *at;
    size_t len;
} span_t;

static int key_cmp(const void *a, const void *b)
{
    const span_t *x = a, *y = b;

    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->at, y->at, x->len);
}

int pv_json_duplicate_keys(apr_pool_t *pool, const pv_json_t *obj)
{
    const char *p, *end, *k, *v;
    size_t klen, vlen, n = 0, i;
    span_t *all;

    if (!obj || obj->type != PV_JSON_OBJECT)
        return 0;
    /* a member takes 4 bytes at least ("":0), its comma another */
    all = apr_palloc(pool, (obj->len / 4 + 1) * sizeof(*all));
    p = obj->at + 1;
    end = obj->at + obj->len;
    while (next_member(&p, end, &k, &klen, &v, &vlen)) {
        all[n].at = k;
        all[n].len = klen;
        if (memchr(k, '\\', klen)) {
            char *u = apr_palloc(pool, klen + 1);

            all[n].at = u;
            all[n].len = unescape(k, k + klen, u);
        }
        n++;
    }
    qsort(all, n, sizeof(*all), key_cmp);
    for (i = 1; i < n; i++)
        if (!key_cmp(&all[i - 1], &all[i]))
            return 1;
    return 0;
}

int pv_json_key_count(const pv_json_t *obj, const char *key)
{
    const char *p, *end, *k, *v;
    size_t klen, vlen, keylen = strlen(key);
    int n = 0;

    if (!obj || obj->type != PV_JSON_OBJECT)
        return 0;
    p = obj->at + 1;
    end = obj->at + obj->len;
    while (next_member(&p, end, &k, &klen, &v, &vlen)) {
        if (memchr(k, '\\', klen) ? escaped_key_is(k, k + klen, key, keylen)
                                   : klen == keylen && !memcmp(k, key, klen))
            n++;
    }
    return n;
}

const char *pv_json_string(apr_pool_t *pool, const pv_json_t *v, size_t *len)
{
    char *out;

    if (v->type != PV_JSON_STRING || v->len < 2)
        return NULL;
    out = apr_palloc(pool, v->len - 1);
    *len = unescape(v->at + 1, v->at + v->len - 1, out);
    out[*len] = '\0';
    return out;
}

int pv_json_int64(const pv_json_t *v, long long *out)
{
    const char *p, *end;
    unsigned long long n = 0, limit = 9223372036854775807ULL;
    int neg = 0;

    if (v->type != PV_JSON_INT)
        return -1;
    p = v->at;
    end = v->at + v->len;
    if (*p == '-') {
        neg = 1;
        limit++;                            /* -9223372036854775808 */
        p++;
    }
    for (; p < end; p++) {
        unsigned d = (unsigned)(*p - '0');

        if (n > (limit - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    *out = !neg ? (long long)n : n == 0 ? 0 : -(long long)(n - 1) - 1;
    return 0;
}

/* ------------------------------------------------------------- writing */

/* The escaped form of |c| when it has a short one, else NULL. */
static const char *short_escape(unsigned char c)
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\b': return "\\b";
    case '\f': return "\\f";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default: return NULL;
    }
}

/* Appends |n| bytes of |text| at o + *len (o NULL: only counts). */
static void put(char *o, size_t *len, const char *text, size_t n)
{
    if (o)
        memcpy(o + *len, text, n);
    *len += n;
}

/* Appends |s| escaped. */
static void put_escaped(char *o, size_t *len, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *e = short_escape(c);

        if (e) {
            put(o, len, e, 2);
        }
        else if (c < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};

            put(o, len, u, 6);
        }
        else {
            put(o, len, s, 1);
        }
    }
}

/* Writes the object at |o| (NULL: only counts); its length. */
static size_t put_object(char *o, const pv_json_out_t *m, int n)
{
    size_t len = 0;
    int i, first = 1;

    put(o, &len, "{", 1);
    for (i = 0; i < n; i++) {
        if (!m[i].value)
            continue;
        if (!first)
            put(o, &len, ",", 1);
        first = 0;
        put(o, &len, "\"", 1);
        put_escaped(o, &len, m[i].key);
        if (m[i].raw) {
            put(o, &len, "\":", 2);
            put(o, &len, m[i].value, strlen(m[i].value));
        }
        else {
            put(o, &len, "\":\"", 3);
            put_escaped(o, &len, m[i].value);
            put(o, &len, "\"", 1);
        }
    }
    put(o, &len, "}", 1);
    return len;
}

char *pv_json_object(apr_pool_t *pool, const pv_json_out_t *m, int n,
                     size_t *len)
{
    char *out;

    *len = put_object(NULL, m, n);
    out = apr_palloc(pool, *len + 1);
    put_object(out, m, n);
    out[*len] = '\0';
    return out;
}
