/* Built-in architectures, as declarative descriptions (grammar: model.c).
 * Adding one is adding a row. */
#include "model.h"
#include "voxgender.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* torchvision's VGG configurations (make_layers): channel counts, 0 = max-pool.
 * Parameter names follow torchvision (features.N, classifier.0/3/6), so an
 * ImageNet state_dict imports as is. Input 3x224x224, where the adaptive
 * average pool to 7x7 is the identity. */
static const int VGG_CFG[4][21] = {
    {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0, -1},
    {64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0, -1},
    {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0, -1},
    {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0}};
static const char *VGG_NAMES[4] = {"vgg11", "vgg13", "vgg16", "vgg19"};
static char vgg_desc[4][2048];

static void build_vgg(void)
{
    for (int v = 0; v < 4; v++) {
        char *d = vgg_desc[v];
        size_t n = sizeof vgg_desc[v], used = (size_t)snprintf(d, n, "input 3 224 224");
        int idx = 0;
        for (int k = 0; k < 21 && VGG_CFG[v][k] >= 0; k++) {
            if (VGG_CFG[v][k] == 0) {
                used += (size_t)snprintf(d + used, n - used, "; maxpool k=2");
                idx += 1;
            } else {
                used += (size_t)snprintf(d + used, n - used, "; features.%d: conv %d k=3 p=1; relu", idx,
                                         VGG_CFG[v][k]);
                idx += 2;
            }
        }
        snprintf(d + used, n - used,
                 "; flatten; classifier.0: linear 4096; relu; dropout p=0.5; classifier.3: linear 4096; "
                 "relu; dropout p=0.5; classifier.6: linear 1000");
    }
}

/* torchvision's ResNet with BasicBlocks (resnet18: widths 64..512, two
 * blocks per stage), with its parameter names (conv1, bn1, layerS.B.conv1,
 * .bn1, .conv2, .bn2, .downsample.0/1, fc). Each block's output ReLU carries
 * the block's name, so the next block's shortcut can refer to it. */
int nn_resnet_description(char *d, size_t n, int stages, const int *widths, const int *blocks,
                          int in_size, int classes)
{
    size_t used = (size_t)snprintf(d, n,
                                   "input 3 %d %d; conv1: conv %d k=7 s=2 p=3 bias=0; bn1: bn; relu; "
                                   "maxpool: maxpool k=3 s=2 p=1",
                                   in_size, in_size, widths[0]);
    char in[32] = "maxpool";
    int planes_in = widths[0];
    for (int s = 0; s < stages; s++)
        for (int b = 0; b < blocks[s]; b++) {
            char name[32];
            snprintf(name, sizeof name, "layer%d.%d", s + 1, b);
            const int w = widths[s], stride = s > 0 && b == 0 ? 2 : 1;
            used += (size_t)snprintf(d + used, used < n ? n - used : 0,
                                     "; %s.conv1: conv %d k=3 s=%d p=1 bias=0; %s.bn1: bn; relu; "
                                     "%s.conv2: conv %d k=3 p=1 bias=0; %s.bn2: bn",
                                     name, w, stride, name, name, w, name);
            if (stride != 1 || planes_in != w)   /* projection shortcut */
                used += (size_t)snprintf(d + used, used < n ? n - used : 0,
                                         "; %s.downsample.0: conv %d k=1 s=%d bias=0 from=%s; "
                                         "%s.downsample.1: bn; add %s.bn2",
                                         name, w, stride, in, name, name);
            else
                used += (size_t)snprintf(d + used, used < n ? n - used : 0, "; add %s", in);
            used += (size_t)snprintf(d + used, used < n ? n - used : 0, "; %s: relu", name);
            snprintf(in, sizeof in, "%s", name);
            planes_in = w;
        }
    used += (size_t)snprintf(d + used, used < n ? n - used : 0, "; gap; flatten; fc: linear %d", classes);
    return used < n ? 0 : -1;
}

static char resnet18_desc[4096];

/* The generated descriptions, written once on first use. */
static pthread_once_t generated_once = PTHREAD_ONCE_INIT;
static void build_generated(void)
{
    build_vgg();
    const int widths[4] = {64, 128, 256, 512}, blocks[4] = {2, 2, 2, 2};
    nn_resnet_description(resnet18_desc, sizeof resnet18_desc, 4, widths, blocks, 224, 1000);
}

static const struct { const char *name, *description; } BUILTIN[] = {
    /* The reference project's "handmade" CNN (LeNet-5 shape) on 3x32x32
     * images, with its PyTorch parameter names. */
    {"lenet",
     "input 3 32 32; conv1: conv 6 k=5; relu; maxpool k=2; conv2: conv 16 k=5; relu; "
     "maxpool k=2; flatten; fc1: linear 120; relu; fc2: linear 84; relu; fc3: linear 2"},
    /* voxgender's default: 1x128xT log-mel of any length T. A stride-2 stem
     * halves both axes cheaply; four 3x3 conv+BN+ReLU blocks (three with 2x2
     * max-pooling) reach 128 channels on an 8-band x T/16 grid; averaging over
     * time only keeps the frequency axis, since where the energy sits in
     * frequency (pitch, formants) is the cue; dropout, then 1024 -> 2. */
    {"cnn",
     "input 1 128 0; "
     "conv1: conv 16 k=3 s=2 p=1 bias=0; bn1: bn; relu; "
     "conv2: conv 32 k=3 p=1 bias=0; bn2: bn; relu; maxpool k=2; "
     "conv3: conv 64 k=3 p=1 bias=0; bn3: bn; relu; maxpool k=2; "
     "conv4: conv 128 k=3 p=1 bias=0; bn4: bn; relu; maxpool k=2; "
     "conv5: conv 128 k=3 p=1 bias=0; bn5: bn; relu; "
     "timepool; flatten; dropout p=0.3; fc: linear 2"},
};

const char *vg_arch_builtin(const char *name)
{
    if (!name) return NULL;
    pthread_once(&generated_once, build_generated);
    for (int v = 0; v < 4; v++)
        if (!strcmp(name, VGG_NAMES[v])) return vgg_desc[v];
    if (!strcmp(name, "resnet18")) return resnet18_desc;
    for (size_t i = 0; i < sizeof BUILTIN / sizeof BUILTIN[0]; i++)
        if (!strcmp(BUILTIN[i].name, name)) return BUILTIN[i].description;
    return NULL;
}
