/* Layer kernels: forward_* / backward_* pairs on NCHW float32 tensors.
 *
 * Conventions (as llm.c / darknet):
 *   - shapes are in each prototype's comment; N = batch.
 *   - backward_* ACCUMULATES (+=) into parameter gradients (dw, db) so that a
 *     model can zero them once per step; it OVERWRITES the input gradient dx.
 *   - dx may be NULL when the input needs no gradient (first layer).
 * Convolution and linear layers lower to BLAS sgemm; the rest is plain C. */
#ifndef VG_NN_LAYERS_H
#define VG_NN_LAYERS_H
#include "../util/rng.h"   /* rng_next, rng_uniform, rng_normal */

#include <stddef.h>
#include <stdint.h>

/* ---- conv2d: x[N,C,H,W] * w[OC,C,KH,KW] (+ b[OC]) -> y[N,OC,OH,OW]
 * OH = (H + 2*PH - KH) / SH + 1, OW likewise. col: workspace of
 * conv_col_size_forward(s) floats for the forward pass (im2col of a block of
 * output rows), conv_col_size(s) for the backward pass (of one sample). b may
 * be NULL. */
typedef struct conv_shape {
    int n, c, h, w;        /* input */
    int oc, kh, kw, sh, sw, ph, pw;
    int oh, ow;            /* output, filled by conv_shape_init */
} conv_shape;
int conv_shape_init(conv_shape *s);   /* 0, or -1 if the output would be empty */
size_t conv_col_size(const conv_shape *s);           /* backward's (and training's) workspace */
size_t conv_col_size_forward(const conv_shape *s);   /* forward's (smaller) */
void forward_conv2d(float *y, const float *x, const float *w, const float *b,
                    const conv_shape *s, float *col);
/* The same with ROWS output rows lowered at a time (col: C*KH*KW*ROWS*OW). */
void forward_conv2d_rows(float *y, const float *x, const float *w, const float *b,
                         const conv_shape *s, float *col, int rows);
/* Output rows [OY0, OY1) of one sample (x[C,H,W] -> y[OC,OH,OW]), lowering
 * only those rows into COL (conv_col_size_forward(s) floats when the block
 * has at most conv_forward_block_rows(s) rows). Blocks are independent:
 * threads can share a sample. */
int conv_forward_block_rows(const conv_shape *s);
void forward_conv2d_block(float *y, const float *x, const float *w, const float *b,
                          const conv_shape *s, float *col, int oy0, int oy1);
/* The same block written to yb[OC, (OY1-OY0)*OW] whose channel rows are LDY
 * floats apart (forward_conv2d_block: yb = y + OY0*OW, LDY = OH*OW; a
 * scratch block: LDY = (OY1-OY0)*OW). */
void forward_conv2d_block_to(float *yb, size_t ldy, const float *x, const float *w, const float *b,
                             const conv_shape *s, float *col, int oy0, int oy1);
/* The whole convolution without lowering, for small stride-1 unpadded layers (see
 * conv_direct_suits); forward_conv2d uses it by itself where it suits. */
int conv_direct_suits(const conv_shape *s);
void forward_conv2d_direct(float *y, const float *x, const float *w, const float *b, const conv_shape *s);
/* Training's direct path for padded stride-1 layers with few output
 * channels (conv2d_direct.c): forward, and the input gradient (which
 * backward_conv2d takes by itself where it suits), each on a copy of the
 * sample with its zero border, in SCRATCH of conv_direct_train_scratch(s)
 * floats (0 when neither suits; conv_col_size(s) covers it). */
int conv_direct_train_suits(const conv_shape *s);
int conv_direct_dx_suits(const conv_shape *s);
size_t conv_direct_train_scratch(const conv_shape *s);
void forward_conv2d_direct_train(float *y, const float *x, const float *w, const float *b, const conv_shape *s,
                                 float *scratch);
/* Inference's use of the same path (conv_direct_train_suits), by blocks of
 * output rows: conv_direct_prepare makes one sample's bordered copy and the
 * packed weights in SCRATCH (conv_direct_train_scratch(s) floats); then
 * forward_conv2d_direct_rows writes output rows [OY0, OY1) of that sample
 * to yb[OC, (OY1-OY0)*OW], channel rows LDY floats apart (as
 * forward_conv2d_block_to), with the same bits as the whole-sample call.
 * Blocks are independent: threads can share a prepared sample. */
void conv_direct_prepare(float *scratch, const float *x, const float *w, const conv_shape *s);
void forward_conv2d_direct_rows(float *yb, size_t ldy, const float *scratch, const float *b, const conv_shape *s,
                                int oy0, int oy1);
/* 3x3 stride-1 padding-1 layers by Winograd F(4x4,3x3), in inference and in training
 * (conv2d_winograd.c): conv_winograd_shape says whether S is such a layer,
 * conv_winograd_available whether this CPU takes the path (wherever AVX2
 * and FMA are, AVX-512 CPUs included; the environment's VOXGENDER_WINOGRAD=0
 * never, read once per process; a
 * test that forces the baseline direct kernels turns it off). The weights'
 * transform u (conv_winograd_weights_size floats) is made once per weights
 * by conv_winograd_weights; one sample's bordered, phase-split copy PREP
 * (conv_winograd_prep_size) by conv_winograd_prepare; then
 * forward_conv2d_winograd_rows writes output rows [OY0, OY1) (OY0 a
 * multiple of 4, OY1 <= OH) to yb[OC, (OY1-OY0)*OW], channel rows LDY floats apart,
 * with WORK of conv_winograd_work_size floats. Blocks are independent.
 * EP (or NULL): inference's batch norm + ReLU applied to each output,
 * y = max(0, y * ss[o] + ss[OC + o]), and with POOLED the 2x2 stride-2
 * max-pool after them, so that yb receives the pooled rows
 * [OY0/2, OY1/2) of the pooled output [OC, OH/2, OW/2] instead (OY0 then
 * a multiple of 4 still): in registers, one store per pooled value. */
typedef struct winograd_epilogue {
    const float *ss;          /* scale[OC], then shift[OC] */
    int pooled;
} winograd_epilogue;
int conv_winograd_shape(const conv_shape *s);
int conv_winograd_available(void);
size_t conv_winograd_weights_size(const conv_shape *s);
size_t conv_winograd_prep_size(const conv_shape *s);
size_t conv_winograd_work_size(const conv_shape *s);
void conv_winograd_weights(float *u, const float *w, const conv_shape *s);
void conv_winograd_prepare(float *prep, const float *x, const conv_shape *s);
/* the same for channels [C0, C1) only: threads may share one sample's copy */
void conv_winograd_prepare_channels(float *prep, const float *x, const conv_shape *s, int c0, int c1);
/* or rows [Y0, Y1) of the bordered copy (row 0 the top border; Y1 past
 * the copy's end is clipped), every channel: output rows 4k.. read
 * bordered rows 4k .. 4k+5 */
void conv_winograd_prepare_rows(float *prep, const float *x, const conv_shape *s, int y0, int y1);
void forward_conv2d_winograd_rows(float *yb, size_t ldy, const float *prep, const float *u, const float *b,
                                  const winograd_epilogue *ep, const conv_shape *s, int oy0, int oy1, float *work);
/* A whole sample at once, output channels [OC0, OC1) only (OC0 a multiple
 * of 8; OC1 too, or OC), with the epilogue EP as above: y (row 0, or pooled
 * row 0) and LDY as for the rows, WORK of conv_winograd_sample_work_size
 * floats. For layers whose rows of tiles are a single vector
 * (conv_winograd_by_sample: cnn's conv5), where a row alone leaves the
 * kernel only its narrowest block and reads all the weights' transform
 * for 8 tiles: the sample's rows together make wider blocks, and threads
 * share a sample by output channels. Same bits as by rows. */
int conv_winograd_by_sample(const conv_shape *s);
size_t conv_winograd_sample_work_size(const conv_shape *s);
void forward_conv2d_winograd_sample(float *y, size_t ldy, const float *prep, const float *u, const float *b,
                                    const winograd_epilogue *ep, const conv_shape *s, int oc0, int oc1, float *work);
/* The tiles of S's output: TW across (rounded up to whole vectors of 8),
 * TH down. conv_winograd_input_tiles writes the transform of tile row TY
 * of the input copy PREP (conv_winograd_prepare with S):
 * V[xi*XS + c*CS + t] = (B^T d B)[xi/6][xi%6] of channel c's tile t;
 * conv_winograd_grad_tiles that of an output gradient's copy (made with
 * T = conv_transposed(S)): D[xi*XS + o*CS + t] = (A g A^T)[xi/6][xi%6] of
 * channel o's 4x4 tile t, zero past the output. The weight gradient is
 * G^T (sum over tiles of D (.) V) G (conv2d_winograd_dw.c). */
void conv_winograd_tiles(const conv_shape *s, int *tw, int *th);
void conv_winograd_input_tiles(float *V, size_t xs, size_t cs, const float *prep, const conv_shape *s, int ty);
void conv_winograd_grad_tiles(float *D, size_t xs, size_t cs, const float *prep, const conv_shape *t, int ty);
/* The weight gradient of a Winograd layer S by the same transforms
 * (conv2d_winograd_dw.c), sample by sample: conv_winograd_dw_begin takes
 * SUMS (conv_winograd_dw_sums_size floats, zeroed here) and WORK
 * (conv_winograd_dw_work_size floats), both the caller's and in use until
 * conv_winograd_dw_finish; conv_winograd_dw_add adds sample X[C,H,W] with
 * its output gradient's copy DY_PREP (conv_winograd_prepare with
 * conv_transposed(S), as the input gradient's Winograd pass makes it).
 * Sums of several such runs may be added together; then
 * conv_winograd_dw_gradient adds their weight gradient to dw[OC,C,3,3]
 * for the (output, input) channel pairs [P0, P1) of OC x C (o * C + c),
 * so that threads can share it. The bias gradient is not made here. */
typedef struct winograd_dw {
    conv_shape s, t;
    float *M, *prep, *V, *D;
    size_t vxs, dxs;   /* floats between V's and D's 36 planes */
    int k, cap;        /* tiles buffered in V and D, and their room */
} winograd_dw;
size_t conv_winograd_dw_sums_size(const conv_shape *s);
size_t conv_winograd_dw_work_size(const conv_shape *s);
void conv_winograd_dw_begin(winograd_dw *w, float *sums, float *work, const conv_shape *s);
void conv_winograd_dw_add(winograd_dw *w, const float *x, const float *dy_prep);
void conv_winograd_dw_finish(winograd_dw *w);
void conv_winograd_dw_gradient(float *dw, const float *sums, const conv_shape *s, size_t p0, size_t p1);
/* Inference of a stem convolution (conv2d_stem.c): 3x3, stride 2, padding
 * 1, at most 4 input channels, output channels a multiple of 4, on CPUs
 * with AVX2 (conv_stem_suits). forward_conv2d_stem_rows writes output rows
 * [OY0, OY1) of one sample y[OC,OH,OW] from x[C,H,W], with EPI (NULL, or
 * scale[OC] then shift[OC]: inference's batch norm + ReLU) applied, using
 * SCRATCH of conv_stem_scratch_size floats. */
int conv_stem_suits(const conv_shape *s);
size_t conv_stem_scratch_size(const conv_shape *s);
void forward_conv2d_stem_rows(float *y, const float *x, const float *w, const float *b, const float *epi,
                              const conv_shape *s, int oy0, int oy1, float *scratch);
/* The stride-1 convolution whose output is S's input gradient (S stride
 * 1): channels swapped, padding K-1-P, the weights flipped in both axes. */
conv_shape conv_transposed(const conv_shape *s);
/* dx[N,C,H,W] = the input gradient of dy[N,OC,OH,OW] (conv_direct_dx_suits) */
void backward_conv2d_direct_dx(float *dx, const float *dy, const float *w, const conv_shape *s, float *scratch);
/* dw[OC,C,KH,KW] += the weight gradient (conv_direct_train_suits) */
void backward_conv2d_direct_dw(float *dw, const float *dy, const float *x, const conv_shape *s, float *scratch);
/* The direct kernels are compiled for AVX-512, for AVX2 with FMA and for
 * the baseline; each call takes the best this CPU has (CONV_ISA_AUTO). For
 * tests: force one set; -1 if this CPU or build lacks it. Not thread-safe:
 * only while no convolution runs. */
enum { CONV_ISA_AUTO, CONV_ISA_BASE, CONV_ISA_AVX2, CONV_ISA_AVX512 };
/* the instruction set the direct kernels run on now (never CONV_ISA_AUTO) */
int conv_direct_isa(void);
int conv_direct_set_isa(int isa);
/* dw[OC,C,KH,KW] += ..., db[OC] += ..., dx[N,C,H,W] = ... */
void backward_conv2d(float *dx, float *dw, float *db, const float *dy, const float *x,
                     const float *w, const conv_shape *s, float *col);
/* db[OC] += the sums of one sample's dy[OC][P] (backward_conv2d's, and the
 * Winograd training path's) */
void backward_conv2d_bias(float *db, const float *dy, int oc, int p);

/* ---- linear: x[N,IN] @ w[OUT,IN]^T + b[OUT] -> y[N,OUT]; b may be NULL */
void forward_linear(float *y, const float *x, const float *w, const float *b,
                    int n, int in, int out);
/* dw[OUT,IN] += dy^T x, db[OUT] += sum dy, dx[N,IN] = dy w */
void backward_linear(float *dx, float *dw, float *db, const float *dy, const float *x,
                     const float *w, int n, int in, int out);

/* ---- pooling over x[N,C,H,W] with kernel KH x KW, stride SH x SW, floor
 * mode: y[N,C,OH,OW], OH = (H + 2*PH - KH) / SH + 1. Padding (max-pool only,
 * PH <= KH/2 as PyTorch requires) never wins a maximum: it is -inf, as in
 * ResNet's stem. maxpool records argmax[N,C,OH,OW] (index in the H*W plane;
 * the first maximum wins, as in PyTorch) unless argmax is NULL (inference).
 * y may be x itself for the 2x2 stride-2 unpadded pool only. */
typedef struct pool_shape {
    int n, c, h, w, kh, kw, sh, sw, oh, ow;
    int ph, pw;
} pool_shape;
int pool_shape_init(pool_shape *s);
void forward_maxpool(float *y, int32_t *argmax, const float *x, const pool_shape *s);
void backward_maxpool(float *dx, const float *dy, const int32_t *argmax, const pool_shape *s);
/* 2x2 stride-2 max of one plane's rows: x[2*OH, W] -> y[OH, OW], no argmax
 * (inference; the fused conv -> bn -> relu -> maxpool epilogue). */
void maxpool_2x2_rows(float *y, const float *x, int w, int ow, int oh);
/* One output row of the 2x2 stride-2 pool with its argmax: input rows R0
 * and R1 (rows 2*oy and 2*oy+1 of a plane W wide, R0 starting at plane
 * index I0) -> y[OW], argmax[OW] (plane indices, the first maximum wins). */
void maxpool_2x2_argmax_row(float *y, int32_t *argmax, const float *r0, const float *r1, int ow,
                            int w, int i0);
void forward_avgpool(float *y, const float *x, const pool_shape *s);
void backward_avgpool(float *dx, const float *dy, const pool_shape *s);

/* ---- global average pool: x[N,C,H,W] -> y[N,C,1,1] (over_h = 1) or
 * y[N,C,H,1] (over_h = 0: mean over time only, keeps the frequency axis). */
void forward_global_avgpool(float *y, const float *x, int n, int c, int h, int w, int over_h);
void backward_global_avgpool(float *dx, const float *dy, int n, int c, int h, int w, int over_h);

/* ---- statistics pooling over time: x[N,C,H,W] -> y[N,C,H,2], each row's
 * mean and standard deviation sqrt(var + 1e-5) (biased variance) over W, as
 * x-vector speaker embeddings pool: how much a band varies over time
 * (intonation, voicing) and not only its average level. Backward reads the
 * input x and the output y: dx = dmean / W + dstd (x - mean) / (W std). */
#define TIME_STATS_EPS 1e-5
void forward_time_stats(float *y, const float *x, int n, int c, int h, int w);
void backward_time_stats(float *dx, const float *dy, const float *x, const float *y, int n, int c,
                         int h, int w);

/* ---- cepstral lifter over H: x[N,C,H,W] -> y[N,C,H,W], every column
 * reduced to its K lowest DCT-II coefficients and transformed back (the
 * spectral envelope of a log-mel column, without the pitch harmonics'
 * ripple). A symmetric projection: backward applies it to dy. WORK holds
 * LIFTER_WORK(h, w, k) floats. */
#define LIFTER_WORK(h, w, k) ((size_t)(k) * ((size_t)(h) + (size_t)(w)))
void forward_lifter(float *y, const float *x, float *work, int n, int c, int h, int w, int k);
void backward_lifter(float *dx, const float *dy, float *work, int n, int c, int h, int w, int k);

/* ---- relu, element-wise over COUNT values; backward uses the output y. */
void forward_relu(float *y, const float *x, size_t count);
void backward_relu(float *dx, const float *dy, const float *y, size_t count);

/* ---- batch normalisation over x[N,C,HW] per channel C.
 * Training: normalise with the batch mean and biased variance, save
 * stats[2C] = the batch mean[C] then invstd[C], and update running_mean/var
 * with MOMENTUM using the unbiased variance (PyTorch's rule). The backward
 * pass recomputes xhat from x and these stats, bit for bit as the forward
 * did, rather than keeping an N*C*HW copy: one write stream fewer per
 * layer. Inference: use the running stats. */
void forward_batchnorm_train(float *y, float *stats, float *running_mean, float *running_var,
                             const float *x, const float *gamma, const float *beta,
                             int n, int c, int hw, float eps, float momentum);
/* Channel CH's batch statistics as forward_batchnorm_train makes them:
 * stats[CH] = mean, stats[C + CH] = invstd; running stats updated when given. */
void batchnorm_channel_stats(float *stats, float *running_mean, float *running_var,
                             const float *x, int n, int c, int hw, int ch, float eps, float momentum);
void forward_batchnorm_eval(float *y, const float *x, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var,
                            int n, int c, int hw, float eps);
/* Inference's batch norm is y = x * scale + shift per channel: channel CH's
 * coefficients, as forward_batchnorm_eval uses them (and the fused
 * conv + batch norm + ReLU of inference, which must give the same bits). */
void batchnorm_eval_coefficients(float *scale, float *shift, const float *gamma, const float *beta,
                                 const float *running_mean, const float *running_var, int ch, float eps);
/* dgamma[C] += ..., dbeta[C] += ..., dx[N,C,HW] = ...; x and stats are the
 * forward pass's input and saved statistics */
void backward_batchnorm(float *dx, float *dgamma, float *dbeta, const float *dy,
                        const float *x, const float *stats, const float *gamma,
                        int n, int c, int hw);

/* ---- training's batch norm -> ReLU [-> 2x2/2 max-pool] as one pass over a
 * convolution's output x[N,C,H,W], and its backward: the normalised
 * activations are never stored, nor with a pool the rectified ones. Forward: the batch statistics,
 * running stats and stats[2C] exactly as forward_batchnorm_train makes them;
 * without a pool (pool_y NULL) relu_y[N,C,H,W] = relu(bn(x)); with one,
 * pool_y[N,C,H/2,W/2] and argmax (index in the H*W plane, the first maximum
 * as in forward_maxpool) of relu(bn(x)), pool_x[N,C,H/2,W/2] = x at each
 * argmax (for the backward pass's sums), and relu_y is not written.
 * Backward: dy is the gradient of the group's output y, relu_y without a
 * pool (argmax and pool_x NULL) or pool_y with one; accumulates dgamma[C], dbeta[C]
 * and writes dx[N,C,H,W] (skipped when dx is NULL). The ReLU's mask is
 * y > 0: with a pool, the pooled value is the ReLU's output at the argmax.
 * The forward pass, and the backward pass without a pool, give the same
 * bits as the separate layers (forward_batchnorm_train, forward_relu,
 * forward_maxpool and their backward passes); with a pool the backward sums
 * run over the pooled grid, in another order. WORK is per-thread scratch. */
typedef struct bn_work {
    float *buf;               /* threads x stride floats, stride >= H*W */
    size_t stride;
    int threads;              /* the passes run on this many threads */
} bn_work;
void forward_bn_relu_pool_train(float *relu_y, float *pool_y, int32_t *argmax, float *pool_x, float *stats,
                                float *running_mean, float *running_var, const float *x,
                                const float *gamma, const float *beta, int n, int c, int h, int w,
                                float eps, float momentum, const bn_work *work);
/* dx may be NULL: then only dgamma, dbeta and COEF[3C] (per channel
 * gamma*invstd, the mean gradient, the mean of gradient x xhat; COEF may
 * be NULL) are made, and bn_relu_pool_grad_sample makes sample I's
 * dx[C,H,W] from them where it is used, the same bits as dx here. */
void backward_bn_relu_pool(float *dx, float *dgamma, float *dbeta, float *coef, const float *dy,
                           const float *x, const float *y, const int32_t *argmax, const float *pool_x,
                           const float *stats, const float *gamma, int n, int c, int h, int w,
                           const bn_work *work);
void bn_relu_pool_grad_sample(float *dx, const float *coef, const float *dy, const float *x, const float *y,
                              const int32_t *argmax, const float *stats, int i, int c, int h, int w);

/* ---- dropout: mask[COUNT] is 0 or 1/(1-p), drawn from RNG_STATE. */
void forward_dropout(float *y, float *mask, const float *x, size_t count, float p,
                     uint64_t *rng_state);
void backward_dropout(float *dx, const float *dy, const float *mask, size_t count);

/* ---- log-softmax over rows: x[N,K] -> y[N,K] */
void forward_logsoftmax(float *y, const float *x, int n, int k);
void backward_logsoftmax(float *dx, const float *dy, const float *y, int n, int k);

/* ---- softmax cross-entropy, mean over the batch, optionally class-weighted
 * (weights[K] or NULL; weighted mean = sum w[y_i] l_i / sum w[y_i], as
 * PyTorch's CrossEntropyLoss). Returns the loss; dlogits[N,K] = dL/dlogits
 * (may be NULL). probs[N,K] receives the softmax (may be NULL). */
float softmax_cross_entropy(float *dlogits, float *probs, const float *logits,
                            const int *labels, const float *class_weights, int n, int k);

#endif
