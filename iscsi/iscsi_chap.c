/* The CHAP pieces iSCSI needs (RFC 1994, RFC 7143 12.1.3):
 * the MD5 response, and the binary encodings of CHAP_C / CHAP_R values. */
#include "iscsi/iscsi_proto.h"

/* ---- CHAP ---------------------------------------------------------------------------- */

void iscsi_chap_response(uint8_t id, const char *secret, const uint8_t *challenge, size_t clen,
                         uint8_t out[16])
{
    struct umc_md5 m;
    umc_md5_init(&m);
    umc_md5_update(&m, &id, 1);
    umc_md5_update(&m, secret, strlen(secret));
    umc_md5_update(&m, challenge, clen);
    umc_md5_final(&m, out);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int decode_hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s), len = (n + 1) / 2;
    if (!n || len > cap)
        return -1;
    size_t i = 0, o = 0;
    if (n & 1) { /* an odd count has an implied leading zero */
        int d = hex_digit(s[i++]);
        if (d < 0)
            return -1;
        out[o++] = (uint8_t)d;
    }
    for (; i < n; i += 2) {
        int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[o++] = (uint8_t)(hi << 4 | lo);
    }
    return (int)o;
}

static int b64_digit(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static int decode_base64(const char *s, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    bool padding = false;
    for (; *s; s++) {
        if (*s == '=') {
            padding = true;
            continue;
        }
        int d = b64_digit(*s);
        if (d < 0 || padding)
            return -1;
        acc = acc << 6 | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o ? (int)o : -1;
}

int iscsi_chap_decode(const char *text, uint8_t *out, size_t cap)
{
    if (text[0] != '0')
        return -1;
    if (text[1] == 'x' || text[1] == 'X')
        return decode_hex(text + 2, out, cap);
    if (text[1] == 'b' || text[1] == 'B')
        return decode_base64(text + 2, out, cap);
    return -1;
}

void iscsi_chap_encode_hex(const uint8_t *bin, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    *out++ = '0';
    *out++ = 'x';
    for (size_t i = 0; i < len; i++) {
        *out++ = digits[bin[i] >> 4];
        *out++ = digits[bin[i] & 15];
    }
    *out = '\0';
}
