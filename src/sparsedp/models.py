"""Networks: any torch.nn.Module, many trials of it trained at once.

A model is built by a factory: one of the paper's networks below (``NETWORKS``, named in
registry.MODELS), or a function of the user's named in the config (``models.<name>.factory``:
``path/to/file.py:build`` or ``package.module:build``). A factory is called with the keywords it
accepts of ``input_shape`` and ``classes`` (from the data) and the config's ``kwargs``.

``Network`` runs a module as a function of its parameters and buffers, each with a leading trial
axis, through torch.func.functional_call: trial by trial on a CPU (``loop``), or under vmap,
which turns convolutions into grouped convolutions and linear layers into batched products.
Buffers (BatchNorm's running statistics) are each trial's own and updated in place.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from .search import derived_seed

TRUNC_NORMAL_STD = 0.87962566103423978  # std of a unit normal truncated at +-2
# The layers whose weights are prunable unless a module names its own (``prunable_parameters``).
PRUNABLE_LAYERS = (nn.modules.conv._ConvNd, nn.Linear)
# Layers that draw random numbers while training: a trial's result would depend on the trials
# sharing its pack (they draw from one generator), so they are refused.
RANDOM_LAYERS = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
    nn.RReLU,
)


class ModelError(ValueError):
    """A model that cannot be built or trained here; the message names its factory and what is wrong."""


def max_pool2(h: torch.Tensor) -> torch.Tensor:
    """2x2 max pooling. Without gradients (validation), as the maximum of strided views: the same
    values, and on a CPU 10x faster than F.max_pool2d on NCHW tensors; with them, F.max_pool2d,
    whose backward is the faster."""
    if torch.is_grad_enabled():
        return F.max_pool2d(h, 2)
    h = h[..., : h.shape[-2] // 2 * 2, : h.shape[-1] // 2 * 2]  # an odd last row or column is dropped, as there
    rows = torch.maximum(h[..., 0::2, :], h[..., 1::2, :])
    return torch.maximum(rows[..., 0::2], rows[..., 1::2])


class SimpleCNN(nn.Module):
    """The reference code's Simple-CNN: conv 5x5x32, max-pool 2, conv 5x5x64, max-pool 2, linear
    to the classes (VALID padding: 1024 features from 28x28). Shallue et al.'s variant: SAME
    padding (``padding=2``) and a hidden layer of 1024 units. Each ReLU comes after its pooling:
    the same function and gradients on 4x fewer values."""

    def __init__(self, input_shape, classes: int, padding: int = 0, hidden: int | None = None):
        super().__init__()
        channels, height, width = input_shape
        self.conv1 = nn.Conv2d(channels, 32, 5, padding=padding)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=padding)
        for _ in range(2):  # each convolution, then its pooling
            height, width = (height + 2 * padding - 4) // 2, (width + 2 * padding - 4) // 2
        features = 64 * height * width
        self.hidden = nn.Linear(features, hidden) if hidden else None
        self.fc = nn.Linear(hidden or features, classes)

    def forward(self, x):
        x = F.relu(max_pool2(self.conv1(x)))
        x = F.relu(max_pool2(self.conv2(x))).flatten(1)
        if self.hidden is not None:
            x = F.relu(self.hidden(x))
        return self.fc(x)


class PreActBlock(nn.Module):
    """Pre-activation residual block: conv(relu(conv(relu(x)))) + shortcut(x); the shortcut is
    parameter-free: average pooling to the new size, the new channels zero-padded."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.stride, self.pad = stride, ((cout - cin) // 2, cout - cin - (cout - cin) // 2)

    def forward(self, x):
        out = self.conv2(F.relu(self.conv1(F.relu(x))))
        shortcut = F.avg_pool2d(x, self.stride) if self.stride > 1 else x
        return out + F.pad(shortcut, (0, 0, 0, 0, *self.pad))


class ResNet8(nn.Module):
    """The reference code's ResNet-8 without batch norm ("ResNetNB"): conv 3x3x16, three one-block
    stages of widths 16/32/64 (stages 2 and 3 at stride 2), ReLU, global average pooling, linear."""

    def __init__(self, input_shape, classes: int):
        super().__init__()
        self.conv = nn.Conv2d(input_shape[0], 16, 3, padding=1)
        self.stages = nn.Sequential(PreActBlock(16, 16, 1), PreActBlock(16, 32, 2), PreActBlock(32, 64, 2))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(F.relu(self.stages(self.conv(x))).mean((2, 3)))


# The factory of each model of registry.MODELS.
NETWORKS = {
    "simple_cnn": SimpleCNN,
    "simple_cnn_same": functools.partial(SimpleCNN, padding=2, hidden=1024),
    "resnet8": ResNet8,
}


def load_factory(model: dict):
    """The factory of ``model`` (a model's job spec: ``name``, and ``factory`` for a user's model):
    a function from a file ("dir/file.py:build") or an importable module ("package.module:build")."""
    if model.get("factory") is None:
        return NETWORKS[model["name"]]
    where, _, name = model["factory"].rpartition(":")
    try:
        if where.endswith(".py"):
            path = Path(where).resolve()
            module_name = f"sparsedp_user_{path.stem}_{abs(hash(str(path)))}"
            if module_name not in sys.modules:
                spec = importlib.util.spec_from_file_location(module_name, path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                sys.modules[module_name] = module
            module = sys.modules[module_name]
        else:
            module = importlib.import_module(where)
    except Exception as exc:
        raise ModelError(f"model {model['name']}: cannot import {where} ({type(exc).__name__}: {exc})") from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise ModelError(f"model {model['name']}: {where} has no function {name!r}")
    return factory


def build_module(model: dict, input_shape, classes: int) -> nn.Module:
    """The module ``model`` makes for inputs of ``input_shape`` and ``classes`` classes."""
    factory = load_factory(model)
    given = {"input_shape": tuple(input_shape), "classes": int(classes)}
    try:
        accepted = inspect.signature(factory).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
        keywords = {k: v for k, v in given.items() if takes_any or k in accepted}
        module = factory(**keywords, **model.get("kwargs", {}))
    except Exception as exc:
        raise ModelError(f"model {_where(model)}: the factory raised {type(exc).__name__}: {exc}") from None
    if not isinstance(module, nn.Module):
        raise ModelError(
            f"model {_where(model)}: the factory returned a {type(module).__name__}, not a torch.nn.Module"
        )
    return module


def _where(model: dict) -> str:
    return f"{model['name']} ({model['factory']})" if model.get("factory") else model["name"]


def variance_scaling_(module: nn.Module, generator: torch.Generator) -> None:
    """The reference code's initialisation (TF variance scaling, scale 1, fan-in): every
    convolution and linear weight ~ normal truncated at ±2 std with variance 1/fan_in, drawn in
    the module's order from ``generator``; their biases zero. Other parameters keep the module's."""
    for layer in module.modules():
        if isinstance(layer, PRUNABLE_LAYERS):
            std = math.sqrt(1.0 / math.prod(layer.weight.shape[1:])) / TRUNC_NORMAL_STD
            nn.init.trunc_normal_(layer.weight.data, std=std, a=-2 * std, b=2 * std, generator=generator)
            if layer.bias is not None:
                layer.bias.data.zero_()


def init_network(model: dict, input_shape, classes: int, seed: int):
    """Trial ``seed``'s network: (module, parameters, buffers), the tensors with a trial axis of
    size 1. ``model['init']``: "variance_scaling" (the reference code's, from a generator seeded
    with the seed) or "module" (the module's own, drawn from the seed's own stream)."""
    with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
        torch.manual_seed(derived_seed(seed, "init"))
        module = build_module(model, input_shape, classes)
    if model["init"] == "variance_scaling":
        variance_scaling_(module, torch.Generator().manual_seed(seed))
    params = {k: v.detach().clone().unsqueeze(0) for k, v in module.named_parameters()}
    buffers = {k: v.detach().clone().unsqueeze(0) for k, v in module.named_buffers()}
    return module, params, buffers


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """Images in NHWC on a CPU, where oneDNN's convolutions run faster in it (ResNet-8 on one
    core: evaluation 1.5x, training 1.2x; Simple-CNN unchanged)."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 and x.device.type == "cpu" else x


class Network:
    """A module as a function of its trials' parameters and buffers (name -> [T, ...])."""

    def __init__(self, module: nn.Module):
        random_layers = [name for name, layer in module.named_modules() if _draws_randomly(layer)]
        if random_layers:
            raise ModelError(
                f"layer {', '.join(random_layers)} draws random numbers while training ({type(module).__name__}); "
                "trials trained together would share its random stream, so their results would depend on each "
                "other. Remove it (or set its p to 0)."
            )
        self.module = module

    def prunable(self, scope: str) -> list[str]:
        """The parameters pruning ranks: the module's ``prunable_parameters`` if it names them, else
        the weights of its convolution and linear layers; with scope "weights_and_biases" their
        biases too."""
        names = dict(self.module.named_parameters())
        weights = getattr(self.module, "prunable_parameters", None)
        if weights is None:
            weights = [
                f"{n}.weight" if n else "weight"
                for n, m in self.module.named_modules()
                if isinstance(m, PRUNABLE_LAYERS)
            ]
        unknown = [w for w in weights if w not in names]
        if unknown:
            raise ModelError(f"prunable_parameters names {', '.join(unknown)}, not parameters of the module")
        chosen = set(weights)
        if scope == "weights_and_biases":
            chosen |= {w[: -len("weight")] + "bias" for w in weights if w.endswith("weight")} & names.keys()
        return [n for n in names if n in chosen]  # the module's order

    def logits(self, params: dict, buffers: dict, x, *, shared: bool = False, loop: bool = False, train: bool = True):
        """Logits [T, B, classes] of T trials on ``x``: [T, B, ...], each trial its own batch, or
        with ``shared`` [B, ...], one batch for all (evaluation). ``train`` puts the module in
        training mode (BatchNorm: batch statistics, running statistics updated in place). ``loop``
        runs the trials one after the other (faster on CPUs) instead of under vmap."""
        self.module.train(train)
        if loop:
            # unbind, not indexing: one backward stack instead of a full-size gradient per trial
            per_trial = [dict(zip(params, parts)) for parts in zip(*(v.unbind(0) for v in params.values()))]
            return torch.stack(
                [
                    functional_call(
                        self.module,
                        {**p, **{k: v[i] for k, v in buffers.items()}},
                        (channels_last(x if shared else x[i]),),
                    )
                    for i, p in enumerate(per_trial)
                ]
            )

        def one(p, b, xi):  # no channels_last: vmap cannot lay out its batched tensors so
            return functional_call(self.module, {**p, **b}, (xi,))

        return vmap(one, in_dims=(0, 0, None if shared else 0), randomness="error")(params, buffers, x)


def _draws_randomly(layer: nn.Module) -> bool:
    return isinstance(layer, RANDOM_LAYERS) and not (isinstance(layer, nn.modules.dropout._DropoutNd) and layer.p == 0)
