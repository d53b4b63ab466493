/* scstctl: admin client for scstd (placeholder until the iSCSI issue). */
#include <stdio.h>
int main(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "usage: %s COMMAND [ARGS]\n", argv[0]);
    return 2;
}
