/*
 * A C program running a model compiled by mvcc: MediaPipe's BlazeFace short-range face detector,
 * built by `mvcc build` into face.o and face.h (see the Makefile). No interpreter, no model file
 * at run time: the object holds the code and the weights.
 *
 * Usage: face IMAGE.rgb   (128×128 RGB, 8 bits per channel, row-major; default astronaut_128.rgb)
 * Prints the most confident face's score and box, and the time of one run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "face.h"

#define SIZE 128
#define ANCHORS 896
#define COORDS 16

/* Anchor centers of MediaPipe's SSD layout for this model: 16×16 cells of 2, 8×8 cells of 6. */
static void anchor(int i, float *x, float *y) {
    if (i < 512) {
        int cell = i / 2;
        *x = (cell % 16 + 0.5f) / 16.0f;
        *y = (cell / 16 + 0.5f) / 16.0f;
    } else {
        int cell = (i - 512) / 6;
        *x = (cell % 8 + 0.5f) / 8.0f;
        *y = (cell / 8 + 0.5f) / 8.0f;
    }
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "astronaut_128.rgb";
    static unsigned char rgb[SIZE * SIZE * 3];
    FILE *f = fopen(path, "rb");
    if (!f || fread(rgb, 1, sizeof rgb, f) != sizeof rgb) {
        fprintf(stderr, "cannot read %zu bytes of 128x128 RGB from %s\n", sizeof rgb, path);
        return 1;
    }
    fclose(f);

    static FACE_INPUT0_T input[FACE_INPUT0_ELEMENTS];
    for (unsigned i = 0; i < FACE_INPUT0_ELEMENTS; i++) input[i] = rgb[i] / 127.5f - 1.0f;
    static FACE_OUTPUT0_T out0[FACE_OUTPUT0_ELEMENTS];
    static FACE_OUTPUT1_T out1[FACE_OUTPUT1_ELEMENTS];
    void *arena = aligned_alloc(FACE_ARENA_ALIGN,
                                (FACE_ARENA_BYTES + FACE_ARENA_ALIGN - 1) / FACE_ARENA_ALIGN * FACE_ARENA_ALIGN);
    if (!arena) return 1;

    const void *inputs[] = {input};
    void *outputs[] = {out0, out1};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = face_run(inputs, outputs, arena);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != 0) {
        fprintf(stderr, "face_run returned %d\n", rc);
        return 1;
    }
    /* Which output holds the boxes (16 values per anchor) and which the scores (one). */
    const float *boxes = FACE_OUTPUT0_ELEMENTS == ANCHORS * COORDS ? out0 : out1;
    const float *scores = FACE_OUTPUT0_ELEMENTS == ANCHORS * COORDS ? out1 : out0;
    int best = 0;
    for (int i = 1; i < ANCHORS; i++)
        if (scores[i] > scores[best]) best = i;
    float ax, ay;
    anchor(best, &ax, &ay);
    const float *r = boxes + best * COORDS;
    float cx = r[0] / SIZE + ax, cy = r[1] / SIZE + ay, w = r[2] / SIZE, h = r[3] / SIZE;
    float score = 1.0f / (1.0f + expf(-scores[best]));
    printf("%s: best face score %.3f, box x %.0f..%.0f, y %.0f..%.0f (pixels of the 128x128 input)\n",
           path, score, (cx - w / 2) * SIZE, (cx + w / 2) * SIZE, (cy - h / 2) * SIZE, (cy + h / 2) * SIZE);
    printf("one run: %.2f ms, arena %u bytes\n",
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6, FACE_ARENA_BYTES);
    free(arena);
    return score > 0.5f ? 0 : 2;
}
