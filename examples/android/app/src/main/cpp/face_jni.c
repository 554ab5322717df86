/*
 * JNI wrapper around a model compiled by mvcc: `float[] FaceDetector.run(float[] input)` runs
 * MediaPipe's face detector on a 128×128×3 float image in [-1, 1] and returns the scores
 * (896 logits); the boxes stay in `boxes` for `FaceDetector.boxes()`. One arena per detector,
 * so detectors on different threads do not share memory.
 */
#include <jni.h>
#include <stdlib.h>

#include "face.h"

typedef struct {
    void *arena;
    float boxes[FACE_OUTPUT0_ELEMENTS > FACE_OUTPUT1_ELEMENTS ? FACE_OUTPUT0_ELEMENTS : FACE_OUTPUT1_ELEMENTS];
    float scores[FACE_OUTPUT0_ELEMENTS < FACE_OUTPUT1_ELEMENTS ? FACE_OUTPUT0_ELEMENTS : FACE_OUTPUT1_ELEMENTS];
} Detector;

JNIEXPORT jlong JNICALL Java_com_example_face_FaceDetector_create(JNIEnv *env, jclass cls) {
    (void)env;
    (void)cls;
    Detector *d = calloc(1, sizeof *d);
    if (!d) return 0;
    size_t bytes = (FACE_ARENA_BYTES + FACE_ARENA_ALIGN - 1) / FACE_ARENA_ALIGN * FACE_ARENA_ALIGN;
    d->arena = aligned_alloc(FACE_ARENA_ALIGN, bytes);
    if (!d->arena) {
        free(d);
        return 0;
    }
    return (jlong)(intptr_t)d;
}

JNIEXPORT jfloatArray JNICALL Java_com_example_face_FaceDetector_run(JNIEnv *env, jclass cls,
                                                                     jlong handle, jfloatArray input) {
    (void)cls;
    Detector *d = (Detector *)(intptr_t)handle;
    if (!d || (*env)->GetArrayLength(env, input) != FACE_INPUT0_ELEMENTS) return NULL;
    jfloat *in = (*env)->GetFloatArrayElements(env, input, NULL);
    const void *inputs[] = {in};
    /* Output order as in face.h: the boxes are the output with 16 values per anchor. */
    int boxes_first = FACE_OUTPUT0_ELEMENTS > FACE_OUTPUT1_ELEMENTS;
    void *outputs[] = {boxes_first ? (void *)d->boxes : (void *)d->scores,
                       boxes_first ? (void *)d->scores : (void *)d->boxes};
    int rc = face_run(inputs, outputs, d->arena);
    (*env)->ReleaseFloatArrayElements(env, input, in, JNI_ABORT);
    if (rc != 0) return NULL;
    jsize n = sizeof d->scores / sizeof d->scores[0];
    jfloatArray out = (*env)->NewFloatArray(env, n);
    if (out) (*env)->SetFloatArrayRegion(env, out, 0, n, d->scores);
    return out;
}

JNIEXPORT void JNICALL Java_com_example_face_FaceDetector_destroy(JNIEnv *env, jclass cls, jlong handle) {
    (void)env;
    (void)cls;
    Detector *d = (Detector *)(intptr_t)handle;
    if (!d) return;
    free(d->arena);
    free(d);
}
