"""The few layers Keras 3 lacks, written with `keras.ops` so any backend runs them."""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kspec")
class LocalResponseNormalization(keras.layers.Layer):
    """AlexNet's LRN: x / (bias + alpha * sum of squares over nearby channels) ** beta.

    Matches `tf.nn.local_response_normalization` (alpha multiplies the plain sum).
    """

    def __init__(self, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def call(self, x):
        r = self.depth_radius
        sq = ops.square(x)
        padded = ops.pad(sq, [[0, 0]] * (len(x.shape) - 1) + [[r, r]])
        channels = x.shape[-1]
        total = padded[..., 0:channels]
        for i in range(1, 2 * r + 1):
            total = total + padded[..., i:i + channels]
        return x / ops.power(self.bias + self.alpha * total, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}


@keras.saving.register_keras_serializable(package="kspec")
class SelectChannels(keras.layers.Layer):
    """The listed channels of the last axis, in order (a gather; no weights)."""

    def __init__(self, channels=(0,), **kwargs):
        super().__init__(**kwargs)
        self.channels = [int(c) for c in channels]

    def call(self, x):
        return ops.take(x, self.channels, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (len(self.channels),)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}
