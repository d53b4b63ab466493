/* Named random streams: xoshiro256** seeded by splitmix64 from (seed, name). */
#include "mte_sim/mte_sim.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

uint64_t mte_seed_derive(uint64_t root_seed, const char *name)
{
    uint64_t x = root_seed ^ fnv1a(name);
    splitmix64(&x);
    return splitmix64(&x);
}

void mte_rng_init(struct mte_rng *rng, uint64_t root_seed, const char *name)
{
    uint64_t x = mte_seed_derive(root_seed, name);
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t mte_rng_next(struct mte_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Lemire's multiply-shift with rejection: unbiased. */
uint64_t mte_rng_below(struct mte_rng *rng, uint64_t n)
{
    if (n == 0)
        return 0;
    unsigned __int128 m = (unsigned __int128)mte_rng_next(rng) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            m = (unsigned __int128)mte_rng_next(rng) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

uint64_t mte_rng_range(struct mte_rng *rng, uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return lo;
    if (lo == 0 && hi == UINT64_MAX)
        return mte_rng_next(rng);
    return lo + mte_rng_below(rng, hi - lo + 1);
}

double mte_rng_unit(struct mte_rng *rng)
{
    return (double)(mte_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

bool mte_rng_chance(struct mte_rng *rng, double p)
{
    if (p <= 0)
        return false;
    if (p >= 1)
        return true;
    return mte_rng_unit(rng) < p;
}
