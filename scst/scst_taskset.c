/* The task set of a logical unit, and the range locks that make COMPARE AND
 * WRITE, ORWRITE and WRITE ATOMIC atomic against overlapping writes.
 *
 * Ordering costs O(1) per command: a SIMPLE task runs at once unless an
 * ORDERED one is active or tasks already wait; an ORDERED task waits until
 * nothing else is active and holds back everything after it; HEAD OF QUEUE
 * runs at once.  Waiting tasks sit in a FIFO that completions drain.
 *
 * A range lock counts the overlapping writes that started before it (one scan
 * of the active list, only when a lock is taken) and is granted when they have
 * finished and no earlier overlapping lock is held; writes that overlap a lock
 * park until it is released. */
#include "scst/scst_internal.h"

/* ---- lists ------------------------------------------------------------------------- */

static void list_append(struct scst_cmd_private **head, struct scst_cmd_private **tail,
                        struct scst_cmd_private *p)
{
    p->set_next = NULL;
    p->set_prev = *tail;
    if (*tail)
        (*tail)->set_next = p;
    else
        *head = p;
    *tail = p;
}

static void list_remove(struct scst_cmd_private **head, struct scst_cmd_private **tail,
                        struct scst_cmd_private *p)
{
    if (p->set_prev)
        p->set_prev->set_next = p->set_next;
    else
        *head = p->set_next;
    if (p->set_next)
        p->set_next->set_prev = p->set_prev;
    else
        *tail = p->set_prev;
    p->set_prev = p->set_next = NULL;
}

static void park(struct scst_device *dev, struct scst_cmd_private *p)
{
    p->parked = true;
    p->park_next = NULL;
    p->park_prev = dev->parked_tail;
    if (dev->parked_tail)
        dev->parked_tail->park_next = p;
    else
        dev->parked_head = p;
    dev->parked_tail = p;
}

static void unpark(struct scst_device *dev, struct scst_cmd_private *p)
{
    if (p->park_prev)
        p->park_prev->park_next = p->park_next;
    else
        dev->parked_head = p->park_next;
    if (p->park_next)
        p->park_next->park_prev = p->park_prev;
    else
        dev->parked_tail = p->park_prev;
    p->park_prev = p->park_next = NULL;
    p->parked = false;
}

static bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
    return a < b + bn && b < a + an;
}

/* ---- continuation with deferred completion ----------------------------------------- */

void scst_cmd_resume(struct scst_cmd_private *p, scst_step_fn fn)
{
    bool nested = p->in_exec;
    p->in_exec = true;
    fn(p);
    if (nested)
        return;
    p->in_exec = false;
    scst_cmd_flush_deferred(p);
}

/* ---- range locks ---------------------------------------------------------------------- */

static bool lock_grantable(const struct scst_range_lock *l)
{
    if (l->drain)
        return false;
    for (const struct scst_range_lock *e = l->prev; e; e = e->prev)
        if (overlaps(e->lba, e->count, l->lba, l->count))
            return false;
    return true;
}

/* Restart the scan after each grant: the owner may release locks at once. */
static void grant_waiting_locks(struct scst_device *dev)
{
    for (;;) {
        struct scst_range_lock *l = dev->locks;
        while (l && (l->granted || !lock_grantable(l)))
            l = l->next;
        if (!l)
            return;
        l->granted = true;
        struct scst_cmd_private *owner = l->owner;
        scst_cmd_resume(owner, owner->step);
    }
}

static bool overlaps_any_lock(const struct scst_device *dev, uint64_t lba, uint64_t count)
{
    for (const struct scst_range_lock *l = dev->locks; l; l = l->next)
        if (overlaps(l->lba, l->count, lba, count))
            return true;
    return false;
}

static void start_write(struct scst_cmd_private *p)
{
    p->write_seq = ++p->dev->write_seq;
    p->write_started = true;
}

/* Parked writes whose range is free again start, in arrival order. */
static void resume_parked_writes(struct scst_device *dev)
{
    for (;;) {
        struct scst_cmd_private *p = dev->parked_head;
        while (p && overlaps_any_lock(dev, p->lba, p->nblocks))
            p = p->park_next;
        if (!p)
            return;
        unpark(dev, p);
        start_write(p);
        scst_cmd_dispatch(p);
    }
}

bool scst_range_lock_acquire(struct scst_cmd_private *p, uint64_t lba, uint64_t count)
{
    struct scst_device *dev = p->dev;
    struct scst_range_lock *l = &p->lock;
    *l = (struct scst_range_lock){.lba = lba, .count = count ? count : 1,
                                  .seq = ++dev->write_seq, .owner = p};
    for (struct scst_cmd_private *q = dev->active_head; q; q = q->set_next)
        if (q != p && q->write_started && overlaps(q->lba, q->nblocks, l->lba, l->count))
            l->drain++;
    struct scst_range_lock *tail = dev->locks;
    while (tail && tail->next)
        tail = tail->next;
    l->prev = tail;
    if (tail)
        tail->next = l;
    else
        dev->locks = l;
    l->granted = lock_grantable(l);
    return l->granted;
}

static void lock_unlink(struct scst_device *dev, struct scst_range_lock *l)
{
    if (l->prev)
        l->prev->next = l->next;
    else
        dev->locks = l->next;
    if (l->next)
        l->next->prev = l->prev;
    l->prev = l->next = NULL;
    l->owner = NULL;
}

void scst_range_lock_release(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    if (!p->lock.owner)
        return;
    lock_unlink(dev, &p->lock);
    grant_waiting_locks(dev);
    resume_parked_writes(dev);
}

bool scst_range_write_may_start(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    if (dev->locks && overlaps_any_lock(dev, p->lba, p->nblocks)) {
        park(dev, p);
        return false;
    }
    start_write(p);
    return true;
}

void scst_range_write_done(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    if (!p->write_started)
        return;
    p->write_started = false;
    if (!dev->locks)
        return;
    for (struct scst_range_lock *l = dev->locks; l; l = l->next)
        if (!l->granted && l->seq > p->write_seq && l->drain &&
            overlaps(l->lba, l->count, p->lba, p->nblocks))
            l->drain--;
    grant_waiting_locks(dev);
}

void scst_range_forget(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    if (p->parked)
        unpark(dev, p);
    if (p->lock.owner) {
        lock_unlink(dev, &p->lock);
        grant_waiting_locks(dev);
        resume_parked_writes(dev);
    }
}

/* ---- the task set ---------------------------------------------------------------------- */

static bool is_ordered(const struct scst_cmd_private *p)
{
    return p->cmd->attr == SCSI_TASK_ORDERED || (p->op->flags & OPF_ORDERED);
}

static void activate(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    p->state = CMD_ACTIVE;
    list_append(&dev->active_head, &dev->active_tail, p);
    dev->nactive++;
    if (is_ordered(p))
        dev->nordered_active++;
    if (p->abort_requested) {
        scst_cmd_resume(p, scst_cmd_complete);
        return;
    }
    if ((p->flags & CMDF_WRITES) && !scst_range_write_may_start(p))
        return;
    scst_cmd_dispatch(p);
}

static void run_pending(struct scst_device *dev)
{
    struct scst_cmd_private *q;
    while ((q = dev->pend_head)) {
        if (is_ordered(q) ? dev->nactive != 0 : dev->nordered_active != 0)
            break;
        list_remove(&dev->pend_head, &dev->pend_tail, q);
        dev->npending--;
        activate(q);
    }
}

void scst_taskset_enter(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    if (p->cmd->attr != SCSI_TASK_HEAD_OF_QUEUE &&
        (dev->pend_head || dev->nordered_active || (is_ordered(p) && dev->nactive))) {
        p->state = CMD_PENDING;
        list_append(&dev->pend_head, &dev->pend_tail, p);
        dev->npending++;
        return;
    }
    activate(p);
}

void scst_taskset_leave(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    if (p->state == CMD_PENDING) {
        list_remove(&dev->pend_head, &dev->pend_tail, p);
        dev->npending--;
    } else {
        list_remove(&dev->active_head, &dev->active_tail, p);
        dev->nactive--;
        if (is_ordered(p))
            dev->nordered_active--;
        if (p->parked || p->lock.owner)
            scst_range_forget(p);
        if (p->write_started)
            scst_range_write_done(p);
    }
    run_pending(dev);
}
