/* The nested scst.conf that scstadmin writes:
 *
 *   HANDLER vdisk_fileio { DEVICE disk01 { filename /tmp/d1; size 1G } }
 *   TARGET_DRIVER iscsi {
 *       enabled 1
 *       TARGET iqn.2024-01.example:t1 {
 *           enabled 1
 *           LUN 0 disk01 { read_only 1 }
 *           GROUP g1 { LUN 1 disk02; INITIATOR iqn.1994-05.com.example:host }
 *           allowed_initiator iqn.1994-05.com.example:host
 *           MaxRecvDataSegmentLength 65536
 *       }
 *   }
 *
 * Statements end at a newline or ';'; '#' starts a comment; values may be
 * quoted.  Attributes a transport understands go to its hooks. */
#include <errno.h>
#include <stdio.h>

#include "scst/scst_conf_internal.h"

#define WORD_MAX 512
#define WORDS_MAX 8

enum tok { T_WORD, T_OPEN, T_CLOSE, T_END, T_EOF, T_ERR };

struct lexer {
    struct conf_plan *pl;
    const char *p;
    int line;
    char word[WORD_MAX];
    bool have_peek;
    enum tok peek;
    char peek_word[WORD_MAX];
    int peek_line;
};

struct stmt {
    int line;
    int n;
    char w[WORDS_MAX][WORD_MAX];
    bool block;
};

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
static bool ends_word(char c) { return !c || is_space(c) || c == '\n' || c == ';' || c == '{' || c == '}'; }

static enum tok lex_quoted(struct lexer *lx)
{
    size_t n = 0;
    lx->p++;
    while (*lx->p != '"') {
        if (!*lx->p || *lx->p == '\n') {
            conf_error(lx->pl, lx->line, "unterminated quoted string");
            return T_ERR;
        }
        if (n + 1 >= WORD_MAX) {
            conf_error(lx->pl, lx->line, "value too long");
            return T_ERR;
        }
        lx->word[n++] = *lx->p++;
    }
    lx->p++;
    lx->word[n] = '\0';
    return T_WORD;
}

static enum tok lex_raw(struct lexer *lx)
{
    for (;;) {
        while (is_space(*lx->p))
            lx->p++;
        if (*lx->p == '#') {
            while (*lx->p && *lx->p != '\n')
                lx->p++;
            continue;
        }
        break;
    }
    char c = *lx->p;
    switch (c) {
    case '\0': return T_EOF;
    case '\n': lx->p++; lx->line++; return T_END;
    case ';': lx->p++; return T_END;
    case '{': lx->p++; return T_OPEN;
    case '}': lx->p++; return T_CLOSE;
    case '"': return lex_quoted(lx);
    default: break;
    }
    size_t n = 0;
    while (!ends_word(*lx->p)) {
        if (n + 1 >= WORD_MAX) {
            conf_error(lx->pl, lx->line, "word too long");
            return T_ERR;
        }
        lx->word[n++] = *lx->p++;
    }
    lx->word[n] = '\0';
    return T_WORD;
}

static enum tok lex(struct lexer *lx, int *line)
{
    if (lx->have_peek) {
        lx->have_peek = false;
        memcpy(lx->word, lx->peek_word, sizeof(lx->word));
        *line = lx->peek_line;
        return lx->peek;
    }
    *line = lx->line;
    return lex_raw(lx);
}

static void unlex(struct lexer *lx, enum tok t, int line)
{
    lx->have_peek = true;
    lx->peek = t;
    lx->peek_line = line;
    memcpy(lx->peek_word, lx->word, sizeof(lx->word));
}

/* Read one statement.  Returns T_WORD (st filled), T_CLOSE, T_EOF or T_ERR. */
static enum tok read_stmt(struct lexer *lx, struct stmt *st)
{
    st->n = 0;
    st->block = false;
    for (;;) {
        int line;
        enum tok t = lex(lx, &line);
        if (t == T_ERR)
            return T_ERR;
        if (t == T_WORD) {
            if (st->n == 0)
                st->line = line;
            if (st->n == WORDS_MAX) {
                conf_error(lx->pl, line, "too many words in '%s ...'", st->w[0]);
                return T_ERR;
            }
            memcpy(st->w[st->n++], lx->word, WORD_MAX);
            continue;
        }
        if (st->n == 0) {
            if (t == T_END)
                continue;
            if (t == T_OPEN) {
                conf_error(lx->pl, line, "unexpected '{'");
                return T_ERR;
            }
            return t;
        }
        if (t == T_OPEN)
            st->block = true;
        else if (t == T_CLOSE || t == T_EOF)
            unlex(lx, t, line);
        return T_WORD;
    }
}

/* ---- blocks --------------------------------------------------------------------------------- */

typedef int (*stmt_fn)(struct lexer *lx, struct stmt *st, void *ctx);

/* Run fn on each statement of a block opened at open_line (0: the file). */
static int parse_block(struct lexer *lx, int open_line, const char *what, stmt_fn fn, void *ctx)
{
    struct stmt *st = umc_alloc(lx->pl->node, sizeof(*st));
    int rc = 0;
    for (;;) {
        enum tok t = read_stmt(lx, st);
        if (t == T_ERR) {
            rc = -EINVAL;
            break;
        }
        if (t == T_CLOSE) {
            if (!open_line)
                rc = conf_error(lx->pl, lx->line, "unexpected '}'");
            break;
        }
        if (t == T_EOF) {
            if (open_line)
                rc = conf_error(lx->pl, open_line, "missing '}' for %s", what);
            break;
        }
        if ((rc = fn(lx, st, ctx)) != 0)
            break;
    }
    umc_free(lx->pl->node, st);
    return rc;
}

static int need_block(struct lexer *lx, const struct stmt *st, bool wanted)
{
    if (wanted && !st->block)
        return conf_error(lx->pl, st->line, "expected '{' after '%s'", st->w[0]);
    if (!wanted && st->block)
        return conf_error(lx->pl, st->line, "'%s' takes no block", st->w[0]);
    return 0;
}

static int need_words(struct lexer *lx, const struct stmt *st, int min, int max)
{
    if (st->n < min)
        return conf_error(lx->pl, st->line, "missing argument after '%s'", st->w[st->n - 1]);
    if (st->n > max)
        return conf_error(lx->pl, st->line, "unexpected '%s' after '%s'", st->w[max], st->w[0]);
    return 0;
}

/* "key value words..." joined with single spaces. */
static char *join_value(struct conf_plan *pl, const struct stmt *st, int from)
{
    size_t len = 1;
    for (int i = from; i < st->n; i++)
        len += strlen(st->w[i]) + 1;
    char *v = umc_alloc(pl->node, len);
    for (int i = from; i < st->n; i++) {
        if (i > from)
            strcat(v, " ");
        strcat(v, st->w[i]);
    }
    return v;
}

/* ---- DEVICE and HANDLER ------------------------------------------------------------------------ */

static int device_stmt(struct lexer *lx, struct stmt *st, void *ctx)
{
    struct conf_device *d = ctx;
    if (need_block(lx, st, false) || need_words(lx, st, 1, 2))
        return -EINVAL;
    return conf_device_attr(lx->pl, d, st->line, st->w[0], st->n > 1 ? st->w[1] : NULL);
}

static int handler_stmt(struct lexer *lx, struct stmt *st, void *ctx)
{
    const char *handler = ctx;
    if (strcmp(st->w[0], "DEVICE") != 0)
        return conf_error(lx->pl, st->line, "unknown keyword '%s' in HANDLER %s", st->w[0], handler);
    if (need_words(lx, st, 2, 2))
        return -EINVAL;
    struct conf_device *d = conf_add_device(lx->pl, st->line, st->w[1], handler);
    if (!st->block)
        return 0; /* "DEVICE name" alone: all defaults */
    size_t index = (size_t)(d - lx->pl->dev);
    char what[WORD_MAX + 16];
    snprintf(what, sizeof(what), "DEVICE %s", st->w[1]);
    return parse_block(lx, st->line, what, device_stmt, &lx->pl->dev[index]);
}

/* The plan's device array may move while a block is read: device_stmt gets
 * the element after conf_add_device returned, and nothing adds devices inside. */

/* ---- LUN, GROUP, TARGET, TARGET_DRIVER ----------------------------------------------------------- */

struct tctx {
    const char *driver, *target, *group;
    size_t item;                  /* LUN block: the item index */
};

static int lun_attr_stmt(struct lexer *lx, struct stmt *st, void *ctx)
{
    struct tctx *c = ctx;
    if (need_block(lx, st, false) || need_words(lx, st, 1, 2))
        return -EINVAL;
    if (strcmp(st->w[0], "read_only") == 0)
        return conf_bool(lx->pl, st->line, "read_only", st->n > 1 ? st->w[1] : NULL,
                         &lx->pl->item[c->item].flag);
    return conf_error(lx->pl, st->line, "unknown LUN attribute '%s'", st->w[0]);
}

static int lun_stmt(struct lexer *lx, struct stmt *st, struct tctx *c)
{
    uint64_t lun;
    if (need_words(lx, st, 3, 3) || conf_number(lx->pl, st->line, "LUN", st->w[1], 16383, &lun))
        return -EINVAL;
    struct conf_item *it = conf_add_item(lx->pl, st->line, 'L');
    it->target = conf_strdup(lx->pl, c->target);
    it->group = conf_strdup(lx->pl, c->group);
    it->name = conf_strdup(lx->pl, st->w[2]);
    it->lun = lun;
    if (!st->block)
        return 0;
    struct tctx lc = *c;
    lc.item = (size_t)(it - lx->pl->item);
    return parse_block(lx, st->line, "LUN", lun_attr_stmt, &lc);
}

static const char *const ignored_group_attrs[] = {"addr_method", "io_grouping_type", "cpu_mask",
                                                  "black_hole", NULL};

static int group_stmt(struct lexer *lx, struct stmt *st, void *ctx)
{
    struct tctx *c = ctx;
    if (strcmp(st->w[0], "LUN") == 0)
        return lun_stmt(lx, st, c);
    if (need_block(lx, st, false))
        return -EINVAL;
    if (strcmp(st->w[0], "INITIATOR") == 0) {
        if (need_words(lx, st, 2, 2))
            return -EINVAL;
        struct conf_item *it = conf_add_item(lx->pl, st->line, 'I');
        it->target = conf_strdup(lx->pl, c->target);
        it->group = conf_strdup(lx->pl, c->group);
        it->name = conf_strdup(lx->pl, st->w[1]);
        return 0;
    }
    for (const char *const *a = ignored_group_attrs; *a; a++)
        if (strcmp(st->w[0], *a) == 0)
            return 0;
    return conf_error(lx->pl, st->line, "unknown keyword '%s' in GROUP %s", st->w[0], c->group);
}

static int target_attr(struct lexer *lx, struct stmt *st, struct tctx *c)
{
    struct conf_target *t = &lx->pl->tgt[lx->pl->ntgt - 1];
    uint64_t v;
    bool b;
    if (need_words(lx, st, 2, WORDS_MAX))
        return -EINVAL;
    if (strcmp(st->w[0], "enabled") == 0) {
        if (conf_bool(lx->pl, st->line, "enabled", st->w[1], &b))
            return -EINVAL;
        t->enabled = b;
        return 0;
    }
    if (strcmp(st->w[0], "rel_tgt_id") == 0) {
        if (conf_number(lx->pl, st->line, "rel_tgt_id", st->w[1], 65535, &v))
            return -EINVAL;
        t->rel_tgt_id = (int)v;
        return 0;
    }
    char kind = strcmp(st->w[0], "allowed_initiator") == 0 ? 'A' : 'T';
    for (int i = kind == 'A' ? 1 : 2; kind == 'A' && i < st->n; i++) {
        struct conf_item *it = conf_add_item(lx->pl, st->line, 'A');
        it->target = conf_strdup(lx->pl, c->target);
        it->name = conf_strdup(lx->pl, st->w[i]);
    }
    if (kind == 'A')
        return 0;
    struct conf_item *it = conf_add_item(lx->pl, st->line, 'T');
    it->driver = conf_strdup(lx->pl, c->driver);
    it->target = conf_strdup(lx->pl, c->target);
    it->name = conf_strdup(lx->pl, st->w[0]);
    it->value = join_value(lx->pl, st, 1);
    return 0;
}

static int target_stmt(struct lexer *lx, struct stmt *st, void *ctx)
{
    struct tctx *c = ctx;
    if (strcmp(st->w[0], "LUN") == 0)
        return lun_stmt(lx, st, c);
    if (strcmp(st->w[0], "GROUP") == 0) {
        if (need_block(lx, st, true) || need_words(lx, st, 2, 2))
            return -EINVAL;
        struct conf_item *it = conf_add_item(lx->pl, st->line, 'G');
        it->target = conf_strdup(lx->pl, c->target);
        it->group = conf_strdup(lx->pl, st->w[1]);
        struct tctx gc = {.driver = c->driver, .target = c->target, .group = it->group};
        char what[WORD_MAX + 16];
        snprintf(what, sizeof(what), "GROUP %s", st->w[1]);
        return parse_block(lx, st->line, what, group_stmt, &gc);
    }
    if (need_block(lx, st, false))
        return -EINVAL;
    return target_attr(lx, st, c);
}

static int driver_stmt(struct lexer *lx, struct stmt *st, void *ctx)
{
    const char *driver = ctx;
    if (strcmp(st->w[0], "TARGET") == 0) {
        if (need_block(lx, st, true) || need_words(lx, st, 2, 2))
            return -EINVAL;
        struct conf_target *t = conf_add_target(lx->pl, st->line, driver, st->w[1]);
        struct tctx tc = {.driver = driver, .target = t->name};
        char what[WORD_MAX + 16];
        snprintf(what, sizeof(what), "TARGET %s", st->w[1]);
        return parse_block(lx, st->line, what, target_stmt, &tc);
    }
    if (need_block(lx, st, false) || need_words(lx, st, 2, WORDS_MAX))
        return -EINVAL;
    struct conf_item *it = conf_add_item(lx->pl, st->line, 'D');
    it->driver = conf_strdup(lx->pl, driver);
    it->name = conf_strdup(lx->pl, st->w[0]);
    it->value = join_value(lx->pl, st, 1);
    return 0;
}

/* ---- the file ------------------------------------------------------------------------------------- */

static const char *const handlers[] = {"vdisk_fileio", "vdisk_blockio", "vdisk_nullio", NULL};
static const char *const ignored_globals[] = {"setup_id", "max_tasklet_cmd", "threads", "suspend",
                                              "poll_us", NULL};

static int top_stmt(struct lexer *lx, struct stmt *st, void *ctx)
{
    const char *kw = st->w[0];
    if (strcmp(kw, "HANDLER") == 0 || strcmp(kw, "TARGET_DRIVER") == 0) {
        if (need_block(lx, st, true) || need_words(lx, st, 2, 2))
            return -EINVAL;
        /* the names live in the plan: they outlive this statement buffer */
        char what[WORD_MAX + 16];
        snprintf(what, sizeof(what), "%s %s", kw, st->w[1]);
        if (kw[0] == 'H') {
            const char *const *h = handlers;
            while (*h && strcmp(*h, st->w[1]) != 0)
                h++;
            if (!*h)
                return conf_error(lx->pl, st->line, "unsupported handler '%s'", st->w[1]);
            return parse_block(lx, st->line, what, handler_stmt, (void *)*h);
        }
        char *driver = conf_strdup(lx->pl, st->w[1]);
        int rc = parse_block(lx, st->line, what, driver_stmt, driver);
        umc_free(lx->pl->node, driver);
        return rc;
    }
    for (const char *const *g = ignored_globals; *g; g++)
        if (strcmp(kw, *g) == 0)
            return need_block(lx, st, false);
    return conf_error(lx->pl, st->line, "unknown keyword '%s'", kw);
}

int conf_read_nested(struct conf_plan *pl, const char *text)
{
    struct lexer *lx = umc_alloc(pl->node, sizeof(*lx));
    lx->pl = pl;
    lx->p = text;
    lx->line = 1;
    int rc = parse_block(lx, 0, "file", top_stmt, NULL);
    umc_free(pl->node, lx);
    return rc;
}
