"""Models as pure functions of a parameter dict whose tensors carry a leading trial axis.

One forward pass trains T trials at once: convolutions become grouped convolutions (one group
per trial) and linear layers batched matmuls. ``reference_module`` builds the same network as
a plain nn.Module (the reference code's structure) for baselines and cross-checks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# Layer lists: ("conv", in, out, kernel, padding) | ("pool",) | ("relu",) | ("flatten",) | ("linear", in, out)
# | ("block", in, out, stride): pre-activation residual block | ("gap",): global average pool + flatten
ARCHITECTURES = {
    # Reference code: conv 5x5x32 VALID, pool, conv 5x5x64 VALID, pool, linear 1024 -> 10.
    "simple_cnn": [  # each ReLU after its pooling, not before: the same function and gradients on 4x fewer values
        ("conv", 1, 32, 5, 0),
        ("pool",),
        ("relu",),
        ("conv", 32, 64, 5, 0),
        ("pool",),
        ("relu",),
        ("flatten",),
        ("linear", 1024, 10),
    ],
    # Shallue et al.'s "Simple CNN base" as reported: SAME padding and a 1024-unit hidden layer.
    "simple_cnn_same": [
        ("conv", 1, 32, 5, 2),
        ("relu",),
        ("pool",),
        ("conv", 32, 64, 5, 2),
        ("relu",),
        ("pool",),
        ("flatten",),
        ("linear", 3136, 1024),
        ("relu",),
        ("linear", 1024, 10),
    ],
    # Reference code's "ResNetNB" (no batch norm): conv 3x3x16, three one-block stages of widths
    # 16/32/64 (stages 2-3 stride 2, parameter-free shortcut), ReLU, global average pool, linear.
    "resnet8": [
        ("conv", 3, 16, 3, 1),
        ("block", 16, 16, 1),
        ("block", 16, 32, 2),
        ("block", 32, 64, 2),
        ("relu",),
        ("gap",),
        ("linear", 64, 10),
    ],
}
# The input [C, H, W] each network is built for (Simple-CNN's 1024/3136 flattened features fix 28x28);
# data-free pruning (SynFlow) feeds it an input of ones.
INPUT_SHAPES = {"simple_cnn": (1, 28, 28), "simple_cnn_same": (1, 28, 28), "resnet8": (3, 32, 32)}
TRUNC_NORMAL_STD = 0.87962566103423978  # std of a unit normal truncated at +-2


def parameter_shapes(model: str) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for i, layer in enumerate(ARCHITECTURES[model]):
        if layer[0] == "conv":
            _, cin, cout, k, _ = layer
            shapes[f"{i}.weight"], shapes[f"{i}.bias"] = (cout, cin, k, k), (cout,)
        elif layer[0] == "linear":
            _, fin, fout = layer
            shapes[f"{i}.weight"], shapes[f"{i}.bias"] = (fout, fin), (fout,)
        elif layer[0] == "block":
            _, cin, cout, _ = layer
            shapes[f"{i}.conv1.weight"], shapes[f"{i}.conv1.bias"] = (cout, cin, 3, 3), (cout,)
            shapes[f"{i}.conv2.weight"], shapes[f"{i}.conv2.bias"] = (cout, cout, 3, 3), (cout,)
    return shapes


def init_parameters(model: str, seed: int) -> dict[str, torch.Tensor]:
    """Reference init: weights ~ truncated normal with variance 1/fan_in (TF variance scaling,
    scale 1, fan-in), biases zero. Returns tensors with a leading trial axis of size 1."""
    gen = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in parameter_shapes(model).items():
        tensor = torch.zeros(shape)
        if name.endswith("weight"):
            std = math.sqrt(1.0 / math.prod(shape[1:])) / TRUNC_NORMAL_STD
            nn.init.trunc_normal_(tensor, std=std, a=-2 * std, b=2 * std, generator=gen)
        params[name] = tensor.unsqueeze(0)
    return params


def _conv(h, w, b, trials, **kw):
    """Grouped convolution of T trials: h [B, T*Cin, H, W], w [T, Cout, Cin, k, k]."""
    return F.conv2d(h, w.reshape(-1, *w.shape[2:]), b.reshape(-1), groups=trials, **kw)


def _max_pool2(h):
    """2x2 max pooling. Without gradients, as the maximum of strided views: the same values,
    and on a CPU 10x faster than F.max_pool2d on NCHW tensors (evaluation's largest cost after
    the convolutions); with them, F.max_pool2d, whose backward is the faster."""
    if torch.is_grad_enabled():
        return F.max_pool2d(h, 2)
    h = h[:, :, : h.shape[2] // 2 * 2, : h.shape[3] // 2 * 2]  # an odd last row or column is dropped, as there
    rows = torch.maximum(h[:, :, 0::2], h[:, :, 1::2])
    return torch.maximum(rows[..., 0::2], rows[..., 1::2])


def _shortcut(h, trials: int, cin: int, cout: int, stride: int):
    """Parameter-free shortcut: average pool to the new size, zero-pad the new channels."""
    if stride > 1:
        h = F.avg_pool2d(h, stride)
    if cout == cin:
        return h
    per_trial = h.reshape(h.shape[0], trials, cin, *h.shape[2:])
    low = (cout - cin) // 2
    return F.pad(per_trial, (0, 0, 0, 0, low, cout - cin - low)).reshape(h.shape[0], trials * cout, *h.shape[2:])


def _block(h, params, prefix: str, trials: int, cin: int, cout: int, stride: int):
    """Pre-activation residual block: conv(relu(conv(relu(h)))) + shortcut(h)."""
    a = _conv(
        F.relu(h), params[f"{prefix}conv1.weight"], params[f"{prefix}conv1.bias"], trials, stride=stride, padding=1
    )
    a = _conv(F.relu(a), params[f"{prefix}conv2.weight"], params[f"{prefix}conv2.bias"], trials, padding=1)
    return a + _shortcut(h, trials, cin, cout, stride)


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """NHWC on a CPU, where oneDNN's convolutions run faster in it (ResNet-8 on one core: evaluation
    1.5x, training 1.2x; Simple-CNN unchanged). The plain baseline feeds its nn.Module the same."""
    return x.contiguous(memory_format=torch.channels_last) if x.device.type == "cpu" else x


def forward(model: str, params: dict[str, torch.Tensor], x: torch.Tensor, loop: bool = False) -> torch.Tensor:
    """Logits [T, B, classes] of T trials.

    ``x`` is [T, B, C, H, W] (each trial its own batch) or [B, C, H, W] (one batch for all,
    as in evaluation: the first convolution then runs ungrouped). ``loop`` runs the trials
    one after the other instead of as groups (the same function up to float
    rounding; faster on CPUs, whose grouped convolutions are slow).
    """
    trials = next(iter(params.values())).shape[0]
    if loop and trials > 1:
        # split, not slicing: one backward concatenation instead of a full-size gradient per trial
        per_trial = [dict(zip(params, parts)) for parts in zip(*(v.split(1) for v in params.values()))]
        return torch.cat([forward(model, p, x if x.dim() == 4 else x[i : i + 1]) for i, p in enumerate(per_trial)])
    shared = x.dim() == 4
    batch = x.shape[0] if shared else x.shape[1]
    # Convolutional stages keep trials in the channel axis: h is [B, T*C, H, W].
    h = x if shared else x.transpose(0, 1).reshape(batch, -1, *x.shape[3:])
    h = channels_last(h)
    for i, layer in enumerate(ARCHITECTURES[model]):
        kind = layer[0]
        if kind == "conv":
            h = _conv(h, params[f"{i}.weight"], params[f"{i}.bias"], 1 if shared else trials, padding=layer[4])
            shared = False
        elif kind == "block":
            h = _block(h, params, f"{i}.", trials, *layer[1:])
        elif kind == "relu":
            h = F.relu(h)
        elif kind == "pool":
            h = _max_pool2(h)
        elif kind in ("flatten", "gap"):
            h = h.mean((2, 3)) if kind == "gap" else h
            h = h.reshape(batch, trials, -1).transpose(0, 1)  # [T, B, features]
        elif kind == "linear":
            w, b = params[f"{i}.weight"], params[f"{i}.bias"]
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
    return h


class PreActBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.shape = (cin, cout, stride)

    def forward(self, x):
        return self.conv2(F.relu(self.conv1(F.relu(x)))) + _shortcut(x, 1, *self.shape)


def reference_module(model: str, params: dict[str, torch.Tensor] | None = None) -> nn.Sequential:
    """The same network as a plain nn.Module; optionally loaded with trial 0 of ``params``."""
    layers = []
    for layer in ARCHITECTURES[model]:
        kind = layer[0]
        if kind == "conv":
            layers.append(nn.Conv2d(layer[1], layer[2], layer[3], padding=layer[4]))
        elif kind == "linear":
            layers.append(nn.Linear(layer[1], layer[2]))
        elif kind == "block":
            layers.append(PreActBlock(*layer[1:]))
        else:
            simple = {"relu": nn.ReLU, "pool": lambda: nn.MaxPool2d(2), "flatten": nn.Flatten}
            gap = lambda: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())  # noqa: E731
            layers.append({**simple, "gap": gap}[kind]())
    module = nn.Sequential(*layers)
    if params is not None:
        module.to(next(iter(params.values())).dtype)
        module.load_state_dict({k: v[0].clone() for k, v in params.items()})
    return module


def prunable(name: str, scope: str) -> bool:
    return name.endswith("weight") or scope == "weights_and_biases"
