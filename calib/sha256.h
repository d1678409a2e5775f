/*
 * sha256.h: SHA-256 (FIPS 180-4), to fingerprint the raw measurements a profile was fitted from.
 * Streaming: init, update any number of times, final. Pure computation; cannot fail.
 */
#ifndef LENSIM_SHA256_H
#define LENSIM_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct cal_sha256 {
    uint32_t h[8];
    uint64_t n_bytes;
    uint8_t  buf[64];
    size_t   n_buf;
};

void cal_sha256_init(struct cal_sha256 *s);
void cal_sha256_update(struct cal_sha256 *s, const void *data, size_t n);
/* Writes 64 lowercase hex digits and a NUL into hex. */
void cal_sha256_final(struct cal_sha256 *s, char hex[65]);
/* Hash a whole file. Returns 0 or SIM_EIO. */
int cal_sha256_file(const char *path, char hex[65]);

#endif
