/* drbd/: private to the .res parser (drbd_cfg_lex.c, drbd_config.c). */
#ifndef DRBD_CFG_INT_H
#define DRBD_CFG_INT_H

#include "drbd/drbd_int.h"

enum tok_kind { TK_EOF, TK_WORD, TK_STRING, TK_LBRACE, TK_RBRACE, TK_SEMI, TK_ERROR };

#define TOK_MAX 256

struct lexer {
    const char *text;
    size_t pos, len;
    int line;
    const char *file;
    char *err;
    size_t errlen;
    bool failed;
    /* one token of lookahead */
    bool peeked;
    enum tok_kind kind, pkind;
    char tok[TOK_MAX];                 /* the current token */
    int tok_line;
    char ptok[TOK_MAX];                /* the peeked one */
    int ptok_line;
};

void lex_init(struct lexer *lx, const char *text, const char *file, char *err, size_t errlen);
enum tok_kind lex_next(struct lexer *lx);
enum tok_kind lex_peek(struct lexer *lx);
bool lex_error(struct lexer *lx, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool lex_expect(struct lexer *lx, enum tok_kind k, const char *what);
bool lex_word(struct lexer *lx, const char *what);  /* word or string into lx->tok */
bool lex_skip_section(struct lexer *lx);           /* after '{' ... matching '}' */
/* The next item of a { ... } block (where: "resource r0", "on alice", ...):
 * LEX_ITEM with its keyword in lx->tok, LEX_END at '}', LEX_FAIL once an
 * error (a stray token, end of file) is reported. */
enum lex_item { LEX_ITEM, LEX_END, LEX_FAIL };
enum lex_item lex_block_item(struct lexer *lx, const char *where);
bool lex_parse_u64(struct lexer *lx, const char *s, uint64_t *out);

/* Option sections, each with a mask of what was set explicitly so defaults
 * (common section, resource level) can be merged under it. */
enum opt_sect { SECT_NET, SECT_DISK, SECT_OPTS };

struct opt_set {
    struct drbd_net_opts net;
    struct drbd_disk_opts disk;
    struct drbd_res_opts opts;
    uint64_t mask[3];
};

void opt_set_defaults(struct opt_set *s);
/* Parse "name value... ;" of one option in section sect (name in lx->tok). */
bool opt_parse(struct lexer *lx, enum opt_sect sect, struct opt_set *s, int line);
/* Copy into dst every option set in src that dst did not set itself. */
void opt_merge(struct opt_set *dst, const struct opt_set *src);
bool opt_parse_section(struct lexer *lx, enum opt_sect sect, struct opt_set *s);

#endif
