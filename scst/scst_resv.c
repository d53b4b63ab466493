/* SPC-2 RESERVE / RELEASE (6 and 10), held by one I_T nexus (a session), and
 * the reservation conflict check every command goes through. */
#include "scst/scst_internal.h"

int scst_parse_reserve(struct scst_cmd_private *p)
{
    scst_cmd_set_data(p, SCSI_DIR_NONE, 0);
    return 0;
}

void scst_exec_reserve(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    if (dev->spc2_holder && dev->spc2_holder != p->sess)
        scst_fail_status(p, SAM_STAT_RESERVATION_CONFLICT);
    else
        dev->spc2_holder = p->sess;
    scst_cmd_complete(p);
}

/* Releasing what another nexus holds, or nothing, is not an error. */
void scst_exec_release(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    if (dev->spc2_holder == p->sess)
        dev->spc2_holder = NULL;
    scst_cmd_complete(p);
}

void scst_spc2_release_session(struct scst_device *dev, struct scst_session *s)
{
    if (dev->spc2_holder == s)
        dev->spc2_holder = NULL;
}

bool scst_reservation_conflict(struct scst_cmd_private *p)
{
    struct scst_device *dev = p->dev;
    if (dev->spc2_holder && dev->spc2_holder != p->sess && !(p->op->flags & OPF_SPC2_OK))
        return true;
    if (!dev->pr.reserved && !dev->pr.nregs)
        return false;
    return scst_pr_conflict(p);
}
