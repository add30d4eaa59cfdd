"""gan_jax: Generative Adversarial Networks in JAX, as pure functions.

Models are (init, apply) pairs (:mod:`gan_jax.models`), losses are functions
of discriminator outputs (:mod:`gan_jax.losses`), and the train step is one
pure function ``(state, batch, key) -> (state, metrics)``
(:mod:`gan_jax.step`) that a parallel strategy compiles for one device or
many (:mod:`gan_jax.parallel`).
"""

__version__ = "0.1.0"
