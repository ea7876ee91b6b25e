/* Built-in architectures, as declarative descriptions (grammar: model.c).
 * Adding one is adding a row. */
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
static pthread_once_t vgg_once = PTHREAD_ONCE_INIT;

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
    pthread_once(&vgg_once, build_vgg);
    for (int v = 0; v < 4; v++)
        if (!strcmp(name, VGG_NAMES[v])) return vgg_desc[v];
    for (size_t i = 0; i < sizeof BUILTIN / sizeof BUILTIN[0]; i++)
        if (!strcmp(BUILTIN[i].name, name)) return BUILTIN[i].description;
    return NULL;
}
