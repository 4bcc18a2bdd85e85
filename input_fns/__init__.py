"""tf.data input functions and the TFDS dataset builders kestrel ships."""
