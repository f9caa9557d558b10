"""Export a trained run: SavedModel, TFLite (with quantization), .keras, ONNX; each verified."""
