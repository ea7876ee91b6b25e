"""The networks in PyTorch, with voxgender's parameter names, for the
reference scripts (tests/ref/) and the benchmark peer (bench/torch_nn.py)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet(nn.Module):
    """The reference project's "handmade" CNN on 3x32x32 images (its names:
    conv1, conv2, fc1, fc2, fc3)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 2)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class CNN(nn.Module):
    """voxgender's 'cnn' (src/nn/arch.c). DROPOUT None leaves the dropout
    layer out (the C gradient tests set its p to 0)."""

    def __init__(self, dropout=None):
        super().__init__()
        chans = [(1, 16), (16, 32), (32, 64), (64, 128), (128, 128)]
        for i, (a, b) in enumerate(chans, 1):
            setattr(self, f"conv{i}", nn.Conv2d(a, b, 3, 2 if i == 1 else 1, 1, bias=False))
            setattr(self, f"bn{i}", nn.BatchNorm2d(b))
        self.drop = nn.Dropout(dropout) if dropout is not None else nn.Identity()
        self.fc = nn.Linear(1024, 2)

    def forward(self, x):
        for i in range(1, 6):
            x = F.relu(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x)))
            if i in (2, 3, 4):
                x = F.max_pool2d(x, 2)
        x = x.mean(dim=3, keepdim=True)
        return self.fc(self.drop(torch.flatten(x, 1)))


class TinyResNet(nn.Module):
    """torchvision's ResNet layout and names (conv1, bn1, layerS.B.*, fc) with
    torchvision's own BasicBlock, but few channels, so that fixtures stay
    small; voxgender builds the same network with nn_resnet_description
    (src/nn/arch.c). resnet18 is widths (64, 128, 256, 512), blocks
    (2, 2, 2, 2)."""

    def __init__(self, widths=(8, 16), blocks=(2, 1), classes=2):
        super().__init__()
        from torchvision.models.resnet import BasicBlock
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = widths[0]
        for s, (w, nb) in enumerate(zip(widths, blocks)):
            layers = []
            for b in range(nb):
                stride = 2 if s > 0 and b == 0 else 1
                down = None
                if stride != 1 or inplanes != w:
                    down = nn.Sequential(nn.Conv2d(inplanes, w, 1, stride, bias=False), nn.BatchNorm2d(w))
                layers.append(BasicBlock(inplanes, w, stride, down))
                inplanes = w
            setattr(self, f"layer{s + 1}", nn.Sequential(*layers))
        self.n_stages = len(widths)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for s in range(self.n_stages):
            x = getattr(self, f"layer{s + 1}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def randomize_batchnorm(model):
    """Random BatchNorm scales, shifts and running statistics (a freshly built
    network has 1, 0, 0, 1 everywhere, which would test nothing)."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.copy_(1.0 + 0.2 * torch.randn_like(mod.weight))
                mod.bias.copy_(0.1 * torch.randn_like(mod.bias))
                mod.running_mean.copy_(0.1 * torch.randn_like(mod.running_mean))
                mod.running_var.copy_(0.5 + torch.rand_like(mod.running_var))
