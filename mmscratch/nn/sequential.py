"""A stack of layers run one after another (Keras' ``Sequential``)."""

from __future__ import annotations

from .layer import LAYER_REGISTRY, Layer
from .model import Model, registered_class

__all__ = ["Sequential"]


class Sequential(Model):
    """y = f_L(... f_2(f_1(x))); backward applies the chain rule in reverse order.

    Parameters
    ----------
    layers : list of Layer
    name : str, optional

    Notes
    -----
    ``compile / fit / evaluate / predict / save / load`` come from :class:`Model`.
    """

    def __init__(self, layers=None, name=None):
        self.name = name or "Sequential"
        self.layers = []
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a Layer, got {type(layer).__name__}")
        self.layers.append(layer)
        return self

    def forward(self, x, training=False):
        if not self.layers:
            raise ValueError("Sequential has no layers")
        self._record_spec(x)
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    __call__ = forward

    def backward(self, dy):
        """Propagate dL/dy back through every layer; returns dL/dx (grads overwritten)."""
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def input_layers(self):
        """The first layer (and, if it is a Sequential, its first layer in turn)."""
        if not self.layers:
            return []
        first = self.layers[0]
        return first.input_layers() if isinstance(first, Model) else [first]

    def parameters(self):
        for layer in self.layers:
            yield from layer.parameters()

    def get_config(self):
        return {"name": self.name,
                "layers": [{"class": type(layer).__name__, "config": layer.get_config()}
                           for layer in self.layers]}

    @classmethod
    def from_config(cls, config):
        layers = []
        for spec in config["layers"]:
            try:
                klass = registered_class(LAYER_REGISTRY, spec["class"])
            except KeyError:
                raise ValueError(f"unknown layer class {spec['class']!r} in configuration") \
                    from None
            layers.append(klass.from_config(spec["config"]))
        return cls(layers, name=config.get("name"))

    def summary(self):
        """One line per layer with its parameter shapes and the total count."""
        lines, total = [], 0
        for layer in self.layers:
            shapes = {k: tuple(v.shape) for k, v in layer.params.items()}
            count = sum(int(v.size) for v in layer.params.values())
            total += count
            lines.append(f"{layer.describe():<50} {shapes} {count}")
        lines.append(f"total parameters: {total}")
        return "\n".join(lines)
