/* Built-in architectures, as declarative descriptions (grammar: model.c).
 * Adding one is adding a row. */
#include "voxgender.h"

#include <string.h>

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
    for (size_t i = 0; i < sizeof BUILTIN / sizeof BUILTIN[0]; i++)
        if (!strcmp(BUILTIN[i].name, name)) return BUILTIN[i].description;
    return NULL;
}
