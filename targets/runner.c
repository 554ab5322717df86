/*
 * Runs a model object built by `mvcc build`: reads each input from a file of raw little-endian
 * bytes, runs NAME_run, writes each output to a file. Used by mvcc's test suite (natively and
 * under qemu-aarch64); a starting point for a C host.
 *
 * Build: cc -O2 -DMVCC_HEADER='"NAME.h"' -DMVCC_PREFIX=NAME_UPPER -DMVCC_RUN=NAME_run \
 *            runner.c NAME.o -o runner
 * Run:   runner IN0.bin ... OUT0.bin ...        (inputs, then outputs, in model order)
 * Exit status: 0 on success; 2 for usage or I/O errors; 3 when NAME_run returns non-zero.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include MVCC_HEADER

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define M(x) CAT(MVCC_PREFIX, x)

static void *aligned(size_t bytes) {
    size_t n = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, n ? n : 64);
    if (p) memset(p, 0xA5, n ? n : 64); /* garbage: the model must not rely on zeros */
    return p;
}

int main(int argc, char **argv) {
    static const unsigned long in_bytes[] = M(_INPUT_BYTES_LIST);
    static const unsigned long out_bytes[] = M(_OUTPUT_BYTES_LIST);
    const unsigned ni = M(_NUM_INPUTS), no = M(_NUM_OUTPUTS);
    if ((unsigned)argc != 1 + ni + no) {
        fprintf(stderr, "usage: %s IN0.bin ... OUT0.bin ... (%u inputs, %u outputs)\n", argv[0], ni, no);
        return 2;
    }
    const void *inputs[64];
    void *outputs[64];
    if (ni > 64 || no > 64) return 2;
    for (unsigned i = 0; i < ni; i++) {
        void *buf = aligned(in_bytes[i]);
        FILE *f = fopen(argv[1 + i], "rb");
        if (!buf || !f || fread(buf, 1, in_bytes[i], f) != in_bytes[i]) {
            fprintf(stderr, "cannot read %lu bytes from %s\n", in_bytes[i], argv[1 + i]);
            return 2;
        }
        fclose(f);
        inputs[i] = buf;
    }
    for (unsigned i = 0; i < no; i++) {
        outputs[i] = aligned(out_bytes[i]);
        if (!outputs[i]) return 2;
    }
    void *arena = aligned(M(_ARENA_BYTES));
    if (!arena) return 2;
    int rc = MVCC_RUN(inputs, outputs, arena);
    if (rc != 0) {
        fprintf(stderr, "%s returned %d\n", "run", rc);
        return 3;
    }
    for (unsigned i = 0; i < no; i++) {
        FILE *f = fopen(argv[1 + ni + i], "wb");
        if (!f || fwrite(outputs[i], 1, out_bytes[i], f) != out_bytes[i]) {
            fprintf(stderr, "cannot write %s\n", argv[1 + ni + i]);
            return 2;
        }
        fclose(f);
    }
    return 0;
}
