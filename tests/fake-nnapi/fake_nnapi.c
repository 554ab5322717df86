/*
 * A fake libneuralnetworks.so for mvcc's tests (tests/tests/nnapi_dlopen.rs).
 *
 * It exports the ANeuralNetworks* functions mvcc-runtime looks up with dlsym, with the NDK's
 * C signatures and struct layouts (NeuralNetworks.h / NeuralNetworksTypes.h), so the runtime's
 * real dlopen/dlsym path and its Rust declarations of the C ABI are exercised on a Linux host.
 * It checks its arguments the way the NNAPI runtime does (and some things more strictly: mvcc
 * always gives full shapes and sets each value once), keeps every object it hands out, and
 * writes one line per call to the file named by FAKE_NNAPI_LOG (stderr without it). A line
 * starting with "ERROR" is a broken rule; at process exit a last line tells how many objects are
 * still alive and how many rules were broken.
 *
 * Build-time variants (-D):
 *   FAKE_API=31 (default): every function mvcc uses, getRuntimeFeatureLevel included.
 *   FAKE_API=30: no ANeuralNetworks_getRuntimeFeatureLevel (an Android 11 library).
 *   FAKE_API=27: only the API-27 functions (an Android 8.1 library: no devices, no compute).
 *   FAKE_DROP_EVENT_FREE: ANeuralNetworksEvent_free (an API-27 function) is missing.
 *
 * Behaviour (FAKE_NNAPI_MODE):
 *   ok (default)    devices "fake-npu" (ACCELERATOR, feature level 30) and "nnapi-reference"
 *                   (CPU); executions succeed and fill every output byte i of output k with
 *                   (uint8_t)(i * 37 + k * 101 + 11), so a caller can tell NNAPI's results.
 *   refuse_compile  ANeuralNetworksCompilation_finish returns ANEURALNETWORKS_OP_FAILED.
 *   fail_compute    executions fail with ANEURALNETWORKS_OP_FAILED (from compute, or from
 *                   Event_wait after startCompute) after scribbling 0xEE over the outputs.
 *   reference_only  the only device is "nnapi-reference" (CPU).
 *   unsupported_op  ANeuralNetworksModel_getSupportedOperationsForDevices reports operation 0 of
 *                   every model unsupported (the others supported).
 *   npu_level_29    "fake-npu" has feature level 29 (the runtime's stays FAKE_API).
 *
 * From API 29 the fake also has ANeuralNetworksModel_getSupportedOperationsForDevices and
 * ANeuralNetworksCompilation_createForDevices: both check that every device is one getDevice
 * returned, that none is given twice and that the set is not empty, and log the devices' names.
 *
 * Single-threaded: the tests call it from one thread.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FAKE_API
#define FAKE_API 31
#endif

#define EXPORT __attribute__((visibility("default")))

/* ---- The NDK's types (NeuralNetworksTypes.h) ------------------------------------------------ */

typedef struct ANeuralNetworksModel ANeuralNetworksModel;
typedef struct ANeuralNetworksCompilation ANeuralNetworksCompilation;
typedef struct ANeuralNetworksExecution ANeuralNetworksExecution;
typedef struct ANeuralNetworksEvent ANeuralNetworksEvent;
typedef struct ANeuralNetworksDevice ANeuralNetworksDevice;

typedef struct ANeuralNetworksOperandType {
    int32_t type;
    uint32_t dimensionCount;
    const uint32_t *dimensions;
    float scale;
    int32_t zeroPoint;
} ANeuralNetworksOperandType;

typedef struct ANeuralNetworksSymmPerChannelQuantParams {
    uint32_t channelDim;
    uint32_t scaleCount;
    const float *scales;
} ANeuralNetworksSymmPerChannelQuantParams;

typedef int32_t ANeuralNetworksOperationType;

_Static_assert(offsetof(ANeuralNetworksOperandType, dimensions) == 8, "OperandType layout");
_Static_assert(offsetof(ANeuralNetworksOperandType, scale) == 8 + sizeof(void *),
               "OperandType layout");
_Static_assert(sizeof(ANeuralNetworksOperandType) == 16 + sizeof(void *), "OperandType layout");
_Static_assert(offsetof(ANeuralNetworksSymmPerChannelQuantParams, scales) == 8,
               "SymmPerChannelQuantParams layout");

enum {
    NO_ERROR = 0,
    OUT_OF_MEMORY = 1,
    UNEXPECTED_NULL = 3,
    BAD_DATA = 4,
    OP_FAILED = 5,
    BAD_STATE = 6,
};

enum {
    T_FLOAT32 = 0,
    T_INT32 = 1,
    T_UINT32 = 2,
    T_TENSOR_FLOAT32 = 3,
    T_TENSOR_INT32 = 4,
    T_TENSOR_QUANT8_ASYMM = 5,
    T_BOOL = 6,
    T_TENSOR_QUANT16_SYMM = 7,
    T_TENSOR_FLOAT16 = 8,
    T_TENSOR_BOOL8 = 9,
    T_FLOAT16 = 10,
    T_TENSOR_QUANT8_SYMM_PER_CHANNEL = 11,
    T_TENSOR_QUANT16_ASYMM = 12,
    T_TENSOR_QUANT8_SYMM = 13,
    T_TENSOR_QUANT8_ASYMM_SIGNED = 14,
};

enum { OP_CONV_2D = 3, OP_FULLY_CONNECTED = 9, OP_RESHAPE = 22, OP_TANH = 28 };

enum { DEVICE_CPU = 2, DEVICE_ACCELERATOR = 4 };

/* ANEURALNETWORKS_MAX_SIZE_OF_IMMEDIATELY_COPIED_VALUES: larger values are kept by pointer. */
#define MAX_COPIED 128

/* ---- Log, mode --------------------------------------------------------------------------- */

static FILE *log_file;
static unsigned errors;

static void logv(const char *fmt, va_list ap) {
    if (!log_file) {
        const char *path = getenv("FAKE_NNAPI_LOG");
        log_file = path ? fopen(path, "a") : NULL;
        if (!log_file) log_file = stderr;
    }
    vfprintf(log_file, fmt, ap);
    fputc('\n', log_file);
    fflush(log_file);
}

static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    logv(fmt, ap);
    va_end(ap);
}

/* Logs a broken rule ("ERROR <function>: <what>") and counts it. */
static void broken(const char *fn, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    errors++;
    say("ERROR %s: %s", fn, msg);
}

enum mode {
    MODE_OK,
    MODE_REFUSE_COMPILE,
    MODE_FAIL_COMPUTE,
    MODE_REFERENCE_ONLY,
    MODE_UNSUPPORTED_OP,
    MODE_NPU_LEVEL_29,
};

static enum mode mode(void) {
    static int parsed = -1;
    if (parsed < 0) {
        const char *m = getenv("FAKE_NNAPI_MODE");
        parsed = MODE_OK;
        if (!m || strcmp(m, "ok") == 0) {
            parsed = MODE_OK;
        } else if (strcmp(m, "refuse_compile") == 0) {
            parsed = MODE_REFUSE_COMPILE;
        } else if (strcmp(m, "fail_compute") == 0) {
            parsed = MODE_FAIL_COMPUTE;
        } else if (strcmp(m, "reference_only") == 0) {
            parsed = MODE_REFERENCE_ONLY;
        } else if (strcmp(m, "unsupported_op") == 0) {
            parsed = MODE_UNSUPPORTED_OP;
        } else if (strcmp(m, "npu_level_29") == 0) {
            parsed = MODE_NPU_LEVEL_29;
        } else {
            broken("FAKE_NNAPI_MODE", "unknown mode %s", m);
        }
    }
    return (enum mode)parsed;
}

static uint64_t fnv1a(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* "[a,b,c]" into a static buffer (one list per log line at most, or copy it). */
static const char *u32_list(const uint32_t *p, uint32_t n) {
    static char buf[2048];
    size_t at = 0;
    if (n > 0 && !p) return "[NULL]";
    buf[at++] = '[';
    for (uint32_t i = 0; i < n && at < sizeof buf - 32; i++) {
        at += (size_t)snprintf(buf + at, sizeof buf - at, i ? ",%u" : "%u", p[i]);
    }
    snprintf(buf + at, sizeof buf - at, "]");
    return buf;
}

/* ---- Objects ----------------------------------------------------------------------------- */

enum kind { K_MODEL, K_COMPILATION, K_EXECUTION, K_EVENT, K_COUNT };
static const char *const kind_name[K_COUNT] = {"model", "compilation", "execution", "event"};

#define MAX_LIVE 256
static void *live_ptr[MAX_LIVE];
static enum kind live_kind[MAX_LIVE];
static unsigned created[K_COUNT], freed[K_COUNT], next_id;

static bool track(void *p, enum kind k) {
    for (int i = 0; i < MAX_LIVE; i++) {
        if (!live_ptr[i]) {
            live_ptr[i] = p;
            live_kind[i] = k;
            created[k]++;
            return true;
        }
    }
    return false;
}

static bool is_live(const void *p, enum kind k) {
    if (!p) return false;
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live_ptr[i] == p && live_kind[i] == k) return true;
    }
    return false;
}

static void untrack(const void *p, enum kind k) {
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live_ptr[i] == p && live_kind[i] == k) {
            live_ptr[i] = NULL;
            freed[k]++;
            return;
        }
    }
}

struct operand {
    int32_t type;
    uint32_t rank;
    uint32_t *dims;
    float scale;
    int32_t zero_point;
    bool has_value;  /* setOperandValue with data */
    bool no_value;   /* setOperandValue(NULL, 0) */
    const void *kept; /* values over MAX_COPIED bytes: NNAPI keeps the pointer */
    size_t len;
    uint64_t hash;
    bool per_channel;
    uint32_t channel_dim;
    bool is_input, is_output;
    unsigned writers;
};

struct operation {
    int32_t type;
};

struct ANeuralNetworksModel {
    unsigned id;
    bool finished;
    struct operand *operands;
    uint32_t n_operands, cap_operands;
    uint32_t n_operations;
    uint32_t n_inputs, n_outputs;
    uint32_t *inputs, *outputs;
    unsigned compilations;
};

struct ANeuralNetworksCompilation {
    unsigned id;
    ANeuralNetworksModel *model;
    bool finished;
    unsigned executions;
};

struct io {
    bool set;
    const void *buf;
    size_t len;
};

struct ANeuralNetworksExecution {
    unsigned id;
    ANeuralNetworksCompilation *compilation;
    struct io *in, *out;
    bool started;
    unsigned events;
};

struct ANeuralNetworksEvent {
    unsigned id;
    ANeuralNetworksExecution *execution;
    int result;
};

struct ANeuralNetworksDevice {
    const char *name;
    int32_t type;
    int64_t level;
};

/* ---- Operand types ----------------------------------------------------------------------- */

static int min_api_of_type(int32_t t) {
    if (t >= T_FLOAT32 && t <= T_BOOL) return 27;
    if (t >= T_TENSOR_QUANT16_SYMM && t <= T_TENSOR_QUANT8_SYMM) return 29;
    if (t == T_TENSOR_QUANT8_ASYMM_SIGNED) return 30;
    return -1;
}

static bool is_scalar(int32_t t) {
    return t == T_FLOAT32 || t == T_INT32 || t == T_UINT32 || t == T_BOOL || t == T_FLOAT16;
}

static size_t element_size(int32_t t) {
    switch (t) {
        case T_FLOAT32:
        case T_INT32:
        case T_UINT32:
        case T_TENSOR_FLOAT32:
        case T_TENSOR_INT32:
            return 4;
        case T_TENSOR_QUANT16_SYMM:
        case T_TENSOR_FLOAT16:
        case T_FLOAT16:
        case T_TENSOR_QUANT16_ASYMM:
            return 2;
        default:
            return 1;
    }
}

static size_t byte_size(const struct operand *o) {
    size_t n = element_size(o->type);
    for (uint32_t i = 0; i < o->rank; i++) n *= o->dims[i];
    return n;
}

/* The highest operation code of each API level. */
static int max_operation(void) {
    if (FAKE_API >= 30) return 101; /* RANK */
    if (FAKE_API >= 29) return 94;  /* RESIZE_NEAREST_NEIGHBOR */
    if (FAKE_API >= 28) return 37;  /* TRANSPOSE */
    return 28;                      /* TANH */
}

/* ---- Devices ----------------------------------------------------------------------------- */

#if FAKE_API >= 29
static struct ANeuralNetworksDevice devices_normal[] = {
    {"fake-npu", DEVICE_ACCELERATOR, 30},
    {"nnapi-reference", DEVICE_CPU, FAKE_API},
};
static struct ANeuralNetworksDevice devices_reference[] = {
    {"nnapi-reference", DEVICE_CPU, FAKE_API},
};

static struct ANeuralNetworksDevice *device_list(uint32_t *n) {
    if (mode() == MODE_REFERENCE_ONLY) {
        *n = 1;
        return devices_reference;
    }
    if (mode() == MODE_NPU_LEVEL_29) devices_normal[0].level = 29;
    *n = 2;
    return devices_normal;
}

static bool known_device(const ANeuralNetworksDevice *d) {
    uint32_t n;
    struct ANeuralNetworksDevice *list = device_list(&n);
    for (uint32_t i = 0; i < n; i++) {
        if (d == &list[i]) return true;
    }
    return false;
}
#endif

/* ---- Model ------------------------------------------------------------------------------- */

EXPORT int ANeuralNetworksModel_create(ANeuralNetworksModel **model) {
    const char *fn = "Model_create";
    if (!model) {
        broken(fn, "NULL out-pointer");
        return UNEXPECTED_NULL;
    }
    *model = NULL;
    ANeuralNetworksModel *m = calloc(1, sizeof *m);
    if (!m || !track(m, K_MODEL)) {
        free(m);
        say("%s -> %d", fn, OUT_OF_MEMORY);
        return OUT_OF_MEMORY;
    }
    m->id = ++next_id;
    *model = m;
    say("%s -> 0 model#%u", fn, m->id);
    return NO_ERROR;
}

EXPORT void ANeuralNetworksModel_free(ANeuralNetworksModel *model) {
    const char *fn = "Model_free";
    if (!model) {
        say("%s NULL", fn);
        return;
    }
    if (!is_live(model, K_MODEL)) {
        broken(fn, "not a live model: %p", (void *)model);
        return;
    }
    if (model->compilations) {
        broken(fn, "model#%u freed while %u compilation(s) of it are alive", model->id,
               model->compilations);
    }
    say("%s model#%u", fn, model->id);
    untrack(model, K_MODEL);
    for (uint32_t i = 0; i < model->n_operands; i++) free(model->operands[i].dims);
    free(model->operands);
    free(model->inputs);
    free(model->outputs);
    free(model);
}

/* Checks a live, unfinished model; the result code, or NO_ERROR. */
static int open_model(const char *fn, ANeuralNetworksModel *m) {
    if (!m) {
        broken(fn, "NULL model");
        return UNEXPECTED_NULL;
    }
    if (!is_live(m, K_MODEL)) {
        broken(fn, "not a live model: %p", (void *)m);
        return BAD_DATA;
    }
    if (m->finished) {
        broken(fn, "model#%u is finished", m->id);
        return BAD_STATE;
    }
    return NO_ERROR;
}

static int check_operand_type(const char *fn, const ANeuralNetworksOperandType *t) {
    int api = min_api_of_type(t->type);
    if (api < 0 || api > FAKE_API) {
        broken(fn, "operand type %d unknown at API %d", t->type, FAKE_API);
        return BAD_DATA;
    }
    if ((t->dimensionCount == 0) != (t->dimensions == NULL)) {
        broken(fn, "dimensionCount %u with dimensions %p", t->dimensionCount,
               (const void *)t->dimensions);
        return BAD_DATA;
    }
    bool no_quant = t->scale == 0.0f && t->zeroPoint == 0;
    if (is_scalar(t->type)) {
        if (t->dimensionCount != 0) {
            broken(fn, "scalar type %d with %u dimensions", t->type, t->dimensionCount);
            return BAD_DATA;
        }
        if (!no_quant) {
            broken(fn, "scalar with scale or zero point");
            return BAD_DATA;
        }
        return NO_ERROR;
    }
    /* mvcc always specifies tensor shapes fully (NNAPI would allow unknown dimensions). */
    if (t->dimensionCount == 0) {
        broken(fn, "tensor type %d without dimensions", t->type);
        return BAD_DATA;
    }
    uint64_t size = element_size(t->type);
    for (uint32_t i = 0; i < t->dimensionCount; i++) {
        if (t->dimensions[i] == 0) {
            broken(fn, "dimension %u is 0", i);
            return BAD_DATA;
        }
        size *= t->dimensions[i];
        if (size > 0xffffffffull) {
            broken(fn, "operand over 4 GiB");
            return BAD_DATA;
        }
    }
    switch (t->type) {
        case T_TENSOR_QUANT8_ASYMM:
            if (!(t->scale > 0.0f) || t->zeroPoint < 0 || t->zeroPoint > 255) {
                broken(fn, "uint8 quantization scale %g zero point %d", t->scale, t->zeroPoint);
                return BAD_DATA;
            }
            break;
        case T_TENSOR_QUANT8_ASYMM_SIGNED:
            if (!(t->scale > 0.0f) || t->zeroPoint < -128 || t->zeroPoint > 127) {
                broken(fn, "int8 quantization scale %g zero point %d", t->scale, t->zeroPoint);
                return BAD_DATA;
            }
            break;
        case T_TENSOR_QUANT8_SYMM:
        case T_TENSOR_QUANT16_SYMM:
            if (!(t->scale > 0.0f) || t->zeroPoint != 0) {
                broken(fn, "symmetric quantization scale %g zero point %d", t->scale,
                       t->zeroPoint);
                return BAD_DATA;
            }
            break;
        case T_TENSOR_QUANT16_ASYMM:
            if (!(t->scale > 0.0f) || t->zeroPoint < 0 || t->zeroPoint > 65535) {
                broken(fn, "uint16 quantization scale %g zero point %d", t->scale, t->zeroPoint);
                return BAD_DATA;
            }
            break;
        case T_TENSOR_INT32:
            /* Biases carry a scale (0 with per-channel filters); NNAPI accepts any. */
            if (t->scale < 0.0f) {
                broken(fn, "negative scale");
                return BAD_DATA;
            }
            break;
        default:
            if (!no_quant) {
                broken(fn, "type %d with scale or zero point", t->type);
                return BAD_DATA;
            }
    }
    return NO_ERROR;
}

EXPORT int ANeuralNetworksModel_addOperand(ANeuralNetworksModel *model,
                                           const ANeuralNetworksOperandType *type) {
    const char *fn = "Model_addOperand";
    int code = open_model(fn, model);
    if (code == NO_ERROR && !type) {
        broken(fn, "NULL type");
        code = UNEXPECTED_NULL;
    }
    if (code != NO_ERROR) {
        say("%s -> %d", fn, code);
        return code;
    }
    uint32_t index = model->n_operands;
    code = check_operand_type(fn, type);
    char dims[2048];
    snprintf(dims, sizeof dims, "%s",
             type->dimensions || !type->dimensionCount
                 ? u32_list(type->dimensions, type->dimensionCount)
                 : "[NULL]");
    if (code == NO_ERROR) {
        if (model->n_operands == model->cap_operands) {
            uint32_t cap = model->cap_operands ? 2 * model->cap_operands : 16;
            struct operand *grown = realloc(model->operands, cap * sizeof *grown);
            if (!grown) code = OUT_OF_MEMORY;
            else {
                model->operands = grown;
                model->cap_operands = cap;
            }
        }
    }
    if (code == NO_ERROR) {
        struct operand *o = &model->operands[index];
        memset(o, 0, sizeof *o);
        o->type = type->type;
        o->rank = type->dimensionCount;
        o->scale = type->scale;
        o->zero_point = type->zeroPoint;
        if (o->rank) {
            o->dims = malloc(o->rank * sizeof *o->dims);
            if (!o->dims) code = OUT_OF_MEMORY;
            else memcpy(o->dims, type->dimensions, o->rank * sizeof *o->dims);
        }
        if (code == NO_ERROR) model->n_operands++;
    }
    say("%s model#%u %%%u type=%d dims=%s scale=%08x zp=%d -> %d", fn, model->id, index,
        type->type, dims, float_bits(type->scale), type->zeroPoint, code);
    return code;
}

/* The operand `index` of an open model, or NULL (the error logged and *code set). */
static struct operand *operand_at(const char *fn, ANeuralNetworksModel *m, int32_t index,
                                  int *code) {
    *code = open_model(fn, m);
    if (*code != NO_ERROR) return NULL;
    if (index < 0 || (uint32_t)index >= m->n_operands) {
        broken(fn, "operand %d of %u", index, m->n_operands);
        *code = BAD_DATA;
        return NULL;
    }
    return &m->operands[index];
}

EXPORT int ANeuralNetworksModel_setOperandValue(ANeuralNetworksModel *model, int32_t index,
                                                const void *buffer, size_t length) {
    const char *fn = "Model_setOperandValue";
    int code;
    struct operand *o = operand_at(fn, model, index, &code);
    if (!o) {
        say("%s %%%d -> %d", fn, index, code);
        return code;
    }
    unsigned id = model->id;
    if (o->has_value || o->no_value) {
        broken(fn, "operand %d set twice", index);
        code = BAD_DATA;
    } else if (o->is_input || o->is_output) {
        broken(fn, "operand %d is a model input or output", index);
        code = BAD_DATA;
    } else if (!buffer) {
        if (length != 0) {
            broken(fn, "NULL buffer with length %zu", length);
            code = BAD_DATA;
        } else {
            o->no_value = true;
        }
    } else if (length != byte_size(o)) {
        broken(fn, "operand %d: %zu bytes, its type needs %zu", index, length, byte_size(o));
        code = BAD_DATA;
    }
    if (code != NO_ERROR || !buffer) {
        say("%s model#%u %%%d %s len=%zu -> %d", fn, id, index, buffer ? "data" : "NULL", length,
            code);
        return code;
    }
    o->has_value = true;
    o->len = length;
    o->hash = fnv1a(buffer, length);
    o->kept = length > MAX_COPIED ? buffer : NULL;
    char value[64] = "";
    if (o->type == T_INT32 || o->type == T_UINT32) {
        int32_t v;
        memcpy(&v, buffer, 4);
        snprintf(value, sizeof value, " i32=%d", v);
    } else if (o->type == T_BOOL) {
        snprintf(value, sizeof value, " bool=%u", *(const uint8_t *)buffer);
    } else if (o->type == T_FLOAT32) {
        uint32_t v;
        memcpy(&v, buffer, 4);
        snprintf(value, sizeof value, " f32=%08x", v);
    }
    say("%s model#%u %%%d len=%zu fnv=%016llx%s -> 0", fn, id, index, length,
        (unsigned long long)o->hash, value);
    return NO_ERROR;
}

#if FAKE_API >= 29
EXPORT int ANeuralNetworksModel_setOperandSymmPerChannelQuantParams(
    ANeuralNetworksModel *model, int32_t index,
    const ANeuralNetworksSymmPerChannelQuantParams *channelQuant) {
    const char *fn = "Model_setOperandSymmPerChannelQuantParams";
    int code;
    struct operand *o = operand_at(fn, model, index, &code);
    if (o && !channelQuant) {
        broken(fn, "NULL parameters");
        code = UNEXPECTED_NULL;
    }
    if (code != NO_ERROR) {
        say("%s %%%d -> %d", fn, index, code);
        return code;
    }
    const ANeuralNetworksSymmPerChannelQuantParams *q = channelQuant;
    if (o->type != T_TENSOR_QUANT8_SYMM_PER_CHANNEL) {
        broken(fn, "operand %d has type %d", index, o->type);
        code = BAD_DATA;
    } else if (o->per_channel) {
        broken(fn, "operand %d set twice", index);
        code = BAD_DATA;
    } else if (q->channelDim >= o->rank) {
        broken(fn, "channel dimension %u of rank %u", q->channelDim, o->rank);
        code = BAD_DATA;
    } else if (!q->scales) {
        broken(fn, "NULL scales");
        code = BAD_DATA;
    } else if (q->scaleCount != o->dims[q->channelDim]) {
        broken(fn, "%u scales for dimension %u of size %u", q->scaleCount, q->channelDim,
               o->dims[q->channelDim]);
        code = BAD_DATA;
    } else {
        for (uint32_t i = 0; i < q->scaleCount; i++) {
            if (!(q->scales[i] > 0.0f) || q->scales[i] != q->scales[i] ||
                q->scales[i] > 3.4e38f) {
                broken(fn, "scale %u is %g", i, q->scales[i]);
                code = BAD_DATA;
                break;
            }
        }
    }
    char scales[2048] = "[";
    size_t at = 1;
    if (code == NO_ERROR) {
        o->per_channel = true;
        o->channel_dim = q->channelDim;
        for (uint32_t i = 0; i < q->scaleCount && at < sizeof scales - 16; i++) {
            at += (size_t)snprintf(scales + at, sizeof scales - at, i ? ",%08x" : "%08x",
                                   float_bits(q->scales[i]));
        }
    }
    snprintf(scales + at, sizeof scales - at, "]");
    say("%s model#%u %%%d dim=%u scales=%s -> %d", fn, model->id, index, q->channelDim, scales,
        code);
    return code;
}
#endif

/* Structural checks of the operations mvcc's tests use; other codes only get generic ones. */
static int check_operation(const char *fn, ANeuralNetworksModel *m, int32_t type, uint32_t n_in,
                           const uint32_t *in, uint32_t n_out, const uint32_t *out) {
    struct operand *ops = m->operands;
    switch (type) {
        case OP_CONV_2D: {
            if (n_out != 1 || !(n_in == 7 || n_in == 8 || n_in == 10 || n_in == 11 || n_in == 13)) {
                broken(fn, "CONV_2D with %u inputs and %u outputs", n_in, n_out);
                return BAD_DATA;
            }
            struct operand *x = &ops[in[0]], *w = &ops[in[1]], *b = &ops[in[2]], *y = &ops[out[0]];
            if (x->rank != 4 || w->rank != 4 || b->rank != 1 || y->rank != 4) {
                broken(fn, "CONV_2D ranks %u %u %u -> %u", x->rank, w->rank, b->rank, y->rank);
                return BAD_DATA;
            }
            if (w->dims[3] != x->dims[3] || b->dims[0] != w->dims[0] || y->dims[3] != w->dims[0] ||
                y->dims[0] != x->dims[0]) {
                broken(fn, "CONV_2D shapes do not agree");
                return BAD_DATA;
            }
            bool per_channel = w->type == T_TENSOR_QUANT8_SYMM_PER_CHANNEL;
            if (y->type != x->type || !(w->type == x->type || per_channel)) {
                broken(fn, "CONV_2D types %d %d -> %d", x->type, w->type, y->type);
                return BAD_DATA;
            }
            if (per_channel && (!w->per_channel || w->channel_dim != 0)) {
                broken(fn, "CONV_2D per-channel filter without scales on dimension 0");
                return BAD_DATA;
            }
            /* The optional layout flag: input 7 of the implicit form (7, 8 or 10 inputs; a
             * BOOL tells a 10-input implicit form from the explicit one), 10 of the explicit
             * form (10, 11 or 13 inputs). */
            uint32_t layout_at = 0;
            if (n_in == 8 || (n_in == 10 && ops[in[7]].type == T_BOOL)) layout_at = 7;
            if (n_in == 11 || n_in == 13) layout_at = 10;
            for (uint32_t i = 3; i < n_in; i++) {
                int32_t want = i == layout_at ? T_BOOL : T_INT32;
                if (ops[in[i]].type != want || !ops[in[i]].has_value) {
                    broken(fn, "CONV_2D input %u: type %d (want %d), constant %d", i,
                           ops[in[i]].type, want, ops[in[i]].has_value);
                    return BAD_DATA;
                }
            }
            return NO_ERROR;
        }
        case OP_TANH:
            if (n_in != 1 || n_out != 1 || ops[in[0]].rank != ops[out[0]].rank) {
                broken(fn, "TANH with %u inputs and %u outputs", n_in, n_out);
                return BAD_DATA;
            }
            return NO_ERROR;
        case OP_FULLY_CONNECTED:
            if (n_in != 4 || n_out != 1 || ops[in[1]].rank != 2 || ops[in[2]].rank != 1) {
                broken(fn, "FULLY_CONNECTED with %u inputs and %u outputs", n_in, n_out);
                return BAD_DATA;
            }
            return NO_ERROR;
        case OP_RESHAPE:
            if (n_in != 2 || n_out != 1 || byte_size(&ops[in[0]]) != byte_size(&ops[out[0]])) {
                broken(fn, "RESHAPE with %u inputs and %u outputs, or sizes differ", n_in, n_out);
                return BAD_DATA;
            }
            return NO_ERROR;
        default:
            return NO_ERROR;
    }
}

EXPORT int ANeuralNetworksModel_addOperation(ANeuralNetworksModel *model,
                                             ANeuralNetworksOperationType type,
                                             uint32_t inputCount, const uint32_t *inputs,
                                             uint32_t outputCount, const uint32_t *outputs) {
    const char *fn = "Model_addOperation";
    int code = open_model(fn, model);
    if (code == NO_ERROR && (!inputs || !outputs)) {
        broken(fn, "NULL index list");
        code = UNEXPECTED_NULL;
    }
    if (code != NO_ERROR) {
        say("%s type=%d -> %d", fn, type, code);
        return code;
    }
    if (type < 0 || type > max_operation()) {
        broken(fn, "operation type %d unknown at API %d", type, FAKE_API);
        code = BAD_DATA;
    } else if (inputCount == 0 || outputCount == 0) {
        broken(fn, "%u inputs, %u outputs", inputCount, outputCount);
        code = BAD_DATA;
    }
    for (uint32_t i = 0; code == NO_ERROR && i < inputCount; i++) {
        if (inputs[i] >= model->n_operands) {
            broken(fn, "input %u is operand %u of %u", i, inputs[i], model->n_operands);
            code = BAD_DATA;
        }
    }
    for (uint32_t i = 0; code == NO_ERROR && i < outputCount; i++) {
        if (outputs[i] >= model->n_operands) {
            broken(fn, "output %u is operand %u of %u", i, outputs[i], model->n_operands);
            code = BAD_DATA;
        } else {
            struct operand *o = &model->operands[outputs[i]];
            if (o->has_value || o->no_value) {
                broken(fn, "output %u is constant operand %u", i, outputs[i]);
                code = BAD_DATA;
            } else if (o->writers) {
                broken(fn, "operand %u written by two operations", outputs[i]);
                code = BAD_DATA;
            }
        }
    }
    if (code == NO_ERROR) {
        code = check_operation(fn, model, type, inputCount, inputs, outputCount, outputs);
    }
    if (code == NO_ERROR) {
        for (uint32_t i = 0; i < outputCount; i++) model->operands[outputs[i]].writers++;
        model->n_operations++;
    }
    char ins[2048];
    snprintf(ins, sizeof ins, "%s", u32_list(inputs, inputCount));
    say("%s model#%u type=%d in=%s out=%s -> %d", fn, model->id, type, ins,
        u32_list(outputs, outputCount), code);
    return code;
}

EXPORT int ANeuralNetworksModel_identifyInputsAndOutputs(ANeuralNetworksModel *model,
                                                         uint32_t inputCount,
                                                         const uint32_t *inputs,
                                                         uint32_t outputCount,
                                                         const uint32_t *outputs) {
    const char *fn = "Model_identifyInputsAndOutputs";
    int code = open_model(fn, model);
    if (code == NO_ERROR && (!inputs || !outputs)) {
        broken(fn, "NULL index list");
        code = UNEXPECTED_NULL;
    }
    if (code == NO_ERROR && model->inputs) {
        broken(fn, "called twice");
        code = BAD_STATE;
    }
    if (code != NO_ERROR) {
        say("%s -> %d", fn, code);
        return code;
    }
    for (int pass = 0; pass < 2 && code == NO_ERROR; pass++) {
        uint32_t n = pass ? outputCount : inputCount;
        const uint32_t *list = pass ? outputs : inputs;
        for (uint32_t i = 0; i < n; i++) {
            if (list[i] >= model->n_operands) {
                broken(fn, "%s %u is operand %u of %u", pass ? "output" : "input", i, list[i],
                       model->n_operands);
                code = BAD_DATA;
                break;
            }
            struct operand *o = &model->operands[list[i]];
            if (o->has_value || o->no_value || o->is_input || o->is_output) {
                broken(fn, "operand %u is a constant or already an input or output", list[i]);
                code = BAD_DATA;
                break;
            }
            if (pass) o->is_output = true;
            else o->is_input = true;
        }
    }
    if (code == NO_ERROR) {
        model->inputs = malloc((inputCount + 1) * sizeof *inputs);
        model->outputs = malloc((outputCount + 1) * sizeof *outputs);
        if (!model->inputs || !model->outputs) {
            code = OUT_OF_MEMORY;
        } else {
            memcpy(model->inputs, inputs, inputCount * sizeof *inputs);
            memcpy(model->outputs, outputs, outputCount * sizeof *outputs);
            model->n_inputs = inputCount;
            model->n_outputs = outputCount;
        }
    }
    char ins[2048];
    snprintf(ins, sizeof ins, "%s", u32_list(inputs, inputCount));
    say("%s model#%u in=%s out=%s -> %d", fn, model->id, ins, u32_list(outputs, outputCount),
        code);
    return code;
}

/* Values kept by pointer must still hold the bytes they were set with. */
static int check_kept_values(const char *fn, ANeuralNetworksModel *m) {
    for (uint32_t i = 0; i < m->n_operands; i++) {
        struct operand *o = &m->operands[i];
        if (o->kept && fnv1a(o->kept, o->len) != o->hash) {
            broken(fn, "the value of operand %u changed after setOperandValue", i);
            return BAD_DATA;
        }
    }
    return NO_ERROR;
}

EXPORT int ANeuralNetworksModel_finish(ANeuralNetworksModel *model) {
    const char *fn = "Model_finish";
    int code = open_model(fn, model);
    if (code != NO_ERROR) {
        say("%s -> %d", fn, code);
        return code;
    }
    if (!model->inputs || model->n_inputs == 0 || model->n_outputs == 0) {
        broken(fn, "model#%u has no inputs or outputs identified", model->id);
        code = BAD_DATA;
    }
    for (uint32_t i = 0; code == NO_ERROR && i < model->n_operands; i++) {
        struct operand *o = &model->operands[i];
        bool constant = o->has_value || o->no_value;
        unsigned sources = (unsigned)constant + (unsigned)o->is_input + o->writers;
        if (sources != 1) {
            broken(fn, "operand %u has %u sources (constant %d, input %d, writers %u)", i,
                   sources, constant, o->is_input, o->writers);
            code = BAD_DATA;
        } else if (o->type == T_TENSOR_QUANT8_SYMM_PER_CHANNEL && !o->per_channel) {
            broken(fn, "per-channel operand %u has no scales", i);
            code = BAD_DATA;
        }
    }
    if (code == NO_ERROR) code = check_kept_values(fn, model);
    if (code == NO_ERROR) model->finished = true;
    say("%s model#%u operands=%u operations=%u -> %d", fn, model->id, model->n_operands,
        model->n_operations, code);
    return code;
}

/* ---- Compilation ------------------------------------------------------------------------- */

/* Creates a compilation of `model`; `devices` is the log's device list ("" for all). */
static int new_compilation(const char *fn, ANeuralNetworksModel *model,
                           ANeuralNetworksCompilation **compilation, int code,
                           const char *devices) {
    if (code != NO_ERROR) {
        /* The device set was refused. */
    } else if (!model || !compilation) {
        broken(fn, "NULL argument");
        code = UNEXPECTED_NULL;
    } else if (!is_live(model, K_MODEL)) {
        broken(fn, "not a live model: %p", (void *)model);
        code = BAD_DATA;
    } else if (!model->finished) {
        broken(fn, "model#%u is not finished", model->id);
        code = BAD_STATE;
    }
    if (compilation) *compilation = NULL;
    if (code != NO_ERROR) {
        say("%s%s -> %d", fn, devices, code);
        return code;
    }
    ANeuralNetworksCompilation *c = calloc(1, sizeof *c);
    if (!c || !track(c, K_COMPILATION)) {
        free(c);
        say("%s%s -> %d", fn, devices, OUT_OF_MEMORY);
        return OUT_OF_MEMORY;
    }
    c->id = ++next_id;
    c->model = model;
    model->compilations++;
    *compilation = c;
    say("%s model#%u%s -> 0 compilation#%u", fn, model->id, devices, c->id);
    return NO_ERROR;
}

EXPORT int ANeuralNetworksCompilation_create(ANeuralNetworksModel *model,
                                             ANeuralNetworksCompilation **compilation) {
    return new_compilation("Compilation_create", model, compilation, NO_ERROR, "");
}

#if FAKE_API >= 29
/* Checks a device set (each from getDevice, none twice, not empty); writes " devices=[a,b]"
 * into `buf` (what was read so far on an error). */
static int check_devices(const char *fn, const ANeuralNetworksDevice *const *devices,
                         uint32_t n, char *buf, size_t size) {
    size_t at = (size_t)snprintf(buf, size, " devices=[");
    if (!devices) {
        broken(fn, "NULL devices");
        snprintf(buf, size, " devices=NULL");
        return UNEXPECTED_NULL;
    }
    if (n == 0) {
        broken(fn, "no device");
        snprintf(buf, size, " devices=[]");
        return BAD_DATA;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (!known_device(devices[i])) {
            broken(fn, "device %u is not one getDevice returned: %p", i, (const void *)devices[i]);
            return BAD_DATA;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (devices[j] == devices[i]) {
                broken(fn, "device %s given twice", devices[i]->name);
                return BAD_DATA;
            }
        }
        if (at < size) {
            at += (size_t)snprintf(buf + at, size - at, i ? ",%s" : "%s", devices[i]->name);
        }
    }
    if (at < size) snprintf(buf + at, size - at, "]");
    return NO_ERROR;
}

EXPORT int ANeuralNetworksModel_getSupportedOperationsForDevices(
    const ANeuralNetworksModel *model, const ANeuralNetworksDevice *const *devices,
    uint32_t numDevices, bool *supportedOps) {
    const char *fn = "Model_getSupportedOperationsForDevices";
    char names[256];
    int code = check_devices(fn, devices, numDevices, names, sizeof names);
    if (code != NO_ERROR) {
        /* Refused above. */
    } else if (!model || !supportedOps) {
        broken(fn, "NULL argument");
        code = UNEXPECTED_NULL;
    } else if (!is_live(model, K_MODEL)) {
        broken(fn, "not a live model: %p", (const void *)model);
        code = BAD_DATA;
    } else if (!model->finished) {
        broken(fn, "model#%u is not finished", model->id);
        code = BAD_STATE;
    }
    if (code != NO_ERROR) {
        say("%s%s -> %d", fn, names, code);
        return code;
    }
    char flags[512];
    size_t at = (size_t)snprintf(flags, sizeof flags, "[");
    for (uint32_t i = 0; i < model->n_operations; i++) {
        supportedOps[i] = !(mode() == MODE_UNSUPPORTED_OP && i == 0);
        if (at < sizeof flags) {
            at += (size_t)snprintf(flags + at, sizeof flags - at, i ? ",%d" : "%d",
                                   supportedOps[i]);
        }
    }
    if (at < sizeof flags) snprintf(flags + at, sizeof flags - at, "]");
    say("%s model#%u%s -> 0 supported=%s", fn, model->id, names, flags);
    return NO_ERROR;
}

EXPORT int ANeuralNetworksCompilation_createForDevices(ANeuralNetworksModel *model,
                                                       const ANeuralNetworksDevice *const *devices,
                                                       uint32_t numDevices,
                                                       ANeuralNetworksCompilation **compilation) {
    const char *fn = "Compilation_createForDevices";
    char names[256];
    int code = check_devices(fn, devices, numDevices, names, sizeof names);
    return new_compilation(fn, model, compilation, code, names);
}
#endif

EXPORT void ANeuralNetworksCompilation_free(ANeuralNetworksCompilation *compilation) {
    const char *fn = "Compilation_free";
    if (!compilation) {
        say("%s NULL", fn);
        return;
    }
    if (!is_live(compilation, K_COMPILATION)) {
        broken(fn, "not a live compilation: %p", (void *)compilation);
        return;
    }
    if (compilation->executions) {
        broken(fn, "compilation#%u freed while %u execution(s) of it are alive",
               compilation->id, compilation->executions);
    }
    if (is_live(compilation->model, K_MODEL)) {
        compilation->model->compilations--;
    } else {
        broken(fn, "compilation#%u outlived its model", compilation->id);
    }
    say("%s compilation#%u", fn, compilation->id);
    untrack(compilation, K_COMPILATION);
    free(compilation);
}

static int open_compilation(const char *fn, ANeuralNetworksCompilation *c) {
    if (!c) {
        broken(fn, "NULL compilation");
        return UNEXPECTED_NULL;
    }
    if (!is_live(c, K_COMPILATION)) {
        broken(fn, "not a live compilation: %p", (void *)c);
        return BAD_DATA;
    }
    if (c->finished) {
        broken(fn, "compilation#%u is finished", c->id);
        return BAD_STATE;
    }
    return NO_ERROR;
}

EXPORT int ANeuralNetworksCompilation_setPreference(ANeuralNetworksCompilation *compilation,
                                                    int32_t preference) {
    const char *fn = "Compilation_setPreference";
    int code = open_compilation(fn, compilation);
    if (code == NO_ERROR && (preference < 0 || preference > 2)) {
        broken(fn, "preference %d", preference);
        code = BAD_DATA;
    }
    if (code == NO_ERROR || code == BAD_STATE) {
        say("%s compilation#%u %d -> %d", fn, compilation->id, preference, code);
    } else {
        say("%s %d -> %d", fn, preference, code);
    }
    return code;
}

#if FAKE_API >= 29
EXPORT int ANeuralNetworksCompilation_setCaching(ANeuralNetworksCompilation *compilation,
                                                 const char *cacheDir, const uint8_t *token) {
    const char *fn = "Compilation_setCaching";
    int code = open_compilation(fn, compilation);
    if (code == NO_ERROR && (!cacheDir || !token)) {
        broken(fn, "NULL directory or token");
        code = UNEXPECTED_NULL;
    }
    if (code != NO_ERROR) {
        say("%s -> %d", fn, code);
        return code;
    }
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", token[i]);
    say("%s compilation#%u %s %s -> 0", fn, compilation->id, cacheDir, hex);
    return NO_ERROR;
}
#endif

EXPORT int ANeuralNetworksCompilation_finish(ANeuralNetworksCompilation *compilation) {
    const char *fn = "Compilation_finish";
    int code = open_compilation(fn, compilation);
    if (code != NO_ERROR) {
        say("%s -> %d", fn, code);
        return code;
    }
    if (!is_live(compilation->model, K_MODEL)) {
        broken(fn, "compilation#%u outlived its model", compilation->id);
        code = BAD_STATE;
    } else {
        code = check_kept_values(fn, compilation->model);
    }
    if (code == NO_ERROR && mode() == MODE_REFUSE_COMPILE) {
        code = OP_FAILED;
    }
    if (code == NO_ERROR) compilation->finished = true;
    say("%s compilation#%u -> %d", fn, compilation->id, code);
    return code;
}

/* ---- Execution --------------------------------------------------------------------------- */

EXPORT int ANeuralNetworksExecution_create(ANeuralNetworksCompilation *compilation,
                                           ANeuralNetworksExecution **execution) {
    const char *fn = "Execution_create";
    int code = NO_ERROR;
    if (!compilation || !execution) {
        broken(fn, "NULL argument");
        code = UNEXPECTED_NULL;
    } else if (!is_live(compilation, K_COMPILATION)) {
        broken(fn, "not a live compilation: %p", (void *)compilation);
        code = BAD_DATA;
    } else if (!compilation->finished) {
        broken(fn, "compilation#%u is not finished", compilation->id);
        code = BAD_STATE;
    } else if (!is_live(compilation->model, K_MODEL)) {
        broken(fn, "compilation#%u outlived its model", compilation->id);
        code = BAD_STATE;
    }
    if (execution) *execution = NULL;
    if (code != NO_ERROR) {
        say("%s -> %d", fn, code);
        return code;
    }
    ANeuralNetworksModel *m = compilation->model;
    ANeuralNetworksExecution *e = calloc(1, sizeof *e);
    if (e) {
        e->in = calloc(m->n_inputs + 1, sizeof *e->in);
        e->out = calloc(m->n_outputs + 1, sizeof *e->out);
    }
    if (!e || !e->in || !e->out || !track(e, K_EXECUTION)) {
        if (e) {
            free(e->in);
            free(e->out);
        }
        free(e);
        say("%s -> %d", fn, OUT_OF_MEMORY);
        return OUT_OF_MEMORY;
    }
    e->id = ++next_id;
    e->compilation = compilation;
    compilation->executions++;
    *execution = e;
    say("%s compilation#%u -> 0 execution#%u", fn, compilation->id, e->id);
    return NO_ERROR;
}

EXPORT void ANeuralNetworksExecution_free(ANeuralNetworksExecution *execution) {
    const char *fn = "Execution_free";
    if (!execution) {
        say("%s NULL", fn);
        return;
    }
    if (!is_live(execution, K_EXECUTION)) {
        broken(fn, "not a live execution: %p", (void *)execution);
        return;
    }
    if (execution->events) {
        broken(fn, "execution#%u freed while its event is alive", execution->id);
    }
    if (is_live(execution->compilation, K_COMPILATION)) {
        execution->compilation->executions--;
    } else {
        broken(fn, "execution#%u outlived its compilation", execution->id);
    }
    say("%s execution#%u", fn, execution->id);
    untrack(execution, K_EXECUTION);
    free(execution->in);
    free(execution->out);
    free(execution);
}

static int open_execution(const char *fn, ANeuralNetworksExecution *e) {
    if (!e) {
        broken(fn, "NULL execution");
        return UNEXPECTED_NULL;
    }
    if (!is_live(e, K_EXECUTION)) {
        broken(fn, "not a live execution: %p", (void *)e);
        return BAD_DATA;
    }
    if (!is_live(e->compilation, K_COMPILATION) || !is_live(e->compilation->model, K_MODEL)) {
        broken(fn, "execution#%u outlived its compilation or model", e->id);
        return BAD_STATE;
    }
    if (e->started) {
        broken(fn, "execution#%u was already started", e->id);
        return BAD_STATE;
    }
    return NO_ERROR;
}

/* setInput and setOutput. */
static int set_io(const char *fn, ANeuralNetworksExecution *e, bool output, int32_t index,
                  const ANeuralNetworksOperandType *type, const void *buffer, size_t length) {
    int code = open_execution(fn, e);
    if (code != NO_ERROR) {
        say("%s %d -> %d", fn, index, code);
        return code;
    }
    ANeuralNetworksModel *m = e->compilation->model;
    uint32_t n = output ? m->n_outputs : m->n_inputs;
    struct io *slots = output ? e->out : e->in;
    if (index < 0 || (uint32_t)index >= n) {
        broken(fn, "index %d of %u", index, n);
        code = BAD_DATA;
    } else {
        struct operand *o = &m->operands[(output ? m->outputs : m->inputs)[index]];
        if (slots[index].set) {
            broken(fn, "index %d set twice", index);
            code = BAD_STATE;
        } else if (type && (type->type != o->type || type->dimensionCount != o->rank ||
                            (o->rank && (!type->dimensions ||
                                         memcmp(type->dimensions, o->dims,
                                                o->rank * sizeof *o->dims) != 0)))) {
            broken(fn, "index %d: the type differs from the operand's", index);
            code = BAD_DATA;
        } else if (!buffer && length != 0) {
            broken(fn, "NULL buffer with length %zu", length);
            code = BAD_DATA;
        } else if (buffer && length != byte_size(o)) {
            broken(fn, "index %d: %zu bytes, the operand has %zu", index, length, byte_size(o));
            code = BAD_DATA;
        } else {
            slots[index].set = true;
            slots[index].buf = buffer;
            slots[index].len = length;
        }
    }
    say("%s execution#%u %d type=%s len=%zu%s -> %d", fn, e->id, index, type ? "GIVEN" : "NULL",
        length, buffer ? "" : " omitted", code);
    return code;
}

EXPORT int ANeuralNetworksExecution_setInput(ANeuralNetworksExecution *execution, int32_t index,
                                             const ANeuralNetworksOperandType *type,
                                             const void *buffer, size_t length) {
    return set_io("Execution_setInput", execution, false, index, type, buffer, length);
}

EXPORT int ANeuralNetworksExecution_setOutput(ANeuralNetworksExecution *execution, int32_t index,
                                              const ANeuralNetworksOperandType *type,
                                              void *buffer, size_t length) {
    return set_io("Execution_setOutput", execution, true, index, type, buffer, length);
}

static bool overlap(const struct io *a, const struct io *b) {
    if (!a->buf || !b->buf || !a->len || !b->len) return false;
    uintptr_t x = (uintptr_t)a->buf, y = (uintptr_t)b->buf;
    return x < y + b->len && y < x + a->len;
}

/* Runs an execution: checks it, hashes the inputs into `ins`, writes the outputs. */
static int run(const char *fn, ANeuralNetworksExecution *e, char *ins, size_t cap) {
    ANeuralNetworksModel *m = e->compilation->model;
    size_t at = 0;
    ins[0] = 0;
    for (uint32_t i = 0; i < m->n_inputs; i++) {
        if (!e->in[i].set) {
            broken(fn, "input %u not set", i);
            return BAD_DATA;
        }
        uint64_t h = e->in[i].buf ? fnv1a(e->in[i].buf, e->in[i].len) : 0;
        at += (size_t)snprintf(ins + at, cap - at, i ? ",%016llx" : "%016llx",
                               (unsigned long long)h);
        if (at >= cap) at = cap - 1;
    }
    for (uint32_t k = 0; k < m->n_outputs; k++) {
        if (!e->out[k].set) {
            broken(fn, "output %u not set", k);
            return BAD_DATA;
        }
        for (uint32_t j = 0; j < m->n_outputs; j++) {
            if (j != k && overlap(&e->out[k], &e->out[j])) {
                broken(fn, "outputs %u and %u overlap", k, j);
                return BAD_DATA;
            }
        }
        for (uint32_t j = 0; j < m->n_inputs; j++) {
            if (overlap(&e->out[k], &e->in[j])) {
                broken(fn, "output %u overlaps input %u", k, j);
                return BAD_DATA;
            }
        }
    }
    bool fail = mode() == MODE_FAIL_COMPUTE;
    for (uint32_t k = 0; k < m->n_outputs; k++) {
        uint8_t *out = (uint8_t *)e->out[k].buf;
        for (size_t i = 0; out && i < e->out[k].len; i++) {
            out[i] = fail ? 0xEE : (uint8_t)(i * 37 + k * 101 + 11);
        }
    }
    return fail ? OP_FAILED : NO_ERROR;
}

#if FAKE_API >= 29
EXPORT int ANeuralNetworksExecution_compute(ANeuralNetworksExecution *execution) {
    const char *fn = "Execution_compute";
    int code = open_execution(fn, execution);
    if (code != NO_ERROR) {
        say("%s -> %d", fn, code);
        return code;
    }
    char ins[1024];
    execution->started = true;
    code = run(fn, execution, ins, sizeof ins);
    say("%s execution#%u in=[%s] -> %d", fn, execution->id, ins, code);
    return code;
}
#endif

EXPORT int ANeuralNetworksExecution_startCompute(ANeuralNetworksExecution *execution,
                                                 ANeuralNetworksEvent **event) {
    const char *fn = "Execution_startCompute";
    int code = open_execution(fn, execution);
    if (code == NO_ERROR && !event) {
        broken(fn, "NULL event out-pointer");
        code = UNEXPECTED_NULL;
    }
    if (event) *event = NULL;
    if (code != NO_ERROR) {
        say("%s -> %d", fn, code);
        return code;
    }
    char ins[1024];
    execution->started = true;
    int result = run(fn, execution, ins, sizeof ins);
    if (result != NO_ERROR && result != OP_FAILED) {
        /* Argument errors are reported at once; a failed computation through the event. */
        say("%s execution#%u in=[%s] -> %d", fn, execution->id, ins, result);
        return result;
    }
    ANeuralNetworksEvent *ev = calloc(1, sizeof *ev);
    if (!ev || !track(ev, K_EVENT)) {
        free(ev);
        say("%s -> %d", fn, OUT_OF_MEMORY);
        return OUT_OF_MEMORY;
    }
    ev->id = ++next_id;
    ev->execution = execution;
    ev->result = result;
    execution->events++;
    *event = ev;
    say("%s execution#%u in=[%s] -> 0 event#%u", fn, execution->id, ins, ev->id);
    return NO_ERROR;
}

EXPORT int ANeuralNetworksEvent_wait(ANeuralNetworksEvent *event) {
    const char *fn = "Event_wait";
    if (!event) {
        broken(fn, "NULL event");
        say("%s -> %d", fn, UNEXPECTED_NULL);
        return UNEXPECTED_NULL;
    }
    if (!is_live(event, K_EVENT)) {
        broken(fn, "not a live event: %p", (void *)event);
        say("%s -> %d", fn, BAD_DATA);
        return BAD_DATA;
    }
    say("%s event#%u -> %d", fn, event->id, event->result);
    return event->result;
}

#ifndef FAKE_DROP_EVENT_FREE
EXPORT void ANeuralNetworksEvent_free(ANeuralNetworksEvent *event) {
    const char *fn = "Event_free";
    if (!event) {
        say("%s NULL", fn);
        return;
    }
    if (!is_live(event, K_EVENT)) {
        broken(fn, "not a live event: %p", (void *)event);
        return;
    }
    if (is_live(event->execution, K_EXECUTION)) {
        event->execution->events--;
    } else {
        broken(fn, "event#%u outlived its execution", event->id);
    }
    say("%s event#%u", fn, event->id);
    untrack(event, K_EVENT);
    free(event);
}
#endif

/* ---- Devices (API 29) -------------------------------------------------------------------- */

#if FAKE_API >= 29
EXPORT int ANeuralNetworks_getDeviceCount(uint32_t *numDevices) {
    const char *fn = "getDeviceCount";
    if (!numDevices) {
        broken(fn, "NULL out-pointer");
        return UNEXPECTED_NULL;
    }
    device_list(numDevices);
    say("%s -> 0 count=%u", fn, *numDevices);
    return NO_ERROR;
}

EXPORT int ANeuralNetworks_getDevice(uint32_t devIndex, ANeuralNetworksDevice **device) {
    const char *fn = "getDevice";
    uint32_t n;
    struct ANeuralNetworksDevice *list = device_list(&n);
    if (!device) {
        broken(fn, "NULL out-pointer");
        return UNEXPECTED_NULL;
    }
    if (devIndex >= n) {
        broken(fn, "device %u of %u", devIndex, n);
        *device = NULL;
        return BAD_DATA;
    }
    *device = &list[devIndex];
    say("%s %u -> 0 %s", fn, devIndex, list[devIndex].name);
    return NO_ERROR;
}

static int open_device(const char *fn, const ANeuralNetworksDevice *d, const void *out) {
    if (!d || !out) {
        broken(fn, "NULL argument");
        return UNEXPECTED_NULL;
    }
    if (!known_device(d)) {
        broken(fn, "not a device: %p", (const void *)d);
        return BAD_DATA;
    }
    return NO_ERROR;
}

EXPORT int ANeuralNetworksDevice_getName(const ANeuralNetworksDevice *device, const char **name) {
    int code = open_device("Device_getName", device, name);
    if (code != NO_ERROR) return code;
    *name = device->name;
    say("Device_getName %s -> 0", device->name);
    return NO_ERROR;
}

EXPORT int ANeuralNetworksDevice_getType(const ANeuralNetworksDevice *device, int32_t *type) {
    int code = open_device("Device_getType", device, type);
    if (code != NO_ERROR) return code;
    *type = device->type;
    say("Device_getType %s -> 0 type=%d", device->name, device->type);
    return NO_ERROR;
}

EXPORT int ANeuralNetworksDevice_getFeatureLevel(const ANeuralNetworksDevice *device,
                                                 int64_t *featureLevel) {
    int code = open_device("Device_getFeatureLevel", device, featureLevel);
    if (code != NO_ERROR) return code;
    *featureLevel = device->level;
    say("Device_getFeatureLevel %s -> 0 level=%lld", device->name, (long long)device->level);
    return NO_ERROR;
}
#endif

#if FAKE_API >= 31
EXPORT int64_t ANeuralNetworks_getRuntimeFeatureLevel(void) {
    say("getRuntimeFeatureLevel -> %d", FAKE_API);
    return FAKE_API;
}
#endif

/* ---- At exit ------------------------------------------------------------------------------ */

__attribute__((destructor)) static void at_exit(void) {
    unsigned live = 0;
    for (int i = 0; i < MAX_LIVE; i++) {
        if (live_ptr[i]) {
            live++;
            say("LEAK %s", kind_name[live_kind[i]]);
        }
    }
    unsigned made = 0;
    for (int k = 0; k < K_COUNT; k++) made += created[k];
    say("exit live=%u created=%u errors=%u", live, made, errors);
}
