import keras
from keras import layers as L


def bn_relu_conv(x, filters, kernel):
    x = L.BatchNormalization(epsilon=1.001e-5)(x)
    x = L.ReLU()(x)
    return L.Conv2D(filters, kernel, padding="same", use_bias=False)(x)


def densenet121(input_shape=(224, 224, 3), classes=1000, growth=32):
    inputs = keras.Input(input_shape)
    x = L.ZeroPadding2D(3)(inputs)
    x = L.Conv2D(64, 7, strides=2, use_bias=False)(x)
    x = L.BatchNormalization(epsilon=1.001e-5)(x)
    x = L.ReLU()(x)
    x = L.ZeroPadding2D(1)(x)
    x = L.MaxPooling2D(3, strides=2)(x)
    for i, n in enumerate([6, 12, 24, 16]):
        for _ in range(n):
            y = bn_relu_conv(x, 4 * growth, 1)
            y = bn_relu_conv(y, growth, 3)
            x = L.Concatenate()([x, y])
        if i < 3:
            x = bn_relu_conv(x, x.shape[-1] // 2, 1)
            x = L.AveragePooling2D(2)(x)
    x = L.BatchNormalization(epsilon=1.001e-5)(x)
    x = L.ReLU()(x)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)
