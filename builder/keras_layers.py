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


@keras.saving.register_keras_serializable(package="kspec")
class LayerScale(keras.layers.Layer):
    """ConvNeXt's layer scale: x * gamma, one learned factor per channel (last axis).

    The same array as keras.applications.convnext's LayerScale (shape (channels,), a
    constant start), but the channel count comes from the input instead of an argument.
    """

    def __init__(self, init_value=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.init_value = init_value

    def build(self, input_shape):
        self.gamma = self.add_weight(
            name="gamma", shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.init_value), trainable=True)

    def call(self, x):
        return x * self.gamma

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "init_value": self.init_value}


@keras.saving.register_keras_serializable(package="kspec")
class DropPath(keras.layers.Layer):
    """Stochastic depth: while training, zeroes a whole sample with probability `rate`.

    The kept samples are divided by 1 - rate, as in keras.applications.convnext's
    StochasticDepth and EfficientNet's Dropout(noise_shape=(None, 1, 1, 1)).
    """

    def __init__(self, rate=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = rate, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training or self.rate == 0:
            return x
        keep = 1.0 - self.rate
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        mask = ops.floor(keep + keras.random.uniform(shape, seed=self.seed_generator))
        return x / keep * mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kspec")
class Normalization(keras.layers.Normalization):
    """keras.layers.Normalization with its mean and variance held as weights, set from values.

    Named as Keras's layer (registered as kspec>Normalization) because `init:` pairs
    layers of one class name by position: EfficientNet's Normalization finds this one.

    Given `mean=`, Keras's own layer keeps them as constants and has no arrays; built
    without them (as keras.applications EfficientNet builds it) it has three: mean,
    variance, count. This one has those three, in that order, so weights load by
    position, and starts them at the values of the spec.
    """

    def __init__(self, preset_mean=(0.0,), preset_variance=(1.0,), **kwargs):
        kwargs.pop("mean", None), kwargs.pop("variance", None)
        super().__init__(axis=kwargs.pop("axis", -1), **kwargs)
        self.preset_mean = [float(v) for v in preset_mean]
        self.preset_variance = [float(v) for v in preset_variance]

    def build(self, input_shape):
        super().build(input_shape)
        channels = input_shape[-1]
        self.adapt_mean.assign(ops.broadcast_to(ops.array(self.preset_mean), (channels,)))
        self.adapt_variance.assign(
            ops.broadcast_to(ops.array(self.preset_variance), (channels,)))
        self.finalize_state()

    def call(self, inputs):
        # From the arrays at every call: Keras's layer reads a copy made when the weights
        # were last loaded from a file, so `set_weights` (kspec's `init:`) would not reach it.
        x = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        mean = ops.reshape(ops.cast(self.adapt_mean, x.dtype), self._broadcast_shape)
        variance = ops.reshape(ops.cast(self.adapt_variance, x.dtype), self._broadcast_shape)
        return (x - mean) / ops.maximum(ops.sqrt(variance), keras.config.epsilon())

    def get_config(self):
        return {**super().get_config(), "preset_mean": self.preset_mean,
                "preset_variance": self.preset_variance}
