"""diabetes: a TFDS dataset in `tfds new`'s layout, so `tfds build input_fns/datasets/diabetes` prepares it."""
