/* The network: layers built from a declarative description, parameters and
 * gradients in one contiguous arena, activations planned per input shape.
 * Internal header (the public API is vg_model_* in voxgender.h). */
#ifndef VG_NN_MODEL_H
#define VG_NN_MODEL_H
#include "layers.h"
#include "voxgender.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    L_CONV, L_BN, L_RELU, L_MAXPOOL, L_AVGPOOL, L_GAP, L_TIMEPOOL, L_TIMESTATS, L_LIFTER, L_FLATTEN,
    L_DROPOUT, L_LINEAR, L_LOGSOFTMAX, L_ADD
} layer_kind;

typedef struct nn_layer {
    layer_kind kind;
    char name[48];            /* parameter prefix ("conv1", "features.0") */
    /* hyperparameters from the description */
    int out;                  /* conv output channels / linear outputs / lifter coefficients */
    int kh, kw, sh, sw, ph, pw;
    int bias;
    float p;                  /* dropout probability */
    float eps, momentum;      /* batch norm */
    /* wiring: the layer reads the output of layer SRC (-1 = the network
     * input; by default the previous layer); L_ADD adds layer OTHER's output
     * to it (a residual connection). KEEP: the output is read by a layer
     * other than the next one, so inference must not reuse its buffer. */
    int src, other, keep;
    /* parameter offsets (floats) into the arena; -1 when absent */
    long w, b, rmean, rvar;
    /* shapes for the current plan: input [N, ic, ih, iw] -> output [N, oc, oh, ow] */
    int ic, ih, iw, oc, oh, ow;
    /* activation-arena offsets for the current plan */
    size_t y, save;           /* output; in training, dropout's mask or a
                                 max-pool's input at each argmax (fused groups) */
    size_t argmax;            /* int32 arena offset (maxpool) */
    size_t bn_stats;          /* offset of mean[C], invstd[C] (bn, training) */
    int frozen;               /* parameters fixed; batch norm runs in inference mode */
    /* inference plan, on a conv: the conv -> bn -> relu -> 2x2 max-pool that
     * starts here runs as one layer, the pool's output in the conv's buffer */
    int pool_fused;
    /* training pass, on a conv: its batch norm and ReLU (2), and the 2x2
     * max-pool after them (3), ran as one pass (forward_bn_relu_pool_train)
     * and the backward pass runs them so; 0: layer by layer */
    int train_fused;
    /* the Winograd paths, on a conv (conv2d_winograd.c): a copy of the
     * weights each was made from, then the transform of the forward
     * convolution (WINO) or of the one that makes the input gradient
     * (WINO_DX: weights flipped, channels swapped); NULL until used */
    float *wino, *wino_dx;
} nn_layer;

/* A named tensor of the model file: a parameter (trainable) or a buffer. */
typedef struct nn_tensor {
    char name[64];
    int ndim;
    int shape[4];
    long offset;              /* into the arena (params) */
    size_t count;
    int is_buffer;            /* running stats: saved, not trained */
    int frozen;               /* excluded from optimisation */
    int layer;
} nn_tensor;

typedef struct nn_meta {
    char *key, *value;
} nn_meta;

/* A plan's buffer and its size in bytes (nn_plan keeps it while large
 * enough for the next plan) */
typedef struct plan_room {
    void *p;
    size_t size;
} plan_room;
enum { ROOM_ACT, ROOM_DACT, ROOM_IACT, ROOM_COL, ROOM_SCRATCH, ROOM_WTMP, ROOM_DINPUT, ROOM_GTMP, ROOM_GDONE, ROOMS };

struct vg_model {
    char *arch;               /* the description the model was built from */
    nn_layer *layers;
    int n_layers;
    int in_c, in_h, in_w;     /* declared input (0 = any size) */
    int n_classes;

    nn_tensor *tensors;
    int n_tensors;
    float *arena;             /* [n_arena] params and buffers, then [n_arena] grads */
    float *grads;             /* = arena + n_arena */
    size_t n_arena, n_trainable;

    nn_meta *meta;
    int n_meta;

    /* plan for the current input shape; the pointers below point into
     * ROOM, the buffers the model owns (NULL where the plan needs none) */
    plan_room room[ROOMS];
    int plan_n, plan_h, plan_w, plan_training;
    float *act, *dact;        /* activations and their gradients */
    size_t n_act;
    int32_t *iact;            /* maxpool indices */
    size_t n_iact;
    float *col;               /* im2col workspace, one per thread */
    size_t n_col;             /* floats per thread */
    float *scratch;           /* one per thread: inference, a conv block before its fused pool;
                                 training, a sample's conv output gradient (conv_backward) */
    size_t n_scratch;         /* floats per thread */
    float *wtmp;              /* conv weight-gradient accumulators, one per chunk of samples */
    size_t n_wtmp;            /* floats per chunk */
    int n_threads;            /* threads of the current plan */
    int batch_parallel;       /* the plan's passes run a sample (or block) per thread
                                 with BLAS single-threaded: on n_threads > 1, and in
                                 training of a network large enough for it even on
                                 one thread (OpenBLAS's threads would change the
                                 GEMMs' bits), so that the thread count does not
                                 change the weights */
    float *dinput;            /* gradient w.r.t. the network input */
    float *gtmp;              /* a layer-input gradient to add to another (branches) */
    int *gdone;               /* [n_layers + 1]: output gradient written (index + 1) */
    int start;                /* first layer of the current pass */
    int end;                  /* one past the last layer of the current pass */
    uint64_t rng;             /* dropout stream */
    int unfused_training;     /* run training's layers one by one (tests compare) */
    /* The plan's buffers and the lazily made Winograd weights are the
     * model's, so two threads' passes on one model must take turns: the
     * public inference calls (vg_model_forward, vg_model_macs) hold this. */
    pthread_mutex_t lock;
};

/* Build from a description; parameters zero. Returns VG_OK or an error with
 * a reason in ERR (may be NULL). */
int nn_build(const char *arch, vg_model **out, char *err, size_t errlen);
/* Initialise parameters randomly (He-normal convolutions, PyTorch-default
 * linear layers, unit batch norm). */
void nn_init_params(vg_model *m, uint64_t seed);
/* Prepare activation buffers for [n, in_c, h, w]. */
int nn_plan(vg_model *m, int n, int h, int w, int training);
/* Forward pass; returns the logits [n, n_classes] (inside the model). */
const float *nn_forward(vg_model *m, const float *x, int n, int h, int w, int training);
/* Forward from layer START, whose input X is the output of layer START-1
 * (the network input when START is 0); H and W are the network input's. */
const float *nn_forward_from(vg_model *m, const float *x, int n, int h, int w, int training, int start);
/* Backward pass from dlogits after nn_forward(training=1); accumulates into
 * m->grads and, if WANT_DINPUT, fills m->dinput. X is what the forward pass
 * started from. Stops at the first layer with trainable parameters when no
 * input gradient is wanted. */
void nn_backward(vg_model *m, const float *x, const float *dlogits, int want_dinput);
/* Inference through layers [0, END) only; returns the output of layer END-1
 * (valid until the next pass). */
const float *nn_forward_prefix(vg_model *m, const float *x, int n, int h, int w, int end);
/* Freeze (1) or unfreeze (0) the convolution and batch-norm layers. */
void nn_freeze_features(vg_model *m, int frozen);
/* Whether a pass may start at layer START given only layer START-1's output
 * (no later layer reads an earlier output). */
int nn_can_start_at(const vg_model *m, int start);
/* Index of the first layer with trainable (unfrozen) parameters. */
int nn_first_trainable(const vg_model *m);
void nn_zero_grad(vg_model *m);
/* ARCH (a description) with K outputs in its last linear layer; NULL if it
 * has none. Caller frees. */
char *nn_arch_with_classes(const char *arch, int k);
/* A torchvision-named ResNet (BasicBlock) description in D[N]: STAGES stages
 * of BLOCKS[s] blocks of WIDTHS[s] channels on 3 x IN_SIZE x IN_SIZE images.
 * Returns -1 if N is too small. resnet18 is {64,128,256,512} x {2,2,2,2}. */
int nn_resnet_description(char *d, size_t n, int stages, const int *widths, const int *blocks,
                          int in_size, int classes);
nn_tensor *nn_find_tensor(vg_model *m, const char *name);
#endif
