#!/usr/bin/env python3
"""Writes the PyTorch fixtures of shears' import tests (crates/shears-nn/tests/fixtures/torch/):
LeNet-5 and ResNet-20 defined in PyTorch under shears' parameter names (docs/interop.md), with
seeded random weights and random BatchNorm running statistics, saved as PyTorch state dicts
(`.pt`, and LeNet-5 also as `.safetensors`), and `expected.safetensors`: a fixed input batch per
model and the logits PyTorch computes for it in eval mode. CI does not run this; the files it
writes are committed. Usage (with a Python that has torch and safetensors):
    python3 tools/torch_fixtures.py crates/shears-nn/tests/fixtures/torch
"""
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file


class LeNet5(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class ConvBn(nn.Module):
    def __init__(self, c_in, c_out, k, stride):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        return self.bn(self.conv(x))


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = ConvBn(c_in, c_out, 3, stride)
        self.conv2 = ConvBn(c_out, c_out, 3, 1)
        self.shortcut = ConvBn(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else None

    def forward(self, x):
        out = self.conv2(F.relu(self.conv1(x)))
        return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))


class ResNet20(nn.Module):
    def __init__(self, channels=1, classes=10):
        super().__init__()
        self.stem = ConvBn(channels, 16, 3, 1)
        blocks, c = [], 16
        for stage, w in enumerate([16, 32, 64]):
            for b in range(3):
                blocks.append(BasicBlock(c, w, 2 if stage > 0 and b == 0 else 1))
                c = w
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = F.relu(self.stem(x))
        for b in self.blocks:
            x = b(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def randomise(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
            m.num_batches_tracked.fill_(7)
    return model.eval()


def main(out):
    torch.manual_seed(0)
    expected = {}
    for name, model in [("lenet5", LeNet5()), ("resnet20", ResNet20())]:
        model = randomise(model)
        x = torch.randn(4, 1, 28, 28)
        with torch.no_grad():
            expected[f"{name}.input"] = x.contiguous()
            expected[f"{name}.logits"] = model(x).contiguous()
        torch.save(model.state_dict(), f"{out}/{name}.pt")
        if name == "lenet5":
            save_file({k: v.contiguous() for k, v in model.state_dict().items()},
                      f"{out}/{name}.safetensors")
    save_file(expected, f"{out}/expected.safetensors")


if __name__ == "__main__":
    main(sys.argv[1])
