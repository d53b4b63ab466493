/* .res tokens, values with units, and the table of net/disk/options settings.
 *
 * Every option is one row of a table (name, section, kind, field, range), so
 * parsing, range checks and the merge of defaults under explicit settings are
 * one code path.  Errors name the file and line: "r0.res:12: ...". */
#include <stdarg.h>
#include <stdio.h>

#include "drbd/drbd_cfg_int.h"

/* ---- lexer ------------------------------------------------------------------------- */

void lex_init(struct lexer *lx, const char *text, const char *file, char *err, size_t errlen)
{
    memset(lx, 0, sizeof(*lx));
    lx->text = text ? text : "";
    lx->len = strlen(lx->text);
    lx->line = 1;
    lx->file = file && file[0] ? file : "<config>";
    lx->err = err;
    lx->errlen = errlen;
}

bool lex_error(struct lexer *lx, int line, const char *fmt, ...)
{
    if (lx->failed)
        return false;
    lx->failed = true;
    if (!lx->err || !lx->errlen)
        return false;
    int n = snprintf(lx->err, lx->errlen, "%s:%d: ", lx->file, line);
    if (n < 0 || (size_t)n >= lx->errlen)
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lx->err + n, lx->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static bool is_special(char c) { return c == '{' || c == '}' || c == ';' || c == '"' || c == '#'; }

static void skip_blank(struct lexer *lx)
{
    while (lx->pos < lx->len) {
        char c = lx->text[lx->pos];
        if (c == '\n') {
            lx->line++;
            lx->pos++;
        } else if (is_space(c)) {
            lx->pos++;
        } else if (c == '#') {
            while (lx->pos < lx->len && lx->text[lx->pos] != '\n')
                lx->pos++;
        } else {
            return;
        }
    }
}

static enum tok_kind lex_string(struct lexer *lx)
{
    size_t n = 0;
    lx->pos++; /* opening quote */
    while (lx->pos < lx->len && lx->text[lx->pos] != '"') {
        char c = lx->text[lx->pos++];
        if (c == '\n') {
            lex_error(lx, lx->tok_line, "unterminated string");
            return TK_ERROR;
        }
        if (c == '\\' && lx->pos < lx->len)
            c = lx->text[lx->pos++];
        if (n + 1 >= TOK_MAX) {
            lex_error(lx, lx->tok_line, "string too long");
            return TK_ERROR;
        }
        lx->tok[n++] = c;
    }
    if (lx->pos >= lx->len) {
        lex_error(lx, lx->tok_line, "unterminated string");
        return TK_ERROR;
    }
    lx->pos++;
    lx->tok[n] = 0;
    return TK_STRING;
}

static enum tok_kind lex_scan(struct lexer *lx)
{
    skip_blank(lx);
    lx->tok_line = lx->line;
    lx->tok[0] = 0;
    if (lx->pos >= lx->len)
        return TK_EOF;
    char c = lx->text[lx->pos];
    if (c == '{' || c == '}' || c == ';') {
        lx->pos++;
        lx->tok[0] = c;
        lx->tok[1] = 0;
        return c == '{' ? TK_LBRACE : c == '}' ? TK_RBRACE : TK_SEMI;
    }
    if (c == '"')
        return lex_string(lx);
    size_t n = 0;
    while (lx->pos < lx->len && !is_space(lx->text[lx->pos]) && !is_special(lx->text[lx->pos])) {
        unsigned char uc = (unsigned char)lx->text[lx->pos];
        if (uc < 0x20 || uc == 0x7f) {
            lex_error(lx, lx->line, "invalid character 0x%02x", uc);
            return TK_ERROR;
        }
        if (n + 1 >= TOK_MAX) {
            lex_error(lx, lx->line, "word too long");
            return TK_ERROR;
        }
        lx->tok[n++] = lx->text[lx->pos++];
    }
    lx->tok[n] = 0;
    return TK_WORD;
}

enum tok_kind lex_next(struct lexer *lx)
{
    if (lx->failed)
        return TK_ERROR;
    if (lx->peeked) {
        lx->peeked = false;
        memcpy(lx->tok, lx->ptok, sizeof(lx->tok));
        lx->tok_line = lx->ptok_line;
        lx->kind = lx->pkind;
        return lx->kind;
    }
    lx->kind = lex_scan(lx);
    return lx->kind;
}

/* Look at the next token (into ptok) without consuming it; tok stays. */
enum tok_kind lex_peek(struct lexer *lx)
{
    if (lx->failed)
        return TK_ERROR;
    if (!lx->peeked) {
        char save[TOK_MAX];
        int save_line = lx->tok_line;
        memcpy(save, lx->tok, sizeof(save));
        lx->pkind = lex_scan(lx);
        memcpy(lx->ptok, lx->tok, sizeof(lx->ptok));
        lx->ptok_line = lx->tok_line;
        memcpy(lx->tok, save, sizeof(lx->tok));
        lx->tok_line = save_line;
        lx->peeked = true;
    }
    return lx->pkind;
}

static const char *tok_desc(enum tok_kind k)
{
    switch (k) {
    case TK_EOF: return "end of file";
    case TK_LBRACE: return "'{'";
    case TK_RBRACE: return "'}'";
    case TK_SEMI: return "';'";
    default: return "a word";
    }
}

bool lex_expect(struct lexer *lx, enum tok_kind k, const char *what)
{
    enum tok_kind got = lex_next(lx);
    if (got == k)
        return true;
    if (got == TK_ERROR)
        return false;
    return lex_error(lx, lx->tok_line, "expected %s %s", tok_desc(k), what);
}

bool lex_word(struct lexer *lx, const char *what)
{
    enum tok_kind got = lex_next(lx);
    if (got == TK_WORD || got == TK_STRING)
        return true;
    if (got == TK_ERROR)
        return false;
    return lex_error(lx, lx->tok_line, "expected %s, found %s", what, tok_desc(got));
}

bool lex_skip_section(struct lexer *lx)
{
    int depth = 1;
    while (depth > 0) {
        enum tok_kind k = lex_next(lx);
        if (k == TK_ERROR)
            return false;
        if (k == TK_EOF)
            return lex_error(lx, lx->line, "missing '}' at end of file");
        if (k == TK_LBRACE)
            depth++;
        else if (k == TK_RBRACE)
            depth--;
    }
    return true;
}

enum lex_item lex_block_item(struct lexer *lx, const char *where)
{
    enum tok_kind k = lex_next(lx);
    if (k == TK_WORD)
        return LEX_ITEM;
    if (k == TK_RBRACE)
        return LEX_END;
    if (k == TK_EOF)
        lex_error(lx, lx->line, "missing '}' at end of file (%s)", where);
    else if (k != TK_ERROR)
        lex_error(lx, lx->tok_line, "expected a keyword in %s, found %s", where, tok_desc(k));
    return LEX_FAIL;
}

bool lex_parse_u64(struct lexer *lx, const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* ---- values with units ------------------------------------------------------------------ */

enum okind {
    K_COUNT, K_TENTHS, K_SECONDS, K_RATE, K_SECTORS, K_BOOL, K_PROTOCOL, K_ALG, K_ASB0, K_ASB1,
    K_ASB2, K_IO_ERROR, K_QUORUM, K_ON_NO_QUORUM, K_TCP_CC, K_IGNORE, K_IGNORE_FLAG,
};

/* A number with an optional K/M/G suffix (powers of 1024); rates default to K,
 * sizes to sectors. */
static bool parse_scaled(struct lexer *lx, const char *w, uint64_t deflt_unit, bool sectors_ok,
                         uint64_t *out, int line, const char *name)
{
    char digits[TOK_MAX];
    size_t n = strlen(w);
    uint64_t unit = deflt_unit;
    if (n && (w[n - 1] < '0' || w[n - 1] > '9')) {
        switch (w[n - 1]) {
        case 'k': case 'K': unit = 1024; break;
        case 'm': case 'M': unit = 1024ull * 1024; break;
        case 'g': case 'G': unit = 1024ull * 1024 * 1024; break;
        case 's': case 'S':
            if (sectors_ok) {
                unit = 512;
                break;
            }
            /* fall through */
        default:
            return lex_error(lx, line, "%s: bad unit in '%s' (use K, M or G)", name, w);
        }
        n--;
    }
    memcpy(digits, w, n);
    digits[n] = 0;
    uint64_t v;
    if (!lex_parse_u64(lx, digits, &v))
        return lex_error(lx, line, "%s: expected a number, found '%s'", name, w);
    if (v && unit > UINT64_MAX / v)
        return lex_error(lx, line, "%s: value '%s' too large", name, w);
    *out = v * unit;
    return true;
}

static const char *const asb0_names[] = {
    [ASB_DISCONNECT] = "disconnect", [ASB_DISCARD_YOUNGER_PRI] = "discard-younger-primary",
    [ASB_DISCARD_OLDER_PRI] = "discard-older-primary", [ASB_DISCARD_ZERO_CHG] = "discard-zero-changes",
    [ASB_DISCARD_LEAST_CHG] = "discard-least-changes", [ASB_DISCARD_LOCAL] = "discard-local",
    [ASB_DISCARD_REMOTE] = "discard-remote", [ASB_DISCARD_NODE] = "discard-node-",
    [ASB_CONSENSUS] = "consensus", [ASB_VIOLENTLY] = "violently-as0p",
    [ASB_DISCARD_SECONDARY] = "discard-secondary", [ASB_CALL_HELPER] = "call-pri-lost-after-sb",
};

const char *drbd_asb_name(enum drbd_asb a)
{
    return (unsigned)a < sizeof(asb0_names) / sizeof(asb0_names[0]) ? asb0_names[a] : "?";
}

static const char *const alg_names[] = {[ALG_NONE] = "none", [ALG_CRC32C] = "crc32c",
                                        [ALG_MD5] = "md5", [ALG_SHA1] = "sha1"};

const char *drbd_alg_name(enum drbd_alg a) { return (unsigned)a <= ALG_SHA1 ? alg_names[a] : "?"; }

static bool asb_allowed(enum okind kind, enum drbd_asb a)
{
    switch (kind) {
    case K_ASB0:
        return a <= ASB_DISCARD_NODE;
    case K_ASB1:
        return a == ASB_DISCONNECT || a == ASB_CONSENSUS || a == ASB_VIOLENTLY ||
               a == ASB_DISCARD_SECONDARY || a == ASB_CALL_HELPER;
    default:
        return a == ASB_DISCONNECT || a == ASB_VIOLENTLY || a == ASB_CALL_HELPER;
    }
}

/* ---- the option table ---------------------------------------------------------------------- */

struct opt_desc {
    const char *name;
    enum opt_sect sect;
    size_t off;
    enum okind kind;
    uint64_t min, max;
};

#define NET(f) SECT_NET, offsetof(struct opt_set, net.f)
#define DISK(f) SECT_DISK, offsetof(struct opt_set, disk.f)
#define OPTS(f) SECT_OPTS, offsetof(struct opt_set, opts.f)
#define NOFIELD(s) s, 0
#define KIB 1024ull
#define TIB (1024ull * 1024 * 1024 * 1024)

static const struct opt_desc opt_table[] = {
    {"protocol", NET(protocol), K_PROTOCOL, 0, 0},
    {"after-sb-0pri", NET(after_sb_0pri), K_ASB0, 0, 0},
    {"after-sb-1pri", NET(after_sb_1pri), K_ASB1, 0, 0},
    {"after-sb-2pri", NET(after_sb_2pri), K_ASB2, 0, 0},
    {"allow-two-primaries", NET(allow_two_primaries), K_BOOL, 0, 0},
    {"always-asbp", NET(always_asbp), K_BOOL, 0, 0},
    {"verify-alg", NET(verify_alg), K_ALG, 0, 0},
    {"csums-alg", NET(csums_alg), K_ALG, 0, 0},
    {"ping-int", NET(ping_int), K_SECONDS, 1, 120},
    {"ping-timeout", NET(ping_timeout), K_TENTHS, 1, 300},
    {"timeout", NET(timeout), K_TENTHS, 1, 600},
    {"connect-int", NET(connect_int), K_SECONDS, 1, 120},
    {"ko-count", NET(ko_count), K_COUNT, 0, 200},
    {"max-epoch-size", NET(max_epoch_size), K_COUNT, 1, 20000},
    {"max-buffers", NET(max_buffers), K_COUNT, 32, 131072},
    {"tcp-congestion-control", NET(tcp_congestion), K_TCP_CC, 0, 0},
    {"c-plan-ahead", DISK(c_plan_ahead), K_TENTHS, 0, 300},
    {"resync-rate", DISK(resync_rate), K_RATE, 0, 4 * TIB},
    {"c-fill-target", DISK(c_fill_target), K_SECTORS, 0, TIB},
    {"c-delay-target", DISK(c_delay_target), K_TENTHS, 1, 100},
    {"c-min-rate", DISK(c_min_rate), K_RATE, 0, 4 * TIB},
    {"c-max-rate", DISK(c_max_rate), K_RATE, 0, 4 * TIB},
    {"al-extents", DISK(al_extents), K_COUNT, 7, DRBD_AL_MAX_EXTENTS},
    {"on-io-error", DISK(on_io_error), K_IO_ERROR, 0, 0},
    {"disk-flushes", DISK(disk_flushes), K_BOOL, 0, 0},
    {"md-flushes", DISK(md_flushes), K_BOOL, 0, 0},
    {"quorum", OPTS(quorum), K_QUORUM, 1, DRBD_MAX_NODES},
    {"on-no-quorum", OPTS(on_no_quorum), K_ON_NO_QUORUM, 0, 0},
    {"on-no-data-accessible", OPTS(on_no_data), K_ON_NO_QUORUM, 0, 0},
    {"auto-promote", OPTS(auto_promote), K_BOOL, 0, 0},
    /* accepted, no effect here */
    {"sndbuf-size", NOFIELD(SECT_NET), K_IGNORE, 0, 0},
    {"rcvbuf-size", NOFIELD(SECT_NET), K_IGNORE, 0, 0},
    {"cram-hmac-alg", NOFIELD(SECT_NET), K_IGNORE, 0, 0},
    {"shared-secret", NOFIELD(SECT_NET), K_IGNORE, 0, 0},
    {"data-integrity-alg", NOFIELD(SECT_NET), K_IGNORE, 0, 0},
    {"fencing", NOFIELD(SECT_NET), K_IGNORE, 0, 0},
    {"rr-conflict", NOFIELD(SECT_NET), K_IGNORE, 0, 0},
    {"on-congestion", NOFIELD(SECT_NET), K_IGNORE, 0, 0},
    {"congestion-fill", NOFIELD(SECT_NET), K_IGNORE, 0, 0},
    {"congestion-extents", NOFIELD(SECT_NET), K_IGNORE, 0, 0},
    {"use-rle", NOFIELD(SECT_NET), K_IGNORE_FLAG, 0, 0},
    {"tcp-cork", NOFIELD(SECT_NET), K_IGNORE_FLAG, 0, 0},
    {"unplug-watermark", NOFIELD(SECT_NET), K_IGNORE, 0, 0},
    {"transport", NOFIELD(SECT_NET), K_IGNORE, 0, 0},
    {"socket-check-timeout", NOFIELD(SECT_NET), K_IGNORE, 0, 0},
    {"csums-after-crash-only", NOFIELD(SECT_NET), K_IGNORE_FLAG, 0, 0},
    {"disk-barrier", NOFIELD(SECT_DISK), K_IGNORE_FLAG, 0, 0},
    {"disk-drain", NOFIELD(SECT_DISK), K_IGNORE_FLAG, 0, 0},
    {"al-updates", NOFIELD(SECT_DISK), K_IGNORE_FLAG, 0, 0},
    {"read-balancing", NOFIELD(SECT_DISK), K_IGNORE, 0, 0},
    {"resync-after", NOFIELD(SECT_DISK), K_IGNORE, 0, 0},
    {"disk-timeout", NOFIELD(SECT_DISK), K_IGNORE, 0, 0},
    {"discard-zeroes-if-aligned", NOFIELD(SECT_DISK), K_IGNORE_FLAG, 0, 0},
    {"rs-discard-granularity", NOFIELD(SECT_DISK), K_IGNORE, 0, 0},
    {"max-bio-bvecs", NOFIELD(SECT_DISK), K_IGNORE, 0, 0},
    {"fencing", NOFIELD(SECT_DISK), K_IGNORE, 0, 0},
    {"cpu-mask", NOFIELD(SECT_OPTS), K_IGNORE, 0, 0},
    {"quorum-minimum-redundancy", NOFIELD(SECT_OPTS), K_IGNORE, 0, 0},
    {"twopc-timeout", NOFIELD(SECT_OPTS), K_IGNORE, 0, 0},
    {"twopc-retry-timeout", NOFIELD(SECT_OPTS), K_IGNORE, 0, 0},
    {"auto-promote-timeout", NOFIELD(SECT_OPTS), K_IGNORE, 0, 0},
    {"max-io-depth", NOFIELD(SECT_OPTS), K_IGNORE, 0, 0},
};
#define NOPTS (sizeof(opt_table) / sizeof(opt_table[0]))

static const char *const sect_names[] = {"net", "disk", "options"};

void drbd_net_defaults(struct drbd_net_opts *o)
{
    *o = (struct drbd_net_opts){.protocol = 'C', .ping_int = 10, .ping_timeout = 5, .timeout = 60,
                                .connect_int = 10, .ko_count = 7, .max_epoch_size = 2048,
                                .max_buffers = 2048};
}

void drbd_disk_defaults(struct drbd_disk_opts *o)
{
    *o = (struct drbd_disk_opts){.c_plan_ahead = 20, .resync_rate = 250 * KIB,
                                 .c_fill_target = 100 * 512, .c_delay_target = 10,
                                 .c_min_rate = 250 * KIB, .c_max_rate = 100 * 1024 * KIB,
                                 .al_extents = 1237, .on_io_error = EP_DETACH,
                                 .disk_flushes = true, .md_flushes = true};
}

void opt_set_defaults(struct opt_set *s)
{
    memset(s, 0, sizeof(*s));
    drbd_net_defaults(&s->net);
    drbd_disk_defaults(&s->disk);
    s->opts = (struct drbd_res_opts){.quorum = QUORUM_OFF, .on_no_quorum = ONQ_SUSPEND_IO,
                                     .on_no_data = ONQ_IO_ERROR, .auto_promote = true};
}

static size_t field_size(enum okind k)
{
    switch (k) {
    case K_RATE: case K_SECTORS: return sizeof(uint64_t);
    case K_BOOL: return sizeof(bool);
    case K_PROTOCOL: return sizeof(char);
    case K_ALG: return sizeof(enum drbd_alg);
    case K_ASB0: case K_ASB1: case K_ASB2: return sizeof(enum drbd_asb);
    case K_IO_ERROR: return sizeof(enum drbd_io_error_policy);
    case K_QUORUM: return sizeof(int);
    case K_ON_NO_QUORUM: return sizeof(enum drbd_on_no_quorum);
    case K_TCP_CC: return DRBD_TCP_CC_MAX;
    case K_IGNORE: case K_IGNORE_FLAG: return 0;
    default: return sizeof(uint32_t);
    }
}

static bool parse_enum_value(struct lexer *lx, const struct opt_desc *d, const char *w, void *field,
                             struct opt_set *s, int line)
{
    switch (d->kind) {
    case K_PROTOCOL:
        if ((w[0] == 'A' || w[0] == 'B' || w[0] == 'C') && !w[1]) {
            *(char *)field = w[0];
            return true;
        }
        return lex_error(lx, line, "protocol must be A, B or C, not '%s'", w);
    case K_ALG:
        for (int a = ALG_CRC32C; a <= ALG_SHA1; a++)
            if (strcmp(w, alg_names[a]) == 0) {
                *(enum drbd_alg *)field = (enum drbd_alg)a;
                return true;
            }
        return lex_error(lx, line, "%s: unsupported algorithm '%s' (crc32c, md5 or sha1)", d->name, w);
    case K_ASB0: case K_ASB1: case K_ASB2:
        if (d->kind == K_ASB0 && strncmp(w, "discard-node-", 13) == 0 && w[13]) {
            snprintf(s->net.discard_node, sizeof(s->net.discard_node), "%s", w + 13);
            *(enum drbd_asb *)field = ASB_DISCARD_NODE;
            return true;
        }
        for (int a = 0; a <= ASB_CALL_HELPER; a++)
            if (a != ASB_DISCARD_NODE && strcmp(w, asb0_names[a]) == 0 &&
                asb_allowed(d->kind, (enum drbd_asb)a)) {
                *(enum drbd_asb *)field = (enum drbd_asb)a;
                return true;
            }
        return lex_error(lx, line, "%s: invalid policy '%s'", d->name, w);
    case K_IO_ERROR:
        if (strcmp(w, "detach") == 0)
            *(enum drbd_io_error_policy *)field = EP_DETACH;
        else if (strcmp(w, "pass_on") == 0 || strcmp(w, "pass-on") == 0)
            *(enum drbd_io_error_policy *)field = EP_PASS_ON;
        else if (strcmp(w, "call-local-io-error") == 0)
            *(enum drbd_io_error_policy *)field = EP_CALL_HELPER;
        else
            return lex_error(lx, line, "on-io-error: invalid policy '%s'", w);
        return true;
    case K_ON_NO_QUORUM:
        if (strcmp(w, "suspend-io") == 0)
            *(enum drbd_on_no_quorum *)field = ONQ_SUSPEND_IO;
        else if (strcmp(w, "io-error") == 0)
            *(enum drbd_on_no_quorum *)field = ONQ_IO_ERROR;
        else
            return lex_error(lx, line, "%s: expected suspend-io or io-error, not '%s'", d->name, w);
        return true;
    case K_QUORUM: {
        uint64_t v;
        if (strcmp(w, "off") == 0)
            *(int *)field = QUORUM_OFF;
        else if (strcmp(w, "majority") == 0)
            *(int *)field = QUORUM_MAJORITY;
        else if (strcmp(w, "all") == 0)
            *(int *)field = QUORUM_ALL;
        else if (lex_parse_u64(lx, w, &v) && v >= d->min && v <= d->max)
            *(int *)field = (int)v;
        else
            return lex_error(lx, line, "quorum: expected off, majority, all or 1..%d, not '%s'",
                             DRBD_MAX_NODES, w);
        return true;
    }
    case K_TCP_CC: {
        size_t n = strlen(w);
        bool ok = n > 0 && n < DRBD_TCP_CC_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = (w[i] >= 'a' && w[i] <= 'z') || (w[i] >= '0' && w[i] <= '9') || w[i] == '_';
        if (!ok)
            return lex_error(lx, line, "%s: '%s' is not an algorithm name (like cubic or reno)",
                             d->name, w);
        memcpy(field, w, n + 1);
        return true;
    }
    default:
        return lex_error(lx, line, "%s: internal error", d->name);
    }
}

static bool parse_numeric(struct lexer *lx, const struct opt_desc *d, const char *w, void *field,
                          int line)
{
    uint64_t v;
    if (d->kind == K_RATE) {
        if (!parse_scaled(lx, w, 1024, false, &v, line, d->name))
            return false;
    } else if (d->kind == K_SECTORS) {
        if (!parse_scaled(lx, w, 512, true, &v, line, d->name))
            return false;
    } else if (!lex_parse_u64(lx, w, &v)) {
        return lex_error(lx, line, "%s: expected a number, found '%s'", d->name, w);
    }
    if (v < d->min || v > d->max)
        return lex_error(lx, line, "%s: value '%s' out of range", d->name, w);
    if (field_size(d->kind) == sizeof(uint64_t))
        *(uint64_t *)field = v;
    else
        *(uint32_t *)field = (uint32_t)v;
    return true;
}

static bool parse_bool_value(struct lexer *lx, const struct opt_desc *d, bool *field)
{
    if (lex_peek(lx) == TK_SEMI) {
        *field = true; /* a bare flag means yes */
    } else {
        if (!lex_word(lx, "yes or no"))
            return false;
        if (strcmp(lx->tok, "yes") == 0)
            *field = true;
        else if (strcmp(lx->tok, "no") == 0)
            *field = false;
        else
            return lex_error(lx, lx->tok_line, "%s: expected yes or no, not '%s'", d->name, lx->tok);
    }
    return true;
}

static const struct opt_desc *opt_find(enum opt_sect sect, const char *name, size_t *index)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (opt_table[i].sect == sect && strcmp(opt_table[i].name, name) == 0) {
            *index = i;
            return &opt_table[i];
        }
    return NULL;
}

bool opt_parse(struct lexer *lx, enum opt_sect sect, struct opt_set *s, int line)
{
    size_t index;
    char name[TOK_MAX];
    snprintf(name, sizeof(name), "%s", lx->tok);
    const struct opt_desc *d = opt_find(sect, name, &index);
    if (!d)
        return lex_error(lx, line, "unknown %s option '%s'", sect_names[sect], name);
    void *field = (char *)s + d->off;
    if (d->kind == K_IGNORE || d->kind == K_IGNORE_FLAG) {
        while (lex_peek(lx) == TK_WORD || lex_peek(lx) == TK_STRING)
            lex_next(lx);
    } else if (d->kind == K_BOOL) {
        if (!parse_bool_value(lx, d, field))
            return false;
    } else {
        if (!lex_word(lx, "a value"))
            return false;
        char w[TOK_MAX];
        snprintf(w, sizeof(w), "%s", lx->tok);
        bool ok = d->kind == K_COUNT || d->kind == K_TENTHS || d->kind == K_SECONDS ||
                          d->kind == K_RATE || d->kind == K_SECTORS
                      ? parse_numeric(lx, d, w, field, lx->tok_line)
                      : parse_enum_value(lx, d, w, field, s, lx->tok_line);
        if (!ok)
            return false;
    }
    if (lex_peek(lx) != TK_SEMI) {
        lex_next(lx);
        if (lx->failed)
            return false;
        return lex_error(lx, lx->tok_line, "expected ';' after %s", name);
    }
    lex_next(lx);
    s->mask[sect] |= 1ull << (index % 64);
    return true;
}

bool opt_parse_section(struct lexer *lx, enum opt_sect sect, struct opt_set *s)
{
    static const char *const names[] = {[SECT_NET] = "net", [SECT_DISK] = "disk", [SECT_OPTS] = "options"};
    char after[32];
    snprintf(after, sizeof(after), "after %s", names[sect]);
    if (!lex_expect(lx, TK_LBRACE, after))
        return false;
    for (;;) {
        enum lex_item it = lex_block_item(lx, names[sect]);
        if (it != LEX_ITEM)
            return it == LEX_END;
        if (!opt_parse(lx, sect, s, lx->tok_line))
            return false;
    }
}

void opt_merge(struct opt_set *dst, const struct opt_set *src)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt_desc *d = &opt_table[i];
        uint64_t bit = 1ull << (i % 64);
        size_t sz = field_size(d->kind);
        if (!sz || !(src->mask[d->sect] & bit) || (dst->mask[d->sect] & bit))
            continue;
        memcpy((char *)dst + d->off, (const char *)src + d->off, sz);
        if (d->kind == K_ASB0)
            memcpy(dst->net.discard_node, src->net.discard_node, sizeof(dst->net.discard_node));
        dst->mask[d->sect] |= bit;
    }
}
