"""A small VGG-style CNN with BatchNorm for 8x8 images (not one of the paper's networks).

    [conv 3x3 -> BatchNorm -> ReLU] x 2 -> max-pool 2    8x8 -> 4x4, `width` channels
    [conv 3x3 -> BatchNorm -> ReLU] x 2 -> max-pool 2    4x4 -> 2x2, 2 * `width` channels
    flatten -> linear to the classes

The pipeline calls build() with the keywords it accepts of `input_shape` (C, H, W) and `classes`
(both from the data), plus the config's `kwargs` (here `width`). Prunable: the weights of the
four convolutions and the linear layer; BatchNorm's parameters are trained, never pruned, and
its running statistics are each trial's own.
"""

from torch import nn


def block(cin: int, cout: int) -> list[nn.Module]:
    # no conv bias: BatchNorm's shift does its job
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def build(input_shape, classes: int, width: int = 16) -> nn.Module:
    channels, height, width_px = input_shape
    return nn.Sequential(
        *block(channels, width),
        *block(width, width),
        nn.MaxPool2d(2),
        *block(width, 2 * width),
        *block(2 * width, 2 * width),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * width * (height // 4) * (width_px // 4), classes),
    )
