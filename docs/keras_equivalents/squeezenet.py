import keras
from keras import layers as L


def fire(x, s, e):
    x = L.Conv2D(s, 1, activation="relu")(x)
    a = L.Conv2D(e, 1, activation="relu")(x)
    b = L.Conv2D(e, 3, padding="same", activation="relu")(x)
    return L.Concatenate()([a, b])


def squeezenet(input_shape=(224, 224, 3), classes=1000):
    inputs = keras.Input(input_shape)
    x = L.Conv2D(64, 3, strides=2, activation="relu")(inputs)
    x = L.MaxPooling2D(3, strides=2)(x)
    x = fire(x, 16, 64)
    x = fire(x, 16, 64)
    x = L.MaxPooling2D(3, strides=2)(x)
    x = fire(x, 32, 128)
    x = fire(x, 32, 128)
    x = L.MaxPooling2D(3, strides=2)(x)
    x = fire(x, 48, 192)
    x = fire(x, 48, 192)
    x = fire(x, 64, 256)
    x = fire(x, 64, 256)
    x = L.Dropout(0.5)(x)
    x = L.Conv2D(classes, 1, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Softmax()(x)
    return keras.Model(inputs, outputs)
