"""TFDS builders that prepare datasets offline and without TensorFlow.

Each writes ArrayRecord files of PNG-encoded images (encoded with Pillow, so
TensorFlow is never imported) that :mod:`gan_jax.data.tfds_source` reads
with ``tfds.data_source``.
"""
