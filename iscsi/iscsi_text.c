/* key=value text: the NUL-separated pairs of Login and Text data segments. */
#include <stdio.h>

#include "iscsi/iscsi_proto.h"

static bool text_reserve(struct iscsi_text *t, size_t need)
{
    if (t->len + need <= t->cap)
        return true;
    if (!t->grow) {
        t->overflow = true;
        return false;
    }
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + need)
        cap *= 2;
    t->buf = t->grow(t->grow_ctx, t->buf, cap);
    t->cap = cap;
    return true;
}

void iscsi_text_add(struct iscsi_text *t, const char *key, const char *value)
{
    size_t klen = strlen(key), vlen = strlen(value);
    if (!text_reserve(t, klen + vlen + 2))
        return;
    memcpy(t->buf + t->len, key, klen);
    t->buf[t->len + klen] = '=';
    memcpy(t->buf + t->len + klen + 1, value, vlen);
    t->buf[t->len + klen + 1 + vlen] = '\0';
    t->len += klen + vlen + 2;
}

void iscsi_text_add_num(struct iscsi_text *t, const char *key, uint32_t value)
{
    char num[16];
    snprintf(num, sizeof(num), "%u", value);
    iscsi_text_add(t, key, num);
}

void iscsi_text_iter_init(struct iscsi_text_iter *it, const char *data, size_t len)
{
    it->data = data;
    it->len = len;
    it->pos = 0;
}

/* RFC 7143 6.1: key names are letters, digits, '.', '-', '+', '@' and '_'. */
static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '+' || c == '@' || c == '_';
}

int iscsi_text_next(struct iscsi_text_iter *it, const char **key, const char **value)
{
    while (it->pos < it->len && it->data[it->pos] == '\0')
        it->pos++;                                   /* padding, empty strings */
    if (it->pos >= it->len)
        return 0;
    const char *s = it->data + it->pos;
    const char *nul = memchr(s, '\0', it->len - it->pos);
    size_t n = nul ? (size_t)(nul - s) : it->len - it->pos; /* tolerate a missing last NUL */
    it->pos += n + 1;
    const char *eq = memchr(s, '=', n);
    if (!eq)
        return -1;
    size_t klen = (size_t)(eq - s), vlen = n - klen - 1;
    if (!klen || klen > ISCSI_KEY_NAME_MAX || vlen > ISCSI_KEY_VALUE_MAX)
        return -1;
    for (size_t i = 0; i < klen; i++)
        if (!key_char(s[i]))
            return -1;
    memcpy(it->key, s, klen);
    it->key[klen] = '\0';
    memcpy(it->value, eq + 1, vlen);
    it->value[vlen] = '\0';
    *key = it->key;
    *value = it->value;
    return 1;
}

bool iscsi_list_has(const char *list, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = list;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && memcmp(p, item, n) == 0)
            return true;
        if (!comma)
            return false;
        p = comma + 1;
    }
}

bool iscsi_parse_send_targets(const char *data, size_t len, char *what, size_t cap)
{
    struct iscsi_text_iter it;
    const char *key, *value;
    bool seen = false;
    int r;
    iscsi_text_iter_init(&it, data, len);
    while ((r = iscsi_text_next(&it, &key, &value)) > 0) {
        if (strcmp(key, "SendTargets") || seen || strlen(value) >= cap)
            return false;
        seen = true;
        memcpy(what, value, strlen(value) + 1);
    }
    return r == 0 && seen;
}

bool iscsi_parse_number(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return false;
        if (d > max || v > (max - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}
