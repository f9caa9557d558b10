import keras
from keras import layers as L


def cbr(x, filters, kernel=1, stride=1):
    x = L.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
    x = L.BatchNormalization(momentum=0.999)(x)
    return L.ReLU(6.0)(x)


def inverted(x, filters, stride=1, t=6):
    y = cbr(x, x.shape[-1] * t) if t > 1 else x
    if stride == 2:
        y = L.ZeroPadding2D(((0, 1), (0, 1)))(y)
    pad = "valid" if stride == 2 else "same"
    y = L.DepthwiseConv2D(3, strides=stride, padding=pad, use_bias=False)(y)
    y = L.BatchNormalization(momentum=0.999)(y)
    y = L.ReLU(6.0)(y)
    y = L.Conv2D(filters, 1, padding="same", use_bias=False)(y)
    y = L.BatchNormalization(momentum=0.999)(y)
    return L.Add()([x, y]) if stride == 1 and x.shape[-1] == filters else y


def mobilenet_v2(input_shape=(224, 224, 3), classes=1000):
    inputs = keras.Input(input_shape)
    x = cbr(inputs, 32, 3, 2)
    for filters, n, stride, t in [(16, 1, 1, 1), (24, 2, 2, 6), (32, 3, 2, 6), (64, 4, 2, 6),
                                  (96, 3, 1, 6), (160, 3, 2, 6), (320, 1, 1, 6)]:
        for i in range(n):
            x = inverted(x, filters, stride if i == 0 else 1, t)
    x = cbr(x, 1280)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)
