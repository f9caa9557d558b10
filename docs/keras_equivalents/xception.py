import keras
from keras import layers as L


def conv_bn(x, filters, stride=1):
    x = L.Conv2D(filters, 3, strides=stride, use_bias=False)(x)
    x = L.BatchNormalization()(x)
    return L.ReLU()(x)


def sep_bn(x, filters, relu=True):
    if relu:
        x = L.ReLU()(x)
    x = L.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
    return L.BatchNormalization()(x)


def down(x, a, b, relu=True):
    y = sep_bn(x, a, relu)
    y = sep_bn(y, b)
    y = L.MaxPooling2D(3, strides=2, padding="same")(y)
    shortcut = L.Conv2D(b, 1, strides=2, padding="same", use_bias=False)(x)
    shortcut = L.BatchNormalization()(shortcut)
    return L.Add()([y, shortcut])


def xception(input_shape=(299, 299, 3), classes=1000):
    inputs = keras.Input(input_shape)
    x = conv_bn(inputs, 32, 2)
    x = conv_bn(x, 64)
    x = down(x, 128, 128, relu=False)
    x = down(x, 256, 256)
    x = down(x, 728, 728)
    for _ in range(8):
        y = sep_bn(x, 728)
        y = sep_bn(y, 728)
        y = sep_bn(y, 728)
        x = L.Add()([y, x])
    x = down(x, 728, 1024)
    x = sep_bn(x, 1536, relu=False)
    x = L.ReLU()(x)
    x = sep_bn(x, 2048, relu=False)
    x = L.ReLU()(x)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)
