"""The one example format every source produces, and every task reads.

    image        uint8 [H, W, C]
    label        int64 []            class of the main object
    bbox         float32 [4]         main box, (ymin, xmin, ymax, xmax) in [0, 1]
    boxes        float32 [N, 4]      all boxes
    box_labels   int64 [N]
    mask         uint8 [H, W, 1]     semantic mask, 0 = background, class + 1 otherwise

A source provides what it has; a task states what it needs (`Task.needs`), and
the check before the first step names what is missing.
"""


def largest_box_index(boxes):
    """Index of the largest box: the "main object" of detection-style datasets."""
    import tensorflow as tf
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return tf.argmax(area, output_type=tf.int32)
