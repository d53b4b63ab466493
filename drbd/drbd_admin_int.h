/* drbd internals: an admin command in flight, shared by drbd_admin.c (the
 * command's life, up/down, dispatch), drbd_admin_roles.c (primary/secondary)
 * and drbd_admin_verbs.c (connection and disk verbs). */
#ifndef DRBD_ADMIN_INT_H
#define DRBD_ADMIN_INT_H

#include "drbd/drbd_int.h"

/* DRBD's refusal while the device is open for write (demotion, down) */
#define DRBD_MSG_IN_USE "State change failed: (-12) Device is held open by someone (device in use)"

enum cmd_wait { WAIT_NONE, WAIT_DOWN_DRAIN, WAIT_DOWN_MD, WAIT_DOWN_FINAL, WAIT_SECONDARY,
                 WAIT_PROMOTE };

struct drbd_cmd_ctx {
    struct drbd *d;
    struct drbd_resource *r;
    drbd_done_fn done;
    void *arg;
    struct drbd_cmd cmd;
    char peer[UMC_NAME_MAX];
    int pending;
    int rc;
    char msg[256];
    enum cmd_wait wait;
    bool finishing;                    /* tearing its resource down itself */
    struct drbd_link link;             /* in the resource's cmd_waits */
    struct drbd_link all;              /* in drbd->cmds */
    struct mte_timer defer_timer;
};

/* Answering: finish now (never from inside drbd_command), reply from the
 * event loop, refuse with DRBD's wording, or count down parts. */
void drbd_cmd_finish(struct drbd_cmd_ctx *x);
void drbd_cmd_reply(struct drbd_cmd_ctx *x, int rc, const char *msg);
int drbd_cmd_refuse(struct drbd_cmd_ctx *x, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void drbd_cmd_part_done(void *arg, int rc, const char *msg);
bool drbd_cmd_vol_selected(const struct drbd_cmd_ctx *x, const struct drbd_volume *v);
bool drbd_cmd_conn_selected(const struct drbd_cmd_ctx *x, const struct drbd_conn *c);

/* drbd_admin_roles.c */
void drbd_cmd_primary(struct drbd_cmd_ctx *x);
void drbd_cmd_secondary(struct drbd_cmd_ctx *x);
void drbd_cmd_demote_when_idle(struct drbd_cmd_ctx *x);

/* drbd_admin_verbs.c */
void drbd_cmd_connect(struct drbd_cmd_ctx *x);
void drbd_cmd_disconnect(struct drbd_cmd_ctx *x);
void drbd_cmd_attach(struct drbd_cmd_ctx *x);
void drbd_cmd_detach(struct drbd_cmd_ctx *x);
void drbd_cmd_create_md(struct drbd_cmd_ctx *x);
void drbd_cmd_invalidate(struct drbd_cmd_ctx *x);
void drbd_cmd_invalidate_remote(struct drbd_cmd_ctx *x);
void drbd_cmd_verify(struct drbd_cmd_ctx *x);
void drbd_cmd_pause_sync(struct drbd_cmd_ctx *x);
void drbd_cmd_resume_sync(struct drbd_cmd_ctx *x);
void drbd_cmd_new_current_uuid(struct drbd_cmd_ctx *x);
void drbd_cmd_outdate(struct drbd_cmd_ctx *x);

#endif
