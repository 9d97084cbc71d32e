"""scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes; shipped with the package,
no download), as the pipeline's data function wants them: images x [N, 1, 8, 8] and labels y.

The pixels are integers 0..16; they are returned as float32 (uint8 would be divided by 255), and
the pipeline standardises them (the config's `standardise`) and holds out the validation set.
"""

import numpy as np
from sklearn.datasets import load_digits


def load():
    digits = load_digits()
    x = digits.images.astype(np.float32)[:, None, :, :]  # [1797, 1, 8, 8]
    y = digits.target.astype(np.int64)
    return x, y
