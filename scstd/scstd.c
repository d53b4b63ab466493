/* scstd: the real storage server (placeholder until the iSCSI issue). */
#include <stdio.h>
int main(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "usage: %s [--portal HOST:PORT] [--config FILE]\n", argv[0]);
    return 2;
}
