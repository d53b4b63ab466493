/* Digests for checksum-based resync and online verify (csums-alg,
 * verify-alg): crc32c, md5 or sha1 of one block, from umc's digests. */
#include "drbd/drbd_int.h"

/* ---- one interface -------------------------------------------------------------------- */

size_t drbd_digest_size(enum drbd_alg a)
{
    switch (a) {
    case ALG_CRC32C: return 4;
    case ALG_MD5: return 16;
    case ALG_SHA1: return 20;
    default: return 0;
    }
}

void drbd_digest(enum drbd_alg a, const void *p, size_t len, unsigned char *out)
{
    switch (a) {
    case ALG_CRC32C: drbd_put_be32(out, umc_crc32c(p, len)); break;
    case ALG_MD5: umc_md5(p, len, out); break;
    case ALG_SHA1: umc_sha1(p, len, out); break;
    default: break;
    }
}
